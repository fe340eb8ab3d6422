"""``/healthz`` for load balancers: 200 while the database answers, 503 in the envelope when
it does not; no authentication, no rate limit."""

from __future__ import annotations

import os

import pytest

from tests.delivery.conftest import free_port
from tests.ratelimits import rebind
from widget_server import create_app
from widget_server.config import normalize_database_url
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


def unreachable_database(tmp_path) -> str:
    """A URL of the kind under test that nothing answers."""
    url = os.environ.get("KEEPKIT_TEST_DATABASE_URL", "")
    if url and not url.startswith("sqlite"):
        base = normalize_database_url(url).rsplit("@", 1)[0]
        return f"{base}@127.0.0.1:{free_port()}/keepkit"
    (tmp_path / "a-file").write_text("not a directory")
    return f"sqlite:///{tmp_path}/a-file/keepkit.db"


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
