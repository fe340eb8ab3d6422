"""Holdout and A/B tests through the real flow: who sees what, sticky arms, the results."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.factories import ab_test, find_offer, find_reason, start_flow
from widget_server.errors import Conflict, ValidationError
from widget_server.models import CancellationSession, utcnow
from widget_server.services import experiments, flow
from widget_server.services.experiment_stats import DEFAULT_PLANNED_SIZE


def test_holdout_customers_see_the_flow_without_offers_and_keep_their_arm(db, site):
    holdout = experiments.set_holdout(site, "30", by="pm@example.com")
    assert holdout.planned_size == DEFAULT_PLANNED_SIZE
    arms = {}
    for n in range(200):
        session, shown = start_flow(site, f"cust-{n}")
        arms[f"cust-{n}"] = session.holdout_arm
        assert session.holdout_id == holdout.id
        if session.holdout_arm == "holdout":
            assert shown is None and session.offers_shown == []
            flow.complete_session(site, session, outcome="cancelled")  # always can cancel
            assert session.outcome == "cancelled"
        else:
            assert shown is not None and shown.key == "discount_30"
    share = sum(arm == "holdout" for arm in arms.values()) / len(arms)
    assert 0.2 < share < 0.4
    for sub in list(arms)[:40]:  # the same customer, another flow: the same arm
        again, _ = start_flow(site, sub, reason="shutting_down")
        assert again.holdout_arm == arms[sub]


def test_holdout_percent_is_checked_and_changes_start_a_new_holdout(db, site):
    for bad in ("51", "-1", "ten", "²", "", "3.5", "9" * 5000):
        with pytest.raises(ValidationError) as info:
            experiments.set_holdout(site, bad, by="x")
        assert info.value.code == "invalid_percent"
    first = experiments.set_holdout(site, 10, by="x")
    assert experiments.set_holdout(site, "10", by="x") is first  # unchanged
    second = experiments.set_holdout(site, 20, by="x")
    assert first.status == "ended" and first.ended_at and second.status == "running"
    assert experiments.set_holdout(site, 0, by="x") is None
    assert second.status == "ended"
    assert [h["action"] for h in second.history] == ["started", "ended"]
    session, shown = start_flow(site, "after")
    assert session.holdout_id is None and shown is not None


def test_ab_test_shows_each_customer_their_variant_every_time(db, site):
    test = ab_test(site, weights=(1, 3))
    seen = {}
    for n in range(200):
        session, shown = start_flow(site, f"c{n}")
        assert session.ab_test_id == test.id and session.ab_arm == shown.key
        seen[f"c{n}"] = shown.key
    share_pause = sum(k == "pause" for k in seen.values()) / len(seen)
    assert 0.65 < share_pause < 0.85  # weights 1:3
    for sub in list(seen)[:30]:
        assert start_flow(site, sub)[1].key == seen[sub]
    # Another reason is not part of the test.
    other, _ = start_flow(site, "c0", reason="shutting_down")
    assert other.ab_test_id is None


def test_pause_resume_and_end_keeping_a_variant(db, site):
    test = ab_test(site)
    experiments.pause(test, by="pm")
    session, shown = start_flow(site, "c1")
    assert session.ab_test_id is None and shown.key == "discount_30"  # the usual offer
    with pytest.raises(Conflict):
        experiments.pause(test, by="pm")
    experiments.resume(test, by="pm")
    with pytest.raises(ValidationError):
        experiments.end(test, by="pm", keep_offer_id=None)
    experiments.end(test, by="pm", keep_offer_id=find_offer(site, "pause").id)
    assert [h["action"] for h in test.history] == ["started", "paused", "resumed", "ended"]
    for n in range(10):  # every customer now gets the kept variant for the reason
        assert start_flow(site, f"after{n}")[1].key == "pause"
    assert test.status == "ended" and test.winner.key == "pause"
    with pytest.raises(Conflict):
        experiments.end(test, by="pm", keep_offer_id=find_offer(site, "pause").id)


def test_ab_test_needs_two_distinct_active_offers_and_one_test_per_reason(db, site):
    too_expensive = find_reason(site, "too_expensive").id
    discount = find_offer(site, "discount_30").id
    for variants in ([(discount, 1)], [(discount, 1), (discount, 1)], [(discount, 0), (1, 1)]):
        with pytest.raises(ValidationError):
            experiments.create_ab_test(site, too_expensive, variants, by="x")
    ab_test(site)
    with pytest.raises(Conflict):
        ab_test(site)


def test_holdout_wins_over_an_ab_test(db, site):
    experiments.set_holdout(site, 50, by="x")
    ab_test(site)
    for n in range(40):
        session, shown = start_flow(site, f"c{n}")
        if session.holdout_arm == "holdout":
            assert shown is None and session.ab_test_id is None
        else:
            assert session.ab_arm == shown.key


def test_results_count_arms_money_and_wait_for_the_planned_size(db, site):
    experiments.set_holdout(site, 50, by="x", planned_size=30)
    n = 0
    while True:
        n += 1
        session, shown = start_flow(site, f"c{n}", mrr=10000)
        if session.holdout_arm == "holdout":
            # Holdout: some keep their subscription, some cancel, some close the flow undecided.
            outcome = ("cancelled", "saved", "dismissed")[n % 3]
            flow.complete_session(site, session, outcome=outcome)
        else:
            outcome = "saved" if n % 4 else "cancelled"
            key = shown.key if outcome == "saved" else None
            flow.complete_session(site, session, outcome=outcome, offer_key=key)
        figures = experiments.results(site)["items"][0]
        if figures["conclusive"]:
            break
        assert figures["lift"] is None  # no lift before the planned size: no peeking
    offers_arm, holdout_arm = figures["arms"]
    assert offers_arm["key"] == "offers" and holdout_arm["key"] == "holdout"
    assert min(offers_arm["sessions"], holdout_arm["sessions"]) == 30
    s = CancellationSession
    stayed = sa.select(sa.func.count()).where(s.holdout_arm == "offers", s.outcome == "saved")
    assert offers_arm["saved"] == db.session.scalar(stayed)
    assert offers_arm["save_rate"] == offers_arm["saved"] / offers_arm["sessions"]
    kept = sa.select(sa.func.count()).where(s.holdout_arm == "holdout", s.outcome == "saved")
    assert 0 < holdout_arm["saved"] == db.session.scalar(kept)  # closed undecided: no save
    # Discount 30 % for 3 months on 100.00 a month: 90.00 per accepted discount.
    assert offers_arm["discount_cost"] == offers_arm["saved"] * 9000
    assert offers_arm["mrr_kept"] == offers_arm["saved"] * 10000
    assert holdout_arm["discount_cost"] == 0
    lift = figures["lift"]
    assert lift["estimate"] == pytest.approx(offers_arm["save_rate"] - holdout_arm["save_rate"])
    assert lift["ci_low"] < lift["estimate"] < lift["ci_high"]
    assert offers_arm["retained_30"] is None  # no save is 30 days old


def test_retained_after_30_days_counts_saves_without_a_later_cancellation(db, site):
    from widget_server.services import lifecycle

    experiments.set_holdout(site, 50, by="x", planned_size=30)
    saves = []
    n = 0
    while len(saves) < 4:
        n += 1
        session, shown = start_flow(site, f"r{n}")
        if session.holdout_arm == "offers":
            flow.complete_session(site, session, outcome="saved", offer_key=shown.key)
            saves.append(session)
        else:
            flow.complete_session(site, session, outcome="cancelled")
    old = utcnow() - timedelta(days=45)
    for session in saves[:3]:
        session.completed_at = old
    db.session.flush()

    def cancelled(event_id, session, days_after):
        return {
            "id": event_id, "type": "subscription.cancelled", "mrr": 0, "currency": "USD",
            "customer": session.customer.external_id,
            "occurred_at": old + timedelta(days=days_after),
        }  # fmt: skip

    # As billing reports them (POST /api/v1/events): the Impact page's rule applies.
    lifecycle.record_events(
        site, [cancelled("evt_1", saves[0], 10), cancelled("evt_2", saves[1], 40)]
    )
    db.session.flush()
    arm = experiments.results(site)["items"][0]["arms"][0]
    # Three saves are 45 days old; one was cancelled 10 days after (not retained), one 40
    # days after (retained for 30 days).
    assert arm["eligible_30"] == 3 and arm["retained_30"] == 2
