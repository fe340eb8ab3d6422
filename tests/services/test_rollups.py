"""The rollups the dashboard reads agree with the sessions they summarise."""

from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.factories import backdate, complete_session, rollup_rows, start_flow
from widget_server.delivery.worker import JOB_HANDLERS
from widget_server.models import (
    CancellationSession,
    OfferShownRollup,
    ReasonRollup,
    SegmentRollup,
    utcnow,
)
from widget_server.services import insights, jobs, money, rollups, seed, sites
from widget_server.services.period import Filter, Period

TODAY = utcnow().date()


def counted(db, site, table, **where):
    """How many sessions the rollup rows matching ``where`` count."""
    t = table.__table__
    conditions = [t.c[name] == value for name, value in where.items()]
    return db.session.scalar(
        sa.select(sa.func.sum(t.c.sessions)).where(t.c.site_id == site.id, *conditions)
    )


def test_each_completion_adds_exactly_what_a_rebuild_computes(db, site):
    complete_session(site, "a", "too_expensive", "saved", plan="Starter", tenure=10, folded=True)
    complete_session(site, "b", "too_expensive", "cancelled", mrr=2900, plan=None, folded=True)
    complete_session(
        site, "c", "switching", "cancelled", mrr=120000, currency="EUR", tenure=400, folded=True
    )
    complete_session(site, "d", None, "dismissed", folded=True)
    complete_session(
        site, "e", "missing_features", "cancelled", mrr=29900, plan="Business", folded=True
    )
    complete_session(
        site, "f", "too_expensive", "cancelled", plan="Starter", tenure=10,
        attributes={"region": "EU", "trial": True, "seats": 4}, folded=True,
    )  # fmt: skip
    db.session.commit()
    incremental = rollup_rows(site)
    assert counted(db, site, OfferShownRollup, grain="day", attribute="") == 3
    assert counted(db, site, ReasonRollup, grain="month", attribute="") == 6
    assert counted(db, site, ReasonRollup, grain="day", attribute="region", value="EU") == 1
    assert counted(db, site, SegmentRollup, grain="day", attribute="trial", value="true") == 1
    assert counted(db, site, SegmentRollup, grain="day", attribute="seats", value="4") == 1
    rollups.rebuild(site)
    assert rollup_rows(site) == incremental


def test_ranges_cover_each_day_of_the_period_once():
    periods = [
        (date(2026, 1, 1), date(2026, 1, 31)),  # one whole month
        (date(2026, 1, 15), date(2026, 1, 20)),  # days only
        (date(2026, 1, 15), date(2026, 3, 10)),  # days, February, days
        (date(2025, 11, 24), date(2026, 11, 23)),  # the 12-month preset
        (date(2024, 2, 1), date(2024, 2, 29)),  # a leap February
        (date(2026, 3, 31), date(2026, 4, 1)),
        (date(2026, 1, 15), date(2026, 3, 1)),  # days, February, one day
    ]
    for start, end in periods:
        covered = Counter()
        for grain, first, last in rollups.ranges(start, end):
            day = first
            while day <= last:
                if grain == "month":
                    assert day.day == 1
                    month_end = (day + timedelta(days=32)).replace(day=1)
                    covered.update(day + timedelta(days=i) for i in range((month_end - day).days))
                    day = month_end
                else:
                    covered[day] += 1
                    day += timedelta(days=1)
        expected = {start + timedelta(days=i) for i in range((end - start).days + 1)}
        assert set(covered) == expected and set(covered.values()) == {1}, (start, end)


@pytest.fixture
def history(db, site):
    """A year of seeded sessions plus a few in other currencies with a rate for one."""
    seed.seed_sessions(site, 1500)
    for i, currency in enumerate(("EUR", "EUR", "GBP")):
        session = complete_session(
            site, f"fx{i}", "switching", "cancelled", mrr=10000, currency=currency, folded=True
        )
        backdate(site, session, 40 * i)
    money.set_rate(site, "EUR", "1.085")
    db.session.commit()
    return list(db.session.scalars(sa.select(CancellationSession)))


def expected_figures(site, sessions, period, region=None):
    """The dashboard's figures computed in Python from the sessions themselves."""
    lower, upper = period.bounds
    picked = [s for s in sessions if s.outcome and lower <= s.completed_at < upper]
    if region:
        picked = [s for s in picked if (s.attributes or {}).get("region") == region]
    rate = {"USD": 1, "EUR": 1.085}

    def amount(s):
        return round(s.mrr * rate[s.currency]) if s.currency in rate else None

    cancelled = [s for s in picked if s.outcome == "cancelled"]
    by_reason, by_plan, by_month = defaultdict(int), defaultdict(int), defaultdict(int)
    for s in cancelled:
        by_reason[s.reason.key if s.reason else None] += amount(s) or 0
        by_plan[s.plan] += amount(s) or 0
        by_month[s.completed_at.strftime("%Y-%m")] += amount(s) or 0
    shown = Counter(key for s in picked for key in s.offers_shown)
    return {
        "completed": len(picked),
        "cancelled": len(cancelled),
        "saved": sum(s.outcome == "saved" for s in picked),
        "lost_mrr": sum(amount(s) or 0 for s in cancelled),
        "unconverted": sum(amount(s) is None for s in picked if s.outcome != "dismissed"),
        "by_reason": {k: v for k, v in by_reason.items() if v},
        "by_plan": {k: v for k, v in by_plan.items() if v},
        "by_month": {k: v for k, v in by_month.items() if v},
        "shown": {k: v for k, v in shown.items() if v},
    }


