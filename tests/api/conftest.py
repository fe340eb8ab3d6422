"""A live server on a database of its own, for tests where many clients hit it at once."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.databases import committed_app
from tests.widget.conftest import Server


@pytest.fixture
def live(tmp_path):
    """(app, base URL) of a threaded server whose requests really commit."""
    with committed_app(tmp_path, "live") as (app, _):
        server = Server(app)
        yield app, server.url
        server.stop()


def post(url: str, body: dict, **headers) -> dict:
    """POST ``body`` as JSON (text/plain, as the widget sends it) and return the JSON reply."""
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "text/plain", **headers},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        return json.load(response)
