"""The dashboard's figures, each one query over the rollups: reasons ranked by lost MRR, the
summary, the trend, offers and breakdowns by segment. What each figure means (lost MRR, save
rate, conversion) is defined in :mod:`widget_server.services.metrics`; what the figures are
about (period, plan, attribute) in :mod:`widget_server.services.period`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext

from widget_server.errors import ValidationError
from widget_server.extensions import db
from widget_server.i18n import N_
from widget_server.models import (
    Customer,
    Offer,
    OfferShownRollup,
    Reason,
    ReasonRollup,
    SegmentRollup,
    Site,
)
from widget_server.services import metrics, rollups
from widget_server.services.locales import translate
from widget_server.services.money import converted
from widget_server.services.period import Filter

# Names Keepkit gives to groups of sessions. The data API returns them in English (stable
# values); the admin's pages show them translated (:func:`segment_name`).
NO_REASON = N_("No reason given")
NO_PLAN = N_("no plan")
NOT_SET = N_("not set")
SEGMENT_NAMES = {
    "plan": frozenset({NO_PLAN}),
    "tenure": frozenset(
        {label for _days, label in rollups.TENURE_BANDS}
        | {rollups.LAST_TENURE_BAND, rollups.UNKNOWN_BAND}
    ),
    "mrr": frozenset({rollups.MRR_BANDS[0][1], rollups.LAST_MRR_BAND, rollups.UNKNOWN_BAND}),
}


def segment_name(by: str, segment: str) -> str:
    """A breakdown's segment as the admin reads it: Keepkit's own names translated into the
    current locale, the customers' values (plans, attribute values) as they are."""
    names = SEGMENT_NAMES.get(by, frozenset({NOT_SET}) if by.startswith("attr:") else frozenset())
    return gettext(segment) if segment in names else segment


def reason_ranking(site: Site, filters: Filter, *, locale=None) -> dict:
    """Cancelled sessions grouped by reason, ranked by lost MRR (one query over the rollups).

    Amounts are the MRR snapshots at cancellation, in minor units.
    """
    src = rollups.source(site, filters, ReasonRollup, "reason_id", "outcome", "currency")
    mrr = converted(site, src.c.mrr, src.c.currency)
    agg = (
        sa.select(
            src.c.reason_id,
            metrics.cancellations(src.c.outcome, src.c.sessions).label("cancelled"),
            # with an amount in the site's currency
            metrics.total_if(mrr.is_not(None), src.c.sessions).label("priced"),
            metrics.lost_mrr(site, src.c.outcome, src.c.mrr, src.c.currency).label("lost_mrr"),
        )
        .where(src.c.outcome == metrics.CANCELLED)
        .group_by(src.c.reason_id)
        .subquery()
    )
    query = (
        sa.select(agg, Reason.key, Reason.labels, Reason.archived_at)
        .outerjoin(Reason, Reason.id == agg.c.reason_id)
        .order_by(agg.c.lost_mrr.desc(), agg.c.cancelled.desc(), Reason.key)
    )
    rows = db.session.execute(query).all()
    locale = locale or site.default_locale
    total = sum(int(row.lost_mrr) for row in rows)
    items = []
    for row in rows:  # one row per reason, not per session
        lost_mrr = int(row.lost_mrr)
        items.append(
            {
                "reason_id": row.key,
                "reason": translate(row.labels, locale) if row.labels else NO_REASON,
                "archived": row.archived_at is not None,
                "cancelled": int(row.cancelled),
                "lost_mrr": lost_mrr,
                "share": metrics.share(lost_mrr, total),
                "average_mrr": round(lost_mrr / row.priced) if row.priced else 0,
            }
        )
    return {"currency": site.currency, "total_lost_mrr": total, "items": items}


# --- the dashboard -------------------------------------------------------------------------

SEGMENTS = ("plan", "tenure", "mrr")


def _churn(site: Site, src) -> list:
    """Cancellations, saves and lost MRR of a source's rows, as columns to select."""
    return [
        metrics.cancellations(src.c.outcome, src.c.sessions).label("cancelled"),
        metrics.saves(src.c.outcome, src.c.sessions).label("saved"),
        metrics.lost_mrr(site, src.c.outcome, src.c.mrr, src.c.currency).label("lost"),
    ]


