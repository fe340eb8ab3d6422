"""The Stripe connector against localstripe, signatures checked with the official library."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import sqlalchemy as sa
import stripe

from tests.databases import committed_app
from tests.factories import ORIGIN, complete_session, make_site, make_token
from tests.integrations.localstripe import (
    API_KEY,
    paying_customer,
    register_webhook,
)
from tests.live import Server
from tests.servers import Receiver
from widget_server.delivery.worker import JOB_HANDLERS
from widget_server.extensions import db
from widget_server.models import CancellationSession, Customer, Job, LifecycleEvent
from widget_server.services import flow, jobs, stripe_connector
from widget_server.services.tokens import verify_customer_token

SECRET = "whsec_keepkittest0123456789"


def sign(payload: bytes, secret: str = SECRET, at: int | None = None) -> str:
    stamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256)
    return f"t={stamp},v1={mac.hexdigest()}"


def stripe_event(event_id="evt_1", kind="customer.subscription.deleted", customer="cus_A"):
    subscription = {
        "id": "sub_1",
        "object": "subscription",
        "customer": customer,
        "items": {
            "data": [
                {
                    "quantity": 3,
                    "price": {
                        "id": "price_1",
                        "nickname": "Team",
                        "unit_amount": 12000,
                        "currency": "eur",
                        "recurring": {"interval": "year", "interval_count": 1},
                    },
                }
            ]
        },
    }
    body = {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": int(time.time()) - 60,
        "data": {"object": subscription},
    }
    return json.dumps(body).encode()


def events_of(site):
    query = sa.select(LifecycleEvent).where(LifecycleEvent.site_id == site.id)
    return list(db.session.scalars(query.order_by(LifecycleEvent.occurred_at, LifecycleEvent.id)))


@pytest.fixture
def stripe_site(db, site):
    stripe_connector.configure(site, webhook_secret=SECRET, api_key=None)
    db.session.commit()
    return site


def deliver(client, site, payload, signature):
    return client.post(
        f"/integrations/stripe/{site.key}",
        data=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


def test_our_test_signer_is_stripes_scheme():
    payload = stripe_event()
    header = sign(payload)
    assert stripe.WebhookSignature.verify_header(payload.decode(), header, SECRET, 300)
    event = stripe.Webhook.construct_event(payload.decode(), header, SECRET)
    assert event.id == "evt_1"


def test_a_signed_cancellation_is_stored_once(client, db, stripe_site):
    payload = stripe_event()
    response = deliver(client, stripe_site, payload, sign(payload))
    assert response.status_code == 200
    assert response.get_json() == {"received": True, "stored": True, "ignored": False}
    [event] = events_of(stripe_site)
    # 3 seats x 120.00 EUR a year = 30.00 EUR a month
    assert (event.event_id, event.type, event.mrr, event.currency) == (
        "evt_1", "subscription.cancelled", 3000, "EUR",
    )  # fmt: skip
    assert event.customer.external_id == "cus_A"
    assert event.customer.stripe_customer_id == "cus_A"
    again = deliver(client, stripe_site, payload, sign(payload))
    assert again.get_json()["stored"] is False
    assert len(events_of(stripe_site)) == 1


@pytest.mark.parametrize(
    "mangle",
    [
        lambda payload: (payload + b" ", sign(payload)),  # the body changed
        lambda payload: (payload, sign(payload, "whsec_someoneelse000")),  # another secret
        lambda payload: (payload, sign(payload, at=int(time.time()) - 301)),  # a replay
        lambda payload: (payload, sign(payload, at=int(time.time()) + 301)),
        lambda payload: (payload, "t=abc,v1=00"),
        lambda payload: (payload, ""),
    ],
)
def test_bad_or_replayed_signatures_get_400_and_store_nothing(client, db, stripe_site, mangle):
    payload, header = mangle(stripe_event())
    response = deliver(client, stripe_site, payload, header)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert events_of(stripe_site) == []


def test_other_types_are_acknowledged_and_ignored(client, db, stripe_site):
    payload = stripe_event(kind="charge.refunded")
    response = deliver(client, stripe_site, payload, sign(payload))
    assert response.get_json() == {"received": True, "stored": False, "ignored": True}
    assert events_of(stripe_site) == []


def test_a_site_without_the_connector_refuses(client, db, site):
    payload = stripe_event()
    response = deliver(client, site, payload, sign(payload))
    assert response.status_code == 404
    assert events_of(site) == []


def test_the_token_stripe_customer_claim_names_the_customer(client, db, stripe_site):
    claims = verify_customer_token(
        stripe_site, make_token(stripe_site, "user-7", stripe_customer="cus_B")
    )
    flow.start_session(stripe_site, claims, locale="en")
    db.session.commit()
    payload = stripe_event(customer="cus_B")
    deliver(client, stripe_site, payload, sign(payload))
    [event] = events_of(stripe_site)
    assert event.customer.external_id == "user-7"


def test_a_subscription_after_a_cancellation_is_a_reactivation(client, db, stripe_site):
    for event_id, kind in (
        ("evt_c", "customer.subscription.created"),
        ("evt_d", "customer.subscription.deleted"),
    ):
        payload = stripe_event(event_id, kind)
        deliver(client, stripe_site, payload, sign(payload))
    later = json.loads(stripe_event("evt_r", "customer.subscription.created"))
    later["created"] += 30
    payload = json.dumps(later).encode()
    deliver(client, stripe_site, payload, sign(payload))
    assert [e.type for e in events_of(stripe_site)] == [
        "mrr.changed", "subscription.cancelled", "subscription.reactivated",
    ]  # fmt: skip


def test_settings_are_checked(db, site):
    with pytest.raises(Exception, match="whsec_"):
        stripe_connector.configure(site, webhook_secret="nope", api_key=None)
    with pytest.raises(Exception, match="sk_ or rk_"):
        stripe_connector.configure(site, webhook_secret=SECRET, api_key="pk_test_123456789")
    assert stripe_connector.masked("sk_test_abcdefgh1234") == "sk_test_…1234"


# --- against localstripe -------------------------------------------------------------------


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_localstripe_webhooks_become_lifecycle_events(tmp_path, localstripe, stripe_client):
    receiver = Receiver()
    with committed_app(tmp_path, "stripe") as (app, _):
        server = Server(app)
        try:
            with app.app_context():
                site, _ = make_site("Billing")
                stripe_connector.configure(site, webhook_secret=SECRET, api_key=None)
                db.session.commit()
                site_id, key = site.id, site.key

            def stored():
                with app.app_context():
                    query = sa.select(LifecycleEvent.type, LifecycleEvent.mrr).where(
                        LifecycleEvent.site_id == site_id
                    )
                    rows = db.session.execute(query.order_by(LifecycleEvent.id)).all()
                    db.session.remove()
                    return [tuple(row) for row in rows]

            register_webhook(
                localstripe, "keepkit", f"{server.url}/integrations/stripe/{key}", SECRET
            )
            register_webhook(localstripe, "probe", receiver.url, SECRET)
            customer, subscription, plan = paying_customer(stripe_client)
            # created (a new MRR of 2 x 49.00) and its first invoice paid
            wait_for(lambda: len(stored()) >= 2)
            assert sorted(stored()) == [("mrr.changed", 9800), ("subscription.renewed", None)]
            stripe_client.v1.subscriptions.cancel(subscription.id)
            wait_for(lambda: ("subscription.cancelled", 9800) in stored())
            stripe_client.v1.subscriptions.create(
                params={"customer": customer.id, "items": [{"plan": plan.id, "quantity": 1}]}
            )
            wait_for(lambda: ("subscription.reactivated", 4900) in stored())
            with app.app_context():
                row = db.session.scalar(sa.select(Customer).where(Customer.site_id == site_id))
                assert (row.external_id, row.stripe_customer_id) == (customer.id, customer.id)
                assert row.mrr == 9800  # the last mrr.changed
                db.session.remove()
            # What localstripe sent is signed as Stripe signs: the official library agrees.
            wait_for(lambda: len(receiver.requests) >= 4)
            for headers, body in receiver.requests:
                signature = headers["Stripe-Signature"]
                event = stripe.Webhook.construct_event(body.decode(), signature, SECRET)
                assert event.type
        finally:
            server.stop()
            receiver.stop()
            register_webhook(localstripe, "keepkit", "http://127.0.0.1:9/gone", SECRET)
            register_webhook(localstripe, "probe", "http://127.0.0.1:9/gone", SECRET)


def test_mrr_and_plan_are_read_from_stripe_when_the_token_has_none(
    app, client, db, site, localstripe, stripe_client, monkeypatch
):
    monkeypatch.setitem(app.config, "KEEPKIT_STRIPE_API_BASE", localstripe)
    stripe_connector.configure(site, webhook_secret=SECRET, api_key=API_KEY)
    db.session.commit()
    customer, _, _ = paying_customer(stripe_client, amount=2500, quantity=3)
    token = make_token(site, customer.id, mrr=None, plan=None)
    response = client.post(
        f"/api/v1/widget/{site.key}/sessions",
        data=json.dumps({"token": token}),
        headers={"Origin": ORIGIN},
        content_type="text/plain",
    )
    assert response.status_code == 201
    session = db.session.scalar(
        sa.select(CancellationSession).where(
            CancellationSession.public_id == response.get_json()["session"]
        )
    )
    assert (session.mrr, session.currency, session.plan) == (7500, "USD", "Pro")
    # A token that says its MRR is believed; Stripe is not asked.
    said = make_token(site, customer.id, mrr=100)
    claims = stripe_connector.complete_claims(
        site, verify_customer_token(site, said), "http://127.0.0.1:9"
    )
    assert claims.mrr == 100


def test_stripe_unreachable_does_not_block_the_flow(app, client, db, site, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_STRIPE_API_BASE", "http://127.0.0.1:9")
    stripe_connector.configure(site, webhook_secret=SECRET, api_key=API_KEY)
    db.session.commit()
    token = make_token(site, "cus_nowhere", mrr=None)
    response = client.post(
        f"/api/v1/widget/{site.key}/sessions",
        data=json.dumps({"token": token}),
        headers={"Origin": ORIGIN},
        content_type="text/plain",
    )
    assert response.status_code == 201


def test_a_confirmed_cancellation_is_applied_at_period_end_when_the_site_opts_in(
    app, db, site, localstripe, stripe_client, monkeypatch
):
    monkeypatch.setitem(app.config, "KEEPKIT_STRIPE_API_BASE", localstripe)
    stripe_connector.configure(
        site, webhook_secret=SECRET, api_key=API_KEY, apply_cancellations=True
    )
    db.session.commit()
    customer, subscription, _ = paying_customer(stripe_client)
    complete_session(site, customer.id)
    db.session.commit()
    [job] = db.session.scalars(sa.select(Job).where(Job.kind == "stripe_cancel")).all()
    assert jobs.run_due(JOB_HANDLERS) >= 1
    db.session.refresh(job)
    assert job.state == "done"
    after = stripe_client.v1.subscriptions.retrieve(subscription.id)
    assert after.cancel_at_period_end is True
    assert after.status == "active"  # until the end of the paid period


def test_without_the_opt_in_nothing_is_cancelled_in_stripe(db, site):
    stripe_connector.configure(site, webhook_secret=SECRET, api_key=API_KEY)
    db.session.commit()
    complete_session(site, "cus_x")
    assert db.session.scalars(sa.select(Job).where(Job.kind == "stripe_cancel")).all() == []


def test_the_cli_connects_a_site_and_masks_the_secrets(runner, db, site):
    result = runner.invoke(
        args=["sites", "stripe", "--site", site.key, "--webhook-secret", SECRET,
              "--api-key", API_KEY, "--apply-cancellations"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"/integrations/stripe/{site.key}" in result.output
    assert SECRET not in result.output and API_KEY not in result.output
    assert "whsec_…6789" in result.output
    db.session.refresh(site)
    assert (site.stripe_webhook_secret, site.stripe_api_key) == (SECRET, API_KEY)
    assert site.stripe_apply_cancellations is True
    bad = runner.invoke(args=["sites", "stripe", "--site", site.key, "--webhook-secret", "x"])
    assert bad.exit_code != 0
    assert "whsec_" in bad.output and "Traceback" not in bad.output
