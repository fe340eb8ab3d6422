"""When the database cannot be reached, every request gets a quick 503 (the envelope under
/api, a plain page elsewhere) that tells the client to retry: never a 500, never a hang.
docs/performance.md ("Faults") has the same under load, with PostgreSQL restarted."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from tests.databases import unreachable_database
from tests.factories import ORIGIN
from tests.ratelimits import rebind
from widget_server import create_app
from widget_server.extensions import db as _db

SITE = "site_0123456789abcdef"
MESSAGE = "The database is not reachable; retry in a few seconds"


@pytest.fixture
def build(app):
    """Build apps on other databases; disposes of their engines and rebinds the limiter."""
    built = []

    def make(url: str):
        other = create_app({"ENV": "testing", "SQLALCHEMY_DATABASE_URI": url})
        built.append(other)
        return other

    yield make
    for other in built:
        with other.app_context():
            _db.engine.dispose()
    rebind(app)


def start_flow(client):
    return client.post(
        f"/api/v1/widget/{SITE}/sessions",
        data=json.dumps({"token": "a.b.c"}),
        headers={"Origin": ORIGIN},
        content_type="text/plain",
    )


def test_api_requests_get_503_in_the_envelope(build, tmp_path, caplog):
    client = build(unreachable_database(tmp_path)).test_client()
    responses = {
        "widget": start_flow(client),
        "data": client.get("/api/v1/sessions", headers={"Authorization": "Bearer kk_nope"}),
    }
    for door, response in responses.items():
        assert response.status_code == 503, door
        assert response.get_json() == {
            "error": {"code": "database_unavailable", "message": MESSAGE}
        }, door
        assert response.headers["Retry-After"] == "5"
    # The widget can read the answer (CORS headers are still set).
    assert responses["widget"].headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Database unavailable on POST /api/v1/widget/" in caplog.text


def test_pages_get_a_plain_503(build, tmp_path):
    client = build(unreachable_database(tmp_path)).test_client()
    for path in (f"/roadmap/{SITE}", f"/c/{SITE}?token=a.b.c"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.mimetype == "text/html"
        assert MESSAGE in response.get_data(as_text=True)
        assert response.headers["Retry-After"] == "5"


@pytest.fixture
def silent_server():
    """A "PostgreSQL" that accepts connections and never answers (a hung host, a dropped
    route): only a connect timeout ends the wait."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"postgresql://keepkit@127.0.0.1:{listener.getsockname()[1]}/keepkit"


def test_a_database_that_never_answers_costs_seconds_not_the_request(build, silent_server):
    hung = build(silent_server)
    assert hung.config["KEEPKIT_DATABASE_CONNECT_TIMEOUT"] == 3
    answers = []

    def request():
        began = time.monotonic()
        answers.append((start_flow(hung.test_client()), time.monotonic() - began))

    thread = threading.Thread(target=request, daemon=True)
    thread.start()
    thread.join(15)
    assert answers, "the request was still waiting for the database after 15 s"
    [(response, elapsed)] = answers
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"
    assert elapsed < 8  # the 3-second connect timeout, once or twice (pre-ping, connect)
