"""POST /api/v1/events: lifecycle events from the host's backend."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.factories import auth, make_site, make_token
from widget_server.models import Customer, LifecycleEvent, utcnow
from widget_server.services.customers import upsert_customer
from widget_server.services.tokens import verify_customer_token


def event(n, type_="subscription.cancelled", customer="cus_1", days_ago=1, **extra):
    when = (utcnow() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": f"evt_{n}", "type": type_, "customer": customer, "occurred_at": when, **extra}


def stored(db, site):
    query = sa.select(LifecycleEvent).where(LifecycleEvent.site_id == site.id)
    return list(db.session.scalars(query.order_by(LifecycleEvent.event_id)))


def customer_of(db, site, sub):
    return db.session.scalar(
        sa.select(Customer).where(Customer.site_id == site.id, Customer.external_id == sub)
    )


def test_one_event_is_stored_and_its_unknown_customer_created(client, db, site, api_key):
    body = event(1, mrr=9900, currency="EUR")
    response = client.post("/api/v1/events", json=body, headers=auth(api_key))
    assert response.status_code == 200
    assert response.get_json() == {"accepted": 1, "duplicates": 0}
    [row] = stored(db, site)
    assert (row.event_id, row.type, row.mrr, row.currency) == (
        "evt_1", "subscription.cancelled", 9900, "EUR",
    )  # fmt: skip
    assert row.occurred_at.date() == (utcnow() - timedelta(days=1)).date()
    customer = customer_of(db, site, "cus_1")
    assert row.customer_id == customer.id
    assert customer.currency == "EUR"


def test_the_same_id_again_changes_nothing(client, db, site, api_key):
    client.post("/api/v1/events", json=event(1, mrr=100), headers=auth(api_key))
    again = client.post("/api/v1/events", json=event(1, mrr=555), headers=auth(api_key))
    assert again.get_json() == {"accepted": 0, "duplicates": 1}
    assert [row.mrr for row in stored(db, site)] == [100]


def test_a_batch_counts_duplicates_stored_before_and_repeated_within(client, db, site, api_key):
    client.post("/api/v1/events", json=event(1), headers=auth(api_key))
    batch = {"events": [event(1), event(2), event(3), event(2, customer="cus_2")]}
    response = client.post("/api/v1/events", json=batch, headers=auth(api_key))
    assert response.get_json() == {"accepted": 2, "duplicates": 2}
    assert [(r.event_id, r.customer.external_id) for r in stored(db, site)] == [
        ("evt_1", "cus_1"), ("evt_2", "cus_1"), ("evt_3", "cus_1"),
    ]  # fmt: skip


def test_ids_are_per_site(client, db, site, api_key):
    other, other_key = make_site("Other")
    client.post("/api/v1/events", json=event(1), headers=auth(api_key))
    response = client.post("/api/v1/events", json=event(1), headers=auth(other_key))
    assert response.get_json() == {"accepted": 1, "duplicates": 0}
    assert len(stored(db, other)) == 1


def test_an_invalid_event_refuses_the_whole_batch(client, db, site, api_key):
    batch = {"events": [event(1), event(2), event(3, mrr=-5), event(4, type_="refund")]}
    response = client.post("/api/v1/events", json=batch, headers=auth(api_key))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]["events"]) == {"2", "3"}
    assert "mrr" in error["details"]["events"]["2"]
    assert "type" in error["details"]["events"]["3"]
    assert stored(db, site) == []
    assert customer_of(db, site, "cus_1") is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "mrr.changed"}, "mrr"),  # the new MRR is required
        ({"occurred_at": "2026-11-24T10:00:00"}, "occurred_at"),  # no offset
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"currency": "XYZ", "mrr": 5}, "currency"),
        ({"mrr": "9900"}, "mrr"),
        ({"mrr": 10**13}, "mrr"),
        ({"customer": "a\nb"}, "customer"),
        ({"id": ""}, "id"),
        ({"id": "x" * 256}, "id"),
        ({"plan": "Pro"}, "plan"),  # unknown field
    ],
)
def test_invalid_fields_are_named(client, db, site, api_key, body, field):
    response = client.post("/api/v1/events", json={**event(1), **body}, headers=auth(api_key))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]
    assert stored(db, site) == []


def test_future_events_are_refused_but_backfill_is_fine(client, db, site, api_key):
    future = client.post("/api/v1/events", json=event(1, days_ago=-2), headers=auth(api_key))
    assert future.status_code == 422
    old = client.post("/api/v1/events", json=event(2, days_ago=700), headers=auth(api_key))
    assert old.get_json() == {"accepted": 1, "duplicates": 0}


def test_batches_are_bounded(client, db, site, api_key):
    too_many = {"events": [event(n) for n in range(501)]}
    response = client.post("/api/v1/events", json=too_many, headers=auth(api_key))
    assert response.status_code == 422
    assert "events" in response.get_json()["error"]["details"]
    full = {"events": [event(n, customer=f"cus_{n % 37}") for n in range(500)]}
    response = client.post("/api/v1/events", json=full, headers=auth(api_key))
    assert response.get_json() == {"accepted": 500, "duplicates": 0}
    count = sa.select(sa.func.count()).select_from(Customer).where(Customer.site_id == site.id)
    assert db.session.scalar(count) == 37


def test_mrr_changed_sets_the_current_mrr_whatever_the_arrival_order(client, db, site, api_key):
    claims = verify_customer_token(site, make_token(site, "cus_1", mrr=4900, plan="Starter"))
    upsert_customer(site, claims)
    db.session.commit()
    newer = event(1, "mrr.changed", days_ago=1, mrr=9900)
    client.post("/api/v1/events", json=newer, headers=auth(api_key))
    customer = customer_of(db, site, "cus_1")
    assert (customer.mrr, customer.plan) == (9900, "Starter")
    older = event(2, "mrr.changed", days_ago=30, mrr=2900)  # backfill: history only
    client.post("/api/v1/events", json=older, headers=auth(api_key))
    assert customer_of(db, site, "cus_1").mrr == 9900
    cancel = event(3, days_ago=0, mrr=9900)  # not an MRR change
    client.post("/api/v1/events", json=cancel, headers=auth(api_key))
    assert customer_of(db, site, "cus_1").mrr == 9900
    latest = event(4, "mrr.changed", days_ago=0, mrr=19900, currency="EUR")
    client.post("/api/v1/events", json=latest, headers=auth(api_key))
    customer = customer_of(db, site, "cus_1")
    assert (customer.mrr, customer.currency) == (19900, "EUR")


def test_events_need_the_api_key(client, db, site):
    response = client.post("/api/v1/events", json=event(1))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "missing_api_key"
    assert stored(db, site) == []


@pytest.mark.parametrize("raw", [b"[]", b"not json", b'{"events": "x"}', b'{"events": [1]}'])
def test_bodies_that_are_not_events_are_refused(client, db, site, api_key, raw):
    response = client.post(
        "/api/v1/events", data=raw, headers={**auth(api_key), "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert "error" in response.get_json()
    assert stored(db, site) == []


def test_a_customers_export_lists_their_lifecycle_events(client, db, site, api_key):
    client.post("/api/v1/events", json=event(1, mrr=4900, currency="EUR"), headers=auth(api_key))
    data = client.get("/api/v1/customers/cus_1", headers=auth(api_key)).get_json()
    assert [(e["id"], e["type"], e["mrr"], e["currency"]) for e in data["lifecycle_events"]] == [
        ("evt_1", "subscription.cancelled", 4900, "EUR")
    ]
