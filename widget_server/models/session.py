"""Cancellation sessions: one run of the cancellation flow by one customer."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from widget_server.models.base import Base, utcnow

OUTCOMES = ("cancelled", "saved", "dismissed")


class CancellationSession(Base):
    """Plan, MRR, currency and attributes are snapshots taken when the flow started, so later
    token refreshes do not rewrite history."""

    __tablename__ = "cancellation_sessions"
    __table_args__ = (
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('cancelled', 'saved', 'dismissed')", name="outcome"
        ),
        # The ranking: WHERE site_id = ? AND outcome = ? AND completed_at BETWEEN ? AND ?
        # GROUP BY reason_id, SUM(mrr converted by currency) -- answered from this index alone.
        sa.Index(
            "ix_cancellation_sessions_ranking",
            "site_id",
            "outcome",
            "completed_at",
            "reason_id",
            "currency",
            "mrr",
        ),
        sa.Index("ix_cancellation_sessions_site_started", "site_id", "started_at"),
        # Experiment results: per experiment and arm, the completed sessions and outcomes.
        sa.Index("ix_cancellation_sessions_holdout", "holdout_id", "holdout_arm", "outcome", "mrr"),
        sa.Index("ix_cancellation_sessions_ab_test", "ab_test_id", "ab_arm", "outcome", "mrr"),
        # Lost MRR per roadmap item: the cancelled sessions that pointed at it.
        sa.Index(
            "ix_cancellation_sessions_roadmap", "roadmap_item_id", "outcome", "mrr", "customer_id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    plan: Mapped[str | None] = mapped_column(sa.String(100))
    mrr: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    attributes: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Days since the customer signed up, when the flow started (tenure segments).
    tenure_days: Mapped[int | None]
    locale: Mapped[str] = mapped_column(sa.String(8), default="en")
    reason_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reasons.id"))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    followup_answer: Mapped[str | None] = mapped_column(sa.Text)
    # "Missing features": the roadmap item the customer said they needed.
    roadmap_item_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("roadmap_items.id", ondelete="SET NULL")
    )
    offers_shown: Mapped[list] = mapped_column(sa.JSON, default=list)
    offer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("offers.id"))
    outcome: Mapped[str | None] = mapped_column(sa.String(16))
    # The site's holdout when the flow started, and the customer's arm in it ("offers" or
    # "holdout": offered nothing).
    holdout_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="SET NULL")
    )
    holdout_arm: Mapped[str | None] = mapped_column(sa.String(16))
    # The reason's A/B test when the customer answered, and their arm in it (an offer key).
    ab_test_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="SET NULL")
    )
    ab_arm: Mapped[str | None] = mapped_column(sa.String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    customer = relationship("Customer")
    reason = relationship("Reason")
    offer = relationship("Offer")
    roadmap_item = relationship("RoadmapItem")
    holdout = relationship("Experiment", foreign_keys=[holdout_id])
    ab_test = relationship("Experiment", foreign_keys=[ab_test_id])
