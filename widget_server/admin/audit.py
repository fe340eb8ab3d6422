"""Admin: the audit log — who did what, when and from where — as a page and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta

from flask import abort, g, render_template, request, stream_with_context
from flask_login import current_user

from widget_server.admin.common import Routes, attachment, site_view
from widget_server.reports.csv_export import safe_cell
from widget_server.services import audit as audit_log

routes = Routes()
PER_PAGE = 50


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value or "", "%Y-%m-%d").replace(tzinfo=UTC).date()
    except ValueError:
        return None
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _filters(args) -> audit_log.AuditFilter:
    action = args.get("action") if args.get("action") in audit_log.ACTIONS else None
    return audit_log.AuditFilter(
        action=action,
        actor=(args.get("actor") or "").strip()[:255] or None,
        since=_day(args.get("from")),
        until=_day(args.get("to"), end=True),
    )


def _query(args):
    return audit_log.events_query(g.site, _filters(args), instance_wide=bool(current_user.is_owner))


@routes.get("/sites/<site_key>/audit")
@site_view("owner")
def audit_events():
    try:
        page = int(request.args.get("page", 1))
    except ValueError:
        page = 1
    if not 1 <= page <= 100_000:
        abort(404)
    rows, has_more = audit_log.page(_query(request.args), page, PER_PAGE)
    return render_template(
        "audit.html",
        rows=rows,
        page=page,
        has_more=has_more,
        actions=audit_log.ACTIONS,
        filters=_filters(request.args),
    )


AUDIT_COLUMNS = ["time", "site", "actor", "action", "what", "details", "ip"]


@routes.get("/sites/<site_key>/audit.csv")
@site_view("owner")
def audit_csv():
    query = _query(request.args)
    site_key = g.site.key

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(AUDIT_COLUMNS)
        for event in audit_log.iterate(query):
            writer.writerow(
                [
                    event.created_at.isoformat(),
                    site_key if event.site_id else "",
                    safe_cell(event.actor),
                    event.action,
                    audit_log.ACTIONS[event.action],
                    safe_cell(audit_log.describe(event.details)),
                    event.ip or "",
                ]
            )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    name = f"keepkit-audit-{site_key}-{datetime.now(UTC).date().isoformat()}.csv"
    return attachment(stream_with_context(rows()), "text/csv", name)
