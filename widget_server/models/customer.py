"""Customers of a site, as last described by their signed token."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from widget_server.models.base import Base, utcnow


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "external_id"),
        # Stripe's events name the customer by their Stripe id.
        sa.Index("ix_customers_site_stripe", "site_id", "stripe_customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(255))
    name: Mapped[str | None] = mapped_column(sa.String(255))
    company: Mapped[str | None] = mapped_column(sa.String(255))
    plan: Mapped[str | None] = mapped_column(sa.String(100))
    mrr: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    signed_up_at: Mapped[datetime | None]
    attributes: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # The language of their last widget visit; emails to them use it.
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    # Their Stripe customer id (cus_…), from the token's ``stripe_customer`` claim.
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
