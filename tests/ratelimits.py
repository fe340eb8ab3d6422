"""Rate-limit storage for tests: in memory (the session app's default) or a real Redis.

Flask-Limiter keeps one storage per ``Limiter`` object and the app factory binds the one
``limiter`` of ``widget_server.extensions`` to every app it builds, so a test that points the
limiter elsewhere binds it back to the session app afterwards (:func:`rebind`).
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest

from widget_server.extensions import limiter

# A database number of this suite's own; keys also carry a per-test prefix and are deleted.
REDIS_URL = os.environ.get("KEEPKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


def redis_or_skip(url: str = REDIS_URL):
    """A client for ``url``; skips when Redis is unreachable (fails in CI)."""
    import redis

    client = redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if os.environ.get("CI"):
            raise RuntimeError(f"Redis {url} is unreachable in CI: {exc}") from exc
        pytest.skip(f"Redis {url} is unreachable: {exc}")
    return client


def rebind(app) -> None:
    """Bind the limiter to ``app``'s storage again, with fresh counters."""
    limiter.init_app(app)
    # The "storage is down, use the in-memory fallback" flag belongs to the limiter object,
    # not to an app: a test that took Redis away must not leave it set for the next test.
    limiter._storage_dead = False
    limiter.reset()


@contextmanager
def limiter_storage(app, kind: str):
    """Count ``app``'s rate limits in memory or in Redis (``kind``) for the block.

    Yields a function that lists the Redis keys written so far (None in memory)."""
    if kind == "memory":
        limiter.reset()
        try:
            yield lambda: None
        finally:
            limiter.reset()
        return
    client = redis_or_skip()
    prefix = f"keepkit-test-{uuid.uuid4().hex[:12]}"
    saved = {k: app.config.get(k) for k in ("RATELIMIT_STORAGE_URI", "RATELIMIT_STORAGE_OPTIONS")}
    app.config["RATELIMIT_STORAGE_URI"] = REDIS_URL
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"key_prefix": prefix, "socket_timeout": 2}
    limiter.init_app(app)
    try:
        yield lambda: sorted(key.decode() for key in client.scan_iter(f"{prefix}*"))
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
        for key, value in saved.items():
            if value is None:
                app.config.pop(key, None)
            else:
                app.config[key] = value
        rebind(app)
