from datetime import timedelta

import sqlalchemy as sa

from tests.factories import complete_session, make_site, make_token, start_flow
from widget_server.models import CancellationSession, Customer, Offer, Reason, utcnow
from widget_server.services import flow, flow_config
from widget_server.services.tokens import verify_customer_token


def claims(site, sub="cust-1", **kw):
    return verify_customer_token(site, make_token(site, sub, **kw))


def offer_shown(site, sub="cust-1", **token):
    """The offer the flow shows ``sub`` for too_expensive (who then closes the flow)."""
    session, offer = start_flow(site, sub, comment="x", **token)
    flow.complete_session(site, session, outcome="dismissed")
    return offer


def test_new_site_gets_default_reasons_and_offers(db, site):
    keys = [r.key for r in flow.active_reasons(site)]
    assert keys == [
        "too_expensive",
        "switching",
        "shutting_down",
        "technical_issues",
        "not_sure_how",
        "missing_features",
        "other",
    ]
    other = db.session.scalar(sa.select(Reason).where(Reason.key == "other"))
    assert other.requires_text
    types = set(db.session.scalars(sa.select(Offer.type).where(Offer.site_id == site.id)))
    assert {"discount", "pause"} <= types


def test_start_snapshots_plan_and_mrr(db, site):
    session, created = flow.start_session(site, claims(site, plan="Pro", mrr=12345), locale="de-AT")
    assert created and session.plan == "Pro" and session.mrr == 12345 and session.locale == "de"
    flow.start_session(site, claims(site, plan="Starter", mrr=100), locale=None)
    db.session.refresh(session)
    assert session.mrr == 12345  # history is not rewritten by a later token
    customer = db.session.scalar(sa.select(Customer).where(Customer.external_id == "cust-1"))
    assert customer.mrr == 100 and customer.plan == "Starter"


def test_start_is_idempotent_for_the_same_session_id(db, site):
    sid = "9b2e8c1a-0c4f-4c1e-9a57-3c3c1b3e2f10"
    first, created = flow.start_session(site, claims(site), locale="en", public_id=sid)
    again, created_again = flow.start_session(site, claims(site), locale="en", public_id=sid)
    assert created and not created_again and first.id == again.id


def test_answer_picks_the_matching_offer_and_records_it(db, site):
    session, offer = start_flow(site, comment="x")
    flow.complete_session(site, session, outcome="dismissed")
    assert offer.type == "discount"
    assert session.offers_shown == [offer.key]


def test_no_second_discount_within_the_window(db, site):
    complete_session(site, outcome="saved", comment="x")
    offer = offer_shown(site)
    assert offer is None or offer.type != "discount"
    # Outside the window the discount is offered again.
    saved = db.session.scalar(
        sa.select(CancellationSession).where(CancellationSession.outcome == "saved")
    )
    saved.completed_at = utcnow() - timedelta(days=site.discount_window_days + 1)
    db.session.flush()
    offer = offer_shown(site)
    assert offer.type == "discount"


def test_offer_targeting_by_plan_and_mrr(db, site):
    discount = db.session.scalar(sa.select(Offer).where(Offer.type == "discount"))
    discount.plans = ["Business"]
    discount.min_mrr = 10000
    db.session.flush()
    offer = offer_shown(site, "a", plan="Business", mrr=20000)
    assert offer is not None
    offer = offer_shown(site, "b", plan="Growth", mrr=20000)
    assert offer is None
    offer = offer_shown(site, "c", plan="Business", mrr=5000)
    assert offer is None


def test_archived_and_renamed_reasons_keep_history(db, site):
    session = complete_session(site, reason="switching", comment="x")
    reason = session.reason
    flow_config.save_reason(
        site,
        reason,
        labels={"en": "Moved to a competitor"},
        followup={},
        requires_text=False,
        is_missing_feature=False,
    )
    flow_config.set_archived(reason, True)
    db.session.refresh(session)
    assert session.reason.key == "switching"
    assert session.reason.labels["en"] == "Moved to a competitor"
    assert "switching" not in [r.key for r in flow.active_reasons(site)]


def test_sites_do_not_see_each_others_offers(db, site):
    other, _ = make_site("Other")
    session, _ = flow.start_session(other, claims(other), locale="en")
    offer = flow.answer_session(other, session, reason_key="too_expensive")
    assert offer.site_id == other.id


def test_reading_a_session_again_gives_its_stored_state(db, site):
    """The object a request already holds (a hosted page that starts and answers) is the one
    an answer or completion reads, with what is stored now, not what it remembered."""
    session, _ = start_flow(site, comment="First thought")
    assert session.reason.key == "too_expensive"
    other = db.session.scalar(sa.select(Reason).where(Reason.key == "switching"))
    db.session.execute(
        sa.update(CancellationSession)
        .where(CancellationSession.id == session.id)
        .values(comment="Written meanwhile", reason_id=other.id)
        .execution_options(synchronize_session=False)
    )
    again = flow.get_session(site, claims(site), session.public_id)
    assert again is session
    assert again.comment == "Written meanwhile"
    assert again.reason.key == "switching"
    assert again.customer.external_id == "cust-1"
    flow.complete_session(site, again, outcome="cancelled")
    assert flow.reason_of(site, again).key == "switching"
