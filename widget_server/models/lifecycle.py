"""Lifecycle events: what the host's billing says happened to a customer after the flow."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from widget_server.models.base import Base, utcnow

# The four types of the contract (PRODUCT.md, "Closed loop").
CANCELLED = "subscription.cancelled"
REACTIVATED = "subscription.reactivated"
RENEWED = "subscription.renewed"
MRR_CHANGED = "mrr.changed"
EVENT_TYPES = (CANCELLED, REACTIVATED, RENEWED, MRR_CHANGED)


class LifecycleEvent(Base):
    """One event from the host's backend (or its billing provider), stored once per ``event_id``
    and site: the same id again changes nothing."""

    __tablename__ = "lifecycle_events"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "event_id"),
        sa.CheckConstraint(
            "type IN ('subscription.cancelled', 'subscription.reactivated', "
            "'subscription.renewed', 'mrr.changed')",
            name="type",
        ),
        # Retention and reactivations: the site's events of one type in a period.
        sa.Index(
            "ix_lifecycle_events_site_type_occurred",
            "site_id",
            "type",
            "occurred_at",
            "customer_id",
        ),
        # One customer's history: cancelled after a save? paying again? their latest MRR?
        sa.Index("ix_lifecycle_events_customer_occurred", "customer_id", "occurred_at", "type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    # The host's id for the event (or Stripe's): the idempotency key within the site.
    event_id: Mapped[str] = mapped_column(sa.String(255))
    type: Mapped[str] = mapped_column(sa.String(32))
    occurred_at: Mapped[datetime]
    # The subscription's MRR in minor units, when the event carries it.
    mrr: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer = relationship("Customer")
