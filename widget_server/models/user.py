"""Admin users of the Keepkit admin area."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from widget_server.models.base import Base, utcnow

site_admins = sa.Table(
    "site_admins",
    Base.metadata,
    sa.Column("user_id", sa.ForeignKey("admin_users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("site_id", sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)


class AdminUser(UserMixin, Base):
    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    # Owners see every site; other admins only the sites they are members of.
    is_owner: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    # Opted in to the weekly "Cancellation insights" PDF by email.
    weekly_digest: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sites = relationship("Site", secondary=site_admins, order_by="Site.name")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active
