"""The weekly digest: admins who opt in get the "Cancellation insights" PDF every week."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.models import AdminUser
from widget_server.services import notifications, schedule
from widget_server.services.users import visible_sites


def set_weekly_digest(user: AdminUser, enabled: bool) -> None:
    user.weekly_digest = enabled
    db.session.flush()


def stop_weekly_digest(user_id: int) -> None:
    """One-click opt-out from a digest email (a no-op for an unknown admin)."""
    user = db.session.get(AdminUser, user_id)
    if user is not None:
        set_weekly_digest(user, False)


def enqueue_due(now: datetime) -> int:
    """Queue this week's digest for every opted-in admin and each of their sites, once per ISO
    week: the first worker poll of the week does it, later polls skip it (and the outbox's
    dedupe key would make a repeat a no-op). The report covers the seven days before the
    current week. Returns how many were new."""
    year, week, _ = now.isocalendar()
    if not schedule.claim(f"weekly-digest {year}-W{week:02d}", timedelta(days=3650), now):
        return 0
    monday = (now - timedelta(days=now.weekday())).date()
    start, end = monday - timedelta(days=7), monday - timedelta(days=1)
    queued = 0
    admins = db.session.scalars(
        sa.select(AdminUser).where(AdminUser.weekly_digest.is_(True), AdminUser.active.is_(True))
    )
    for admin in admins:
        for site in visible_sites(admin):
            queued += notifications.enqueue_emails(
                site,
                "digest.weekly",
                [
                    {
                        "dedupe_key": f"digest:{admin.id}:{site.id}:{year}-W{week:02d}",
                        "to": admin.email,
                        "payload": {
                            "template": "digest",
                            "user_id": admin.id,
                            "from": start.isoformat(),
                            "to": end.isoformat(),
                        },
                    }
                ],
            )
    return queued
