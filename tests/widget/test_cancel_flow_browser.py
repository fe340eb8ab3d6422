"""The cancellation widget in a real Chromium, against live servers."""

from __future__ import annotations

import gzip
import json
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from tests.factories import make_site, make_token
from widget_server.extensions import db
from widget_server.models import CancellationSession

pytestmark = pytest.mark.browser


@pytest.fixture
def live_site(live_app, host_server):
    with live_app.app_context():
        site, _ = make_site("Live", origins=[host_server.url])
        return {"key": site.key, "secret": site.secret_primary}


def open_host(page, keepkit_server, host_server, live_site, sub="cust-1", **extra):
    query = {
        "keepkit": keepkit_server.url,
        "site": live_site["key"],
        "token": make_token(live_site["secret"], sub, plan="Growth", mrr=9900),
        **extra,
    }
    page.goto(f"{host_server.url}/?{urlencode(query)}")
    page.wait_for_function("window.Keepkit && window.Keepkit.version === '1'")


def result(page) -> dict:
    page.wait_for_function("document.getElementById('result').textContent.length > 0")
    text = page.locator("#result").text_content()
    assert not text.startswith("ERROR"), text
    return json.loads(text)


def stored(live_app, session_id):
    with live_app.app_context():
        row = db.session.scalar(
            sa.select(CancellationSession).where(CancellationSession.public_id == session_id)
        )
        return row.outcome, row.reason.key if row.reason else None, row.comment


def test_cancel_flow_to_cancelled(page, live_app, keepkit_server, host_server, live_site):
    open_host(page, keepkit_server, host_server, live_site)
    page.click("#cancel")
    page.click('[data-kk="reason"][data-kk-id="switching"]')
    assert page.locator('[data-kk="comment"]').get_attribute("maxlength") == "2000"
    page.fill('[data-kk="comment"]', "Moving to <b>Globex</b>")
    page.click('[data-kk="next"]')
    page.click('[data-kk="confirm-cancel"]')
    outcome = result(page)
    assert outcome["outcome"] == "cancelled"
    assert outcome["reason"] == {"id": "switching", "label": "Switching to another product"}
    assert outcome["comment"] == "Moving to <b>Globex</b>" and outcome["receipt"].count(".") == 2
    assert stored(live_app, outcome["session"]) == ("cancelled", "switching", outcome["comment"])
    # The promise has resolved; the closing screen says what happens now until closed.
    done = page.locator('[data-kk="done"]')
    assert done.get_attribute("data-kk-outcome") == "cancelled"
    assert page.locator("keepkit-flow h2").text_content() == "Your subscription is cancelled"
    page.get_by_role("button", name="Close").last.click()
    assert page.locator("keepkit-flow").count() == 0
    assert page.evaluate("document.activeElement.id") == "cancel"


def test_cancel_flow_saved_through_offer(page, live_app, keepkit_server, host_server, live_site):
    open_host(page, keepkit_server, host_server, live_site, sub="saver")
    page.click("#cancel")
    page.click('[data-kk="reason"][data-kk-id="too_expensive"]')
    page.click('[data-kk="next"]')
    offer = page.locator('[data-kk="accept-offer"]')
    assert offer.text_content() == "Apply discount"
    assert "30% off" in page.locator(".offer").text_content()
    offer.click()
    outcome = result(page)
    assert outcome["outcome"] == "saved"
    assert outcome["offer"]["type"] == "discount" and outcome["offer"]["percent"] == 30
    assert stored(live_app, outcome["session"])[0] == "saved"
    done = page.locator('[data-kk="done"]')
    assert done.text_content() == "You got: " + outcome["offer"]["title"]
    page.keyboard.press("Escape")  # closes the closing screen; the result stays as it was
    assert page.locator("keepkit-flow").count() == 0 and result(page) == outcome


def test_keep_my_subscription_is_a_save_without_offer(
    page, live_app, keepkit_server, host_server, live_site
):
    open_host(page, keepkit_server, host_server, live_site, sub="stayer")
    page.click("#cancel")
    page.click('[data-kk="reason"][data-kk-id="switching"]')
    page.click('[data-kk="next"]')
    page.click('[data-kk="keep"]')
    outcome = result(page)
    assert (outcome["outcome"], outcome["offer"]) == ("saved", None)
    assert stored(live_app, outcome["session"])[0] == "saved"
    assert "Nothing changes" in page.locator('[data-kk="done"]').text_content()


@pytest.mark.parametrize("locale", ["en", "de", "fi"])
def test_offer_buttons_share_one_row_on_desktop(
    browser, keepkit_server, host_server, live_site, locale
):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        open_host(page, keepkit_server, host_server, live_site, sub=f"row-{locale}", locale=locale)
        page.click("#cancel")
        page.click('[data-kk="reason"][data-kk-id="too_expensive"]')
        page.click('[data-kk="next"]')
        accept = page.locator('[data-kk="accept-offer"]').bounding_box()
        decline = page.locator('[data-kk="decline-offer"]').bounding_box()
        assert abs(accept["y"] - decline["y"]) < 2 and decline["x"] < accept["x"]
    finally:
        context.close()


