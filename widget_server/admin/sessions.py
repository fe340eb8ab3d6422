"""Admin: a site's cancellation sessions (the list, one session, the CSV export) and what
customers wrote (comments by reason)."""

from __future__ import annotations

from flask import abort, g, render_template, request, stream_with_context

from widget_server.admin.common import (
    Routes,
    attachment,
    current_figures,
    parse_period,
    render,
    site_view,
)
from widget_server.guards import whole_number
from widget_server.i18n import current_locale
from widget_server.models import MAX_ID, OUTCOMES, utcnow
from widget_server.reports import csv_export
from widget_server.services import flow_config, sessions
from widget_server.services.locales import offer_title

routes = Routes()
PER_PAGE = 50
MAX_PAGE = MAX_ID // PER_PAGE  # the offset stays within an INTEGER
COMMENTS_PER_REASON = 5


def _session_filter(args) -> sessions.SessionFilter:
    outcome = args.get("outcome") if args.get("outcome") in (*OUTCOMES, "open") else None
    completed = None
    if args.get("from") or args.get("to"):
        completed, _ = parse_period(args)
    return sessions.SessionFilter(
        reason_key=args.get("reason") or None,
        outcome=outcome,
        plan=args.get("plan") or None,
        with_comment=bool(args.get("with_comment")),
        completed=completed,
        search=(args.get("q") or "").strip() or None,
    )


def _offer_titles() -> dict[str, str]:
    offers = flow_config.all_offers(g.site)
    locale = current_locale()  # the admin's language where the offer has it, else English
    return {o.key: offer_title(o.texts, locale) or o.key for o in offers}


@routes.get("/sites/<site_key>/sessions.csv")
@site_view("viewer")
def session_csv():
    """All sessions matching the list's filters, streamed."""
    query = sessions.sessions_query(g.site, _session_filter(request.args))
    name = f"keepkit-sessions-{g.site.key}-{utcnow().date().isoformat()}.csv"
    return attachment(stream_with_context(csv_export.stream_csv(query)), "text/csv", name)


@routes.get("/sites/<site_key>/sessions")
@site_view("viewer")
def session_list():
    args = request.args
    page = whole_number(args.get("page", "1"), 1, MAX_PAGE)
    if page is None:
        abort(400, f"page must be a whole number from 1 to {MAX_PAGE}")
    filters = _session_filter(args)
    query = sessions.sessions_query(g.site, filters)
    rows, has_more = sessions.page_newest(query, page, PER_PAGE)
    total, more_than = sessions.listed_count(query, filters)
    return render(
        "sessions.html",
        "_sessions.html",
        rows=rows,
        page=page,
        has_more=has_more,
        total=total,
        more_than=more_than,
        per_page=PER_PAGE,
        offer_titles=_offer_titles(),
        filters=filters,
        reasons=flow_config.all_reasons(g.site),
        plans=sessions.site_plans(g.site),
        outcomes=OUTCOMES,
    )


@routes.get("/sites/<site_key>/comments")
@site_view("viewer")
def comments():
    """What cancelling customers wrote, by reason (ranked by lost revenue in the period), the
    newest first, with a search; each reason links to all its comments in the sessions list."""
    current_figures()
    period, error = parse_period(request.args)
    search = (request.args.get("q") or "").strip()[:200] or None
    groups = sessions.comments_by_reason(
        g.site, period, search=search, per_reason=COMMENTS_PER_REASON
    )
    return render_template(
        "comments.html",
        groups=groups,
        period=period,
        search=search,
        error=error,
        currency=g.site.currency,
        per_reason=COMMENTS_PER_REASON,
    )


@routes.get("/sites/<site_key>/sessions/<session_id>")
@site_view("viewer")
def session_detail(session_id: str):
    session = sessions.get_for_admin(g.site, session_id)
    if session is None:
        abort(404)
    return render_template("session.html", s=session, offer_titles=_offer_titles())
