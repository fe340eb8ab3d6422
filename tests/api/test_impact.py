"""Retention and reactivations: hand-computed figures from sessions, lifecycle events and
win-back emails, through the data API."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.factories import (
    CANCELLED,
    REACTIVATED,
    auth,
    complete_session,
    make_site,
    post_events,
    start_flow,
    winback_email,
)
from widget_server.models import CancellationSession, OutboxMessage, utcnow
from widget_server.services import flow, roadmap


def ago(days: int) -> str:
    return (utcnow() - timedelta(days=days)).date().isoformat()


@pytest.fixture
def history(db, client, site, api_key):
    # Saves (days ago, MRR) and when billing later said they cancelled:
    complete_session(site, "A", outcome="saved", mrr=1000, days_ago=100)  # never cancels
    complete_session(site, "B", outcome="saved", mrr=2000, days_ago=100)  # cancels 45 days after
    complete_session(site, "C", outcome="saved", mrr=4000, days_ago=70)  # cancels 10 days after
    complete_session(
        site, "D", outcome="saved", mrr=8000, days_ago=40
    )  # cancelled before, not after
    complete_session(site, "E", outcome="saved", mrr=16000, days_ago=5)  # too recent for any window
    complete_session(site, "old", outcome="saved", mrr=32000, days_ago=130)  # before the period
    # Cancellations in the flow:
    complete_session(site, "F", mrr=500, days_ago=80)  # billing confirms 20 days later
    complete_session(site, "G", mrr=700, days_ago=80)  # never confirmed: still paying
    complete_session(site, "H", mrr=900, days_ago=10)  # not confirmed yet, too early to say
    complete_session(site, "I", mrr=300, days_ago=60)  # billing cancels 50 days later: too late
    db.session.commit()
    post_events(
        client, api_key,
        ("B", CANCELLED, 55, None), ("C", CANCELLED, 60, None), ("D", CANCELLED, 50, None),
        ("F", CANCELLED, 60, None), ("I", CANCELLED, 10, None),
        ("A", "subscription.renewed", 70, 1000),
    )  # fmt: skip
    # Another site's events about a customer of the same id change nothing here.
    _, other_key = make_site("Other")
    post_events(client, other_key, ("A", CANCELLED, 90, None))


def test_retention_of_saves_and_confirmed_cancellations(client, api_key, history):
    response = client.get(
        f"/api/v1/insights/retention?from={ago(120)}&to={ago(0)}", headers=auth(api_key)
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "currency": "USD",
        "saved": 5,
        "saved_mrr": 1000 + 2000 + 4000 + 8000 + 16000,
        "cancellations": 4,
        "confirmed_cancellations": 1,  # F
        "still_paying": 2,  # G, I
        "still_paying_mrr": 700 + 300,
        "windows": {
            # A, B, C, D are 30+ days old; C cancelled within 10 days
            "30": {"eligible": 4, "retained": 3, "retained_mrr": 1000 + 2000 + 8000},
            # A, B, C are 60+ days old; B cancelled on day 45
            "60": {"eligible": 3, "retained": 1, "retained_mrr": 1000},
            "90": {"eligible": 2, "retained": 1, "retained_mrr": 1000},
        },
    }


def test_retention_counts_only_the_period(client, api_key, history):
    data = client.get(
        f"/api/v1/insights/retention?from={ago(75)}&to={ago(30)}", headers=auth(api_key)
    ).get_json()
    # C (70) and D (40) saved; F, G (80) out; I (60) in
    assert (data["saved"], data["saved_mrr"], data["cancellations"]) == (2, 12000, 1)
    assert data["windows"]["30"] == {"eligible": 2, "retained": 1, "retained_mrr": 8000}
    assert data["windows"]["90"] == {"eligible": 0, "retained": 0, "retained_mrr": 0}


@pytest.fixture
def comebacks(db, client, site, api_key):
    sso = roadmap.create_item(site, title="Single sign-on", status="in_progress")
    dark = roadmap.create_item(site, title="Dark mode", status="in_progress")
    customers = {}
    for sub, mrr in (("R1", 5000), ("R2", 3000), ("R3", 7000), ("R4", 1000), ("R5", 2000)):
        customers[sub] = complete_session(
            site, sub, "missing_features", mrr=mrr, days_ago=200, roadmap_item=sso,
            email=f"{sub}@example.com",
        ).customer_id  # fmt: skip
    db.session.commit()
    # R1 got SSO's email 25 days ago and came back 5 days ago (with a new MRR).
    winback_email(site, customers["R1"], sso, 25)
    # R2 got it 105 days ago: too long before coming back 5 days ago.
    winback_email(site, customers["R2"], sso, 105)
    # R3 got both items' emails and came back 2 days ago (no MRR given: their current one).
    winback_email(site, customers["R3"], sso, 30)
    winback_email(site, customers["R3"], dark, 10)
    # R4's email is still queued.
    winback_email(site, customers["R4"], dark, 0, state="pending")
    # R5 came back 300 days ago, after SSO's email: before the period.
    winback_email(site, customers["R5"], sso, 310)
    db.session.commit()
    post_events(
        client, api_key,
        ("R1", REACTIVATED, 5, 5000), ("R2", REACTIVATED, 5, 3000), ("R3", REACTIVATED, 2, None),
        ("R4", REACTIVATED, 1, 1000), ("R5", REACTIVATED, 300, 2000),
    )  # fmt: skip
    return sso, dark


def test_reactivations_by_the_item_whose_winback_came_before(client, api_key, comebacks):
    sso, dark = comebacks
    response = client.get(
        f"/api/v1/insights/reactivations?from={ago(60)}&to={ago(0)}", headers=auth(api_key)
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "currency": "USD",
        "total": 4,
        "total_mrr": 5000 + 3000 + 7000 + 1000,
        "items": [
            {
                "roadmap_item_id": sso.id,
                "title": "Single sign-on",
                "reactivated": 2,
                "reactivated_mrr": 12000,
            },
            {
                "roadmap_item_id": dark.id,
                "title": "Dark mode",
                "reactivated": 1,
                "reactivated_mrr": 7000,
            },
        ],
        "unattributed": {"reactivated": 2, "reactivated_mrr": 4000},
    }


def test_reactivations_period_and_shipping_path(client, db, api_key, site, comebacks):
    sso, _ = comebacks
    older = client.get(
        f"/api/v1/insights/reactivations?from={ago(400)}&to={ago(200)}", headers=auth(api_key)
    ).get_json()
    assert older["total"] == 1
    assert older["items"] == [
        {"roadmap_item_id": sso.id, "title": "Single sign-on", "reactivated": 1,
         "reactivated_mrr": 2000},
    ]  # fmt: skip


def test_shipping_an_item_queues_the_winback_the_reactivation_is_attributed_to(
    client, db, site, api_key
):
    item = roadmap.create_item(site, title="Exports", status="in_progress")
    complete_session(
        site,
        "W",
        "missing_features",
        mrr=4200,
        days_ago=20,
        roadmap_item=item,
        email="w@example.com",
    )
    roadmap.change_status(site, item, "shipped")
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.topic == "roadmap.winback")
        .values(state="sent", sent_at=utcnow() - timedelta(days=3))
    )
    db.session.commit()
    post_events(client, api_key, ("W", REACTIVATED, 1, 4200))
    data = client.get("/api/v1/insights/reactivations", headers=auth(api_key)).get_json()
    assert [(i["title"], i["reactivated"], i["reactivated_mrr"]) for i in data["items"]] == [
        ("Exports", 1, 4200)
    ]
    assert data["unattributed"] == {"reactivated": 0, "reactivated_mrr": 0}


def test_insights_refuse_a_reversed_period(client, api_key):
    response = client.get(
        f"/api/v1/insights/retention?from={ago(1)}&to={ago(5)}", headers=auth(api_key)
    )
    assert response.status_code == 422


def webhooks(db, site, event):
    query = sa.select(OutboxMessage).where(
        OutboxMessage.site_id == site.id, OutboxMessage.topic == event
    )
    return [message.payload["data"] for message in db.session.scalars(query)]


def test_a_reactivation_after_a_winback_sends_customer_reactivated(client, db, site, api_key):
    site.webhook_url, site.webhook_secret = "https://hooks.example.com/keepkit", "whsec_x"
    item = roadmap.create_item(site, title="Exports", status="in_progress")
    customer_id = complete_session(
        site, "W", "missing_features", mrr=4200, days_ago=40, roadmap_item=item
    ).customer_id
    winback_email(site, customer_id, item, 12)
    db.session.commit()
    post_events(client, api_key, ("W", REACTIVATED, 2, 5200), ("V", REACTIVATED, 1, 900))
    sent = sorted(webhooks(db, site, "customer.reactivated"), key=lambda d: d["customer"]["id"])
    assert [(d["customer"]["id"], d["mrr"], d["currency"]) for d in sent] == [
        ("V", 900, "USD"),
        ("W", 5200, "USD"),
    ]
    assert sent[0]["winback"] is None
    assert sent[1]["winback"]["roadmap_item"] == {"id": item.id, "title": "Exports"}
    assert sent[1]["winback"]["days_before"] == 10
    # the same events again: stored once, announced once
    post_events(client, api_key, ("W", REACTIVATED, 2, 5200))
    assert len(webhooks(db, site, "customer.reactivated")) == 2


def test_a_cancellation_within_90_days_of_a_save_sends_save_lapsed(client, db, site, api_key):
    site.webhook_url, site.webhook_secret = "https://hooks.example.com/keepkit", "whsec_x"
    saved = complete_session(site, "S", outcome="saved", mrr=2900, days_ago=20)
    complete_session(site, "T", outcome="saved", mrr=4900, days_ago=120)  # saved too long ago
    db.session.commit()
    post_events(
        client, api_key, ("S", CANCELLED, 5, None), ("T", CANCELLED, 3, None),
        ("U", CANCELLED, 4, None),  # never saved
    )  # fmt: skip
    [lapsed] = webhooks(db, site, "save.lapsed")
    assert lapsed["customer"]["id"] == "S"
    assert lapsed["session"] == saved.public_id
    assert lapsed["offer"] == {"id": "discount_30", "type": "discount"}
    assert (lapsed["days_after_save"], lapsed["mrr"]) == (15, 2900)


def test_backfilled_history_sends_no_webhooks(client, db, site, api_key):
    site.webhook_url, site.webhook_secret = "https://hooks.example.com/keepkit", "whsec_x"
    complete_session(site, "S", outcome="saved", mrr=2900, days_ago=100)
    db.session.commit()
    post_events(client, api_key, ("S", CANCELLED, 60, None), ("S", REACTIVATED, 40, None))
    assert webhooks(db, site, "save.lapsed") == []
    assert webhooks(db, site, "customer.reactivated") == []


def test_billing_that_reported_the_cancellation_before_the_flow_ended_confirms_it(
    client, db, site, api_key
):
    """The host cancelled in billing first and Keepkit heard of it before the flow ended: the
    cancellation is still confirmed (and a save lapses), whatever the order."""
    for sub, outcome in (("early", "cancelled"), ("kept", "saved")):
        started, _ = start_flow(site, sub, mrr=5000)
        db.session.commit()
        post_events(client, api_key, (sub, CANCELLED, 0, None))
        offer = "discount_30" if outcome == "saved" else None
        flow.complete_session(site, started, outcome=outcome, offer_key=offer)
        db.session.commit()
    body = client.get(
        f"/api/v1/insights/retention?from={ago(1)}&to={ago(0)}", headers=auth(api_key)
    ).get_json()
    assert (body["cancellations"], body["confirmed_cancellations"]) == (1, 1)
    assert body["saved"] == 1
    s = CancellationSession
    linked = db.session.scalars(sa.select(s.billing_cancelled_after).where(s.site_id == site.id))
    assert all(seconds is not None and -60 < seconds <= 0 for seconds in linked)
