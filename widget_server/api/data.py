"""Server-side data API: ``Authorization: Bearer <site API key>``."""

from __future__ import annotations

import base64

from flask import Blueprint, current_app, g, jsonify, request

from widget_server import database, ratelimit
from widget_server.api.schemas import (
    CustomerErasedOut,
    CustomerExportOut,
    EventBatchIn,
    EventIn,
    EventsOut,
    ExperimentsOut,
    InsightsQuery,
    OffersOut,
    RangeQuery,
    RankingOut,
    ReactivationsOut,
    ReasonsQuery,
    RetentionOut,
    RoadmapItemIn,
    RoadmapItemOut,
    RoadmapItemPage,
    RoadmapQuery,
    SegmentsOut,
    SessionPage,
    SessionsQuery,
    SummaryOut,
    TrendOut,
)
from widget_server.errors import BadRequest, Unauthorized, ValidationError
from widget_server.extensions import limiter
from widget_server.guards import json_object
from widget_server.models import MAX_ID, Site, utcnow
from widget_server.services import (
    audit,
    experiments,
    impact,
    insights,
    lifecycle,
    privacy,
    roadmap,
    rollups,
    sessions,
    sites,
)
from widget_server.services.period import Filter, InvalidPeriod, Period

bp = Blueprint("data_api", __name__, url_prefix="/api/v1")


@bp.url_value_preprocessor
def _find_api_key_site(endpoint, values):
    """``g.api_key_site``: the site of the request's API key, or why there is none. Runs before
    the limiter, whose key needs it; ``_authenticate`` refuses the request afterwards."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    try:
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized(
                "Send the site's data API key as 'Authorization: Bearer <key>'",
                code="missing_api_key",
            )
        g.api_key = sites.api_key(key.strip())
        g.api_key_site = g.api_key.site
    except Unauthorized as exc:
        g.api_key_site = exc


def _rate_key() -> str:
    """One budget per site, shared by all its keys; missing and wrong keys share one bucket
    per client address."""
    site = g.api_key_site
    if isinstance(site, Site):
        return f"data:site:{site.key}"
    return f"data:{ratelimit.client_address()}:{ratelimit.UNKNOWN}"


limiter.limit(lambda: current_app.config["KEEPKIT_DATA_RATE_LIMIT"], key_func=_rate_key)(bp)


@bp.before_request
def _authenticate():
    site = g.api_key_site
    if not isinstance(site, Site):
        raise site
    g.site = site
    if sites.api_key_use_is_news(g.api_key):
        database.write_now(lambda: sites.note_api_key_use(g.api_key))


# The data API's names for a period's dates.
_FIELDS = {"start": "from", "end": "to"}


def _period(data) -> Period:
    """The query's ``from``/``to`` (dates already) as a period, ``to`` defaulting to today.

    :raises ValidationError: ``invalid_period``, with the parameter at fault in the details.
    """
    try:
        return Period.parse(data["from_"], data["to"], today=utcnow().date())
    except InvalidPeriod as exc:
        field = _FIELDS[exc.field]
        raise ValidationError(exc.message, code=exc.code, details={field: [exc.message]}) from exc


def _encode_cursor(position: int | None, kind: str = "s") -> str | None:
    """An opaque cursor: ``s`` continues after a session id (oldest first), ``n`` before one
    (newest first), ``r`` at a roadmap offset."""
    if position is None:
        return None
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, kind: str = "s") -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != kind or not value.isascii() or not value.isdigit():
            raise ValueError(raw)
        position = int(value)
        if position > MAX_ID:  # a row id, or an offset into at most that many rows
            raise ValueError(raw)
        return position
    except ValueError as exc:
        raise BadRequest("The cursor is not one this API returned", code="invalid_cursor") from exc


@bp.get("/sessions")
def list_sessions():
    """Cancellation sessions started in the date range, newest first (``order=oldest``: oldest
    first), cursor-paginated; ``from`` alone means from that day to today."""
    data = SessionsQuery().load(request.args)
    newest = data["order"] == "newest"
    kind = "n" if newest else "s"  # a cursor continues the order it came from
    query = sessions.sessions_query(g.site, sessions.SessionFilter(period=_period(data)))
    rows, last = sessions.page_after(
        query, _decode_cursor(data["cursor"], kind), data["limit"], newest=newest
    )
    return jsonify(SessionPage().dump({"items": rows, "next_cursor": _encode_cursor(last, kind)}))


def current_figures() -> None:
    """The site's completions still queued for the rollups are counted first, so the figures
    include every session completed until now."""
    if rollups.pending(g.site):
        database.write_now(lambda: rollups.fold_all(g.site))


def _insights_filter() -> Filter:
    current_figures()
    data = InsightsQuery().load(request.args)
    g.insights_by = data["by"]
    return Filter.parse(_period(data), plan=data["plan"], segment=data["segment"])


@bp.get("/insights/summary")
def insights_summary():
    """Totals for the range with the previous period of the same length and the change."""
    return jsonify(SummaryOut().dump(insights.with_change(g.site, _insights_filter())))


@bp.get("/insights/segments")
def insights_segments():
    """Churn by plan, tenure band, MRR band or a custom attribute (``by=attr:region``)."""
    filters = _insights_filter()
    return jsonify(SegmentsOut().dump(insights.breakdown(g.site, filters, g.insights_by)))


@bp.get("/insights/offers")
def insights_offers():
    """Per save offer: shown, accepted, save rate, MRR kept."""
    filters = _insights_filter()
    items = insights.offer_performance(g.site, filters)
    return jsonify(OffersOut().dump({"currency": g.site.currency, "items": items}))


@bp.get("/insights/trend")
def insights_trend():
    """Lost MRR per month and reason."""
    return jsonify(TrendOut().dump(insights.trend(g.site, _insights_filter())))


@bp.get("/insights/reasons")
def reasons_ranking():
    """Reasons ranked by lost MRR (minor units) for cancellations completed in the range."""
    current_figures()
    data = ReasonsQuery().load(request.args)
    ranking = insights.reason_ranking(g.site, Filter.parse(_period(data), plan=data["plan"]))
    return jsonify(RankingOut().dump(ranking))


@bp.get("/insights/retention")
def insights_retention():
    """Saves of the range that lasted 30/60/90 days; cancellations billing confirmed."""
    period = _period(RangeQuery().load(request.args))
    return jsonify(RetentionOut().dump(impact.retention(g.site, period)))


@bp.get("/insights/reactivations")
def insights_reactivations():
    """Customers who came back in the range, per roadmap item whose win-back email preceded."""
    period = _period(RangeQuery().load(request.args))
    return jsonify(ReactivationsOut().dump(impact.reactivations(g.site, period)))


@bp.get("/insights/experiments")
def insights_experiments():
    """The site's holdouts and A/B tests with their arms and lifts (docs/experiments.md)."""
    return jsonify(ExperimentsOut().dump(experiments.results(g.site)))


