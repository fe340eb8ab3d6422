"""The admin in a real Chromium, under its Content-Security-Policy: nothing is refused, and the
confirmations and auto-saving controls that used inline handlers work from admin.js."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import make_admin, make_site
from widget_server.extensions import db
from widget_server.models import Site

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


@pytest.fixture
def admin_site(live_app):
    with live_app.app_context():
        site, _ = make_site(f"Browser {uuid.uuid4().hex[:6]}")
        other, _ = make_site(f"Zeta {uuid.uuid4().hex[:6]}")
        email = f"pm-{uuid.uuid4().hex[:8]}@example.com"
        make_admin(email, PASSWORD)
        db.session.commit()
        return {"key": site.key, "other": other.key, "secret": site.secret_primary, "email": email}


def sign_in(page, keepkit_server, admin_site):
    page.goto(f"{keepkit_server.url}/admin/login")
    page.fill("input[name=email]", admin_site["email"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/sites/**")


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
