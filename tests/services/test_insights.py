"""Insight numbers against hand-computed fixtures."""

from datetime import date, timedelta

import pytest

from tests.factories import backdate, make_token
from widget_server.delivery.worker import JOB_HANDLERS
from widget_server.errors import ValidationError
from widget_server.models import utcnow
from widget_server.services import flow, flow_config, insights, jobs, rollups
from widget_server.services.tokens import verify_customer_token

TODAY = utcnow().date()


def run(site, sub, reason, outcome, mrr, *, plan="Growth", days_ago=0, tenure=None, region=None):
    signed_up = None
    if tenure is not None:
        signed_up = int((utcnow() - timedelta(days=tenure)).timestamp())
    claims = verify_customer_token(
        site,
        make_token(site, sub, mrr=mrr, plan=plan, signed_up_at=signed_up,
                   attributes={"region": region} if region else None),
    )  # fmt: skip
    session, _ = flow.start_session(site, claims, locale="en")
    offer = flow.answer_session(site, session, reason_key=reason)
    flow.complete_session(
        site, session, outcome=outcome, offer_key=offer.key if outcome == "saved" else None
    )
    rollups.fold_all()  # the worker counts completions in the rollups
    return backdate(site, session, days_ago) if days_ago else session


@pytest.fixture
def book(db, site):
    """This month: 3 cancellations (2900 + 9900 + 29900 = 42700 lost), 2 saves through the
    30% discount (9900 + 4900 = 14800 gross, 10360 net), 1 dismissal. Previous 30 days: one
    cancellation of 10000."""
    run(site, "a", "too_expensive", "cancelled", 2900, plan="Starter", tenure=10, region="EU")
    run(site, "b", "switching", "cancelled", 9900, tenure=200, region="US")
    run(site, "c", "missing_features", "cancelled", 29900, plan="Business", tenure=800, region="EU")
    run(site, "d", "too_expensive", "saved", 9900, tenure=50)
    run(site, "e", "too_expensive", "saved", 4900, plan="Starter")
    run(site, "f", "switching", "dismissed", 50000)
    run(site, "old", "switching", "cancelled", 10000, days_ago=40)
    db.session.commit()


def last30():
    return insights.Filter(insights.Period.last_days(30))


def test_summary_and_change(db, site, book):
    data = insights.with_change(site, last30())
    assert data["current"] == {
        "currency": "USD", "completed": 6, "cancelled": 3, "dismissed": 1, "lost_mrr": 42700,
        "saved": 2, "saved_mrr": 14800, "saved_mrr_net": 10360, "save_rate": 0.4, "unconverted": 0,
    }  # fmt: skip
    assert data["previous"]["lost_mrr"] == 10000
    assert data["change"]["lost_mrr"] == 3.27 and data["change"]["saved"] is None


def test_filters_combine(db, site, book):
    starter = insights.summary(site, insights.Filter(insights.Period.last_days(30), plan="Starter"))
    assert (starter["cancelled"], starter["saved"], starter["lost_mrr"]) == (1, 1, 2900)
    eu = insights.summary(
        site, insights.Filter(insights.Period.last_days(30), attribute="region", value="EU")
    )
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
    period = insights.Period(TODAY.replace(day=1) - timedelta(days=60), TODAY)
    data = insights.trend(site, insights.Filter(period))
    assert data["months"][-1] == TODAY.strftime("%Y-%m") and len(data["months"]) == 3
    totals = {s["reason_id"]: sum(s["values"]) for s in data["series"]}
    assert totals == {"missing_features": 29900, "switching": 19900, "too_expensive": 2900}
    assert data["series"][0]["reason_id"] == "missing_features"


def test_renamed_and_archived_reasons_keep_their_history(db, site, book):
    reason = next(r for r in flow_config.all_reasons(site) if r.key == "switching")
    flow_config.save_reason(site, reason, labels={"en": "Went to a competitor"}, followup={},
                            requires_text=False, is_missing_feature=False)  # fmt: skip
    flow_config.set_archived(reason, True)
    ranking = insights.reason_ranking(site, insights.Filter(insights.Period.last_days(30)))
    row = next(i for i in ranking["items"] if i["reason_id"] == "switching")
    assert (row["reason"], row["archived"], row["lost_mrr"]) == ("Went to a competitor", True, 9900)


def test_previous_period_has_the_same_length():
    f = insights.Filter(insights.Period(date(2026, 3, 1), date(2026, 3, 31)))
    assert f.previous().period == insights.Period(date(2026, 1, 29), date(2026, 2, 28))


def test_several_currencies_are_converted_at_the_admins_rates(db, site):
    from widget_server.services import money, roadmap

    def pay(sub, mrr, currency, reason="switching"):
        claims = verify_customer_token(site, make_token(site, sub, mrr=mrr, currency=currency))
        session, _ = flow.start_session(site, claims, locale="en")
        flow.answer_session(site, session, reason_key=reason)
        flow.complete_session(site, session, outcome="cancelled")
        rollups.fold_all()

    pay("usd", 10000, "USD")
    pay("eur", 10000, "EUR")
    pay("gbp", 10000, "GBP")
    db.session.commit()
    before = insights.summary(site, last30())
    assert (before["lost_mrr"], before["unconverted"]) == (10000, 2)  # never mixed unconverted
    assert money.currencies_without_rate(site) == ["EUR", "GBP"]
    money.set_rate(site, "eur", "1.08")
    money.set_rate(site, "GBP", 1.27)
    after = insights.summary(site, last30())  # amounts convert at once ...
    assert (after["lost_mrr"], after["unconverted"]) == (10000 + 10800 + 12700, 0)
    [row] = insights.reason_ranking(site, insights.Filter(insights.Period.last_days(30)))["items"]
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