def summary(site: Site, filters: Filter) -> dict:
    """Totals for the period in one query. A dismissed flow is neither a save nor a
    cancellation; the save rate is saves / (saves + cancellations). Net saved MRR subtracts
    the discount given (a 30% discount keeps 70% of the MRR while it runs)."""
    src = rollups.source(site, filters, ReasonRollup, "outcome", "offer_id", "currency")
    n, is_saved = src.c.sessions, src.c.outcome == metrics.SAVED
    mrr = converted(site, src.c.mrr, src.c.currency)
    kept = mrr * (100 - sa.func.coalesce(Offer.discount_percent, 0)) / 100.0
    decided = src.c.outcome != "dismissed"
    row = db.session.execute(
        sa.select(
            metrics.total(n).label("completed"),
            *_churn(site, src),  # cancelled, saved, lost
            metrics.saved_mrr(site, src.c.outcome, src.c.mrr, src.c.currency).label("gross"),
            metrics.total_if(is_saved, kept).label("net"),
            metrics.total_if(sa.and_(decided, mrr.is_(None)), n).label("unconverted"),
        )
        .select_from(src)
        .outerjoin(Offer, Offer.id == src.c.offer_id)
    ).one()
    cancelled, saved = int(row.cancelled), int(row.saved)
    return {
        "currency": site.currency,
        "completed": int(row.completed),
        "cancelled": cancelled,
        "dismissed": int(row.completed) - cancelled - saved,
        "lost_mrr": int(row.lost),
        "saved": saved,
        "saved_mrr": int(row.gross),
        "saved_mrr_net": round(float(row.net)),
        "save_rate": metrics.save_rate(saved, cancelled),
        # Saves and cancellations in a currency without a rate: not in the amounts.
        "unconverted": int(row.unconverted),
    }


def with_change(site: Site, filters: Filter) -> dict:
    """The summary, the previous period of the same length, and the change between them."""
    current, previous = summary(site, filters), summary(site, filters.previous())
    change = {}
    for key in ("cancelled", "lost_mrr", "saved", "saved_mrr", "save_rate"):
        change[key] = metrics.change(current[key], previous[key])
    return {"current": current, "previous": previous, "change": change}


def trend(site: Site, filters: Filter) -> dict:
    """Lost MRR per month and reason (for the stacked chart), one query."""
    src = rollups.source(site, filters, ReasonRollup, "month", "reason_id", "outcome", "currency")
    rows = db.session.execute(
        sa.select(
            src.c.month, src.c.reason_id,
            metrics.lost_mrr(site, src.c.outcome, src.c.mrr, src.c.currency).label("lost"),
        )
        .where(src.c.outcome == metrics.CANCELLED)
        .group_by(src.c.month, src.c.reason_id)
        .order_by(src.c.month)
    ).all()  # fmt: skip
    reasons = {
        r.id: r for r in db.session.scalars(sa.select(Reason).where(Reason.site_id == site.id))
    }
    months = []
    start, end = filters.period.start.replace(day=1), filters.period.end
    while start <= end:
        months.append(start.strftime("%Y-%m"))
        start = rollups.next_month(start)
    series: dict = {}
    for row in rows:
        reason = reasons.get(row.reason_id)
        key = reason.key if reason else None
        label = translate(reason.labels, site.default_locale) if reason else NO_REASON
        entry = series.setdefault(key, {"reason_id": key, "reason": label, "values": {}})
        entry["values"][row.month] = int(row.lost)
    ordered = sorted(series.values(), key=lambda e: -sum(e["values"].values()))
    for entry in ordered:
        entry["values"] = [entry["values"].get(m, 0) for m in months]
    return {"currency": site.currency, "months": months, "series": ordered}


def offer_performance(site: Site, filters: Filter, *, locale: str | None = None) -> list[dict]:
    """Per offer: sessions it was shown in, accepted, save rate among them, MRR kept. Titles
    in ``locale`` where the offer has one (else English); by default the site's locale."""
    offers = list(
        db.session.scalars(
            sa.select(Offer).where(Offer.site_id == site.id).order_by(Offer.position)
        )
    )
    if not offers:
        return []
    shown_src = rollups.source(site, filters, OfferShownRollup, "offer_key")
    shown: dict[str, int] = dict(
        db.session.execute(
            sa.select(shown_src.c.offer_key, sa.func.sum(shown_src.c.sessions)).group_by(
                shown_src.c.offer_key
            )
        ).all()
    )
    src = rollups.source(site, filters, ReasonRollup, "offer_id", "currency")
    accepted = {
        row.offer_id: row
        for row in db.session.execute(
            sa.select(
                src.c.offer_id,
                sa.func.sum(src.c.sessions).label("accepted"),
                # an accepted offer is a save: what it kept is saved MRR
                metrics.total(converted(site, src.c.mrr, src.c.currency)).label("kept"),
            )
            .where(src.c.offer_id != 0)
            .group_by(src.c.offer_id)
        )
    }
    result = []
    for offer in offers:
        times_shown = int(shown.get(offer.key) or 0)
        row = accepted.get(offer.id)
        taken, kept = (int(row.accepted), int(row.kept)) if row else (0, 0)
        texts = translate(offer.texts, locale or site.default_locale) or {}
        result.append(
            {
                "offer_id": offer.key, "offer": texts.get("title", offer.key), "type": offer.type,
                "shown": times_shown, "accepted": taken,
                "save_rate": metrics.conversion(taken, times_shown),
                "mrr_kept": kept, "archived": offer.archived_at is not None,
            }
        )  # fmt: skip
    return result


