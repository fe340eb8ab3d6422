"""Lifecycle events from the host's backend or its billing provider: stored once per id,
all or nothing; a customer's current MRR follows their latest ``mrr.changed``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.models import (
    CancellationSession,
    Customer,
    LifecycleEvent,
    Offer,
    OutboxMessage,
    RoadmapItem,
    Site,
    utcnow,
)
from widget_server.models.lifecycle import CANCELLED, MRR_CHANGED, REACTIVATED
from widget_server.services import notifications
from widget_server.services.customers import ensure_customers
from widget_server.services.impact import (
    ATTRIBUTION_DAYS,
    CONFIRMATION_EARLY,
    LAPSE_DAYS,
    WINBACK_TOPIC,
    plus_days,
    seconds_between,
)
from widget_server.services.sql import insert_or_ignore

log = logging.getLogger(__name__)

# Events older than this are history being backfilled: they send no webhook.
WEBHOOK_RECENT = timedelta(days=30)


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
    rows = [_row(site, event, customers[event["customer"]], now) for event in unique.values()]
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
    cancelled = {event.customer_id for event in stored if event.type == CANCELLED}
    if cancelled:
        mark_billing_cancellations(site, cancelled)
    if stored:
        log.info("Site %s: %d lifecycle events stored", site.key, len(stored))
        announce(site, stored)
    return {"accepted": len(stored), "duplicates": len(events) - len(stored), "events": stored}


def _row(site: Site, event: dict, customer: Customer, now) -> dict:
    mrr, currency = event.get("mrr"), event.get("currency")
    if mrr is None and event["type"] == REACTIVATED:
        # A customer who came back pays what Keepkit last knew of them, unless billing said.
        mrr, currency = customer.mrr, customer.currency
    return {
        "site_id": site.id,
        "customer_id": customer.id,
        "event_id": event["id"],
        "type": event["type"],
        "occurred_at": event["occurred_at"],
        "mrr": mrr,
        "currency": (currency or customer.currency) if mrr is not None else currency,
        "created_at": now,
    }


def seconds_to_billing_cancellation(customer_id, completed_at):
    """SQL: the seconds from an outcome at ``completed_at`` to the customer's first
    ``subscription.cancelled`` event from ``CONFIRMATION_EARLY`` before it on (NULL: none yet).
    Both may be columns, or a session's values."""
    if isinstance(completed_at, datetime):
        completed_at = sa.literal(completed_at, type_=CancellationSession.completed_at.type)
    first = (
        sa.select(sa.func.min(LifecycleEvent.occurred_at))
        .where(
            LifecycleEvent.customer_id == customer_id,
            LifecycleEvent.type == CANCELLED,
            LifecycleEvent.occurred_at >= plus_days(completed_at, -CONFIRMATION_EARLY),
        )
        .scalar_subquery()
    )
    return seconds_between(first, completed_at)


def mark_billing_cancellations(site: Site, customer_ids: set[int] | None = None) -> None:
    """Set each decided session's ``billing_cancelled_after`` (see
    :func:`seconds_to_billing_cancellation`), for the given customers or all the site's.
    Recomputed, so the order events arrive in does not matter (a session decided after its
    customer's event gets it when completed: see ``flow.complete_session``). One statement."""
    s = CancellationSession
    statement = (
        sa.update(s)
        .where(s.site_id == site.id, s.outcome.in_(("saved", "cancelled")))
        .values(
            billing_cancelled_after=seconds_to_billing_cancellation(s.customer_id, s.completed_at)
        )
        .execution_options(synchronize_session=False)
    )
    if customer_ids is not None:
        statement = statement.where(s.customer_id.in_(customer_ids))
    db.session.execute(statement)


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


def _customer_ref(customer: Customer) -> dict:
    return {"id": customer.external_id, "email": customer.email, "company": customer.company}


