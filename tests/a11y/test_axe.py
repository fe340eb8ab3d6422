"""axe-core (vendored, pinned: tests/vendor/axe-core-4.10.3, MPL-2.0) in a real Chromium: no
serious or critical violation on any admin page, widget step, hosted or public page.

axe is injected by the test only (never part of the widget bundle); the contexts bypass the
pages' CSP for that one script."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.factories import complete_session, make_admin, make_site, make_token
from tests.live import PASSWORD, roadmap_item_with_voters, sign_in
from widget_server.extensions import db

pytestmark = pytest.mark.browser
AXE = Path(__file__).parent.parent / "vendor" / "axe-core-4.10.3" / "axe.min.js"


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
          const result = await axe.run(document, {resultTypes: ['violations']});
          return result.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '));
        }"""
    )
    return found


@pytest.fixture
def a11y_site(live_app, host_server):
    with live_app.app_context():
        site, _ = make_site(f"Axe {uuid.uuid4().hex[:6]}", origins=[host_server.url])
        email = f"axe-{uuid.uuid4().hex[:8]}@example.com"
        make_admin(email, PASSWORD)
        for n, reason in enumerate(["too_expensive", "switching", "missing_features"]):
            complete_session(site, f"axe-{n}", reason, "cancelled", mrr=12345 * (n + 1))
        complete_session(site, "axe-saved", "switching", "saved", offer=None)
        db.session.commit()
        return {"key": site.key, "secret": site.secret_primary, "email": email}


@pytest.fixture
def context(browser):
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    yield context
    context.close()


ADMIN_PAGES = ["/", "/?range=12m&by=mrr", "/sessions", "/roadmap", "/roadmap/{item}",
               "/settings", "/outbox", "/team", "/audit", "/privacy", "/impact", "/experiments",
               "/reasons/new", "/offers/new", "/comments", "/comments?q=price"]  # fmt: skip


def test_admin_pages(context, live_app, keepkit_server, a11y_site):
    item = roadmap_item_with_voters(live_app, a11y_site["key"], voters=2)
    page = context.new_page()
    sign_in(page, keepkit_server, a11y_site)
    found = {}
    base = f"{keepkit_server.url}/admin/sites/{a11y_site['key']}"
    for path in ADMIN_PAGES:
        response = page.goto(base + path.format(item=item))
        assert response.status == 200, path
        found[path] = violations(page)
    page.goto(f"{keepkit_server.url}/admin/account")
    found["account"] = violations(page)
    # The status question of the inline select.
    page.goto(f"{keepkit_server.url}/admin/sites/{a11y_site['key']}/roadmap")
    page.locator(f"#status-{item}").select_option("in_progress")
    page.locator(f"#item-{item}").get_by_role("button", name="Save").click()
    page.locator(f"#item-{item} [role=alert]").wait_for()
    found["status question"] = violations(page)
    assert {k: v for k, v in found.items() if v} == {}


def open_flow(page, keepkit_server, host_server, site, locale="en"):
    query = {
        "keepkit": keepkit_server.url, "site": site["key"], "locale": locale,
        "token": make_token(site["secret"], f"axe-{uuid.uuid4().hex[:6]}", plan="Growth"),
    }  # fmt: skip
    page.goto(f"{host_server.url}/?{urlencode(query)}")
    page.wait_for_function("window.Keepkit && window.Keepkit.version === '1'")


@pytest.mark.parametrize("locale", ["en", "de"])
def test_every_widget_step(context, keepkit_server, host_server, a11y_site, locale):
    page = context.new_page()
    open_flow(page, keepkit_server, host_server, a11y_site, locale)
    page.click("#cancel")
    page.locator('[data-kk="reason"]').first.wait_for()
    found = {"reasons": violations(page)}
    page.click('[data-kk="reason"][data-kk-id="other"]')
    page.click('[data-kk="next"]')
    found["required comment"] = violations(page)
    page.fill('[data-kk="comment"]', "Too pricey for us")
    page.click('[data-kk="next"]')
    page.locator('[data-kk="decline-offer"]').wait_for()
    found["offer"] = violations(page)
    page.click('[data-kk="decline-offer"]')
    found["confirm"] = violations(page)
    page.click('[data-kk="confirm-cancel"]')
    page.locator('[data-kk="done"]').wait_for()
    found["done"] = violations(page)
    page.evaluate("() => { showRoadmap(true); }")
    page.wait_for_function("window.boardReady === true")
    page.locator('keepkit-flow [data-kk="close"]').click()
    found["roadmap"] = violations(page)
    assert {k: v for k, v in found.items() if v} == {}


def test_hosted_and_public_pages(context, keepkit_server, a11y_site):
    page = context.new_page()
    token = make_token(a11y_site["secret"], "axe-hosted", plan="Growth")
    base = keepkit_server.url
    found = {}
    page.goto(f"{base}/c/{a11y_site['key']}?token={token}")
    found["hosted reasons"] = violations(page)
    page.click('[data-kk="reason"][data-kk-id="too_expensive"]')
    # Each step is a form post: check the page it leads to once it has loaded, not the old one.
    for step, name in [("next", "hosted offer"), ("decline-offer", "hosted confirm"),
                       ("confirm-cancel", "hosted done")]:  # fmt: skip
        with page.expect_navigation():
            page.click(f'[data-kk="{step}"]')
        found[name] = violations(page)
    for name, path in [("invalid link", f"/c/{a11y_site['key']}?token=nope"),
                       ("public roadmap", f"/roadmap/{a11y_site['key']}"),
                       ("docs", "/docs/embedding"), ("docs index", "/docs/"),
                       ("login", "/admin/login")]:  # fmt: skip
        page.goto(base + path)
        found[name] = violations(page)
    assert {k: v for k, v in found.items() if v} == {}


def test_axe_is_pinned_and_not_in_the_widget():
    head = AXE.read_text(encoding="utf-8")[:200]
    assert re.search(r"axe v4\.10\.3", head)
    widget = Path(__file__).parent.parent.parent / "static" / "widget"
    assert all("axe" not in p.read_text(encoding="utf-8") for p in widget.glob("*.js"))


def test_the_check_finds_what_it_looks_for(context):
    page = context.new_page()
    page.set_content('<html><body><img src="x.png"><button></button></body></html>')
    found = " ".join(violations(page))
    assert "image-alt" in found and "button-name" in found
