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

from flask import g, request

# Not a possible site key (those are ``site_`` + hex), so never a real site's bucket.
UNKNOWN = "~unknown"


def client_address() -> str:
    """The client's address as the limits and the logs see it."""
    return request.remote_addr or "unknown"


def site_bucket(door: str) -> str:
    """``door:address:site`` for the request's ``g.site``; unknown sites share one bucket."""
    site = g.get("site")
    return f"{door}:{client_address()}:{site.key if site is not None else UNKNOWN}"