def announce(site: Site, stored: list[LifecycleEvent]) -> int:
    """Queue the webhooks newly stored events call for (none for backfilled history, older
    than ``WEBHOOK_RECENT``): ``customer.reactivated`` for each reactivation, with the win-back
    email that came before it, if any; ``save.lapsed`` for a cancellation within
    ``LAPSE_DAYS`` after the customer was saved in the flow. Two queries for any number of
    events. Returns how many were queued."""
    if not site.webhook_url:
        return 0
    recent = utcnow() - WEBHOOK_RECENT
    stored = [event for event in stored if event.occurred_at >= recent]
    comebacks = [event for event in stored if event.type == REACTIVATED]
    cancels = [event for event in stored if event.type == CANCELLED]
    queued = 0
    if comebacks:
        winbacks = _sent_winbacks(
            {event.customer_id for event in comebacks},
            min(event.occurred_at for event in comebacks) - timedelta(days=ATTRIBUTION_DAYS),
        )
        for event in comebacks:
            before = [
                (sent_at, item_id, title)
                for customer_id, sent_at, item_id, title in winbacks
                if customer_id == event.customer_id
                and event.occurred_at - timedelta(days=ATTRIBUTION_DAYS) < sent_at
                and sent_at <= event.occurred_at
            ]
            winback = None
            if before:
                sent_at, item_id, title = max(before)
                winback = {
                    "roadmap_item": {"id": item_id, "title": title},
                    "sent_at": sent_at.isoformat(),
                    "days_before": (event.occurred_at - sent_at).days,
                }
            queued += notifications.enqueue_webhook(
                site,
                "customer.reactivated",
                {
                    "event_id": event.event_id,
                    "customer": _customer_ref(event.customer),
                    "occurred_at": event.occurred_at.isoformat(),
                    "mrr": event.mrr if event.mrr is not None else event.customer.mrr,
                    "currency": event.currency or event.customer.currency,
                    "winback": winback,
                },
                dedupe_key=f"reactivated:{event.id}",
                customer=event.customer,
            )
    if cancels:
        saves = _saves(
            {event.customer_id for event in cancels},
            min(event.occurred_at for event in cancels) - timedelta(days=LAPSE_DAYS),
        )
        for event in cancels:
            saved_before = [
                save
                for save in saves
                if save.customer_id == event.customer_id
                and event.occurred_at - timedelta(days=LAPSE_DAYS) <= save.completed_at
                and save.completed_at < event.occurred_at
            ]
            if not saved_before:
                continue
            save = max(saved_before, key=lambda row: row.completed_at)
            queued += notifications.enqueue_webhook(
                site,
                "save.lapsed",
                {
                    "event_id": event.event_id,
                    "customer": _customer_ref(event.customer),
                    "session": save.public_id,
                    "saved_at": save.completed_at.isoformat(),
                    "offer": {"id": save.offer_key, "type": save.offer_type}
                    if save.offer_key
                    else None,
                    "cancelled_at": event.occurred_at.isoformat(),
                    "days_after_save": (event.occurred_at - save.completed_at).days,
                    "mrr": save.mrr,
                    "currency": save.currency,
                },
                dedupe_key=f"lapsed:{event.id}",
                customer=event.customer,
            )
    return queued


def _sent_winbacks(customer_ids: set[int], since) -> Sequence[tuple]:
    """(customer id, sent at, item id, item title) of the win-back emails sent to these
    customers since ``since``."""
    m = OutboxMessage
    item_id = m.payload["item_id"].as_integer()
    return db.session.execute(
        sa.select(m.customer_id, m.sent_at, RoadmapItem.id, RoadmapItem.title)
        .join(RoadmapItem, RoadmapItem.id == item_id)
        .where(
            m.customer_id.in_(customer_ids),
            m.kind == "email",
            m.topic == WINBACK_TOPIC,
            m.state == "sent",
            m.sent_at > since,
        )
    ).all()


def _saves(customer_ids: set[int], since) -> Sequence[Any]:
    """The flows these customers completed ``saved`` since ``since``."""
    s = CancellationSession
    return db.session.execute(
        sa.select(
            s.customer_id,
            s.public_id,
            s.completed_at,
            s.mrr,
            s.currency,
            Offer.key.label("offer_key"),
            Offer.type.label("offer_type"),
        )
        .outerjoin(Offer, Offer.id == s.offer_id)
        .where(s.customer_id.in_(customer_ids), s.outcome == "saved", s.completed_at >= since)
    ).all()