def kept_without_offer(site: Site, filters: Filter) -> dict:
    """Saves without an offer (the customer chose "Keep my subscription"): how many and the
    MRR they kept, in the site's currency. One query over the rollups."""
    src = rollups.source(site, filters, ReasonRollup, "offer_id", "outcome", "currency")
    row = db.session.execute(
        sa.select(
            metrics.saves(src.c.outcome, src.c.sessions).label("saved"),
            metrics.saved_mrr(site, src.c.outcome, src.c.mrr, src.c.currency).label("kept"),
        ).where(src.c.offer_id == 0, src.c.outcome == metrics.SAVED)
    ).one()
    return {"saved": int(row.saved), "mrr_kept": int(row.kept)}


def _segments(site: Site, filters: Filter, by: str):
    """The rows a breakdown groups and their segment column. ``by``: plan, tenure, mrr or
    attr:<key> (a custom attribute).

    :raises ValidationError: ``invalid_segment``.
    """
    if by in SEGMENTS:
        columns: tuple[str, ...] = ("plan", "tenure", "mrr_band", "outcome", "currency")
        src = rollups.source(site, filters, SegmentRollup, *columns)
        return src, {
            "plan": sa.func.coalesce(sa.func.nullif(src.c.plan, ""), NO_PLAN),
            "tenure": src.c.tenure, "mrr": src.c.mrr_band,
        }[by]  # fmt: skip
    key = by[5:] if by.startswith("attr:") else ""
    if 0 < len(key) <= 64 and '"' not in key:
        columns = ("value", "outcome", "currency")
        src = rollups.source(site, filters, SegmentRollup, *columns, match={"attribute": key})
        return src, src.c.value
    raise ValidationError(
        N_("by must be plan, tenure, mrr or attr:<attribute>"), code="invalid_segment"
    )


def breakdown(site: Site, filters: Filter, by: str) -> dict:
    """Churn by segment, ranked by lost MRR: one query, and one more for a custom attribute,
    whose "not set" segment is what the totals hold beyond its values."""
    src, segment = _segments(site, filters, by)
    rows: list[tuple[Any, ...]] = [
        (str(r.segment), int(r.cancelled), int(r.saved), int(r.lost))
        for r in db.session.execute(
            sa.select(segment.label("segment"), *_churn(site, src)).group_by(segment)
        )
    ]
    if by.startswith("attr:"):
        everyone = rollups.source(site, filters, ReasonRollup, "outcome", "currency")
        totals: Sequence[Any] = db.session.execute(sa.select(*_churn(site, everyone))).one()
        rest = [int(total) - sum(row[i + 1] for row in rows) for i, total in enumerate(totals)]
        if rest[0] or rest[1]:  # sessions left over (amounts alone may differ by rounding)
            rows.append((NOT_SET, *rest))
    rows.sort(key=lambda row: (-row[3], -row[1], row[0]))
    total = sum(row[3] for row in rows)
    return {
        "by": by,
        "currency": site.currency,
        "items": [
            {
                "segment": segment, "cancelled": cancelled, "saved": saved, "lost_mrr": lost,
                "share": metrics.share(lost, total),
                "save_rate": metrics.save_rate(saved, cancelled),
            }
            for segment, cancelled, saved, lost in rows
        ],
    }  # fmt: skip


def attribute_keys(site: Site, limit: int = 20) -> list[str]:
    """Custom attribute names seen on the site's customers (for the segment menu)."""
    keys: set[str] = set()
    sample = sa.select(Customer.attributes).where(Customer.site_id == site.id).limit(200)
    found: Iterable[dict | None] = db.session.scalars(sample)
    for attributes in found:
        keys.update(k for k in (attributes or {}) if isinstance(k, str))
    return sorted(keys)[:limit]
