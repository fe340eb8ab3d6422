"""Plain factory functions for tests."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt

from widget_server.extensions import db
from widget_server.models import utcnow
from widget_server.services import rollups, sites, users

ORIGIN = "https://app.example.com"
# Text that is not one line, one of each kind: CR, LF, CRLF, NUL, TAB, ESC, DEL, NEL (C1), the
# Unicode line and paragraph separators, a lone high and a lone low surrogate.
BAD_LINES = [
    "a\rb", "a\nb", "a\r\nb", "a\x00b", "a\tb", "a\x1bb", "a\x7fb", "a\x85b", "a\u2028b",
    "a\u2029b", "a\ud800b", "a\udc00b",
]  # fmt: skip
# What even multi-line text refuses: NUL and a lone surrogate.
BAD_TEXTS = ["a\x00b", "a\ud800b"]


def make_site(name: str = "Acme", origins=(ORIGIN,), currency: str = "USD"):
    """A site with the default reasons and offers; returns (site, api_key)."""
    site, api_key = sites.create_site(name, list(origins), currency=currency)
    db.session.commit()  # inside the test's outer transaction: rolled back after the test
    return site, api_key


def make_token(site_or_secret, sub: str = "cust-1", *, lifetime: int = 3600, alg="HS256", **claims):
    """A customer token as a host backend would sign it."""
    secret = getattr(site_or_secret, "secret_primary", site_or_secret)
    now = int(time.time())
    payload = {"sub": sub, "exp": now + lifetime, "iat": now, "plan": "Growth", "mrr": 9900}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret, algorithm=alg)


def make_admin(email: str = "pm@example.com", password: str = "correct horse battery", **kw):
    user = users.create_admin(email, password, **kw)
    db.session.commit()
    return user


def settle():
    """Count every queued completion in the rollups, as the worker (or the dashboard) would."""
    rollups.fold_all()
    db.session.commit()


def backdate(site, session, days_ago: int, *, started: bool = False):
    """Move a completed session ``days_ago`` days into the past (and its start, if
    ``started``), then rebuild the site's rollups as after any hand edit of sessions."""
    session.completed_at = utcnow() - timedelta(days=days_ago)
    if started:
        session.started_at = session.completed_at
    db.session.flush()
    rollups.fold_all()
    rollups.rebuild(site)
    return session
