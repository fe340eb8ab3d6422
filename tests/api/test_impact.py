"""Retention and reactivations: hand-computed figures from sessions, lifecycle events and
win-back emails, through the data API."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.factories import backdate, make_site, make_token
from widget_server.extensions import db
from widget_server.models import CancellationSession, OutboxMessage, utcnow
from widget_server.services import flow, notifications, roadmap
from widget_server.services.tokens import verify_customer_token


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def ago(days: int) -> str:
    return (utcnow() - timedelta(days=days)).date().isoformat()


def session(site, sub, outcome, mrr, days_ago, *, roadmap_item=None, email=None):
    """A flow completed ``days_ago`` days ago by customer ``sub``."""
    claims = verify_customer_token(site, make_token(site, sub, mrr=mrr, email=email))
    started, _ = flow.start_session(site, claims, locale="en")
    if roadmap_item:
        flow.answer_session(
            site, started, reason_key="missing_features", roadmap_item_id=roadmap_item.id
        )
    else:
        flow.answer_session(site, started, reason_key="too_expensive")
    offer = "discount_30" if outcome == "saved" else None
    flow.complete_session(site, started, outcome=outcome, offer_key=offer)
    return backdate(site, started, days_ago, started=True)


def events(client, key, *rows):
    """Post lifecycle events: (customer, type, days_ago, mrr)."""
    body = {
        "events": [
            {
                "id": f"evt_{customer}_{type_}_{days}",
                "type": type_,
                "customer": customer,
                "occurred_at": (utcnow() - timedelta(days=days)).isoformat(),
                **({"mrr": mrr} if mrr is not None else {}),
            }
            for customer, type_, days, mrr in rows
        ]
    }
    response = client.post("/api/v1/events", json=body, headers=auth(key))
    assert response.status_code == 200, response.get_json()


CANCELLED = "subscription.cancelled"
REACTIVATED = "subscription.reactivated"


@pytest.fixture
def history(db, client, site, api_key):
    # Saves (days ago, MRR) and when billing later said they cancelled:
    session(site, "A", "saved", 1000, 100)  # never cancels
    session(site, "B", "saved", 2000, 100)  # cancels 45 days after the save
    session(site, "C", "saved", 4000, 70)  # cancels 10 days after
    session(site, "D", "saved", 8000, 40)  # had cancelled before the save, not after
    session(site, "E", "saved", 16000, 5)  # too recent for any window
    session(site, "old", "saved", 32000, 130)  # before the period
    # Cancellations in the flow:
    session(site, "F", "cancelled", 500, 80)  # billing confirms 20 days later
    session(site, "G", "cancelled", 700, 80)  # never confirmed: still paying
    session(site, "H", "cancelled", 900, 10)  # not confirmed yet, too early to say
    session(site, "I", "cancelled", 300, 60)  # billing cancels 50 days later: too late
    db.session.commit()
    events(
        client, api_key,
        ("B", CANCELLED, 55, None), ("C", CANCELLED, 60, None), ("D", CANCELLED, 50, None),
        ("F", CANCELLED, 60, None), ("I", CANCELLED, 10, None),
        ("A", "subscription.renewed", 70, 1000),
    )  # fmt: skip
    # Another site's events about a customer of the same id change nothing here.
    _, other_key = make_site("Other")
    events(client, other_key, ("A", CANCELLED, 90, None))


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


def winback(site, customer_id, item, days_ago, *, state="sent"):
    """The item's win-back email as roadmap.change_status queues it, delivered ``days_ago``."""
    notifications.enqueue_emails(
        site,
        "roadmap.winback",
        [
            {
                "dedupe_key": f"email:{item.id}:winback:{customer_id}",
                "to": "someone@example.com",
                "payload": {"template": "winback", "item_id": item.id, "customer_id": customer_id},
            }
        ],
    )
    sent_at = utcnow() - timedelta(days=days_ago) if state == "sent" else None
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.dedupe_key == f"email:{item.id}:winback:{customer_id}")
        .values(state=state, sent_at=sent_at)
    )


