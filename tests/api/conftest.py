"""A live server on a database of its own, for tests where many clients hit it at once."""

from __future__ import annotations

import pytest

from tests.databases import committed_app
from tests.live import Server


@pytest.fixture
def live(tmp_path):
    """(app, base URL) of a threaded server whose requests really commit."""
    with committed_app(tmp_path, "live") as (app, _):
        server = Server(app)
        yield app, server.url
        server.stop()
