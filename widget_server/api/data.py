"""Server-side data API: ``Authorization: Bearer <site API key>``."""

from __future__ import annotations

import base64
from datetime import timedelta

from flask import Blueprint, current_app, g, jsonify, request

from widget_server.api.schemas import RankingOut, ReasonsQuery, SessionPage, SessionsQuery
from widget_server.errors import BadRequest, Unauthorized, ValidationError
from widget_server.extensions import db, limiter
from widget_server.models import utcnow
from widget_server.services import insights, sessions, sites

bp = Blueprint("data_api", __name__, url_prefix="/api/v1")


def _rate_key() -> str:
    return "data:" + request.headers.get("Authorization", "")[-16:]


limiter.limit(lambda: current_app.config["KEEPKIT_DATA_RATE_LIMIT"], key_func=_rate_key)(bp)


@bp.before_request
def _authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized(
            "Send the site's data API key as 'Authorization: Bearer <key>'", code="missing_api_key"
        )
    g.site = sites.site_for_api_key(key.strip())
    db.session.commit()  # last_used_at, if it changed; the data API writes nothing else


def _period(data) -> insights.Period:
    end = data["to"] or utcnow().date()
    start = data["from_"] or end - timedelta(days=29)
    if start > end:
        raise ValidationError("'from' must not be after 'to'", code="validation_error")
    return insights.Period(start, end)


def _encode_cursor(last_id: int | None) -> str | None:
    if last_id is None:
        return None
    return base64.urlsafe_b64encode(f"s:{last_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "s":
            raise ValueError(raw)
        return int(value)
    except ValueError as exc:
        raise BadRequest("The cursor is not one this API returned", code="invalid_cursor") from exc


@bp.get("/sessions")
def list_sessions():
    """Cancellation sessions started in the date range, oldest first, cursor-paginated."""
    data = SessionsQuery().load(request.args)
    query = sessions.sessions_query(g.site, sessions.SessionFilter(period=_period(data)))
    rows, last = sessions.page_after(query, _decode_cursor(data["cursor"]), data["limit"])
    return jsonify(SessionPage().dump({"items": rows, "next_cursor": _encode_cursor(last)}))


@bp.get("/insights/reasons")
def reasons_ranking():
    """Reasons ranked by lost MRR (minor units) for cancellations completed in the range."""
    data = ReasonsQuery().load(request.args)
    ranking = insights.reason_ranking(g.site, _period(data), plan=data["plan"])
    return jsonify(RankingOut().dump(ranking))