@pytest.fixture
def comebacks(db, client, site, api_key):
    sso = roadmap.create_item(site, title="Single sign-on", status="in_progress")
    dark = roadmap.create_item(site, title="Dark mode", status="in_progress")
    customers = {}
    for sub, mrr in (("R1", 5000), ("R2", 3000), ("R3", 7000), ("R4", 1000), ("R5", 2000)):
        customers[sub] = session(
            site, sub, "cancelled", mrr, 200, roadmap_item=sso, email=f"{sub}@example.com"
        ).customer_id
    db.session.commit()
    # R1 got SSO's email 25 days ago and came back 5 days ago (with a new MRR).
    winback(site, customers["R1"], sso, 25)
    # R2 got it 105 days ago: too long before coming back 5 days ago.
    winback(site, customers["R2"], sso, 105)
    # R3 got both items' emails and came back 2 days ago (no MRR given: their current one).
    winback(site, customers["R3"], sso, 30)
    winback(site, customers["R3"], dark, 10)
    # R4's email is still queued.
    winback(site, customers["R4"], dark, 0, state="pending")
    # R5 came back 300 days ago, after SSO's email: before the period.
    winback(site, customers["R5"], sso, 310)
    db.session.commit()
    events(
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
    session(site, "W", "cancelled", 4200, 20, roadmap_item=item, email="w@example.com")
    roadmap.change_status(site, item, "shipped")
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.topic == "roadmap.winback")
        .values(state="sent", sent_at=utcnow() - timedelta(days=3))
    )
    db.session.commit()
    events(client, api_key, ("W", REACTIVATED, 1, 4200))
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
    customer_id = session(site, "W", "cancelled", 4200, 40, roadmap_item=item).customer_id
    winback(site, customer_id, item, 12)
    db.session.commit()
    events(client, api_key, ("W", REACTIVATED, 2, 5200), ("V", REACTIVATED, 1, 900))
    sent = sorted(webhooks(db, site, "customer.reactivated"), key=lambda d: d["customer"]["id"])
    assert [(d["customer"]["id"], d["mrr"], d["currency"]) for d in sent] == [
        ("V", 900, "USD"),
        ("W", 5200, "USD"),
    ]
    assert sent[0]["winback"] is None
    assert sent[1]["winback"]["roadmap_item"] == {"id": item.id, "title": "Exports"}
    assert sent[1]["winback"]["days_before"] == 10
    # the same events again: stored once, announced once
    events(client, api_key, ("W", REACTIVATED, 2, 5200))
    assert len(webhooks(db, site, "customer.reactivated")) == 2


def test_a_cancellation_within_90_days_of_a_save_sends_save_lapsed(client, db, site, api_key):
    site.webhook_url, site.webhook_secret = "https://hooks.example.com/keepkit", "whsec_x"
    saved = session(site, "S", "saved", 2900, 20)
    session(site, "T", "saved", 4900, 120)  # saved too long ago
    db.session.commit()
    events(
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
    session(site, "S", "saved", 2900, 100)
    db.session.commit()
    events(client, api_key, ("S", CANCELLED, 60, None), ("S", REACTIVATED, 40, None))
    assert webhooks(db, site, "save.lapsed") == []
    assert webhooks(db, site, "customer.reactivated") == []


def test_billing_that_reported_the_cancellation_before_the_flow_ended_confirms_it(
    client, db, site, api_key
):
    """The host cancelled in billing first and Keepkit heard of it before the flow ended: the
    cancellation is still confirmed (and a save lapses), whatever the order."""
    for sub, outcome in (("early", "cancelled"), ("kept", "saved")):
        claims = verify_customer_token(site, make_token(site, sub, mrr=5000))
        started, _ = flow.start_session(site, claims, locale="en")
        flow.answer_session(site, started, reason_key="too_expensive")
        db.session.commit()
        events(client, api_key, (sub, CANCELLED, 0, None))
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
