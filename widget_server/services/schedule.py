"""Periodic worker tasks: each runs once per period, whichever worker gets there first."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.models import ScheduledRun
from widget_server.services.sql import insert_or_ignore, rowcount


def claim(name: str, every: timedelta, now: datetime) -> bool:
    """Whether the task ``name`` is due (it last ran ``every`` ago or never); if so, it is
    marked as run at ``now`` in the caller's transaction, so other workers skip it."""
    inserted = db.session.execute(
        insert_or_ignore(ScheduledRun, ["name"])
        .values(name=name, last_run_at=now)
        .returning(ScheduledRun.name)
    ).first()
    if inserted is not None:
        return True
    updated = db.session.execute(
        sa.update(ScheduledRun)
        .where(ScheduledRun.name == name, ScheduledRun.last_run_at <= now - every)
        .values(last_run_at=now)
    )
    return rowcount(updated) == 1
