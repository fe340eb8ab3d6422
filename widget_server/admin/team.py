"""Admin: who may do what on a site (owners only), and the audit log."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta

from flask import abort, g, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from widget_server.admin.views import _attachment, audit, bp, commit_or_flash, site_view
from widget_server.models import ROLES
from widget_server.reports.csv_export import safe_cell
from widget_server.services import audit as audit_log
from widget_server.services import users

PER_PAGE = 50


@bp.get("/sites/<site_key>/team")
@site_view("owner")
def team():
    return render_template("team.html", members=users.members(g.site), roles=ROLES)


@bp.post("/sites/<site_key>/team")
@site_view("owner")
def team_add():
    """Give an admin a role on this site; a new account's first password is shown once."""
    email, role = request.form.get("email", ""), request.form.get("role", "")
    created: dict[str, str | None] = {}

    def add():
        user, password = users.add_member(g.site, email, role)
        created.update(email=user.email, password=password)
        audit("member_added", email=user.email, role=role, new_account=password is not None)

    added = commit_or_flash(add, f"{users.normalize_email(email)} is now {role} of {g.site.name}.")
    if added and created.get("password"):
        return render_template(
            "team.html", members=users.members(g.site), roles=ROLES, created=created
        )
    return redirect(url_for("admin.team", site_key=g.site.key))


@bp.post("/sites/<site_key>/team/<int:user_id>")
@site_view("owner")
def team_member(user_id: int):
    """Change a member's role, or (``remove``) take their access away."""
    if request.form.get("remove"):

        def remove():
            user = users.remove_member(g.site, user_id)
            audit("member_removed", email=user.email)

        commit_or_flash(remove, "Access removed.")
    else:
        role = request.form.get("role", "")

        def change():
            user, previous = users.set_role(g.site, user_id, role)
            audit("role_changed", email=user.email, previous=previous, role=role)

        commit_or_flash(change, "Role changed.")
    return redirect(url_for("admin.team", site_key=g.site.key))


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


@bp.get("/sites/<site_key>/audit")
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


@bp.get("/sites/<site_key>/audit.csv")
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
    return _attachment(stream_with_context(rows()), "text/csv", name)
