"""Lifecycle events from the host's backend or its billing provider: stored once per id,
all or nothing; a customer's current MRR follows their latest ``mrr.changed``."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.models import Customer, LifecycleEvent, Site, utcnow
from widget_server.models.lifecycle import MRR_CHANGED
from widget_server.services.customers import ensure_customers
from widget_server.services.sql import insert_or_ignore

log = logging.getLogger(__name__)


def record_events(site: Site, events: list[dict]) -> dict:
    """Store ``events`` (validated dicts with ``id``, ``type``, ``customer``, ``occurred_at``,
    ``mrr``, ``currency``) for the site in one statement. An id the site already has, or one
    repeated in ``events``, is a duplicate and changes nothing. Customers Keepkit has not seen
    are created. Returns ``{"accepted": n, "duplicates": n, "events": [LifecycleEvent]}``
    (the events stored now).

    Raises nothing of its own: the caller validated the events; an error of the database
    leaves the transaction for the caller to roll back (nothing of the batch is stored).
    """
    unique: dict[str, dict] = {}
    for event in events:
        unique.setdefault(event["id"], event)
    currencies: dict[str, str | None] = {}
    for event in unique.values():
        if currencies.get(event["customer"]) is None:
            currencies[event["customer"]] = event.get("currency")
    customers = ensure_customers(site, currencies)
    now = utcnow()
    rows = [
        {
            "site_id": site.id,
            "customer_id": customers[event["customer"]].id,
            "event_id": event["id"],
            "type": event["type"],
            "occurred_at": event["occurred_at"],
            "mrr": event.get("mrr"),
            "currency": (
                (event.get("currency") or customers[event["customer"]].currency)
                if event.get("mrr") is not None
                else event.get("currency")
            ),
            "created_at": now,
        }
        for event in unique.values()
    ]
    stored = list(
        db.session.scalars(
            insert_or_ignore(LifecycleEvent, ["site_id", "event_id"])
            .values(rows)
            .returning(LifecycleEvent),
            execution_options={"populate_existing": True},
        )
    )
    changed = {event.customer_id for event in stored if event.type == MRR_CHANGED}
    if changed:
        follow_mrr(changed)
    if stored:
        log.info("Site %s: %d lifecycle events stored", site.key, len(stored))
    return {"accepted": len(stored), "duplicates": len(events) - len(stored), "events": stored}


def follow_mrr(customer_ids: set[int]) -> None:
    """Set each customer's MRR (and currency) to that of their latest ``mrr.changed`` event,
    whatever order the events arrived in (a backfilled old event changes nothing). One
    statement."""
    e = LifecycleEvent

    def latest(column):
        return (
            sa.select(column)
            .where(e.customer_id == Customer.id, e.type == MRR_CHANGED)
            .order_by(e.occurred_at.desc(), e.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    db.session.execute(
        sa.update(Customer)
        .where(Customer.id.in_(customer_ids))
        .values(
            mrr=latest(e.mrr),
            currency=sa.func.coalesce(latest(e.currency), Customer.currency),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    for customer in list(db.session.identity_map.values()):
        if isinstance(customer, Customer) and customer.id in customer_ids:
            db.session.expire(customer)
