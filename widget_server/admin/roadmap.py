"""Admin: the roadmap — items ranked by the revenue their absence lost, status changes that
email voters, moderation of suggestions, merging, votes on behalf, the board's options."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext

from widget_server.admin.common import (
    Routes,
    audit,
    done,
    failed,
    refused,
    render,
    settings_url,
    site_view,
)
from widget_server.api.errors import error_page
from widget_server.guards import whole_number
from widget_server.i18n import current_locale
from widget_server.models import STATUSES, VOTE_SOURCES
from widget_server.services import impact, roadmap
from widget_server.services.customers import find_customer
from widget_server.services.locales import SUPPORTED_LOCALES

routes = Routes()


def _status_label(status: str) -> str:
    """A status as this admin reads it: the site's own label in their language, else ours."""
    return roadmap.status_label(g.site, status, current_locale())


def _rows(sort: str, status: str | None):
    statuses = (status,) if status in STATUSES else None
    rows = roadmap.items_with_stats(g.site, roadmap.ItemFilter(statuses=statuses), sort=sort)
    return _with_comebacks(rows)


def _with_comebacks(rows: list[dict]) -> list[dict]:
    """Each row with ``came_back``: the reactivations its win-back email preceded, ever."""
    came_back = impact.reactivated_by_item(g.site) if rows else {}
    none = {"reactivated": 0, "reactivated_mrr": 0}
    return [{**row, "came_back": came_back.get(row["item"].id, none)} for row in rows]


@routes.get("/sites/<site_key>/roadmap")
@site_view("viewer")
def roadmap_items():
    sort = request.args.get("sort", "")
    if sort not in roadmap.SORTS:
        sort = "lost_mrr"
    status = request.args.get("status") or None
    pending = roadmap.items_with_stats(g.site, roadmap.ItemFilter(moderation="pending"))
    return render(
        "roadmap.html",
        "_roadmap_table.html",
        rows=_rows(sort, status),
        sort=sort,
        status=status,
        statuses=STATUSES,
        pending=pending,
        label=_status_label,
    )


def _item_fields(form) -> dict:
    return {
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "status": form.get("status") or "under_consideration",
        "public": bool(form.get("public")),
        "target": form.get("target", ""),
        "tags": form.get("tags", ""),
    }


@routes.post("/sites/<site_key>/roadmap")
@site_view("editor")
def roadmap_create():
    refused(back=url_for("admin.roadmap_items", site_key=g.site.key))
    item = roadmap.create_item(g.site, **_item_fields(request.form))
    return done(gettext("Item created."), _item_url(item.id))


def _item_url(item_id: int) -> str:
    return url_for("admin.roadmap_item", site_key=g.site.key, item_id=item_id)


def _confirmed() -> bool:
    return request.form.get("confirm") == "1"


def _row(item, **extra):
    return render(
        "_roadmap_row.html",
        "_roadmap_row.html",
        row=_with_comebacks([roadmap.item_stats(g.site, item)])[0],
        statuses=STATUSES,
        label=_status_label,
        **extra,
    )


@routes.route("/sites/<site_key>/roadmap/<int:item_id>/status", methods=["GET", "POST"])
@site_view("viewer", write="editor")
def roadmap_status(item_id: int):
    """Inline status change (htmx swaps the row); voters are notified through the outbox.

    A change that emails people asks first: without ``confirm=1`` the row comes back with the
    number of people it would email and confirm/cancel buttons, and nothing changes. GET
    answers the row as it is (what "Cancel" shows)."""
    item = roadmap.get_item(g.site, item_id)
    if request.method == "GET":
        if not request.headers.get("HX-Request"):
            return redirect(url_for("admin.roadmap_item", site_key=g.site.key, item_id=item.id))
        return _row(item, focus=True)
    status = request.form.get("status", "")
    if status not in STATUSES:
        abort(422, gettext("Choose one of the statuses."))
    audience = roadmap.status_change_audience(g.site, item, status)
    if audience.total and not _confirmed():
        if request.headers.get("HX-Request"):
            return _row(item, confirm=audience, new_status=status)
        fields = {**_item_fields_of(item), "status": status}
        return _item_page(item, confirm=audience, fields=fields)
    previous = item.status
    refused(page=lambda message: error_page(422, message))
    queued = roadmap.change_status(g.site, item, status)
    audit_status(item, previous, queued)
    if request.headers.get("HX-Request"):
        return _row(item, queued=queued, changed=item.status != previous, focus=True)
    if not queued:
        return done(gettext("Status changed."), _item_url(item.id))
    return done(
        ngettext(
            "Status changed; %(num)s email queued.",
            "Status changed; %(num)s emails queued.",
            queued,
        ),
        _item_url(item.id),
    )


