"""Customers' personal data: export everything stored about one customer, erase it, and
delete old comments after a site's retention period.

Erasure keeps the site's figures true: the customer's sessions stay, without their personal
fields (comment, follow-up answer, custom attributes), linked to an anonymous placeholder that
replaces the customer's identity; their votes, subscriptions and messages are deleted; the
rollups lose the custom attribute values the sessions carried. Billing's lifecycle events
stay too (they carry no personal data: a type, a time, an amount), for the retention figures.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from widget_server.errors import NotFound, ValidationError
from widget_server.extensions import db
from widget_server.i18n import N_
from widget_server.models import (
    CancellationSession,
    Customer,
    LifecycleEvent,
    OutboxMessage,
    Reason,
    RoadmapItem,
    Site,
    Subscription,
    Vote,
)
from widget_server.services import rollups
from widget_server.services.sql import rowcount

RETENTION_CHOICES = (3, 6, 12, 24, 36, 60)
ERASED_PREFIX = "erased:"


def get_customer(site: Site, external_id: str) -> Customer:
    """:raises NotFound: ``customer_not_found`` (erased customers are not found either)."""
    customer = db.session.scalar(
        sa.select(Customer).where(Customer.site_id == site.id, Customer.external_id == external_id)
    )
    if customer is None or customer.external_id.startswith(ERASED_PREFIX):
        raise NotFound(
            N_("No customer %(customer)r on this site"),
            code="customer_not_found",
            params={"customer": external_id},
        )
    return customer


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_customer(site: Site, external_id: str) -> dict:
    """Everything stored about one customer, as plain data: profile, cancellation sessions
    with their answers, votes, subscriptions, suggestions, and the emails and webhooks queued
    or sent about them.

    :raises NotFound: ``customer_not_found``.
    """
    customer = get_customer(site, external_id)
    s = CancellationSession
    sessions: Sequence[tuple[CancellationSession, str | None, dict | None]] = db.session.execute(
        sa.select(s, Reason.key, Reason.labels)
        .outerjoin(Reason, Reason.id == s.reason_id)
        .where(s.customer_id == customer.id)
        .order_by(s.started_at)
    ).all()
    votes = db.session.execute(
        sa.select(Vote, RoadmapItem.title)
        .join(RoadmapItem, RoadmapItem.id == Vote.item_id)
        .where(Vote.customer_id == customer.id)
        .order_by(Vote.created_at)
    ).all()
    subscriptions = db.session.execute(
        sa.select(Subscription, RoadmapItem.title)
        .join(RoadmapItem, RoadmapItem.id == Subscription.item_id)
        .where(Subscription.customer_id == customer.id)
        .order_by(Subscription.created_at)
    ).all()
    suggestions = db.session.scalars(
        sa.select(RoadmapItem).where(RoadmapItem.suggested_by_id == customer.id)
    ).all()
    messages = db.session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.customer_id == customer.id)
        .order_by(OutboxMessage.id)
    ).all()
    return {
        "customer": {
            "id": customer.external_id,
            "email": customer.email,
            "name": customer.name,
            "company": customer.company,
            "plan": customer.plan,
            "mrr": customer.mrr,
            "currency": customer.currency,
            "signed_up_at": _iso(customer.signed_up_at),
            "attributes": customer.attributes or {},
            "locale": customer.locale,
            "first_seen_at": _iso(customer.created_at),
            "last_seen_at": _iso(customer.updated_at),
        },
        "sessions": [
            {
                "id": row.public_id,
                "started_at": _iso(row.started_at),
                "answered_at": _iso(row.answered_at),
                "completed_at": _iso(row.completed_at),
                "plan": row.plan,
                "mrr": row.mrr,
                "currency": row.currency,
                "attributes": row.attributes or {},
                "locale": row.locale,
                "reason": {"id": key, "label": (labels or {}).get("en")} if key else None,
                "comment": row.comment,
                "followup_answer": row.followup_answer,
                "roadmap_item": row.roadmap_item_id,
                "offers_shown": row.offers_shown or [],
                "offer": row.offer.key if row.offer else None,
                "outcome": row.outcome,
            }
            for row, key, labels in sessions
        ],
        "votes": [
            {
                "item": {"id": vote.item_id, "title": title},
                "company": vote.company,
                "source": vote.source,
                "created_at": _iso(vote.created_at),
            }
            for vote, title in votes
        ],
        "subscriptions": [
            {
                "item": {"id": sub.item_id, "title": title},
                "created_at": _iso(sub.created_at),
                "unsubscribed_at": _iso(sub.unsubscribed_at),
            }
            for sub, title in subscriptions
        ],
        "suggestions": [
            {"item": {"id": item.id, "title": item.title}, "created_at": _iso(item.created_at)}
            for item in suggestions
        ],
        "messages": [
            {
                "kind": message.kind,
                "topic": message.topic,
                "to": message.recipient if message.kind == "email" else None,
                "state": message.state,
                "created_at": _iso(message.created_at),
                "sent_at": _iso(message.sent_at),
            }
            for message in messages
        ],
        "lifecycle_events": [
            {
                "id": event.event_id,
                "type": event.type,
                "occurred_at": _iso(event.occurred_at),
                "mrr": event.mrr,
                "currency": event.currency,
            }
            for event in db.session.scalars(
                sa.select(LifecycleEvent)
                .where(LifecycleEvent.customer_id == customer.id)
                .order_by(LifecycleEvent.occurred_at, LifecycleEvent.id)
            )
        ],
    }


def erase_customer(site: Site, external_id: str) -> dict:
    """Erase one customer's personal data (see the module's docstring). Returns what was
    erased: ``{"sessions", "votes", "subscriptions", "messages"}`` counts.

    :raises NotFound: ``customer_not_found``.
    """
    customer = get_customer(site, external_id)
    s = CancellationSession
    session_ids = list(db.session.scalars(sa.select(s.id).where(s.customer_id == customer.id)))
    # The attribute rows of the rollups lose these sessions while they still carry them.
    rollups.remove_attributes(site, session_ids)
    db.session.execute(
        sa.update(s)
        .where(s.customer_id == customer.id)
        .values(comment=None, followup_answer=None, attributes={})
    )
    counts = {"sessions": len(session_ids)}
    for name, model in (
        ("votes", Vote),
        ("subscriptions", Subscription),
        ("messages", OutboxMessage),
    ):
        deleted = db.session.execute(sa.delete(model).where(model.customer_id == customer.id))
        counts[name] = rowcount(deleted)
    db.session.execute(
        sa.update(RoadmapItem)
        .where(RoadmapItem.suggested_by_id == customer.id)
        .values(suggested_by_id=None)
    )
    customer.external_id = f"{ERASED_PREFIX}{uuid.uuid4().hex}"
    for name in ("email", "name", "company", "plan", "signed_up_at", "locale"):
        setattr(customer, name, None)
    customer.mrr = 0
    customer.attributes = {}
    db.session.flush()
    return counts


def set_retention(site: Site, months: int | None) -> None:
    """Keep comments for ``months`` (one of RETENTION_CHOICES), or forever with None.

    :raises ValidationError: ``invalid_retention``.
    """
    if months is not None and months not in RETENTION_CHOICES:
        choices = ", ".join(map(str, RETENTION_CHOICES))
        raise ValidationError(
            N_("Keep comments for %(choices)s months, or forever"),
            code="invalid_retention",
            params={"choices": choices},
        )
    site.comment_retention_months = months
    db.session.flush()


def expire_comments(now: datetime) -> dict[Site, int]:
    """Delete comments and follow-up answers of sessions started before each site's retention
    period. Returns, per site that had some, how many sessions lost them."""
    expired = {}
    sites = db.session.scalars(sa.select(Site).where(Site.comment_retention_months.is_not(None)))
    for site in sites:
        months = site.comment_retention_months
        if months is None:  # excluded by the query; a site keeping comments forever
            continue
        cutoff = now - timedelta(days=round(months * 30.44))
        s = CancellationSession
        result = db.session.execute(
            sa.update(s)
            .where(
                s.site_id == site.id,
                s.started_at < cutoff,
                sa.or_(s.comment.is_not(None), s.followup_answer.is_not(None)),
            )
            .values(comment=None, followup_answer=None)
        )
        if count := rowcount(result):
            expired[site] = count
    return expired
