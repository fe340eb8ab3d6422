"""The admin in a real Chromium, under its Content-Security-Policy: nothing is refused, and the
confirmations and auto-saving controls that used inline handlers work from admin.js."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import complete_session, make_admin, make_site
from tests.live import PASSWORD, roadmap_item_with_voters, sign_in
from widget_server.extensions import db
from widget_server.models import Site

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_site(live_app):
    with live_app.app_context():
        site, _ = make_site(f"Browser {uuid.uuid4().hex[:6]}")
        other, _ = make_site(f"Zeta {uuid.uuid4().hex[:6]}")
        email = f"pm-{uuid.uuid4().hex[:8]}@example.com"
        make_admin(email, PASSWORD)
        db.session.commit()
        return {"key": site.key, "other": other.key, "secret": site.secret_primary, "email": email}


def secret_of(live_app, key):
    with live_app.app_context():
        import sqlalchemy as sa

        secret = db.session.scalar(sa.select(Site.secret_primary).where(Site.key == key))
        db.session.remove()
        return secret


def test_admin_pages_run_under_their_csp(page, live_app, keepkit_server, admin_site):
    refused = []
    page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m.text))
    sign_in(page, keepkit_server, admin_site)
    for path in ("", "sessions", "settings", "roadmap", "outbox"):
        page.goto(f"{keepkit_server.url}/admin/sites/{admin_site['key']}/{path}")
        page.wait_for_load_state("load")
        assert page.evaluate("typeof htmx") == "object"  # our own script files run
    assert refused == []


def test_confirmations_and_the_site_menu_work(page, live_app, keepkit_server, admin_site):
    sign_in(page, keepkit_server, admin_site)
    page.goto(f"{keepkit_server.url}/admin/sites/{admin_site['key']}/settings")
    rotate = page.locator("form[data-confirm] button", has_text="Rotate")
    questions = []

    def dismiss(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    rotate.click()
    page.wait_for_timeout(300)
    assert questions and "new secret" in questions[0]
    assert secret_of(live_app, admin_site["key"]) == admin_site["secret"]  # cancelled: unchanged
    page.once("dialog", lambda dialog: dialog.accept())
    rotate.click()
    page.wait_for_load_state("load")
    page.wait_for_selector(".flash")
    assert secret_of(live_app, admin_site["key"]) != admin_site["secret"]
    # The site menu moves to the chosen site as soon as it changes.
    page.select_option("form.switch select", admin_site["other"])
    page.wait_for_url(f"**/admin/sites/{admin_site['other']}/")


def status_and_queued(live_app, item_id):
    import sqlalchemy as sa

    from widget_server.models import OutboxMessage, RoadmapItem

    with live_app.app_context():
        status = db.session.scalar(sa.select(RoadmapItem.status).where(RoadmapItem.id == item_id))
        queued = db.session.scalar(
            sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.kind == "email",
                OutboxMessage.payload["item_id"].as_integer() == item_id,
            )
        )
        db.session.remove()
        return status, queued


def test_a_status_change_that_emails_people_asks_first(page, live_app, keepkit_server, admin_site):
    item_id = roadmap_item_with_voters(live_app, admin_site["key"])
    sign_in(page, keepkit_server, admin_site)
    page.goto(f"{keepkit_server.url}/admin/sites/{admin_site['key']}/roadmap")
    select = page.locator(f"#status-{item_id}")
    # Arrow keys move through the statuses (WCAG 3.2.2): nothing is sent by that alone.
    select.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(500)
    assert status_and_queued(live_app, item_id) == ("planned", 0)
    select.select_option("in_progress")
    page.wait_for_timeout(300)
    assert status_and_queued(live_app, item_id) == ("planned", 0)
    row = page.locator(f"#item-{item_id}")
    row.get_by_role("button", name="Save").click()
    question = row.get_by_role("alert")
    question.wait_for()
    assert "emails 3 voters" in question.inner_text()
    assert status_and_queued(live_app, item_id) == ("planned", 0)
    row.get_by_role("button", name="Cancel").click()
    page.locator(f"#status-{item_id}").wait_for()
    assert page.locator(f"#status-{item_id}").input_value() == "planned"
    assert status_and_queued(live_app, item_id) == ("planned", 0)
    page.locator(f"#status-{item_id}").select_option("in_progress")
    row.get_by_role("button", name="Save").click()
    row.get_by_role("button", name="Confirm and email 3").click()
    row.get_by_role("status").wait_for()
    assert "3 emails queued" in row.get_by_role("status").inner_text()
    assert status_and_queued(live_app, item_id) == ("in_progress", 3)
    # The item page asks the same question before it saves.
    page.goto(f"{keepkit_server.url}/admin/sites/{admin_site['key']}/roadmap/{item_id}")
    page.select_option("select[name=status]", "shipped")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("alert").wait_for()
    assert "emails 3 voters" in page.get_by_role("alert").inner_text()
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_load_state("load")
    assert status_and_queued(live_app, item_id) == ("in_progress", 3)
    page.select_option("select[name=status]", "shipped")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("button", name="Confirm and email 3").click()
    page.wait_for_selector(".flash")
    assert "3 emails queued" in page.locator(".flash").inner_text()
    assert status_and_queued(live_app, item_id) == ("shipped", 6)


def test_the_ranking_is_visible_without_scrolling(browser, live_app, keepkit_server, admin_site):
    with live_app.app_context():
        site = db.session.scalar(db.select(Site).where(Site.key == admin_site["key"]))
        reasons = ["too_expensive", "switching", "shutting_down", "technical_issues"]
        reasons += ["not_sure_how", "missing_features"]
        for n, reason in enumerate(reasons):
            complete_session(site, f"rank-{n}", reason, "cancelled", mrr=10000 * (n + 1))
        db.session.commit()
        db.session.remove()
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, keepkit_server, admin_site)
        page.goto(f"{keepkit_server.url}/admin/sites/{admin_site['key']}/")
        table = page.locator("table.ranking")
        rows = table.locator("tbody tr").count()
        assert rows == 6
        box = table.bounding_box()
        assert box["y"] + box["height"] <= 900, box  # the whole ranking, above the fold
        assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    finally:
        context.close()


def test_the_signing_secret_is_masked_until_revealed(page, live_app, keepkit_server, admin_site):
    sign_in(page, keepkit_server, admin_site)
    page.goto(f"{keepkit_server.url}/admin/sites/{admin_site['key']}/settings")
    secret = secret_of(live_app, admin_site["key"])
    assert secret not in page.locator("body").inner_text()  # not on screen (nor in screenshots)
    assert not page.locator("#secret").is_visible()
    page.get_by_text("Show the signing secret").click()
    assert page.locator("#secret").is_visible() and page.locator("#secret").inner_text() == secret


@pytest.mark.parametrize("width,height", [(1440, 900), (390, 844)])
def test_no_page_scrolls_sideways(browser, live_app, keepkit_server, admin_site, width, height):
    item_id = roadmap_item_with_voters(live_app, admin_site["key"], voters=2)
    with live_app.app_context():
        site = db.session.scalar(db.select(Site).where(Site.key == admin_site["key"]))
        for n, reason in enumerate(["too_expensive", "switching", "missing_features"]):
            complete_session(site, f"wide-{width}-{n}", reason, "cancelled", mrr=123456)
        db.session.commit()
        db.session.remove()
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        sign_in(page, keepkit_server, admin_site)
        base = f"{keepkit_server.url}/admin/sites/{admin_site['key']}"
        for path in ("/", "/?range=12m", "/sessions", "/roadmap", f"/roadmap/{item_id}",
                     "/settings", "/outbox", "/team", "/audit", "/comments", "/impact",
                     "/experiments"):  # fmt: skip
            page.goto(base + path)
            page.wait_for_load_state("load")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        # The chart keeps labels readable on a phone (at least 600 px wide, scrolling inside).
        page.goto(base + "/?range=12m")
        chart_width = page.evaluate(
            "document.querySelector('.chart svg').getBoundingClientRect().width"
        )
        assert chart_width >= 600  # on a phone too: it scrolls inside its box
    finally:
        context.close()
