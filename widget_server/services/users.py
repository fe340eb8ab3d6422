"""Admin users: accounts, passwords, sessions, and their roles per site."""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from widget_server.errors import Conflict, NotFound, ValidationError
from widget_server.extensions import db
from widget_server.i18n import N_
from widget_server.models import ROLES, AdminUser, Site, SiteMembership
from widget_server.services.locales import SUPPORTED_LOCALES
from widget_server.services.text import is_single_line

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Compared against when the email is unknown, so both paths cost one hash check.
_DUMMY_HASH = generate_password_hash("keepkit-timing-equaliser")


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password or "") <= MAX_PASSWORD:
        raise ValidationError(
            N_("The password must have at least %(min)s characters"),
            code="weak_password",
            params={"min": MIN_PASSWORD},
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError(
            N_("role must be one of %(choices)s"),
            code="invalid_role",
            params={"choices": ", ".join(ROLES)},
        )


def create_admin(
    email: str,
    password: str,
    *,
    owner: bool = True,
    sites: list[Site] | None = None,
    role: str = "owner",
) -> AdminUser:
    """An admin who owns every site (``owner``), or who has ``role`` on ``sites``.

    :raises ValidationError: bad email, short password or unknown role.
    :raises Conflict: email taken.
    """
    email = normalize_email(email)
    if not _EMAIL.match(email) or len(email) > 255 or not is_single_line(email):
        raise ValidationError(
            N_("%(email)r is not an email address"), code="invalid_email", params={"email": email}
        )
    _check_password(password)
    _check_role(role)
    if db.session.scalar(sa.select(AdminUser.id).where(AdminUser.email == email)):
        raise Conflict(
            N_("An admin with email %(email)s exists already"),
            code="email_taken",
            params={"email": email},
        )
    user = AdminUser(email=email, password_hash=generate_password_hash(password), is_owner=owner)
    user.memberships = [SiteMembership(site_id=site.id, role=role) for site in sites or []]
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> AdminUser | None:
    user = db.session.scalar(sa.select(AdminUser).where(AdminUser.email == normalize_email(email)))
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not user.active or not check_password_hash(user.password_hash, password or ""):
        return None
    return user


def user_for_login_id(login_id: str) -> AdminUser | None:
    """The admin a session or remember-me cookie names, if that login is still valid: its
    session generation must be the current one (signing out ends it everywhere)."""
    user_id, _, generation = (login_id or "").partition(":")
    if not user_id.isdigit() or not generation.isdigit():
        return None
    user = db.session.get(AdminUser, int(user_id))
    if user is None or user.session_generation != int(generation):
        return None
    return user


def end_sessions(user: AdminUser) -> None:
    """End every session and remember-me cookie of ``user`` (a new login id)."""
    user.session_generation += 1
    db.session.flush()


def set_password(user: AdminUser, password: str) -> None:
    """Set a new password and end every existing session of the user.

    :raises ValidationError: ``weak_password``.
    """
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    end_sessions(user)


def change_password(user: AdminUser, current: str, new: str) -> None:
    """The signed-in admin changes their own password.

    :raises ValidationError: ``wrong_password`` or ``weak_password``.
    """
    if not check_password_hash(user.password_hash, current or ""):
        raise ValidationError(N_("The current password is wrong"), code="wrong_password")
    set_password(user, new)


def set_locale(user: AdminUser, locale: str | None) -> None:
    """The admin's language (a supported locale), or None for automatic.

    :raises ValidationError: ``invalid_locale``.
    """
    if locale is not None and locale not in SUPPORTED_LOCALES:
        raise ValidationError(
            N_("language must be one of %(choices)s"),
            code="invalid_locale",
            params={"choices": ", ".join(SUPPORTED_LOCALES)},
        )
    user.locale = locale
    db.session.flush()


def get_user(email: str) -> AdminUser:
    """:raises NotFound: ``user_not_found``."""
    user = db.session.scalar(sa.select(AdminUser).where(AdminUser.email == normalize_email(email)))
    if user is None:
        raise NotFound(
            N_("No admin with email %(email)s"),
            code="user_not_found",
            params={"email": normalize_email(email)},
        )
    return user


def visible_sites(user: AdminUser) -> list[Site]:
    if user.is_owner:
        return list(db.session.scalars(sa.select(Site).order_by(Site.name)))
    return list(user.sites)


def role_for(user: AdminUser, site: Site) -> str | None:
    """The user's role on ``site``: ``owner`` for the instance's owners, else their
    membership's role, or None when they have no access."""
    if user.is_owner:
        return "owner"
    return next((m.role for m in user.memberships if m.site_id == site.id), None)


def has_role(user: AdminUser, site: Site, required: str) -> bool:
    role = role_for(user, site)
    return role is not None and ROLES.index(role) >= ROLES.index(required)


def members(site: Site) -> list[tuple[AdminUser, str]]:
    """Everyone with access to ``site`` and their role (instance owners first)."""
    owners = db.session.scalars(
        sa.select(AdminUser).where(AdminUser.is_owner.is_(True)).order_by(AdminUser.email)
    )
    rows = [(user, "owner") for user in owners]
    query = (
        sa.select(AdminUser, SiteMembership.role)
        .join(SiteMembership, SiteMembership.user_id == AdminUser.id)
        .where(SiteMembership.site_id == site.id, AdminUser.is_owner.is_(False))
        .order_by(AdminUser.email)
    )
    return rows + [(user, role) for user, role in db.session.execute(query)]


def add_member(site: Site, email: str, role: str) -> tuple[AdminUser, str | None]:
    """Give ``email`` the ``role`` on ``site``, creating the account when there is none.

    Returns the user and, for a new account, its first password (to hand over once).

    :raises ValidationError: ``invalid_email`` or ``invalid_role``.
    :raises Conflict: ``already_member`` when they have access already.
    """
    _check_role(role)
    password = None
    user = db.session.scalar(sa.select(AdminUser).where(AdminUser.email == normalize_email(email)))
    if user is None:
        password = secrets.token_urlsafe(12)
        user = create_admin(email, password, owner=False)
    if role_for(user, site) is not None:
        raise Conflict(
            N_("%(email)s has access to this site already"),
            code="already_member",
            params={"email": user.email},
        )
    user.memberships.append(SiteMembership(site_id=site.id, role=role))
    db.session.flush()
    return user, password


def _membership(site: Site, user_id: int) -> SiteMembership:
    membership = db.session.get(SiteMembership, (user_id, site.id))
    if membership is None:
        raise NotFound(N_("That admin has no role on this site"), code="member_not_found")
    return membership


def set_role(site: Site, user_id: int, role: str) -> tuple[AdminUser, str]:
    """Change a member's role. Returns the user and their previous role.

    :raises ValidationError: ``invalid_role``. :raises NotFound: ``member_not_found`` (the
        instance's owners have no per-site role to change).
    """
    _check_role(role)
    membership = _membership(site, user_id)
    previous, membership.role = membership.role, role
    db.session.flush()
    return membership.user, previous


def remove_member(site: Site, user_id: int) -> AdminUser:
    """Take a member's access to ``site`` away.

    :raises NotFound: ``member_not_found``.
    """
    membership = _membership(site, user_id)
    user = membership.user
    db.session.delete(membership)
    db.session.flush()
    return user
