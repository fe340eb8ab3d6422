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


def retention(site: Site, period: Period, *, now: datetime | None = None) -> dict:
    """Of the customers saved in ``period`` (sessions completed ``saved``), how many kept
    paying 30, 60 and 90 days later; and of the cancellations, how many billing confirmed.

    ``windows[N]``: ``eligible`` = saves at least N days old, ``retained`` = those with no
    ``subscription.cancelled`` within N days after the save (a save counts only until its
    customer cancels), ``retained_mrr`` their MRR at the save. ``still_paying``: cancellations
    at least ``CONFIRMATION_DAYS`` old that billing never confirmed ("said cancelled, still
    paying"). One pass over each outcome's sessions of the period, from one index: when billing
    reported each one's customer cancelled is kept on the session
    (``billing_cancelled_after``, see :func:`widget_server.services.lifecycle.record_events`).
    """
    now = now or utcnow()
    lower, upper = period.bounds
    s = CancellationSession
    mrr = converted(site, s.mrr, s.currency)
    reported = s.billing_cancelled_after

    def cancelled_within(days):
        return sa.and_(reported.is_not(None), reported <= days * 86400)

    def one_pass(outcome: str, columns: list):
        # Each outcome is its own range of the index: each row evaluates only its own sums.
        return db.session.execute(
            sa.select(*columns).where(
                s.site_id == site.id,
                s.outcome == outcome,
                s.completed_at >= lower,
                s.completed_at < upper,
            )
        ).one()

    overdue = sa.and_(
        s.completed_at <= now - timedelta(days=CONFIRMATION_DAYS),
        sa.not_(cancelled_within(CONFIRMATION_DAYS)),
    )
    cancels = one_pass(
        "cancelled",
        [
            sa.func.count().label("cancellations"),
            metrics.total_if(cancelled_within(CONFIRMATION_DAYS), 1).label("confirmed"),
            metrics.total_if(overdue, 1).label("still_paying"),
            metrics.total_if(overdue, mrr).label("still_paying_mrr"),
        ],
    )
    columns = [sa.func.count().label("saved"), metrics.total(mrr).label("saved_mrr")]
    for days in RETENTION_WINDOWS:
        eligible = s.completed_at <= now - timedelta(days=days)
        kept = sa.and_(eligible, sa.not_(cancelled_within(days)))
        columns += [
            metrics.total_if(eligible, 1).label(f"eligible_{days}"),
            metrics.total_if(kept, 1).label(f"retained_{days}"),
            metrics.total_if(kept, mrr).label(f"retained_mrr_{days}"),
        ]
    row = one_pass("saved", columns)
    return {
        "currency": site.currency,
        "saved": int(row.saved),
        "saved_mrr": int(row.saved_mrr),
        "cancellations": int(cancels.cancellations),
        "confirmed_cancellations": int(cancels.confirmed),
        "still_paying": int(cancels.still_paying),
        "still_paying_mrr": int(cancels.still_paying_mrr),
        "windows": {
            str(days): {
                "eligible": int(getattr(row, f"eligible_{days}")),
                "retained": int(getattr(row, f"retained_{days}")),
                "retained_mrr": int(getattr(row, f"retained_mrr_{days}")),
            }
            for days in RETENTION_WINDOWS
        },
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
