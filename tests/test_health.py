"""``/healthz`` for load balancers: 200 while the database answers, 503 in the envelope when
it does not; no authentication, no rate limit."""

from __future__ import annotations

import pytest

from tests.databases import unreachable_database
from tests.ratelimits import rebind
from widget_server import create_app
from widget_server.extensions import db as _db


def test_healthz_answers_ok(app, client, db, monkeypatch):
    # A tiny limit elsewhere does not apply: load balancers poll often.
    monkeypatch.setitem(app.config, "KEEPKIT_WIDGET_RATE_LIMIT", "1 per minute")
    monkeypatch.setitem(app.config, "KEEPKIT_DATA_RATE_LIMIT", "1 per minute")
    for _ in range(3):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.get_json() == {"status": "ok"}
        assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture
def database_down(app, tmp_path):
    down = create_app({"ENV": "testing", "SQLALCHEMY_DATABASE_URI": unreachable_database(tmp_path)})
    yield down
    with down.app_context():
        _db.engine.dispose()
    rebind(app)


def test_healthz_is_503_in_the_envelope_when_the_database_is_down(database_down, caplog):
    response = database_down.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "error": {"code": "database_unavailable", "message": "The database is not reachable"}
    }
    assert "database is unavailable" in caplog.text
