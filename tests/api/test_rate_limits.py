"""Rate limits count per client address and site, in memory and in Redis.

Every public door is limited: the widget API, the hosted page, the public roadmap and
unsubscribe pages, and the data API (per API key's site). Unknown site keys and wrong API
keys are limited too, all in one bucket per address.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.factories import ORIGIN, make_site, make_token
from tests.ratelimits import limiter_storage, rebind
from widget_server import create_app
from widget_server.config import load_config
from widget_server.extensions import db as _db
from widget_server.extensions import limiter
from widget_server.services.sites import create_api_key

OTHER_ADDRESS = {"REMOTE_ADDR": "198.51.100.7"}


@pytest.fixture(params=["memory", "redis"])
def stored_keys(request, app, db):
    with limiter_storage(app, request.param) as stored_keys:
        yield stored_keys


@pytest.fixture
def other(db):
    site, _ = make_site("Globex")
    return site


def start(client, site_key, token, **kwargs):
    return client.post(
        f"/api/v1/widget/{site_key}/sessions",
        data=json.dumps({"token": token}),
        headers={"Origin": ORIGIN},
        content_type="text/plain",
        **kwargs,
    )


def statuses(responses) -> list[int]:
    return [r.status_code for r in responses]


def test_widget_limit_is_per_site_and_address(app, client, site, other, stored_keys, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_WIDGET_RATE_LIMIT", "3 per minute")
    token = make_token(site)
    first = [start(client, site.key, token) for _ in range(4)]
    assert statuses(first) == [201, 201, 201, 429]
    assert first[-1].get_json()["error"]["code"] == "rate_limited"
    # Another tenant's customers behind the same address are not throttled by this one...
    assert start(client, other.key, make_token(other)).status_code == 201
    # ... and neither are this site's customers elsewhere.
    assert start(client, site.key, token, environ_base=OTHER_ADDRESS).status_code == 201
    keys = stored_keys()
    if keys is not None:  # Redis holds one counter per (address, site)
        assert any(site.key in key for key in keys) and any(other.key in key for key in keys)


def test_widget_answers_say_how_much_of_the_limit_is_left(
    app, client, site, stored_keys, monkeypatch
):
    monkeypatch.setitem(app.config, "KEEPKIT_WIDGET_RATE_LIMIT", "2 per minute")
    token = make_token(site)
    first, second, refused = (start(client, site.key, token) for _ in range(3))
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert (first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]) == (
        "1",
        "0",
    )
    assert refused.status_code == 429
    assert refused.get_json()["error"]["message"] == (
        "Too many requests: limit is 2 per 1 minute. Retry later."
    )
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert int(refused.headers["X-RateLimit-Reset"]) > time.time()
    # The browser may read the refusal: the CORS headers are on it.
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_unknown_site_keys_share_one_bucket_per_address(
    app, client, site, stored_keys, monkeypatch
):
    monkeypatch.setitem(app.config, "KEEPKIT_WIDGET_RATE_LIMIT", "3 per minute")
    guesses = [start(client, f"site_guess{i}", "x") for i in range(4)]
    assert statuses(guesses) == [404, 404, 404, 429]
    assert guesses[0].get_json()["error"]["code"] == "site_not_found"
    # Guessing does not lock the address out of real sites.
    assert start(client, site.key, make_token(site)).status_code == 201


def test_hosted_page_limit_is_per_site(app, client, site, other, stored_keys, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_WIDGET_RATE_LIMIT", "2 per minute")
    token = make_token(site)
    pages = [client.get(f"/c/{site.key}?token={token}") for _ in range(3)]
    assert statuses(pages) == [200, 200, 429]
    assert client.get(f"/c/{other.key}?token={make_token(other)}").status_code == 200
    unknown = [client.get(f"/c/site_guess{i}?token=x") for i in range(3)]
    assert statuses(unknown) == [404, 404, 429]


def test_public_pages_limit_is_per_site(app, client, site, other, stored_keys, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_WIDGET_RATE_LIMIT", "2 per minute")
    pages = [client.get(f"/roadmap/{site.key}") for _ in range(3)]
    assert statuses(pages) == [200, 200, 429]
    assert client.get(f"/roadmap/{other.key}").status_code == 200
    unknown = [client.get(f"/roadmap/site_guess{i}") for i in range(3)]
    assert statuses(unknown) == [404, 404, 429]
    # Broken unsubscribe links share one bucket per address too.
    broken = [client.get(f"/u/not-a-token-{i}") for i in range(3)]
    assert statuses(broken) == [400, 400, 429]


def test_data_api_limit_is_per_api_keys_site(app, client, site, other, stored_keys, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_DATA_RATE_LIMIT", "3 per minute")
    first_key, second_key = create_api_key(site), create_api_key(site)
    other_key = create_api_key(other)

    def get(key):
        return client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {key}"})

    assert statuses([get(first_key), get(second_key), get(first_key)]) == [200, 200, 200]
    # Both keys of the site count against the site's one budget.
    throttled = get(second_key)
    assert throttled.status_code == 429
    assert throttled.get_json()["error"]["code"] == "rate_limited"
    assert get(other_key).status_code == 200


def test_wrong_api_keys_share_one_bucket_per_address(
    app, client, api_key, stored_keys, monkeypatch
):
    monkeypatch.setitem(app.config, "KEEPKIT_DATA_RATE_LIMIT", "3 per minute")
    wrong = [
        client.get("/api/v1/sessions", headers={"Authorization": f"Bearer kk_live_guess{i}"})
        for i in range(4)
    ]
    assert statuses(wrong) == [401, 401, 401, 429]
    assert client.get("/api/v1/sessions").status_code == 429  # no key at all: same bucket
    valid = client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {api_key}"})
    assert valid.status_code == 200


@pytest.fixture
def proxied(app):
    """An app behind one trusted reverse proxy (on the session app's database, read only)."""
    behind = create_app(
        {
            "ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "KEEPKIT_TRUSTED_PROXIES": "1",
            "KEEPKIT_WIDGET_RATE_LIMIT": "2 per minute",
        }
    )
    limiter.reset()
    yield behind
    with behind.app_context():
        _db.engine.dispose()
    rebind(app)


def guess(client, forwarded_for: str):
    return client.post(
        "/api/v1/widget/site_guess/sessions",
        data="{}",
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the proxy
    )


def test_behind_a_trusted_proxy_limits_count_per_client(proxied):
    client = proxied.test_client()
    first = [guess(client, "203.0.113.1").status_code for _ in range(3)]
    assert first == [404, 404, 429]
    # Another client behind the same proxy has its own budget; a client cannot escape its own
    # by prepending addresses (only the address the proxy itself appended counts).
    assert guess(client, "203.0.113.2").status_code == 404
    assert guess(client, "192.0.2.9, 203.0.113.1").status_code == 429


def test_without_trusted_proxies_forwarded_headers_are_ignored(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_WIDGET_RATE_LIMIT", "2 per minute")
    limiter.reset()
    spoofed = [guess(client, f"203.0.113.{i}").status_code for i in range(3)]
    assert spoofed == [404, 404, 429]


@pytest.mark.parametrize("value", ["-1", "two", "11"])
def test_trusted_proxies_must_be_a_small_count(value):
    with pytest.raises(RuntimeError, match="KEEPKIT_TRUSTED_PROXIES"):
        load_config(environ={"KEEPKIT_ENV": "development", "KEEPKIT_TRUSTED_PROXIES": value})


def test_memory_counters_expire_without_a_thread_per_request(monkeypatch):
    """Without Redis each process counts in memory; expired counters go away (read as zero,
    then swept), and counting starts no timer thread."""
    import threading
    import time

    from widget_server.ratelimit import SweptMemoryStorage

    storage = SweptMemoryStorage("keepkit-memory://")
    started = []
    monkeypatch.setattr(threading.Timer, "start", lambda timer: started.append(timer))
    for _ in range(200):
        storage.incr("widget:203.0.113.9:site_a", expiry=0.05)
    assert storage.get("widget:203.0.113.9:site_a") == 200
    assert started == []
    time.sleep(0.1)
    storage._next_sweep = 0.0  # the next count sweeps
    storage.incr("widget:203.0.113.9:site_b", expiry=60)
    assert "widget:203.0.113.9:site_a" not in storage.storage  # swept, not just unread
    assert storage.get("widget:203.0.113.9:site_a") == 0
    assert storage.get("widget:203.0.113.9:site_b") == 1
