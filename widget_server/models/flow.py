"""The cancellation flow's configuration: reasons and save offers, per site."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from widget_server.models.base import Base, utcnow

offer_reasons = sa.Table(
    "offer_reasons",
    Base.metadata,
    sa.Column("offer_id", sa.ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("reason_id", sa.ForeignKey("reasons.id", ondelete="CASCADE"), primary_key=True),
)


class Reason(Base):
    """A cancellation reason. Sessions reference it by id, so renaming or archiving it keeps
    their history; archived reasons are no longer offered to customers."""

    __tablename__ = "reasons"
    __table_args__ = (sa.UniqueConstraint("site_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(64))
    position: Mapped[int] = mapped_column(default=0)
    # {"en": "Too expensive", "de": "Zu teuer", ...}
    labels: Mapped[dict] = mapped_column(sa.JSON)
    # Optional follow-up question shown after the reason is chosen, per locale.
    followup: Mapped[dict | None] = mapped_column(sa.JSON)
    # "Other": the customer must type what it is.
    requires_text: Mapped[bool] = mapped_column(default=False)
    # "Missing features": the flow may list roadmap items.
    is_missing_feature: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    offers = relationship("Offer", secondary=offer_reasons, back_populates="reasons")


OFFER_TYPES = ("discount", "pause", "switch_plan", "contact", "custom")


class Offer(Base):
    """A save offer shown after a matching reason."""

    __tablename__ = "offers"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "key"),
        sa.CheckConstraint(
            "type IN ('discount', 'pause', 'switch_plan', 'contact', 'custom')", name="type"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(64))
    type: Mapped[str] = mapped_column(sa.String(16))
    position: Mapped[int] = mapped_column(default=0)
    # {"en": {"title": ..., "body": ..., "cta": ...}, "de": {...}}
    texts: Mapped[dict] = mapped_column(sa.JSON)
    discount_percent: Mapped[int | None]
    discount_months: Mapped[int | None]
    pause_months: Mapped[int | None]
    target_plan: Mapped[str | None] = mapped_column(sa.String(100))
    contact_url: Mapped[str | None] = mapped_column(sa.String(500))
    # Targeting: only these plans (None = all) and this MRR range in minor units.
    plans: Mapped[list | None] = mapped_column(sa.JSON)
    min_mrr: Mapped[int | None] = mapped_column(sa.BigInteger)
    max_mrr: Mapped[int | None] = mapped_column(sa.BigInteger)
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    reasons = relationship("Reason", secondary=offer_reasons, back_populates="offers")