def test_dialog_is_never_taller_than_the_viewport(browser, keepkit_server, host_server, live_site):
    context = browser.new_context(viewport={"width": 1024, "height": 420})
    page = context.new_page()
    try:
        open_host(page, keepkit_server, host_server, live_site)
        page.click("#cancel")
        page.locator('[data-kk="reason"]').first.wait_for()
        box = page.locator('[role="dialog"]').bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 420
        # It scrolls inside: the Continue button is reachable.
        page.locator('[data-kk="next"]').scroll_into_view_if_needed()
        assert page.locator('[data-kk="next"]').is_visible()
        assert page.evaluate(
            """() => { const d = document.querySelector('keepkit-flow').shadowRoot
                 .querySelector('[role=dialog]'); return d.scrollHeight > d.clientHeight; }"""
        )
    finally:
        context.close()


def test_decline_offer_then_cancel(page, live_app, keepkit_server, host_server, live_site):
    open_host(page, keepkit_server, host_server, live_site, sub="decliner")
    page.click("#cancel")
    page.click('[data-kk="reason"][data-kk-id="too_expensive"]')
    page.click('[data-kk="next"]')
    page.click('[data-kk="decline-offer"]')
    page.click('[data-kk="confirm-cancel"]')
    assert result(page)["outcome"] == "cancelled"


def test_escape_dismisses_and_restores_focus(
    page, live_app, keepkit_server, host_server, live_site
):
    open_host(page, keepkit_server, host_server, live_site)
    page.focus("#cancel")
    page.keyboard.press("Enter")
    page.locator('[data-kk="reason"]').first.wait_for()
    page.keyboard.press("Escape")
    outcome = result(page)
    assert outcome["outcome"] == "dismissed" and outcome["reason"] is None
    assert stored(live_app, outcome["session"])[0] == "dismissed"
    assert page.evaluate("document.activeElement.id") == "cancel"


def test_keyboard_only_flow_with_focus_trap(page, live_app, keepkit_server, host_server, live_site):
    open_host(page, keepkit_server, host_server, live_site, sub="keyboard")
    page.focus("#before")
    page.keyboard.press("Tab")  # to the Cancel button
    page.keyboard.press("Enter")
    page.locator('[data-kk="reason"]').first.wait_for()
    dialog = page.locator('[role="dialog"]')
    assert dialog.get_attribute("aria-modal") == "true"
    title_id = dialog.get_attribute("aria-labelledby")
    assert page.locator(f"#{title_id}").text_content() == "Before you go"
    # Focus starts on the first reason; arrows move through the radio group.
    page.keyboard.press("ArrowDown")  # switching
    for _ in range(12):  # Tab around: focus never leaves the dialog
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "KEEPKIT-FLOW"
    page.locator('[data-kk="comment"]').focus()
    page.keyboard.type("Found a cheaper tool")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Continue
    page.locator('[data-kk="confirm-cancel"]').wait_for()
    page.keyboard.press("Shift+Tab")  # from "Keep my subscription" back to "Cancel subscription"
    page.keyboard.press("Enter")
    outcome = result(page)
    assert outcome["outcome"] == "cancelled" and outcome["reason"]["id"] == "switching"
    assert outcome["comment"] == "Found a cheaper tool"


def test_other_requires_text(page, live_app, keepkit_server, host_server, live_site):
    open_host(page, keepkit_server, host_server, live_site)
    page.click("#cancel")
    page.click('[data-kk="reason"][data-kk-id="other"]')
    page.click('[data-kk="next"]')
    dialog = page.locator('[role="dialog"]').inner_text()
    assert dialog.count("Please tell us the reason") == 1  # the label, not repeated below
    assert page.locator('[role="alert"]').text_content() == "A few words, please."
    assert page.locator('[data-kk="comment"]').get_attribute("aria-invalid") == "true"
    page.fill('[data-kk="comment"]', "Seasonal work")
    page.click('[data-kk="next"]')
    page.click('[data-kk="decline-offer"]')
    page.click('[data-kk="confirm-cancel"]')
    assert result(page)["comment"] == "Seasonal work"


def test_locale_from_option_and_browser(browser, keepkit_server, host_server, live_site):
    context = browser.new_context(locale="fi-FI")
    page = context.new_page()
    try:
        open_host(page, keepkit_server, host_server, live_site)
        page.click("#cancel")
        assert page.locator('[data-kk="next"]').text_content() == "Jatka"
        assert "Liian kallis" in page.locator('[data-kk="reason"]').first.text_content()
        page.keyboard.press("Escape")
        result(page)
        open_host(page, keepkit_server, host_server, live_site, locale="de")
        page.click("#cancel")
        assert page.locator('[data-kk="next"]').text_content() == "Weiter"
        assert page.locator('[data-kk="reason"]').first.text_content() == "Zu teuer"
    finally:
        context.close()


