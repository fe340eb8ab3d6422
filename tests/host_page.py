"""The host page for the widget and accessibility tests (a pytest plugin loaded by
tests/conftest.py): served by a second server on another port, so the widget runs
cross-origin as in production. Keepkit's live server and Chromium come from tests/live.py."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from tests.live import Server

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
