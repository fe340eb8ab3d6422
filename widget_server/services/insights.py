"""Rankings computed in SQL: cancellation reasons by lost revenue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.models import CancellationSession, Customer, Offer, Reason, Site
from widget_server.services.locales import translate
from widget_server.services.money import converted


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


@dataclass(frozen=True)
class Filter:
    """What the numbers are about: a date range (by completion), optionally a plan and one
    custom attribute value."""

    period: Period
    plan: str | None = None
    attribute: str | None = None
    value: str | None = None

    def previous(self) -> Filter:
        days = (self.period.end - self.period.start).days + 1
        end = self.period.start - timedelta(days=1)
        return Filter(Period(end - timedelta(days=days - 1), end), self.plan, self.attribute,
                      self.value)  # fmt: skip


def _where(site: Site, filters: Filter) -> list:
    s = CancellationSession
    lower, upper = filters.period.bounds
    conditions = [s.site_id == site.id, s.completed_at >= lower, s.completed_at < upper]
    if filters.plan:
        conditions.append(s.plan == filters.plan)
    if filters.attribute:
        conditions.append(s.attributes[filters.attribute].as_string() == (filters.value or ""))
    return conditions


def reason_ranking(site: Site, filters: Filter, *, locale=None) -> dict:
    """Cancelled sessions grouped by reason, ranked by lost MRR (one query).

    Amounts are the MRR snapshots at cancellation, in minor units.
    """
    s = CancellationSession
    mrr = converted(site, s.mrr, s.currency)
    agg = (
        sa.select(
            s.reason_id,
            sa.func.count().label("cancelled"),
            sa.func.count(mrr).label("priced"),  # with an amount in the site's currency
            sa.func.sum(mrr).label("lost_mrr"),
        )
        .where(*_where(site, filters), s.outcome == "cancelled")
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
                "average_mrr": round(lost_mrr / row.priced) if row.priced else 0,
            }
        )
    return {"currency": site.currency, "total_lost_mrr": total, "items": items}


# --- the dashboard -------------------------------------------------------------------------

SEGMENTS = ("plan", "tenure", "mrr")
TENURE_BANDS = ((30, "under 1 month"), (90, "1-3 months"), (365, "3-12 months"))
MRR_BANDS = ((5000, "under 50"), (20000, "50-200"), (100000, "200-1,000"))  # minor units


def _rate(saved: int, cancelled: int) -> float:
    decided = saved + cancelled
    return round(saved / decided, 4) if decided else 0.0


def summary(site: Site, filters: Filter) -> dict:
    """Totals for the period in one query. A dismissed flow is neither a save nor a
    cancellation; the save rate is saves / (saves + cancellations). Net saved MRR subtracts
    the discount given (a 30% discount keeps 70% of the MRR while it runs)."""
    s = CancellationSession
    is_cancelled = s.outcome == "cancelled"
    is_saved = s.outcome == "saved"
    mrr = converted(site, s.mrr, s.currency)
    kept = mrr * (100 - sa.func.coalesce(Offer.discount_percent, 0)) / 100
    row = db.session.execute(
        sa.select(
            sa.func.count().label("completed"),
            sa.func.coalesce(sa.func.sum(sa.case((is_cancelled, 1), else_=0)), 0).label(
                "cancelled"
            ),
            sa.func.coalesce(sa.func.sum(sa.case((is_cancelled, mrr), else_=0)), 0).label("lost"),
            sa.func.coalesce(sa.func.sum(sa.case((is_saved, 1), else_=0)), 0).label("saved"),
            sa.func.coalesce(sa.func.sum(sa.case((is_saved, mrr), else_=0)), 0).label("gross"),
            sa.func.coalesce(sa.func.sum(sa.case((is_saved, kept), else_=0)), 0).label("net"),
            sa.func.coalesce(
                sa.func.sum(sa.case((s.outcome != "dismissed", sa.case((mrr.is_(None), 1))))), 0
            ).label("unconverted"),
        )
        .select_from(s)
        .outerjoin(Offer, Offer.id == s.offer_id)
        .where(*_where(site, filters))
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
        "save_rate": _rate(saved, cancelled),
        # Saves and cancellations in a currency without a rate: not in the amounts.
        "unconverted": int(row.unconverted),
    }


def with_change(site: Site, filters: Filter) -> dict:
    """The summary, the previous period of the same length, and the change between them."""
    current, previous = summary(site, filters), summary(site, filters.previous())
    change = {}
    for key in ("cancelled", "lost_mrr", "saved", "saved_mrr", "save_rate"):
        before = previous[key]
        change[key] = round((current[key] - before) / before, 4) if before else None
    return {"current": current, "previous": previous, "change": change}


def _month(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(column, "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def trend(site: Site, filters: Filter) -> dict:
    """Lost MRR per month and reason (for the stacked chart), one query."""
    s = CancellationSession
    month = _month(s.completed_at).label("month")
    rows = db.session.execute(
        sa.select(month, s.reason_id, sa.func.sum(converted(site, s.mrr, s.currency)).label("lost"))
        .where(*_where(site, filters), s.outcome == "cancelled")
        .group_by(month, s.reason_id)
        .order_by(month)
    ).all()
    reasons = {
        r.id: r for r in db.session.scalars(sa.select(Reason).where(Reason.site_id == site.id))
    }
    months = []
    start, end = filters.period.start.replace(day=1), filters.period.end
    while start <= end:
        months.append(start.strftime("%Y-%m"))
        start = (start + timedelta(days=32)).replace(day=1)
    series: dict = {}
    for row in rows:
        reason = reasons.get(row.reason_id)
        key = reason.key if reason else None
        label = translate(reason.labels, site.default_locale) if reason else "No reason given"
        entry = series.setdefault(key, {"reason_id": key, "reason": label, "values": {}})
        entry["values"][row.month] = int(row.lost or 0)
    ordered = sorted(series.values(), key=lambda e: -sum(e["values"].values()))
    for entry in ordered:
        entry["values"] = [entry["values"].get(m, 0) for m in months]
    return {"currency": site.currency, "months": months, "series": ordered}


def offer_performance(site: Site, filters: Filter) -> list[dict]:
    """Per offer: sessions it was shown in, accepted, save rate among them, MRR kept."""
    s = CancellationSession
    offers = list(
        db.session.scalars(
            sa.select(Offer).where(Offer.site_id == site.id).order_by(Offer.position)
        )
    )
    if not offers:
        return []
    shown_text = sa.cast(s.offers_shown, sa.Text)
    mrr = converted(site, s.mrr, s.currency)
    columns = []
    for offer in offers:
        shown = shown_text.like(f'%"{offer.key}"%')
        columns += [
            sa.func.coalesce(sa.func.sum(sa.case((shown, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((s.offer_id == offer.id, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((s.offer_id == offer.id, mrr), else_=0)), 0),
        ]
    row = db.session.execute(sa.select(*columns).where(*_where(site, filters))).one()
    result = []
    for i, offer in enumerate(offers):
        shown, accepted, kept = (int(v) for v in row[i * 3 : i * 3 + 3])
        texts = translate(offer.texts, site.default_locale) or {}
        result.append(
            {
                "offer_id": offer.key, "offer": texts.get("title", offer.key), "type": offer.type,
                "shown": shown, "accepted": accepted,
                "save_rate": round(accepted / shown, 4) if shown else 0.0, "mrr_kept": kept,
                "archived": offer.archived_at is not None,
            }
        )  # fmt: skip
    return result


def _band(column, bands, last: str):
    return sa.case(
        (column.is_(None), "unknown"),
        *((column < limit, label) for limit, label in bands),
        else_=last,
    )


def segment_expression(site: Site, by: str):
    """The SQL expression a breakdown groups by. ``by``: plan, tenure, mrr or attr:<key>.

    :raises ValidationError: ``invalid_segment``.
    """
    from widget_server.errors import ValidationError

    s = CancellationSession
    if by == "plan":
        return sa.func.coalesce(s.plan, "no plan")
    if by == "tenure":
        return _band(s.tenure_days, TENURE_BANDS, "over 1 year")
    if by == "mrr":
        return _band(converted(site, s.mrr, s.currency), MRR_BANDS, "1,000 and more")
    if by.startswith("attr:") and 0 < len(by) - 5 <= 64:
        return sa.func.coalesce(s.attributes[by[5:]].as_string(), "not set")
    raise ValidationError(
        "by must be plan, tenure, mrr or attr:<attribute>", code="invalid_segment"
    )


def breakdown(site: Site, filters: Filter, by: str) -> dict:
    """Churn by segment (one query), ranked by lost MRR."""
    s = CancellationSession
    segment = segment_expression(site, by).label("segment")
    mrr = converted(site, s.mrr, s.currency)
    lost = sa.func.coalesce(sa.func.sum(sa.case((s.outcome == "cancelled", mrr), else_=0)), 0)
    rows = db.session.execute(
        sa.select(
            segment,
            sa.func.coalesce(sa.func.sum(sa.case((s.outcome == "cancelled", 1), else_=0)), 0).label(
                "cancelled"
            ),
            sa.func.coalesce(sa.func.sum(sa.case((s.outcome == "saved", 1), else_=0)), 0).label(
                "saved"
            ),
            lost.label("lost"),
        )
        .where(*_where(site, filters))
        .group_by(segment)
        .order_by(lost.desc())
    ).all()
    total = sum(int(r.lost) for r in rows)
    return {
        "by": by,
        "currency": site.currency,
        "items": [
            {
                "segment": str(r.segment), "cancelled": int(r.cancelled), "saved": int(r.saved),
                "lost_mrr": int(r.lost), "share": round(int(r.lost) / total, 4) if total else 0.0,
                "save_rate": _rate(int(r.saved), int(r.cancelled)),
            }
            for r in rows
        ],
    }  # fmt: skip


def attribute_keys(site: Site, limit: int = 20) -> list[str]:
    """Custom attribute names seen on the site's customers (for the segment menu)."""
    keys: set[str] = set()
    sample = sa.select(Customer.attributes).where(Customer.site_id == site.id).limit(200)
    for attributes in db.session.scalars(sample):
        keys.update(k for k in (attributes or {}) if isinstance(k, str))
    return sorted(keys)[:limit]
