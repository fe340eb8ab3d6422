"""Admin: customers' personal data, for owners (export, erasure, comment retention)."""

from __future__ import annotations

import json

from flask import g, render_template, request, url_for
from flask_babel import gettext, ngettext

from widget_server import database
from widget_server.admin.common import (
    Routes,
    attachment,
    audit,
    done,
    failed,
    refused,
    site_view,
)
from widget_server.guards import whole_number
from widget_server.services import privacy
from widget_server.services.customers import find_customer

routes = Routes()


def _privacy_url(**args) -> str:
    return url_for("admin.privacy_page", site_key=g.site.key, **args)


def _page(**context):
    return render_template(
        "privacy.html", choices=privacy.RETENTION_CHOICES, query=request.args.get("customer", ""),
        **context,
    )  # fmt: skip


@routes.get("/sites/<site_key>/privacy")
@site_view("owner")
def privacy_page():
    """Find a customer by id or email, to export or erase their data."""
    query = (request.args.get("customer") or "").strip()[:255]
    found, summary = None, None
    if query:
        found = find_customer(g.site, query)
        if found is not None and not found.external_id.startswith(privacy.ERASED_PREFIX):
            data = privacy.export_customer(g.site, found.external_id)
            summary = {name: len(data[name]) for name in ("sessions", "votes", "messages")}
        else:
            found = None
    return _page(found=found, summary=summary)


@routes.get("/sites/<site_key>/privacy/export")
@site_view("owner")
def privacy_export():
    customer_id = request.args.get("customer", "")
    refused(back=_privacy_url())
    data = privacy.export_customer(g.site, customer_id)
    database.start_writing()
    audit("customer_exported", customer=customer_id)
    body = json.dumps(data, indent=2, ensure_ascii=False)
    safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in customer_id)[:60]
    return attachment(body, "application/json", f"keepkit-customer-{safe_name}.json")


@routes.post("/sites/<site_key>/privacy/erase")
@site_view("owner")
def privacy_erase():
    """Erase, once the owner typed the customer's id again to confirm."""
    customer_id = request.form.get("customer", "")
    if request.form.get("confirm", "").strip() != customer_id:
        return failed(
            gettext("Type the customer's id exactly to confirm the erasure."),
            _privacy_url(customer=customer_id),
        )
    refused(back=_privacy_url())
    counts = privacy.erase_customer(g.site, customer_id)
    audit("customer_erased", customer=customer_id, **counts)
    return done(gettext("Customer %(id)s erased.", id=customer_id), _privacy_url())


@routes.post("/sites/<site_key>/privacy/retention")
@site_view("owner")
def privacy_retention():
    value = request.form.get("months", "")
    months = whole_number(value, 0, 999)

    refused(back=_privacy_url())
    previous = g.site.comment_retention_months
    privacy.set_retention(g.site, months)
    audit("retention_changed", previous=previous, months=months)
    message = (
        ngettext(
            "Comments are deleted %(num)s month after the session.",
            "Comments are deleted %(num)s months after the session.",
            months,
        )
        if months
        else gettext("Comments are kept.")
    )
    return done(message, _privacy_url())
