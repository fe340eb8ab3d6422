"""Honest outcomes, from lifecycle events: cancellations billing confirmed, "said cancelled,
still paying", saves that lasted, and customers who came back (and what came before it).

Every figure is one SQL query over the sessions and events of the period, with indexes; no
loop over rows. Amounts are minor units of the site's currency (converted with its exchange
rates; amounts in a currency without a rate are left out of the sums).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.models import (
    CancellationSession,
    Customer,
    LifecycleEvent,
    OutboxMessage,
    RoadmapItem,
    Site,
    utcnow,
)
from widget_server.models.lifecycle import REACTIVATED
from widget_server.services import metrics
from widget_server.services.money import converted
from widget_server.services.period import Period

# A save is checked this many days later: retained if billing reports no cancellation by then.
RETENTION_WINDOWS = (30, 60, 90)
# Billing ends a subscription at the end of its paid period: a cancellation in the flow is
# confirmed by a ``subscription.cancelled`` event from a day before it to this many days after.
CONFIRMATION_DAYS = 35
CONFIRMATION_EARLY = timedelta(days=1)
# A reactivation counts for a roadmap item when the customer got its win-back email in the
# days before it; a saved customer who cancels within this many days is a lapsed save.
ATTRIBUTION_DAYS = 90
LAPSE_DAYS = 90
WINBACK_TOPIC = "roadmap.winback"


def plus_days(column, days: int | timedelta):
    """SQL: a timestamp column moved by ``days`` (a number of days or a timedelta)."""
    delta = days if isinstance(days, timedelta) else timedelta(days=days)
    if db.session.get_bind().dialect.name == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: the same form compares as text.
        seconds = int(delta.total_seconds())
        return sa.func.strftime("%Y-%m-%d %H:%M:%f000", column, f"{seconds:+d} seconds")
    return column + sa.literal(delta, type_=sa.Interval())


def seconds_between(later, earlier):
    """SQL: whole seconds from ``earlier`` to ``later`` (NULL when either is)."""
    if db.session.get_bind().dialect.name == "sqlite":
        days = sa.func.julianday(later) - sa.func.julianday(earlier)
        return sa.cast(sa.func.round(days * 86400), sa.Integer)
    return sa.cast(sa.func.round(sa.extract("epoch", later - earlier)), sa.Integer)


def _segments(lower: datetime, upper: datetime, cuts: dict[int, datetime]) -> list[tuple]:
    """``[lower, upper)`` cut at each of ``cuts`` inside it (a session completed at a cut
    belongs to the part before it): ``(conditions on completed_at, windows)`` per part, where
    ``windows`` are the keys of the cuts every session of the part is old enough for."""
    completed = CancellationSession.completed_at
    parts, start, start_inclusive = [], lower, True
    for edge in sorted({cut for cut in cuts.values() if lower <= cut < upper}):
        parts.append((start, start_inclusive, edge, True))
        start, start_inclusive = edge, False
    parts.append((start, start_inclusive, upper, False))
    return [
        (
            [
                completed >= first if first_inclusive else completed > first,
                completed <= last if last_inclusive else completed < last,
            ],
            {key for key, cut in cuts.items() if last <= cut},
        )
        for first, first_inclusive, last, last_inclusive in parts
    ]


def _by_segment(site: Site, outcome: str, segments: list[tuple], columns: list) -> list:
    """One row of ``columns`` per segment of ``outcome``'s sessions, in one statement: each
    segment is its own range of the index, so no row compares its date with a cut."""
    s = CancellationSession
    selects = [
        sa.select(sa.literal(number).label("segment"), *columns).where(
            s.site_id == site.id, s.outcome == outcome, *conditions
        )
        for number, (conditions, _) in enumerate(segments)
    ]
    statement = sa.union_all(*selects) if len(selects) > 1 else selects[0]
    rows = {row.segment: row for row in db.session.execute(statement)}
    return [rows[number] for number in range(len(segments))]


def retention(site: Site, period: Period, *, now: datetime | None = None) -> dict:
    """Of the customers saved in ``period`` (sessions completed ``saved``), how many kept
    paying 30, 60 and 90 days later; and of the cancellations, how many billing confirmed.

    ``windows[N]``: ``eligible`` = saves at least N days old, ``retained`` = those with no
    ``subscription.cancelled`` within N days after the save (a save counts only until its
    customer cancels), ``retained_mrr`` their MRR at the save. ``still_paying``: cancellations
    at least ``CONFIRMATION_DAYS`` old that billing never confirmed ("said cancelled, still
    paying"). When billing reported each one's customer cancelled is kept on the session
    (``billing_cancelled_after``, see :func:`widget_server.services.lifecycle.record_events`),
    so the figures are sums over one covering index. The period is read in parts split where
    a window begins (N days ago): within a part every session is old enough for the same
    windows, so rows compare only that number, never a date (a date comparison per row was
    most of the cost at 850,000 sessions).
    """
    now = now or utcnow()
    lower, upper = period.bounds
    s = CancellationSession
    mrr = converted(site, s.mrr, s.currency)
    reported = s.billing_cancelled_after

    def unless_cancelled_within(days, value):
        # NULL (never reported) compares false: the session counts.
        return sa.case((reported <= days * 86400, 0), else_=value)

    cancel_parts = _segments(lower, upper, {0: now - timedelta(days=CONFIRMATION_DAYS)})
    cancels = _by_segment(
        site, "cancelled", cancel_parts,
        [
            sa.func.count().label("sessions"),
            metrics.total(unless_cancelled_within(CONFIRMATION_DAYS, 1)).label("unconfirmed"),
            metrics.total(unless_cancelled_within(CONFIRMATION_DAYS, mrr)).label("unconfirmed_mrr"),
        ],
    )  # fmt: skip
    overdue = [row for row, (_, old) in zip(cancels, cancel_parts, strict=True) if old]
    save_parts = _segments(
        lower, upper, {days: now - timedelta(days=days) for days in RETENTION_WINDOWS}
    )
    columns = [sa.func.count().label("sessions"), metrics.total(mrr).label("mrr")]
    for days in RETENTION_WINDOWS:
        columns += [
            metrics.total(unless_cancelled_within(days, 1)).label(f"kept_{days}"),
            metrics.total(unless_cancelled_within(days, mrr)).label(f"kept_mrr_{days}"),
        ]
    saves = _by_segment(site, "saved", save_parts, columns)

    def total(rows, name):
        return sum(int(getattr(row, name)) for row in rows)

    def window(days):
        rows = [row for row, (_, old) in zip(saves, save_parts, strict=True) if days in old]
        return {
            "eligible": total(rows, "sessions"),
            "retained": total(rows, f"kept_{days}"),
            "retained_mrr": total(rows, f"kept_mrr_{days}"),
        }

    cancellations = total(cancels, "sessions")
    return {
        "currency": site.currency,
        "saved": total(saves, "sessions"),
        "saved_mrr": total(saves, "mrr"),
        "cancellations": cancellations,
        "confirmed_cancellations": cancellations - total(cancels, "unconfirmed"),
        "still_paying": total(overdue, "unconfirmed"),
        "still_paying_mrr": total(overdue, "unconfirmed_mrr"),
        "windows": {str(days): window(days) for days in RETENTION_WINDOWS},
    }


def still_paying(
    site: Site, period: Period, *, limit: int = 20, now: datetime | None = None
) -> list[dict]:
    """The cancellations of ``period`` that billing never confirmed ("said cancelled, still
    paying", at least ``CONFIRMATION_DAYS`` old), highest MRR first: who to look at."""
    now = now or utcnow()
    lower, upper = period.bounds
    s = CancellationSession
    reported = s.billing_cancelled_after
    rows = db.session.execute(
        sa.select(
            s.public_id, s.completed_at, s.plan, converted(site, s.mrr, s.currency).label("mrr"),
            Customer.external_id, Customer.email,
        )
        .join(Customer, Customer.id == s.customer_id)
        .where(
            s.site_id == site.id,
            s.outcome == "cancelled",
            s.completed_at >= lower,
            s.completed_at < upper,
            s.completed_at <= now - timedelta(days=CONFIRMATION_DAYS),
            sa.or_(reported.is_(None), reported > CONFIRMATION_DAYS * 86400),
        )
        .order_by(s.mrr.desc(), s.id)
        .limit(limit)
    )  # fmt: skip
    return [
        {
            "session": row.public_id, "customer": row.external_id, "email": row.email,
            "plan": row.plan, "mrr": row.mrr, "cancelled_at": row.completed_at,
        }
        for row in rows
    ]  # fmt: skip


def _reactivations(site: Site, period: Period | None):
    """The site's reactivation events (of ``period``, if given) with their MRR (an event
    without one was given the customer's MRR when it arrived), from one index."""
    e = LifecycleEvent
    query = sa.select(
        e.id,
        e.customer_id,
        e.occurred_at,
        converted(site, sa.func.coalesce(e.mrr, 0), e.currency).label("mrr"),
    ).where(e.site_id == site.id, e.type == REACTIVATED)
    if period is not None:
        lower, upper = period.bounds
        query = query.where(e.occurred_at >= lower, e.occurred_at < upper)
    return query.subquery()


def _got_winback(reactivations) -> list:
    """SQL conditions: a win-back email was sent to the reactivated customer in the
    ``ATTRIBUTION_DAYS`` before they came back."""
    m = OutboxMessage
    return [
        m.customer_id == reactivations.c.customer_id,
        m.kind == "email",
        m.topic == WINBACK_TOPIC,
        m.state == "sent",
        m.sent_at <= reactivations.c.occurred_at,
        m.sent_at > plus_days(reactivations.c.occurred_at, -ATTRIBUTION_DAYS),
    ]


def _winbacks(reactivations):
    """SQL: each reactivation with the roadmap item of each win-back email before it."""
    m = OutboxMessage
    return sa.select(
        reactivations.c.id.label("reactivation_id"),
        reactivations.c.mrr,
        m.payload["item_id"].as_integer().label("item_id"),
    ).select_from(reactivations.join(m, sa.and_(*_got_winback(reactivations))))


def reactivated_by_item(site: Site, period: Period | None = None) -> dict[int, dict]:
    """``{item_id: {"reactivated", "reactivated_mrr"}}``: reactivations (of ``period``, or
    ever) that followed the item's win-back email within ``ATTRIBUTION_DAYS``. A customer who
    got two items' emails counts for both."""
    r = _reactivations(site, period)
    w = _winbacks(r).subquery()
    rows = db.session.execute(
        sa.select(
            w.c.item_id,
            sa.func.count().label("reactivated"),
            metrics.total(w.c.mrr).label("reactivated_mrr"),
        ).group_by(w.c.item_id)
    )
    return {
        row.item_id: {"reactivated": row.reactivated, "reactivated_mrr": int(row.reactivated_mrr)}
        for row in rows
    }


def reactivations(site: Site, period: Period) -> dict:
    """``subscription.reactivated`` events in ``period``: how many and their MRR, per roadmap
    item whose win-back email the customer got in the ``ATTRIBUTION_DAYS`` before (items by
    reactivated MRR), and those no win-back email preceded (``unattributed``)."""
    r = _reactivations(site, period)
    attributed = sa.exists().where(*_got_winback(r))
    totals = db.session.execute(
        sa.select(
            sa.func.count().label("total"),
            metrics.total(r.c.mrr).label("total_mrr"),
            metrics.total_if(sa.not_(attributed), 1).label("unattributed"),
            metrics.total_if(sa.not_(attributed), r.c.mrr).label("unattributed_mrr"),
        )
    ).one()
    by_item = reactivated_by_item(site, period)
    titles = (
        dict(
            db.session.execute(
                sa.select(RoadmapItem.id, RoadmapItem.title).where(
                    RoadmapItem.site_id == site.id, RoadmapItem.id.in_(list(by_item))
                )
            ).all()
        )
        if by_item
        else {}
    )
    items = sorted(
        (
            {"roadmap_item_id": item_id, "title": titles.get(item_id), **figures}
            for item_id, figures in by_item.items()
            if item_id in titles
        ),
        key=lambda row: (-row["reactivated_mrr"], -row["reactivated"], row["roadmap_item_id"]),
    )
    return {
        "currency": site.currency,
        "total": totals.total,
        "total_mrr": int(totals.total_mrr),
        "items": items,
        "unattributed": {
            "reactivated": int(totals.unattributed),
            "reactivated_mrr": int(totals.unattributed_mrr),
        },
    }
