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

import time

from flask import g, request
from limits.storage import MemoryStorage

# Not a possible site key (those are ``site_`` + hex), so never a real site's bucket.
UNKNOWN = "~unknown"


def client_address() -> str:
    """The client's address as the limits and the logs see it."""
    return request.remote_addr or "unknown"


def site_bucket(door: str) -> str:
    """``door:address:site`` for the request's ``g.site``; unknown sites share one bucket."""
    site = g.get("site")
    return f"{door}:{client_address()}:{site.key if site is not None else UNKNOWN}"


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
