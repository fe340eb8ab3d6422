"""The rate limiter fails open: with ``KEEPKIT_REDIS_URL`` pointing at a Redis that does not
answer, customers can still cancel, the data API and the admin login still work (limits are
counted in memory meanwhile, and it is logged); and nothing that runs after the view (the
limiter's header step included) can turn a committed request into an error."""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from tests.clients import login
from tests.databases import committed_app
from tests.factories import ORIGIN, make_admin, make_site, make_token, widget
from tests.ratelimits import rebind
from tests.servers import free_port
from widget_server.extensions import db, limiter
from widget_server.models import CancellationSession


def cancel_flow(client, site_key, token, outcome="saved"):
    """Start, answer ("Too expensive": a discount is offered) and complete a session (saved:
    the offer accepted). Returns the three responses."""
    started = widget(client, site_key, "/sessions", {"token": token})
    session = started.get_json()["session"]
    answer = {"token": token, "reason": "too_expensive", "comment": "Just testing"}
    answered = widget(client, site_key, f"/sessions/{session}/answer", answer)
    complete = {"token": token, "outcome": outcome}
    if outcome == "saved":
        complete["offer"] = answered.get_json()["offer"]["id"]
    completed = widget(client, site_key, f"/sessions/{session}/complete", complete)
    return started, answered, completed


@contextmanager
def app_with_redis(tmp_path, monkeypatch, url):
    """An app configured through the environment (``KEEPKIT_REDIS_URL``), with a site, an
    admin and a customer token, on a database of its own."""
    monkeypatch.setenv("KEEPKIT_REDIS_URL", url)
    with committed_app(tmp_path, "redisdown") as (down, _):
        assert down.config["RATELIMIT_STORAGE_URI"] == url
        with down.app_context():
            site, api_key = make_site("Down")
            make_admin()
            keys = {"site": site.key, "token": make_token(site), "api_key": api_key}
            db.session.remove()
        yield down, keys


@pytest.fixture
def redis_down(app, tmp_path, monkeypatch):
    """Redis on a port nobody listens on."""
    with app_with_redis(tmp_path, monkeypatch, f"redis://127.0.0.1:{free_port()}/0") as down:
        yield down
    rebind(app)


def test_customers_cancel_and_admins_log_in_while_redis_is_down(redis_down, caplog):
    down, keys = redis_down
    client = down.test_client()
    started, answered, completed = cancel_flow(client, keys["site"], keys["token"])
    assert (started.status_code, answered.status_code, completed.status_code) == (201, 200, 200)
    assert completed.get_json()["outcome"] == "saved"
    with down.app_context():
        stored = db.session.scalar(sa.select(CancellationSession.outcome))
        db.session.remove()
    assert stored == "saved"
    assert "Rate limit storage unreachable" in caplog.text  # logged, once per outage

    data = client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {keys['api_key']}"})
    assert data.status_code == 200 and len(data.get_json()["items"]) == 1
    assert login(client).status_code == 302
    assert client.get("/healthz").status_code == 200


def test_limits_still_hold_in_memory_while_redis_is_down(redis_down):
    down, keys = redis_down
    down.config["KEEPKIT_WIDGET_RATE_LIMIT"] = "2 per minute"
    client = down.test_client()
    body = {"token": keys["token"]}
    statuses = [widget(client, keys["site"], "/sessions", body).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


@pytest.fixture
def redis_hanging(app, tmp_path, monkeypatch):
    """A "Redis" that accepts connections and never answers (a hung server, a dropped route)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        with app_with_redis(tmp_path, monkeypatch, url) as hanging:
            yield hanging
    rebind(app)


def test_a_redis_that_never_answers_costs_a_moment_not_the_request(redis_hanging):
    hanging, keys = redis_hanging
    client = hanging.test_client()
    began = time.monotonic()
    *_, completed = cancel_flow(client, keys["site"], keys["token"])
    assert completed.status_code == 200 and completed.get_json()["outcome"] == "saved"
    # One timeout (half a second), then memory until Redis is back; not the OS's TCP timeout.
    assert time.monotonic() - began < 5


@pytest.fixture
def limiter_restored(app):
    yield
    rebind(app)


def test_storage_lost_after_the_commit_still_answers_the_outcome(
    app, client, db, site, limiter_restored, monkeypatch
):
    """Redis answers the limit check, then goes away before the X-RateLimit headers are
    written: the completion was committed, so its answer must be the outcome, not a 500."""
    token = make_token(site)

    def lost(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(limiter._limiter, "get_window_stats", lost)
    *_, completed = cancel_flow(client, site.key, token, outcome="cancelled")
    assert completed.status_code == 200
    assert completed.get_json()["outcome"] == "cancelled"
    assert db.session.scalar(sa.select(CancellationSession.outcome)) == "cancelled"


def test_a_failing_after_request_step_does_not_undo_the_answer(
    app, client, db, site, limiter_restored, monkeypatch, caplog
):
    def broken(response):
        raise RuntimeError("header step failed")

    # A step that runs after every view, outside the limiter's own error handling.
    monkeypatch.setattr(limiter, "_Limiter__check_conditional_deductions", broken)
    _, _, completed = cancel_flow(client, site.key, make_token(site), outcome="cancelled")
    assert completed.status_code == 200 and completed.get_json()["outcome"] == "cancelled"
    # The other after-request steps still ran (CORS lets the widget read the answer).
    assert completed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "header step failed" in caplog.text


def test_the_public_doors_count_in_the_shared_storage_again_once_it_answers(
    app, client, db, site, limiter_restored, monkeypatch
):
    """After an outage the doors ask the storage again (at most every few seconds) and go
    back to it when it answers, so the processes share their counts again."""
    from widget_server import ratelimit

    limiter._storage_dead = True  # as after an outage; the storage here answers
    monkeypatch.setattr(ratelimit, "_next_recheck", time.monotonic() + 60)
    widget(client, site.key, "/sessions", {"token": make_token(site)})
    assert limiter._storage_dead  # not asked again before its time
    monkeypatch.setattr(ratelimit, "_next_recheck", 0.0)
    started = widget(client, site.key, "/sessions", {"token": make_token(site)})
    assert started.status_code == 201
    assert not limiter._storage_dead
