"""Periodic worker tasks: each runs once per period, whichever worker gets there first."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from widget_server.extensions import db
from widget_server.models import ScheduledRun


def claim(name: str, every: timedelta, now: datetime) -> bool:
    """Whether the task ``name`` is due (it last ran ``every`` ago or never); if so, it is
    marked as run at ``now`` in the caller's transaction, so other workers skip it."""
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(ScheduledRun)
    inserted = db.session.execute(
        insert.values(name=name, last_run_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(ScheduledRun.name)
    ).first()
    if inserted is not None:
        return True
    updated = db.session.execute(
        sa.update(ScheduledRun)
        .where(ScheduledRun.name == name, ScheduledRun.last_run_at <= now - every)
        .values(last_run_at=now)
    )
    return updated.rowcount == 1
