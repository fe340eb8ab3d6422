"""``GET /healthz`` for load balancers: is the database answering?

No authentication, no rate limit, nothing else checked: Redis being down does not take a node
out of rotation (the rate limiter falls back to memory).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify

from widget_server.api.errors import envelope
from widget_server.extensions import db, limiter

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)
limiter.exempt(bp)


@bp.get("/healthz")
def healthz():
    """200 ``{"status": "ok"}``, or 503 in the error envelope when the database is down."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        log.warning("Health check: the database is unavailable: %s", exc)
        response = envelope(503, "database_unavailable", "The database is not reachable")
    else:
        response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response
