"""Rankings computed in SQL: cancellation reasons by lost revenue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.models import CancellationSession, Reason, Site
from widget_server.services.locales import translate


@dataclass(frozen=True)
class Period:
    """An inclusive range of calendar days in UTC."""

    start: date
    end: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        lower = datetime.combine(self.start, time.min, tzinfo=UTC)
        upper = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)
        return lower, upper

    @classmethod
    def last_days(cls, days: int, today: date | None = None) -> Period:
        today = today or datetime.now(UTC).date()
        return cls(today - timedelta(days=days - 1), today)


def reason_ranking(site: Site, period: Period, *, plan: str | None = None, locale=None) -> dict:
    """Cancelled sessions grouped by reason, ranked by lost MRR (one query).

    Amounts are the MRR snapshots at cancellation, in minor units.
    """
    lower, upper = period.bounds
    s = CancellationSession
    conditions = [
        s.site_id == site.id,
        s.outcome == "cancelled",
        s.completed_at >= lower,
        s.completed_at < upper,
    ]
    if plan:
        conditions.append(s.plan == plan)
    agg = (
        sa.select(
            s.reason_id,
            sa.func.count().label("cancelled"),
            sa.func.sum(s.mrr).label("lost_mrr"),
        )
        .where(*conditions)
        .group_by(s.reason_id)
        .subquery()
    )
    query = (
        sa.select(agg, Reason.key, Reason.labels, Reason.archived_at)
        .outerjoin(Reason, Reason.id == agg.c.reason_id)
        .order_by(agg.c.lost_mrr.desc(), agg.c.cancelled.desc(), Reason.key)
    )
    rows = db.session.execute(query).all()
    locale = locale or site.default_locale
    total = sum(int(row.lost_mrr or 0) for row in rows)
    items = []
    for row in rows:  # one row per reason, not per session
        lost_mrr = int(row.lost_mrr or 0)
        items.append(
            {
                "reason_id": row.key,
                "reason": translate(row.labels, locale) if row.labels else "No reason given",
                "archived": row.archived_at is not None,
                "cancelled": int(row.cancelled),
                "lost_mrr": lost_mrr,
                "share": round(lost_mrr / total, 4) if total else 0.0,
                "average_mrr": round(lost_mrr / row.cancelled) if row.cancelled else 0,
            }
        )
    return {"currency": site.currency, "total_lost_mrr": total, "items": items}