def _item_fields_of(item) -> dict:
    return {
        "title": item.title,
        "description": item.description or "",
        "status": item.status,
        "public": item.public,
        "target": item.target or "",
        "tags": ", ".join(item.tags or []),
    }


PER_PAGE = 50


def _page(name: str) -> int:
    """A page number from the query string (1 when missing or absurd)."""
    value = request.args.get(name, "")
    return whole_number(value, 1, 100_000) or 1


def audit_status(item, previous: str, queued: int) -> None:
    if item.status != previous:
        audit(
            "roadmap_status_changed",
            item=item.id,
            title=item.title,
            previous=previous,
            status=item.status,
            emails_queued=queued,
        )


@routes.route("/sites/<site_key>/roadmap/<int:item_id>", methods=["GET", "POST"])
@site_view("viewer", write="editor")
def roadmap_item(item_id: int):
    item = roadmap.get_item(g.site, item_id)
    if request.method == "GET":
        return _item_page(item)
    fields = _item_fields(request.form)
    audience = roadmap.status_change_audience(g.site, item, fields["status"])
    if audience.total and not _confirmed():
        # Nothing is saved until the editor has seen who gets an email.
        return _item_page(item, confirm=audience, fields=fields)
    previous = item.status
    refused(page=lambda message: _item_page(item, error=message))
    queued = roadmap.update_item(g.site, item, **fields)
    audit_status(item, previous, queued)
    if not queued:
        return done(gettext("Item saved."), _item_url(item.id))
    return done(
        ngettext("Item saved; %(num)s email queued.", "Item saved; %(num)s emails queued.", queued),
        _item_url(item.id),
    )


def _item_page(item, *, error=None, confirm=None, fields=None):
    row = roadmap.item_stats(g.site, item)
    pages = {name: _page(name) for name in ("voters_page", "churned_page")}
    return render_template(
        "roadmap_item.html",
        row=row,
        item=item,
        error=error,
        confirm=confirm,
        fields=fields,
        statuses=STATUSES,
        sources=VOTE_SOURCES[1:],
        voters=roadmap.voters(item, page=pages["voters_page"], per_page=PER_PAGE),
        churned=roadmap.churned_for(item, page=pages["churned_page"], per_page=PER_PAGE),
        pages=pages,
        churned_sessions=roadmap.churned_sessions(item),
        per_page=PER_PAGE,
        others=roadmap.merge_targets(g.site, item),
        label=_status_label,
    ), (422 if error else 200)


@routes.post("/sites/<site_key>/roadmap/<int:item_id>/merge")
@site_view("editor")
def roadmap_merge(item_id: int):
    duplicate = roadmap.get_item(g.site, item_id)
    refused(back=_item_url(item_id))
    original = roadmap.get_item(g.site, request.form.get("into", ""))
    roadmap.merge(g.site, duplicate, original)
    return done(
        gettext("Merged into “%(title)s”: voters and subscribers united.", title=original.title),
        _item_url(original.id),
    )


@routes.post("/sites/<site_key>/roadmap/<int:item_id>/vote")
@site_view("editor")
def roadmap_vote_on_behalf(item_id: int):
    """Record a vote a customer gave through support or sales."""
    item = roadmap.get_item(g.site, item_id)
    who = (request.form.get("customer") or "").strip()
    customer = find_customer(g.site, who)
    if customer is None:
        return failed(
            gettext("No customer with id or email “%(who)s” has used Keepkit yet.", who=who),
            _item_url(item.id),
        )
    refused(back=_item_url(item.id))
    added = roadmap.vote(g.site, item, customer, source=request.form.get("source", "support"))
    return done(
        gettext("Vote recorded.") if added else gettext("That customer had already voted."),
        _item_url(item.id),
    )


@routes.post("/sites/<site_key>/roadmap/<int:item_id>/<any(approve, reject):decision>")
@site_view("editor")
def roadmap_moderate(item_id: int, decision: str):
    item = roadmap.get_item(g.site, item_id)
    roadmap.moderate(g.site, item, approve=decision == "approve")
    return done(
        gettext("Suggestion approved and published.")
        if decision == "approve"
        else gettext("Suggestion rejected."),
        url_for("admin.roadmap_items", site_key=g.site.key) + "#moderation",
    )


@routes.post("/sites/<site_key>/roadmap-options")
@site_view("editor")
def roadmap_options():
    labels = {
        status: {loc: request.form.get(f"label_{status}_{loc}", "") for loc in SUPPORTED_LOCALES}
        for status in STATUSES
    }
    refused(back=settings_url("roadmap"))
    roadmap.set_roadmap_options(
        g.site, labels=labels, anonymous_voting=bool(request.form.get("anonymous_voting"))
    )
    return done(gettext("Roadmap settings saved."), settings_url("roadmap"))
