"""Sites (one per SaaS product embedding Keepkit), their origins and data API keys."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from widget_server.models.base import Base, utcnow


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Customer tokens may be signed with either secret (rotation); receipts use the primary.
    secret_primary: Mapped[str] = mapped_column(sa.String(128))
    secret_secondary: Mapped[str | None] = mapped_column(sa.String(128))
    default_locale: Mapped[str] = mapped_column(sa.String(8), default="en")
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    brand_color: Mapped[str] = mapped_column(sa.String(7), default="#4f46e5")
    # Where customers go back to from the hosted pages (the integrator's app).
    app_url: Mapped[str | None] = mapped_column(sa.String(500))
    # Where a win-back email sends a churned customer (the item's id is added to it).
    reactivation_url: Mapped[str | None] = mapped_column(sa.String(500))
    # The site's logo as a data: URI (PNG or JPEG), so reports embed it without fetching.
    logo: Mapped[str | None] = mapped_column(sa.Text)
    # A customer who accepted a discount within this many days is not offered another.
    discount_window_days: Mapped[int] = mapped_column(default=365)
    # Per-site labels for the stable roadmap status keys, e.g. {"shipped": "Done"}.
    status_labels: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Off by default: voting needs a signed customer token.
    anonymous_voting: Mapped[bool] = mapped_column(default=False)
    # Comments and follow-up answers older than this many months are deleted (None: kept).
    comment_retention_months: Mapped[int | None]
    webhook_url: Mapped[str | None] = mapped_column(sa.String(500))
    webhook_secret: Mapped[str | None] = mapped_column(sa.String(128))
    # The Stripe connector (optional): the endpoint's signing secret (whsec_…), and an API key
    # to read MRR and plans and, when the site opts in, to cancel at period end.
    stripe_webhook_secret: Mapped[str | None] = mapped_column(sa.String(255))
    stripe_api_key: Mapped[str | None] = mapped_column(sa.String(255))
    stripe_apply_cancellations: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Raised by every change to the site, its origins, reasons or offers: processes that keep
    # a snapshot of them (services.site_cache) see the change on their next request.
    config_version: Mapped[int] = mapped_column(default=0)

    origins: Mapped[list[SiteOrigin]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="SiteOrigin.origin"
    )
    api_keys: Mapped[list[ApiKey]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="ApiKey.id"
    )

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.secret_primary, self.secret_secondary) if s]


class SiteOrigin(Base):
    """An origin (scheme://host[:port]) allowed to embed the widgets and call the widget API."""

    __tablename__ = "site_origins"
    __table_args__ = (sa.UniqueConstraint("site_id", "origin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(sa.String(255))

    site: Mapped[Site] = relationship(back_populates="origins")


class ApiKey(Base):
    """A data API key. Only a SHA-256 digest is stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    site: Mapped[Site] = relationship(back_populates="api_keys")


class ExchangeRate(Base):
    """How much one minor unit of ``currency`` is worth in minor units of the site's currency
    (e.g. EUR → USD 1.08). Maintained by the site's admins; the insights convert with it."""

    __tablename__ = "exchange_rates"
    __table_args__ = (sa.UniqueConstraint("site_id", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(sa.String(3))
    rate: Mapped[float] = mapped_column(sa.Float)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
