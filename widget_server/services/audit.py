"""The audit log: who did what, when, from which address.

Views and commands record what an owner must be able to review later (sign-ins, secrets and
keys, webhooks, roles, roadmap status changes and the emails they queued, customers' data
exported or erased). A record is written in the same transaction as the change it describes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.i18n import N_
from widget_server.models import AdminUser, AuditEvent, Site

log = logging.getLogger(__name__)

# What a record's ``action`` can be, and how the admin names it.
ACTIONS = {
    "login": N_("Signed in"),
    "login_failed": N_("Failed sign-in"),
    "logout": N_("Signed out"),
    "sessions_ended": N_("Signed out everywhere"),
    "password_changed": N_("Changed their password"),
    "password_set": N_("Password set"),
    "secret_rotated": N_("Signing secret rotated"),
    "secret_retired": N_("Previous signing secret retired"),
    "api_key_created": N_("Data API key created"),
    "api_key_revoked": N_("Data API key revoked"),
    "webhook_changed": N_("Webhook changed"),
    "stripe_connector_changed": N_("Stripe connector changed"),
    "origin_added": N_("Allowed origin added"),
    "origin_removed": N_("Allowed origin removed"),
    "member_added": N_("Admin given access"),
    "role_changed": N_("Role changed"),
    "member_removed": N_("Admin's access removed"),
    "roadmap_status_changed": N_("Roadmap status changed"),
    "customer_exported": N_("Customer data exported"),
    "customer_erased": N_("Customer data erased"),
    "retention_changed": N_("Comment retention changed"),
    "comments_expired": N_("Old comments deleted"),
    "holdout_changed": N_("Holdout changed"),
    "experiment_started": N_("A/B test started"),
    "experiment_paused": N_("Experiment paused"),
    "experiment_resumed": N_("Experiment resumed"),
    "experiment_ended": N_("Experiment ended"),
}


def actor_name(actor: AdminUser | str | None) -> str:
    if isinstance(actor, AdminUser):
        return actor.email
    return actor or "Keepkit"


def record(
    action: str,
    *,
    actor: AdminUser | str | None,
    site: Site | None = None,
    ip: str | None = None,
    **details,
) -> AuditEvent:
    """Add an audit record (flushed with the caller's transaction) and log it.

    ``actor`` is the admin, or a description such as ``"CLI"`` or ``"API key kk_live_abcd"``.
    """
    if action not in ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}")
    event = AuditEvent(
        site_id=site.id if site else None,
        actor_id=actor.id if isinstance(actor, AdminUser) else None,
        actor=actor_name(actor)[:255],
        action=action,
        details=details,
        ip=(ip or None) and ip[:64],
    )
    db.session.add(event)
    db.session.flush()
    log.info(
        "audit %s by %s%s from %s: %s",
        action,
        event.actor,
        f" on {site.key}" if site else "",
        ip or "-",
        details,
    )
    return event


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def events_query(site: Site, filters: AuditFilter, *, instance_wide: bool) -> sa.Select:
    """The site's audit records, newest first; with ``instance_wide`` also those about no
    site (sign-ins and account changes, for the instance's owners)."""
    scope = AuditEvent.site_id == site.id
    if instance_wide:
        scope = sa.or_(scope, AuditEvent.site_id.is_(None))
    query = sa.select(AuditEvent).where(scope)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.actor:
        query = query.where(AuditEvent.actor.icontains(filters.actor[:255], autoescape=True))
    if filters.since:
        query = query.where(AuditEvent.created_at >= filters.since)
    if filters.until:
        query = query.where(AuditEvent.created_at < filters.until)
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def iterate(query: sa.Select, batch: int = 1000):
    """Every record ``query`` selects, fetched in batches (for the CSV download). The cursor
    is closed even when the download stops half-way."""
    result = db.session.scalars(query.execution_options(yield_per=batch))
    try:
        yield from result
    finally:
        result.close()


def describe(details: dict) -> str:
    """``key=value`` pairs, for people reading the log."""
    return ", ".join(f"{key}={value}" for key, value in (details or {}).items())


def page(query: sa.Select, page: int, per_page: int) -> tuple[list[AuditEvent], bool]:
    rows = list(db.session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))
    return rows[:per_page], len(rows) > per_page
