"""Insight numbers against hand-computed fixtures."""

from datetime import date, timedelta

import pytest

from tests.factories import complete_session, last30
from widget_server.delivery.worker import JOB_HANDLERS
from widget_server.errors import ValidationError
from widget_server.models import utcnow
from widget_server.services import flow_config, insights, jobs
from widget_server.services.period import Filter, Period

TODAY = utcnow().date()


def test_summary_and_change(db, site, book):
    data = insights.with_change(site, last30())
    assert data["current"] == {
        "currency": "USD", "completed": 6, "cancelled": 3, "dismissed": 1, "lost_mrr": 42700,
        "saved": 2, "saved_mrr": 14800, "saved_mrr_net": 10360, "save_rate": 0.4, "unconverted": 0,
    }  # fmt: skip
    assert data["previous"]["lost_mrr"] == 10000
    assert data["change"]["lost_mrr"] == 3.27 and data["change"]["saved"] is None


def test_filters_combine(db, site, book):
    starter = insights.summary(site, Filter(Period.last_days(30), plan="Starter"))
    assert (starter["cancelled"], starter["saved"], starter["lost_mrr"]) == (1, 1, 2900)
    eu = insights.summary(site, Filter(Period.last_days(30), attribute="region", value="EU"))
    assert (eu["cancelled"], eu["lost_mrr"]) == (2, 32800)


def test_breakdowns(db, site, book):
    by_plan = insights.breakdown(site, last30(), "plan")["items"]
    assert [(i["segment"], i["lost_mrr"], i["save_rate"]) for i in by_plan] == [
        ("Business", 29900, 0.0), ("Growth", 9900, 0.5), ("Starter", 2900, 0.5),
    ]  # fmt: skip
    tenure = {
        i["segment"]: i["cancelled"] for i in insights.breakdown(site, last30(), "tenure")["items"]
    }
    assert tenure == {
        "over 1 year": 1,
        "3-12 months": 1,
        "under 1 month": 1,
        "unknown": 0,
        "1-3 months": 0,
    }
    mrr = {i["segment"]: i["lost_mrr"] for i in insights.breakdown(site, last30(), "mrr")["items"]}
    assert mrr["200-1,000"] == 29900 and mrr["50-200"] == 9900 and mrr["under 50"] == 2900
    region = insights.breakdown(site, last30(), "attr:region")["items"]
    assert [(i["segment"], i["lost_mrr"]) for i in region][:2] == [("EU", 32800), ("US", 9900)]
    with pytest.raises(ValidationError):
        insights.breakdown(site, last30(), "zodiac")


def test_offer_performance(db, site, book):
    [discount, *_] = insights.offer_performance(site, last30())
    assert (discount["offer_id"], discount["shown"], discount["accepted"]) == ("discount_30", 3, 2)
    assert discount["save_rate"] == round(2 / 3, 4) and discount["mrr_kept"] == 14800


def test_trend_by_month_and_reason(db, site, book):
    period = Period(TODAY.replace(day=1) - timedelta(days=60), TODAY)
    data = insights.trend(site, Filter(period))
    assert data["months"][-1] == TODAY.strftime("%Y-%m") and len(data["months"]) == 3
    totals = {s["reason_id"]: sum(s["values"]) for s in data["series"]}
    assert totals == {"missing_features": 29900, "switching": 19900, "too_expensive": 2900}
    assert data["series"][0]["reason_id"] == "missing_features"


def test_renamed_and_archived_reasons_keep_their_history(db, site, book):
    reason = next(r for r in flow_config.all_reasons(site) if r.key == "switching")
    flow_config.save_reason(site, reason, labels={"en": "Went to a competitor"}, followup={},
                            requires_text=False, is_missing_feature=False)  # fmt: skip
    flow_config.set_archived(reason, True)
    ranking = insights.reason_ranking(site, Filter(Period.last_days(30)))
    row = next(i for i in ranking["items"] if i["reason_id"] == "switching")
    assert (row["reason"], row["archived"], row["lost_mrr"]) == ("Went to a competitor", True, 9900)


def test_previous_period_has_the_same_length():
    f = Filter(Period(date(2026, 3, 1), date(2026, 3, 31)))
    assert f.previous().period == Period(date(2026, 1, 29), date(2026, 2, 28))


def test_several_currencies_are_converted_at_the_admins_rates(db, site):
    from widget_server.services import money, roadmap

    for currency in ("USD", "EUR", "GBP"):
        complete_session(
            site, currency.lower(), "switching", mrr=10000, currency=currency, folded=True
        )
    db.session.commit()
    before = insights.summary(site, last30())
    assert (before["lost_mrr"], before["unconverted"]) == (10000, 2)  # never mixed unconverted
    assert money.currencies_without_rate(site) == ["EUR", "GBP"]
    money.set_rate(site, "eur", "1.08")
    money.set_rate(site, "GBP", 1.27)
    after = insights.summary(site, last30())  # amounts convert at once ...
    assert (after["lost_mrr"], after["unconverted"]) == (10000 + 10800 + 12700, 0)
    [row] = insights.reason_ranking(site, Filter(Period.last_days(30)))["items"]
    assert (row["lost_mrr"], row["average_mrr"]) == (33500, 11167)
    db.session.commit()
    jobs.run_due(JOB_HANDLERS)  # ... MRR bands once the worker recalculated them
    bands = {
        i["segment"]: i["cancelled"] for i in insights.breakdown(site, last30(), "mrr")["items"]
    }
    assert bands == {"50-200": 3}
    item = roadmap.create_item(site, title="x")
    assert roadmap.item_stats(site, item)["voters_mrr"] == 0
    with pytest.raises(ValidationError):
        money.set_rate(site, "USD", 1)
    with pytest.raises(ValidationError):
        money.set_rate(site, "EUR", "-2")
