"""Admin users."""

from __future__ import annotations

import re

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from widget_server.errors import Conflict, ValidationError
from widget_server.extensions import db
from widget_server.models import AdminUser, Site
from widget_server.services.text import is_single_line

MIN_PASSWORD = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Compared against when the email is unknown, so both paths cost one hash check.
_DUMMY_HASH = generate_password_hash("keepkit-timing-equaliser")


def create_admin(
    email: str, password: str, *, owner: bool = True, sites: list[Site] | None = None
) -> AdminUser:
    """:raises ValidationError: bad email or short password. :raises Conflict: email taken."""
    email = (email or "").strip().lower()
    if not _EMAIL.match(email) or not is_single_line(email):
        raise ValidationError(f"{email!r} is not an email address", code="invalid_email")
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(
            f"The password must have at least {MIN_PASSWORD} characters", code="weak_password"
        )
    if db.session.scalar(sa.select(AdminUser.id).where(AdminUser.email == email)):
        raise Conflict(f"An admin with email {email} exists already", code="email_taken")
    user = AdminUser(email=email, password_hash=generate_password_hash(password), is_owner=owner)
    user.sites = list(sites or [])
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> AdminUser | None:
    user = db.session.scalar(
        sa.select(AdminUser).where(AdminUser.email == (email or "").strip().lower())
    )
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not user.active or not check_password_hash(user.password_hash, password or ""):
        return None
    return user


def visible_sites(user: AdminUser) -> list[Site]:
    if user.is_owner:
        return list(db.session.scalars(sa.select(Site).order_by(Site.name)))
    return list(user.sites)


def can_access(user: AdminUser, site: Site) -> bool:
    return user.is_owner or any(s.id == site.id for s in user.sites)
