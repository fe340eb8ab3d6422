"""The public roadmap: items, votes and voters' subscriptions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from widget_server.models.base import Base, utcnow

STATUSES = ("under_consideration", "planned", "in_progress", "shipped", "declined", "duplicate")
VOTABLE = ("under_consideration", "planned", "in_progress")
MODERATION = ("approved", "pending", "rejected")
VOTE_SOURCES = ("widget", "support", "sales", "admin")


class RoadmapItem(Base):
    __tablename__ = "roadmap_items"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('under_consideration', 'planned', 'in_progress', 'shipped', "
            "'declined', 'duplicate')",
            name="status",
        ),
        sa.CheckConstraint("moderation IN ('approved', 'pending', 'rejected')", name="moderation"),
        sa.Index("ix_roadmap_items_site_status", "site_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(200))
    # Markdown; rendered with markdown-it-py and sanitised with nh3 before display.
    description: Mapped[str] = mapped_column(sa.Text, default="")
    # The description rendered when it is saved (boards show it on every read).
    description_html: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(24), default="under_consideration")
    public: Mapped[bool] = mapped_column(default=True)
    # "2026-03" (a month) or "2026-Q2" (a quarter).
    target: Mapped[str | None] = mapped_column(sa.String(7))
    tags: Mapped[list] = mapped_column(sa.JSON, default=list)
    # Customer suggestions wait in moderation and are not public until approved.
    moderation: Mapped[str] = mapped_column(sa.String(10), default="approved")
    suggested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="SET NULL")
    )
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("roadmap_items.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    merged_into = relationship("RoadmapItem", remote_side=[id])
    suggested_by = relationship("Customer")


class _ItemCustomer:
    """One row per (item, customer): votes and subscriptions."""

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("roadmap_items.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @declared_attr
    def customer(cls):
        return relationship("Customer")


class Vote(_ItemCustomer, Base):
    """One vote per customer per item (the unique constraint makes toggling race-free)."""

    __tablename__ = "votes"
    __table_args__ = (sa.UniqueConstraint("item_id", "customer_id"),)

    # The customer's company when they voted: votes also count once per company.
    company: Mapped[str | None] = mapped_column(sa.String(255))
    source: Mapped[str] = mapped_column(sa.String(10), default="widget")


class Subscription(_ItemCustomer, Base):
    """A customer who wants to hear when an item starts and ships."""

    __tablename__ = "subscriptions"
    __table_args__ = (sa.UniqueConstraint("item_id", "customer_id"),)

    unsubscribed_at: Mapped[datetime | None]
