"""Live servers and a real Chromium for the widget tests.

Keepkit runs in a thread on 127.0.0.1 with its own database (a SQLite file, or a fresh
PostgreSQL database when KEEPKIT_TEST_DATABASE_URL points at PostgreSQL). The host page is
served by a second server on another port, so the widget runs cross-origin as in production.
"""

from __future__ import annotations

import os
import shutil
import threading
from urllib.parse import parse_qs

import pytest
from werkzeug.serving import make_server

from tests.databases import empty_database
from widget_server import create_app
from widget_server.extensions import db

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


HOST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host app</title><style>{css}</style>
<script>window.Keepkit = window.Keepkit || {{ q: [],
  ready: function (f) {{ this.q.push(["ready", [f]]); }},
  cancelFlow: function (o) {{ var q = this.q; return new Promise(function (r, j) {{
    q.push(["cancelFlow", [o], r, j]); }}); }} }};</script>
<script src="{keepkit}/widget/v1/keepkit.js" data-site="{site}" async></script>
</head><body>
<h1>Billing</h1>
<input id="before" aria-label="Something before">
<button id="cancel" type="button">Cancel subscription</button>
<pre id="result"></pre>
<div id="board"></div>
<script>
window.openFlow = function () {{
  var opts = {{ token: {token!r} }};
  if ({locale!r}) opts.locale = {locale!r};
  document.getElementById("result").textContent = "";
  return Keepkit.cancelFlow(opts).then(function (r) {{
    document.getElementById("result").textContent = JSON.stringify(r);
  }}, function (e) {{ document.getElementById("result").textContent = "ERROR " + e.message; }});
}};
document.getElementById("cancel").addEventListener("click", window.openFlow);
window.showRoadmap = function (withToken) {{
  var opts = withToken ? {{ token: {token!r} }} : {{}};
  if ({locale!r}) opts.locale = {locale!r};
  return Keepkit.roadmap("#board", opts).then(function () {{ window.boardReady = true; }},
    function (e) {{ document.getElementById("result").textContent = "ERROR " + e.message; }});
}};
</script></body></html>"""

AGGRESSIVE_CSS = """
* { font-family: "Comic Sans MS", cursive !important; color: #f0f !important;
    font-size: 31px !important; line-height: 3 !important; letter-spacing: 4px !important;
    box-sizing: content-box !important; text-transform: uppercase !important; }
div, label, button, h2, p, textarea, input { padding: 40px !important; margin: 25px !important;
    border: 9px dashed lime !important; background: yellow !important; }
keepkit-flow, [data-keepkit] { display: none !important; opacity: 0 !important; }
"""


def host_app(environ, start_response):
    """A stand-in for the integrator's app: ?keepkit=&site=&token=&locale=&css=aggressive."""
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    html = HOST_PAGE.format(
        keepkit=query.get("keepkit", ""),
        site=query.get("site", ""),
        token=query.get("token", ""),
        locale=query.get("locale", ""),
        css=AGGRESSIVE_CSS if query.get("css") == "aggressive" else "body { font: 16px serif; }",
    )
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [html.encode()]


@pytest.fixture(scope="session")
def host_server():
    server = Server(host_app)
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
