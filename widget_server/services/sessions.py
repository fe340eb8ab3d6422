"""Listing cancellation sessions for the admin and the data API."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from widget_server.extensions import db
from widget_server.models import CancellationSession, Reason, ReasonRollup, Site
from widget_server.services import insights
from widget_server.services.period import Filter, Period


@dataclass(frozen=True)
class SessionFilter:
    period: Period | None = None
    reason_key: str | None = None
    outcome: str | None = None
    plan: str | None = None
    with_comment: bool = False
    # Drill-down from the dashboard: sessions completed in this range.
    completed: Period | None = None
    search: str | None = None


def sessions_query(site: Site, filters: SessionFilter) -> sa.Select:
    """A select of the site's sessions matching ``filters`` (customer, reason, offer loaded)."""
    s = CancellationSession
    query = (
        sa.select(s)
        .where(s.site_id == site.id)
        .options(joinedload(s.customer), joinedload(s.reason), joinedload(s.offer))
    )
    if filters.period is not None:
        lower, upper = filters.period.bounds
        query = query.where(s.started_at >= lower, s.started_at < upper)
    if filters.reason_key:
        query = query.join(Reason, Reason.id == s.reason_id).where(Reason.key == filters.reason_key)
    if filters.outcome == "open":
        query = query.where(s.outcome.is_(None))
    elif filters.outcome:
        query = query.where(s.outcome == filters.outcome)
    if filters.plan:
        query = query.where(s.plan == filters.plan)
    if filters.with_comment:
        query = query.where(s.comment.is_not(None))
    if filters.completed is not None:
        lower, upper = filters.completed.bounds
        query = query.where(s.completed_at >= lower, s.completed_at < upper)
    if filters.search:
        query = query.where(s.comment.icontains(filters.search[:200], autoescape=True))
    return query


def page_after(
    query: sa.Select, after_id: int | None, limit: int, *, newest: bool = False
) -> tuple[list, int | None]:
    """Keyset pagination by start time (then id): oldest first, or ``newest`` first. Returns
    the rows and the id of the last one to continue after, if there are more."""
    s = CancellationSession
    key = sa.tuple_(s.started_at, s.id)
    if after_id is not None:
        started = sa.select(s.started_at).where(s.id == after_id).scalar_subquery()
        after = sa.tuple_(started, after_id)
        query = query.where(key < after if newest else key > after)
    if newest:
        query = query.order_by(s.started_at.desc(), s.id.desc())
    else:
        query = query.order_by(s.started_at, s.id)
    rows = list(db.session.scalars(query.limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def get_for_admin(site: Site, public_id: str) -> CancellationSession | None:
    """One of the site's sessions by its public id, with what it refers to, or None."""
    s = CancellationSession
    if not isinstance(public_id, str) or len(public_id) > 36:
        return None
    return db.session.scalar(
        sessions_query(site, SessionFilter())
        .options(joinedload(s.roadmap_item))
        .where(s.public_id == public_id)
    )


# A search in the comments has no index to use: counting every match of a common word read
# every comment of a large site (1.5 s at a million sessions on SQLite). Beyond this many
# matches the list says "more than" and stops counting.
SEARCH_COUNT_CAP = 10_000


def count(query: sa.Select, cap: int | None = None) -> int:
    """How many sessions ``query`` (from :func:`sessions_query`) selects; with ``cap``, at most
    ``cap + 1`` (more than ``cap``: the reading stops there)."""
    ids = query.with_only_columns(CancellationSession.id).order_by(None)
    if cap is not None:
        ids = ids.limit(cap + 1)
    return db.session.scalar(sa.select(sa.func.count()).select_from(ids.subquery())) or 0


def listed_count(query: sa.Select, filters: SessionFilter) -> tuple[int, int | None]:
    """How many sessions the admin's list of ``filters`` holds, and the number it is "more
    than" (None: the count is exact). A comment search stops counting after
    :data:`SEARCH_COUNT_CAP` matches."""
    cap = SEARCH_COUNT_CAP if filters.search else None
    total = count(query, cap)
    return total, (cap if cap is not None and total > cap else None)


def page_newest(query: sa.Select, page: int, per_page: int) -> tuple[list, bool]:
    """Offset pages, newest first, for the admin list (with the roadmap item each session
    named). Returns rows and whether more exist."""
    s = CancellationSession
    query = query.options(joinedload(s.roadmap_item)).order_by(s.started_at.desc(), s.id.desc())
    rows = list(
        db.session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)).unique()
    )
    return rows[:per_page], len(rows) > per_page


def site_plans(site: Site) -> list[str]:
    """The plans of the site's completed sessions, for filter menus (read from the monthly
    rollup: a few rows per month, where the customers table has one per customer)."""
    r = ReasonRollup
    query = (
        sa.select(r.plan)
        .where(r.site_id == site.id, r.attribute == "", r.grain == "month", r.plan != "")
        .distinct()
        .order_by(r.plan)
    )
    return list(db.session.scalars(query))


def comments_by_reason(
    site: Site, period: Period, *, search: str | None = None, per_reason: int = 5
) -> list[dict]:
    """The comments of the flows completed in ``period`` (containing ``search``), by reason:
    ``[{"reason", "total", "lost_mrr", "rows"}]`` with the ``per_reason`` newest sessions of
    each, the reason that cost the most revenue first. One grouped count, then one page per
    reason that has comments."""
    s = CancellationSession
    matching = sessions_query(
        site, SessionFilter(with_comment=True, completed=period, search=search)
    )
    counted = matching.with_only_columns(s.reason_id, sa.func.count()).group_by(s.reason_id)
    totals = dict(db.session.execute(counted.order_by(None)).all())
    lost = {
        item["reason_id"]: item["lost_mrr"]
        for item in insights.reason_ranking(site, Filter(period))["items"]
    }
    reasons = db.session.scalars(
        sa.select(Reason).where(Reason.id.in_([r for r in totals if r is not None]))
    ).all()
    groups = []
    for reason in reasons:  # a handful: the site's reasons that have comments
        rows, _ = page_newest(matching.where(s.reason_id == reason.id), 1, per_reason)
        groups.append({"reason": reason, "total": totals[reason.id], "rows": rows,
                       "lost_mrr": lost.get(reason.key, 0)})  # fmt: skip
    return sorted(groups, key=lambda group: (-group["lost_mrr"], -group["total"]))
