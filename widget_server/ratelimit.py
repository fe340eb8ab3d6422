"""Rate-limit keys: every public limit counts per client address **and** site.

The public doors (widget API, hosted page, public roadmap and unsubscribe pages) resolve
``g.site`` before the limiter runs (a ``url_value_preprocessor``; it sets ``None`` for a key
that names no site) and count in ``<door>:<address>:<site key>``. Every unknown site key from
one address shares that address's one bucket, so guessing keys is throttled without creating a
bucket per guess. The data API counts per API key's site (see ``api/data.py``).

The address is the TCP peer, or with ``KEEPKIT_TRUSTED_PROXIES=N`` the client address that the
N reverse proxies in front reported (Werkzeug's ProxyFix, applied in the app factory).
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache

from flask import Blueprint, current_app, g, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from werkzeug.exceptions import TooManyRequests

log = logging.getLogger(__name__)

# Not a possible site key (those are ``site_`` + hex), so never a real site's bucket.
UNKNOWN = "~unknown"


def client_address() -> str:
    """The client's address as the limits and the logs see it."""
    return request.remote_addr or "unknown"


def site_bucket(door: str) -> str:
    """``door:address:site`` for the request's ``g.site``; unknown sites share one bucket."""
    site = g.get("site")
    return f"{door}:{client_address()}:{site.key if site is not None else UNKNOWN}"


# --- the public doors' limit ------------------------------------------------------------------
#
# Every request of a public door passes the limit, so it is counted here in a few steps rather
# than through Flask-Limiter's per-request resolution of decorators, defaults and exemptions
# (a quarter of an anonymous board read). Flask-Limiter still owns the storage (memory or
# Redis) and its in-memory fallback; it leaves the doors' requests to this module.

# Seconds between checks whether an unreachable storage answers again (each costs at most the
# Redis timeout, in one request of the process).
RECHECK_SECONDS = 5.0
_next_recheck = 0.0
_DOORS: set[str] = set()


def limit_door(bp: Blueprint, door: str) -> None:
    """Limit every request of ``bp`` to ``KEEPKIT_WIDGET_RATE_LIMIT`` per client address and
    site (:func:`site_bucket`), each route in a bucket of its own, with the ``X-RateLimit-*``
    headers on each answer and 429 ``rate_limited`` over the limit. Call it right after
    creating the blueprint: its count runs before the blueprint's other request steps."""
    from widget_server.extensions import limiter

    if not _DOORS:
        # Flask-Limiter skips these requests from its first step on (an exemption alone still
        # runs its resolution of limits).
        limiter.request_filter(lambda: request.blueprint in _DOORS)
    _DOORS.add(bp.name)

    def count() -> None:
        limit = _parsed(current_app.config["KEEPKIT_WIDGET_RATE_LIMIT"])
        args = (site_bucket(door), request.endpoint or bp.name)
        if not _hit(limit, args):
            log.info("ratelimit %s (%s) exceeded", limit, args[0])
            raise TooManyRequests(description=str(limit))

    bp.before_request(count)
    bp.after_request(_headers)


def skip_doors(app) -> None:
    """Flask-Limiter's own request step, skipped for the doors' requests: their limit is
    counted by :func:`limit_door`, and the step's resolution of limits (which finds none for
    them, see the request filter) cost as much as the count. Call after ``limiter.init_app``."""
    from widget_server.extensions import limiter

    steps = app.before_request_funcs.setdefault(None, [])
    for index, step in enumerate(steps):
        if step == limiter._check_request_limit:
            steps[index] = _unless_door(step)


def _unless_door(step):
    def run():
        if request.blueprint in _DOORS:
            return None
        return step()

    return run


@lru_cache(maxsize=16)
def _parsed(text: str) -> RateLimitItem:
    return parse(text)


def _hit(limit: RateLimitItem, args: tuple[str, str]) -> bool:
    """Count the request; whether it is within the limit. Fails open: a storage that does not
    answer switches the process to counting in memory (logged once), and a failure there lets
    the request through."""
    from widget_server.extensions import limiter

    if not limiter.enabled:
        return True
    _recheck_storage(limiter)
    try:
        allowed = limiter.limiter.hit(limit, *args)
    except Exception:
        if not _storage_lost(limiter):
            log.exception("Rate limit check failed; the request is let through")
            return True
        try:
            allowed = limiter.limiter.hit(limit, *args)
        except Exception:
            log.exception("Rate limit check failed; the request is let through")
            return True
    g.keepkit_limit = (limit, args)
    return allowed


def _storage_lost(limiter) -> bool:
    """Count in memory from now on (when the fallback is on); whether that switch happened."""
    global _next_recheck
    if limiter._storage_dead or not limiter._in_memory_fallback_enabled:
        return False
    log.warning("Rate limit storage unreachable - falling back to in-memory storage")
    limiter._storage_dead = True
    _next_recheck = time.monotonic() + RECHECK_SECONDS
    return True


def _recheck_storage(limiter) -> None:
    global _next_recheck
    if not limiter._storage_dead or time.monotonic() < _next_recheck:
        return
    _next_recheck = time.monotonic() + RECHECK_SECONDS
    try:
        back = limiter.storage.check()
    except Exception:
        back = False
    if back:
        log.info("Rate limit storage recovered")
        limiter._storage_dead = False


def _headers(response):
    """``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (epoch seconds) and ``Retry-After``
    (seconds), as Flask-Limiter writes them for the other routes."""
    counted = g.get("keepkit_limit")
    if counted is None:
        return response
    from widget_server.extensions import limiter

    limit, args = counted
    try:
        reset, remaining = limiter.limiter.get_window_stats(limit, *args)
    except Exception:
        _storage_lost(limiter)
        return response
    reset_at = int(reset + 1)
    headers = response.headers
    headers["X-RateLimit-Limit"] = str(limit.amount)
    headers["X-RateLimit-Remaining"] = str(remaining)
    headers["X-RateLimit-Reset"] = str(reset_at)
    headers["Retry-After"] = str(max(0, int(reset_at - time.time())))
    return response


class SweptMemoryStorage(MemoryStorage):
    """The limiter's counters in this process's memory (``keepkit-memory://``, the default
    without Redis): limits' memory storage, except that expired counters are swept inline at
    most once a second. The original starts a timer thread for that on nearly every request
    under load, a thread per request."""

    STORAGE_SCHEME = ["keepkit-memory"]  # noqa: RUF012 - read by limits' storage registry
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions, **options)
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the timer of the base class
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
