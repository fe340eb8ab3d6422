"""What the dashboard and the PDF report show, gathered from the insight queries."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext

from widget_server.extensions import db
from widget_server.i18n import current_locale
from widget_server.models import CancellationSession, Reason, Site
from widget_server.reports import charts
from widget_server.reports.formatting import month_label, short_money
from widget_server.services import experiments, impact, insights, roadmap, rollups
from widget_server.services.period import Filter

OPEN_ITEMS = roadmap.ItemFilter(statuses=("under_consideration", "planned", "in_progress"))


def dashboard_context(site: Site, filters: Filter, by: str = "plan") -> dict:
    """Ranking, summary with change, trend chart, offers and one breakdown; each one query.

    :raises ValidationError: ``invalid_segment`` for an unknown ``by``.
    """
    trend = insights.trend(site, filters)
    summary = insights.with_change(site, filters)
    return {
        "ranking": reader_ranking(site, filters),
        "summary": summary,
        "empty": not any(summary["current"][k] for k in ("cancelled", "saved", "dismissed")),
        "chart": charts.stacked_bars(
            trend, lambda v: short_money(v, site.currency), month_label,
            partial_months(filters.period.start, filters.period.end),
        ),
        "currency": site.currency,
        "offers": insights.offer_performance(site, filters, locale=current_locale()),
        "kept": insights.kept_without_offer(site, filters),
        "breakdown": insights.breakdown(site, filters, by),
        "missing_reasons": set(
            db.session.scalars(
                sa.select(Reason.key).where(Reason.site_id == site.id, Reason.is_missing_feature)
            )
        ),
        "named_items": [
            row for row in roadmap.items_with_stats(site, OPEN_ITEMS, sort="lost_mrr", limit=3)
            if row["lost_mrr"]
        ],
    }  # fmt: skip


def reader_ranking(site: Site, filters: Filter) -> dict:
    """The reason ranking for the reader: each reason's label in the reader's locale where the
    site has one (else English), "No reason given" from the catalog."""
    ranking = insights.reason_ranking(site, filters, locale=current_locale())
    for item in ranking["items"]:
        if item["reason_id"] is None:
            item["reason"] = gettext(insights.NO_REASON)
    return ranking


def partial_months(start, end) -> set[str]:
    """The months (``YYYY-MM``) the period covers only in part: the first if it starts after
    the 1st, the last if it ends before the month's last day."""
    from calendar import monthrange

    partial = set()
    if start.day != 1:
        partial.add(start.strftime("%Y-%m"))
    if end.day != monthrange(end.year, end.month)[1]:
        partial.add(end.strftime("%Y-%m"))
    return partial


def top_comments(site: Site, filters: Filter, reason_keys: list[str], per_reason=4):
    """The latest comments of cancelled sessions for each of ``reason_keys``, newest first
    (two queries; the second walks an index newest-first per reason and stops after
    ``per_reason`` rows). Only the report's plan and segment (``attribute = value``) are
    quoted when it has them."""
    s = CancellationSession
    lower, upper = filters.period.bounds
    segment = []
    if filters.plan:
        segment.append(s.plan == filters.plan)
    if filters.attribute:
        dialect = db.session.get_bind().dialect.name
        segment.append(rollups.attribute_text(filters.attribute, dialect) == filters.value)
    reason_ids = dict(
        db.session.execute(
            sa.select(Reason.id, Reason.key).where(
                Reason.site_id == site.id, Reason.key.in_(reason_keys)
            )
        ).all()
    )
    if not reason_ids:
        return {key: [] for key in reason_keys}
    latest = [
        sa.select(
            sa.select(s.reason_id, s.comment, s.mrr, s.plan, s.completed_at)
            .where(
                s.site_id == site.id, s.outcome == "cancelled", s.completed_at >= lower,
                s.completed_at < upper, s.reason_id == reason_id, s.comment.is_not(None),
                *segment,
            )
            .order_by(s.completed_at.desc())
            .limit(per_reason)
            .subquery()
        )
        for reason_id in reason_ids
    ]  # fmt: skip
    grouped: dict[str, list] = {key: [] for key in reason_keys}
    union = sa.union_all(*latest).subquery()
    for row in db.session.execute(sa.select(union).order_by(union.c.completed_at.desc())):
        grouped[reason_ids[row.reason_id]].append(
            {"comment": row.comment, "mrr": row.mrr, "plan": row.plan}
        )
    return grouped


def report_context(site: Site, filters: Filter) -> dict:
    """The PDF report: the dashboard's numbers, top comments, the roadmap rankings and the
    experiments (all of them, as the data API and the admin show them)."""
    context = dashboard_context(site, filters, "plan")
    top_reasons = [i["reason_id"] for i in context["ranking"]["items"][:3] if i["reason_id"]]
    context["comments"] = top_comments(site, filters, top_reasons)
    context["by_tenure"] = insights.breakdown(site, filters, "tenure")
    open_items = roadmap.ItemFilter(statuses=("under_consideration", "planned", "in_progress"))
    context["roadmap_lost"] = roadmap.items_with_stats(site, open_items, sort="lost_mrr", limit=8)
    context["roadmap_voters"] = roadmap.items_with_stats(
        site, open_items, sort="voters_mrr", limit=8
    )
    context["impact"] = impact.retention(site, filters.period)
    context["comebacks"] = impact.reactivations(site, filters.period)
    context["retention_windows"] = impact.RETENTION_WINDOWS
    context["experiments"] = experiments.results(site)["items"]
    context["filters"] = filters
    return context