def _item_with_stats(item_id: int) -> dict:
    return roadmap.item_stats(g.site, roadmap.get_item(g.site, item_id))


@bp.get("/roadmap/items")
def list_roadmap_items():
    """Roadmap items with votes, companies, voters' MRR and lost MRR (``sort`` picks which)."""
    data = RoadmapQuery().load(request.args)
    statuses = tuple(data["status"].split(",")) if data["status"] else None
    offset = _decode_cursor(data["cursor"], "r") or 0
    rows = roadmap.items_with_stats(
        g.site,
        roadmap.ItemFilter(statuses=statuses, moderation=None),
        sort=data["sort"],
        limit=data["limit"] + 1,
        offset=offset,
    )
    more = len(rows) > data["limit"]
    next_cursor = _encode_cursor(offset + data["limit"], "r") if more else None
    return jsonify(
        RoadmapItemPage().dump({"items": rows[: data["limit"]], "next_cursor": next_cursor})
    )


@bp.post("/roadmap/items")
def create_roadmap_item():
    """Create a published item."""
    data = RoadmapItemIn().load(json_object(request.get_data(cache=False)))
    item = roadmap.create_item(g.site, **data)
    return jsonify(RoadmapItemOut().dump(_item_with_stats(item.id))), 201


@bp.get("/roadmap/items/<int:item_id>")
def get_roadmap_item(item_id: int):
    return jsonify(RoadmapItemOut().dump(_item_with_stats(item_id)))


@bp.patch("/roadmap/items/<int:item_id>")
def update_roadmap_item(item_id: int):
    """Change fields; a new ``status`` notifies voters exactly as the admin does."""
    payload = json_object(request.get_data(cache=False))
    data = RoadmapItemIn(partial=True).load(payload)
    for name in set(RoadmapItemIn().fields) - set(payload):
        data.pop(name, None)  # partial: only what was sent changes
    item = roadmap.get_item(g.site, item_id)
    previous = item.status
    queued = roadmap.update_item(g.site, item, **data)
    if item.status != previous:
        audit.record(
            "roadmap_status_changed",
            actor=_key_holder(),
            site=g.site,
            ip=request.remote_addr,
            item=item.id,
            title=item.title,
            previous=previous,
            status=item.status,
            emails_queued=queued,
        )
    return jsonify(RoadmapItemOut().dump(_item_with_stats(item.id)))


# --- lifecycle events ----------------------------------------------------------------------


@bp.post("/events")
def record_events():
    """One lifecycle event, or ``{"events": [...]}`` (at most 500) stored all or nothing."""
    payload = json_object(request.get_data(cache=False))
    if "events" in payload:
        events = EventBatchIn().load(payload)["events"]
    else:
        events = [EventIn().load(payload)]
    result = lifecycle.record_events(g.site, events)
    return jsonify(EventsOut().dump(result))


# --- customers' data (GDPR) ------------------------------------------------------------------


def _key_holder() -> str:
    """The audit log's name for the caller: the API key's public prefix."""
    return f"API key {request.headers['Authorization'].split()[-1][:12]}"


@bp.get("/customers/<path:customer_id>")
def export_customer(customer_id: str):
    """Everything Keepkit stores about one customer (the token's ``sub``)."""
    data = privacy.export_customer(g.site, customer_id)
    database.start_writing()
    audit.record(
        "customer_exported", actor=_key_holder(), site=g.site, ip=request.remote_addr,
        customer=customer_id,
    )  # fmt: skip
    return jsonify(CustomerExportOut().dump(data))


@bp.delete("/customers/<path:customer_id>")
def erase_customer(customer_id: str):
    """Erase one customer's personal data; aggregate figures stay (see docs/security.md)."""
    counts = privacy.erase_customer(g.site, customer_id)
    audit.record(
        "customer_erased", actor=_key_holder(), site=g.site, ip=request.remote_addr,
        customer=customer_id, **counts,
    )  # fmt: skip
    return jsonify(CustomerErasedOut().dump({"erased": True, **counts}))
