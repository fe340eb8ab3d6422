"""The outbox: email and webhook deliveries written in the same transaction as their cause,
delivered later by ``keepkit worker``."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from widget_server.models.base import Base, utcnow

STATES = ("pending", "sending", "sent", "failed")


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('email', 'webhook')", name="kind"),
        sa.CheckConstraint("state IN ('pending', 'sending', 'sent', 'failed')", name="state"),
        # The worker's queue: due messages in order.
        sa.Index("ix_outbox_messages_due", "state", "next_attempt_at"),
        sa.Index("ix_outbox_messages_site_created", "site_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    # The customer the message is to or about, if any: their data export lists it, their
    # erasure deletes it.
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(10))
    # What it is about, e.g. "roadmap.in_progress" or "vote.created".
    topic: Mapped[str] = mapped_column(sa.String(64))
    # A message with the same key is never enqueued twice (e.g. one "shipped" email per voter).
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    recipient: Mapped[str] = mapped_column(sa.String(500))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    state: Mapped[str] = mapped_column(sa.String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ScheduledRun(Base):
    """When a periodic worker task (the weekly digest, the daily comment retention) last ran:
    whichever worker claims it first runs it, once per period."""

    __tablename__ = "scheduled_runs"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_run_at: Mapped[datetime]