@pytest.mark.parametrize(
    "period",
    [
        Period.last_days(365, TODAY),
        Period.last_days(30, TODAY),
        Period.last_days(1, TODAY),
        Period(TODAY.replace(day=1) - timedelta(days=70), TODAY.replace(day=1)),
        Period(date(TODAY.year - 1, 12, 1), date(TODAY.year - 1, 12, 31)),
    ],
    ids=["12 months", "30 days", "today", "month edges", "a calendar month"],
)
@pytest.mark.parametrize("region", [None, "EU"], ids=["everyone", "region EU"])
def test_dashboard_figures_match_the_sessions(db, site, history, period, region):
    want = expected_figures(site, history, period, region)
    filters = Filter(period, attribute="region" if region else None, value=region)
    summary = insights.summary(site, filters)
    got = {key: summary[key] for key in ("completed", "cancelled", "saved", "lost_mrr")}
    assert got == {key: want[key] for key in got}
    assert summary["unconverted"] == want["unconverted"]
    ranking = insights.reason_ranking(site, filters)["items"]
    assert {i["reason_id"]: i["lost_mrr"] for i in ranking if i["lost_mrr"]} == want["by_reason"]
    plans = insights.breakdown(site, filters, "plan")["items"]
    assert {i["segment"]: i["lost_mrr"] for i in plans if i["lost_mrr"]} == want["by_plan"]
    trend = insights.trend(site, filters)
    totals = {
        m: sum(s["values"][i] for s in trend["series"]) for i, m in enumerate(trend["months"])
    }
    assert {m: v for m, v in totals.items() if v} == want["by_month"]
    offers = insights.offer_performance(site, filters)
    assert {o["offer_id"]: o["shown"] for o in offers if o["shown"]} == want["shown"]


def test_a_custom_attribute_filter_reads_the_sessions_and_agrees(db, site, history):
    period = Period.last_days(365, TODAY)
    everyone = insights.summary(site, Filter(period))
    parts = [
        insights.summary(site, Filter(period, attribute="region", value=region))
        for region in ("EU", "US", "APAC")
    ]
    fx = 3  # the sessions in other currencies carry no region
    assert sum(p["cancelled"] for p in parts) == everyone["cancelled"] - fx


def test_exchange_rates_and_the_site_currency_rebuild_the_mrr_bands(db, site):
    complete_session(site, "eur", "switching", "cancelled", mrr=10000, currency="EUR", folded=True)
    db.session.commit()

    def bands():
        items = insights.breakdown(site, Filter(Period.last_days(7)), "mrr")
        return {i["segment"]: i["cancelled"] for i in items["items"]}

    def worker():
        db.session.commit()
        jobs.run_due(JOB_HANDLERS)

    assert bands() == {"unknown": 1}
    money.set_rate(site, "EUR", "30")  # 100 EUR = 3,000 USD
    worker()
    assert bands() == {"1,000 and more": 1}
    money.remove_rate(site, "EUR")
    worker()
    assert bands() == {"unknown": 1}
    sites.update_site(site, name=site.name, default_locale="en", currency="EUR",
                      brand_color="#000000", discount_window_days=30)  # fmt: skip
    worker()
    assert bands() == {"50-200": 1}


def test_offers_shown_count_only_completed_sessions(db, site):
    start_flow(site, "open", "too_expensive")  # shown, not completed
    [discount] = complete_session(
        site, "done", "too_expensive", "cancelled", folded=True
    ).offers_shown
    db.session.commit()
    offers = insights.offer_performance(site, Filter(Period.last_days(1)))
    assert next(o for o in offers if o["offer_id"] == discount)["shown"] == 1


def test_custom_attribute_breakdowns_count_each_value_and_the_rest(db, site):
    for sub, attributes, mrr in [
        ("a", {"region": "EU", "trial": True, "seats": 3}, 1000),
        ("b", {"region": "EU", "trial": False}, 2000),
        ("c", {"region": "US"}, 4000),
        ("d", None, 8000),
    ]:
        complete_session(
            site, sub, "switching", "cancelled", mrr=mrr, attributes=attributes, folded=True
        )
    complete_session(
        site, "e", "too_expensive", "dismissed", attributes={"region": "EU"}, folded=True
    )
    db.session.commit()
    today = Period.last_days(1)

    def by(key, **only):
        items = insights.breakdown(site, Filter(today, **only), f"attr:{key}")["items"]
        return {i["segment"]: (i["cancelled"], i["lost_mrr"]) for i in items}

    assert by("region") == {"EU": (2, 3000), "US": (1, 4000), "not set": (1, 8000)}
    assert by("trial") == {"true": (1, 1000), "false": (1, 2000), "not set": (2, 12000)}
    assert by("seats") == {"3": (1, 1000), "not set": (3, 14000)}
    # A filter on an attribute reads the sessions themselves, with the same labels.
    assert by("trial", attribute="region", value="EU") == {"true": (1, 1000), "false": (1, 2000)}
    trial = insights.summary(site, Filter(today, attribute="trial", value="true"))
    assert (trial["cancelled"], trial["lost_mrr"]) == (1, 1000)


def test_rounding_leaves_no_phantom_not_set_segment(db, site):
    # 1000 EUR at 1.0004 is 1000.4 USD: the reason row (all three) converts to 3001, the
    # three tenure rows to 1000 each. No session lacks the attribute: no "not set" row.
    for i, tenure in enumerate((10, 100, 400)):
        complete_session(site, f"r{i}", "switching", "cancelled", mrr=1000, currency="EUR",
                         tenure=tenure, attributes={"region": "EU"}, folded=True)  # fmt: skip
    money.set_rate(site, "EUR", "1.0004")
    items = insights.breakdown(site, Filter(Period.last_days(1)), "attr:region")
    assert [(i["segment"], i["cancelled"]) for i in items["items"]] == [("EU", 3)]
