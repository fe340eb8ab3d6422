"""Experiments on the cancellation flow: a holdout per site and A/B tests of offers per reason."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from widget_server.models.base import Base, utcnow

EXPERIMENT_KINDS = ("holdout", "ab")
EXPERIMENT_STATUSES = ("running", "paused", "ended")


class Experiment(Base):
    """A holdout (``kind='holdout'``: ``holdout_percent`` of customers are offered nothing) or
    an A/B test of offers for one reason (``kind='ab'``: its variants). Ended experiments are
    kept with their sessions: they are the history."""

    __tablename__ = "experiments"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('holdout', 'ab')", name="kind"),
        sa.CheckConstraint("status IN ('running', 'paused', 'ended')", name="status"),
        sa.Index("ix_experiments_site_status", "site_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), default="running")
    name: Mapped[str] = mapped_column(sa.String(200))
    # A/B tests: the reason whose offer is tested.
    reason_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reasons.id", ondelete="CASCADE"))
    # Holdouts: the share of customers offered nothing (1-50).
    holdout_percent: Mapped[int | None]
    # Mixed into the assignment hash: each experiment shuffles customers anew.
    salt: Mapped[str] = mapped_column(sa.String(32))
    # Completed sessions per arm before the lift is shown (fixed when the experiment starts).
    planned_size: Mapped[int]
    # A/B tests ended with a choice: the variant kept as the reason's offer.
    winner_offer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("offers.id", ondelete="SET NULL")
    )
    # [{"action": "started" | "paused" | "resumed" | "ended", "at": ISO time, "by": who}, ...]
    history: Mapped[list] = mapped_column(sa.JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]

    reason = relationship("Reason")
    winner = relationship("Offer")
    variants: Mapped[list[ExperimentVariant]] = relationship(
        back_populates="experiment",
        cascade="all, delete-orphan",
        order_by="ExperimentVariant.position",
    )


class ExperimentVariant(Base):
    """One arm of an A/B test: an offer and its weight. The first variant is the reference."""

    __tablename__ = "experiment_variants"
    __table_args__ = (
        sa.UniqueConstraint("experiment_id", "offer_id"),
        sa.CheckConstraint("weight > 0", name="weight"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("offers.id", ondelete="CASCADE"))
    weight: Mapped[int] = mapped_column(default=1)
    position: Mapped[int] = mapped_column(default=0)

    experiment: Mapped[Experiment] = relationship(back_populates="variants")
    offer = relationship("Offer")
