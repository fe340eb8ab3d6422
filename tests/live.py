"""Live servers and a real Chromium, for every test that needs them (a pytest plugin loaded by
tests/conftest.py).

Keepkit runs in a thread on 127.0.0.1 with its own database (a SQLite file, or a fresh
PostgreSQL database when KEEPKIT_TEST_DATABASE_URL points at PostgreSQL), so its requests
really commit. Chromium is Debian's, driven by Playwright; outside CI a missing Chromium skips
the browser tests, in CI it fails them.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid

import pytest
from werkzeug.serving import make_server

from tests.databases import empty_database
from tests.factories import make_customer
from widget_server import create_app
from widget_server.extensions import db
from widget_server.models import Site
from widget_server.services import roadmap

PASSWORD = "correct horse battery"  # the admins the browser tests sign in as
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Server:
    def __init__(self, wsgi_app):
        self.httpd = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.thread.join(5)


@pytest.fixture(scope="session")
def live_database(tmp_path_factory):
    with empty_database(tmp_path_factory.mktemp("live"), "live") as url:
        yield url


@pytest.fixture(scope="session")
def live_app(live_database):
    app = create_app({"ENV": "testing", "SQLALCHEMY_DATABASE_URI": live_database})
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def keepkit_server(live_app):
    server = Server(live_app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is missing in CI: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def sign_in(page, keepkit_server, admin_site):
    page.goto(f"{keepkit_server.url}/admin/login")
    page.fill("input[name=email]", admin_site["email"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/sites/**")


def roadmap_item_with_voters(live_app, key, voters=3):
    """A planned item on site ``key`` with ``voters`` subscribed voters; returns its id."""
    with live_app.app_context():
        site = db.session.scalar(db.select(Site).where(Site.key == key))
        item = roadmap.create_item(site, title="Single sign-on", status="planned")
        for i in range(voters):
            roadmap.vote(site, item, make_customer(site, f"v{i}-{uuid.uuid4().hex[:6]}", mrr=1000))
        db.session.commit()
        item_id = item.id
        db.session.remove()
        return item_id