def test_invalid_token_rejects_with_a_clear_error(page, keepkit_server, host_server, live_site):
    query = {"keepkit": keepkit_server.url, "site": live_site["key"], "token": "not-a-token"}
    page.goto(f"{host_server.url}/?{urlencode(query)}")
    page.wait_for_function("window.Keepkit && window.Keepkit.version === '1'")
    page.click("#cancel")
    page.wait_for_function("document.getElementById('result').textContent.length > 0")
    assert page.locator("#result").text_content() == (
        "ERROR Keepkit: The customer token is not a well-formed JWT"
    )
    assert page.locator("keepkit-flow").count() == 0


def test_unreachable_server_rejects(page, host_server, live_site):
    query = {"keepkit": "http://127.0.0.1:9", "site": live_site["key"], "token": "t"}
    page.goto(f"{host_server.url}/?{urlencode(query)}")
    page.wait_for_function("document.getElementById('result') !== null")
    page.wait_for_timeout(300)
    # The script itself failed to load: the queue stub is all there is; the host's own
    # cancel path must not depend on it resolving (fail-open, see docs/embedding.md).
    assert page.evaluate("window.Keepkit.version") is None


def test_host_css_does_not_change_the_widget(browser, keepkit_server, host_server, live_site):
    def measure(css):
        context = browser.new_context(
            viewport={"width": 1024, "height": 768}, reduced_motion="reduce"
        )
        page = context.new_page()
        try:
            open_host(page, keepkit_server, host_server, live_site, **({"css": css} if css else {}))
            page.evaluate("() => { openFlow(); }")  # do not await the flow
            page.locator('[data-kk="reason"]').first.wait_for()
            return page.evaluate(
                """() => {
                  const root = document.querySelector('keepkit-flow').shadowRoot;
                  const pick = (sel) => {
                    const el = root.querySelector(sel), s = getComputedStyle(el);
                    const r = el.getBoundingClientRect();
                    return [s.fontFamily, s.color, s.fontSize, s.padding, s.display,
                            s.textTransform, s.backgroundColor, Math.round(r.width),
                            Math.round(r.height)];
                  };
                  const host = getComputedStyle(document.querySelector('keepkit-flow'));
                  return {host: [host.display, host.opacity, host.position],
                          dialog: pick('[role=dialog]'), next: pick('[data-kk=next]'),
                          reason: pick('[data-kk=reason]'), title: pick('h2')};
                }"""
            )
        finally:
            context.close()

    plain = measure(None)
    hostile = measure("aggressive")
    assert plain["host"] == ["block", "1", "fixed"]
    assert hostile == plain


def test_phone_layout(browser, keepkit_server, host_server, live_site):
    context = browser.new_context(
        viewport={"width": 360, "height": 640}, is_mobile=True, reduced_motion="reduce"
    )
    page = context.new_page()
    try:
        open_host(page, keepkit_server, host_server, live_site)
        page.click("#cancel")
        page.locator('[data-kk="reason"]').first.wait_for()
        box = page.locator('[role="dialog"]').bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
        assert box["y"] + box["height"] <= 640 + 1  # a bottom sheet, fully on screen
        button = page.locator('[data-kk="next"]').bounding_box()
        assert button["height"] >= 40 and button["width"] > 300  # full-width touch target
    finally:
        context.close()


def test_budget_one_round_trip_and_no_third_parties(page, keepkit_server, host_server, live_site):
    """Everything downloaded to show the first reason is at most 8 KB gzip, with one API call."""
    requests = []
    page.on("requestfinished", lambda request: requests.append(request))
    open_host(page, keepkit_server, host_server, live_site)
    page.click("#cancel")
    page.locator('[data-kk="reason"]').first.wait_for()
    keepkit = [r for r in requests if r.url.startswith(keepkit_server.url)]
    others = [
        r.url for r in requests if not r.url.startswith((keepkit_server.url, host_server.url))
    ]
    assert others == []
    api_calls = [r for r in keepkit if "/api/" in r.url]
    assert [r.method for r in api_calls] == ["POST"]  # no CORS preflight, one round trip
    total = sum(len(gzip.compress(r.response().body(), 9)) for r in keepkit)
    assert total <= 8 * 1024, f"{total} bytes gzip"


def test_hosted_page_works_without_javascript(browser, live_app, keepkit_server, live_site):
    context = browser.new_context(java_script_enabled=False, locale="fi-FI")
    page = context.new_page()
    try:
        token = make_token(live_site["secret"], "nojs", plan="Growth", mrr=9900)
        page.goto(f"{keepkit_server.url}/c/{live_site['key']}?token={token}")
        assert page.locator("h1").text_content() == "Ennen kuin lähdet"
        page.click('[data-kk="reason"][data-kk-id="too_expensive"]')
        page.click('[data-kk="next"]')
        page.click('[data-kk="decline-offer"]')
        page.click('[data-kk="confirm-cancel"]')
        assert page.locator("[data-kk-outcome]").get_attribute("data-kk-outcome") == "cancelled"
    finally:
        context.close()
    with live_app.app_context():
        row = db.session.scalar(
            sa.select(CancellationSession).where(
                CancellationSession.customer.has(external_id="nojs")
            )
        )
        assert (row.outcome, row.reason.key, row.locale) == ("cancelled", "too_expensive", "fi")
