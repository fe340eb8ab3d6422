"""Admin users of the Keepkit admin area, their roles per site, and the audit log."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from widget_server.models.base import Base, utcnow

# Per site, in rising order of power: viewers read; editors also manage reasons, offers and the
# roadmap; owners also manage keys, secrets, webhooks, users and customers' data.
ROLES = ("viewer", "editor", "owner")


class SiteMembership(Base):
    """An admin's role on one site."""

    __tablename__ = "site_admins"
    __table_args__ = (sa.CheckConstraint("role IN ('viewer', 'editor', 'owner')", name="role"),)

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("admin_users.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(sa.String(10), default="owner")

    user = relationship("AdminUser", back_populates="memberships")
    site = relationship("Site")


class AdminUser(UserMixin, Base):
    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    # Owner of every site, present and future (the instance's administrators); other admins
    # have a role per site (``memberships``).
    is_owner: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the login id: raising it ends every session and remember-me cookie of this
    # admin, wherever they are (sign out, password change, "sign out everywhere").
    session_generation: Mapped[int] = mapped_column(default=0)
    # Opted in to the weekly "Cancellation insights" PDF by email.
    weekly_digest: Mapped[bool] = mapped_column(default=False)
    # The language of the admin area, the PDF report and the digest for this admin (a code of
    # ``SUPPORTED_LOCALES``); None: automatic (the browser's language; for the digest, the
    # site's default locale).
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[SiteMembership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    sites = relationship("Site", secondary="site_admins", order_by="Site.name", viewonly=True)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: the session and remember-me cookies carry it
        return f"{self.id}:{self.session_generation}"


class AuditEvent(Base):
    """Who did what, when, from where: for owners to review (Admin → Audit log)."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_site_created", "site_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: not about one site (sign-ins, account changes).
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    # Who, in words that survive the user's deletion: an email, "API key kk_live_abcd", "CLI".
    actor: Mapped[str] = mapped_column(sa.String(255))
    action: Mapped[str] = mapped_column(sa.String(64))
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
