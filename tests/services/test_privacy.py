"""A customer's data: exported whole, erased whole (figures stay true), old comments expire."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.clients import token_of
from tests.factories import complete_session, make_token, rollup_rows
from widget_server.delivery import worker
from widget_server.models import (
    AuditEvent,
    CancellationSession,
    Customer,
    OutboxMessage,
    Subscription,
    Vote,
    utcnow,
)
from widget_server.services import insights, privacy, roadmap, rollups, sites
from widget_server.services.customers import upsert_customer
from widget_server.services.period import Filter, Period
from widget_server.services.tokens import verify_customer_token

SECRET_VALUE = "seat-7f3a-unique"


def profile(sub: str) -> dict:
    """Everything a token can say about customer ``sub`` (gdpr-1 has a unique seat)."""
    return dict(
        email=f"{sub}@example.com", name="Ann Example", company="ann-co",
        attributes={"region": "EU", "seat": SECRET_VALUE if sub == "gdpr-1" else sub},
    )  # fmt: skip


def cancel(site, sub, comment, item=None):
    """``sub`` cancels, with a comment, a follow-up answer and perhaps a missing ``item``."""
    reason = "missing_features" if item else "too_expensive"
    return complete_session(
        site, sub, reason, comment=comment, followup="Globex", roadmap_item=item, folded=True,
        **profile(sub),
    )  # fmt: skip


@pytest.fixture
def person(db, site):
    """A customer with everything Keepkit can hold about one, and a neighbour."""
    sites.set_webhook(site, "https://hooks.example.com/k")
    item = roadmap.create_item(site, title="SSO")
    cancel(site, "gdpr-1", "Too pricey for Ann", item)
    cancel(site, "gdpr-1", "Still too pricey")
    cancel(site, "neighbour", "Keep me")
    token = make_token(site, "gdpr-1", **profile("gdpr-1"))
    ann = upsert_customer(site, verify_customer_token(site, token))
    roadmap.vote(site, item, ann)
    roadmap.suggest(site, ann, title="Ann's idea")
    roadmap.change_status(site, item, "in_progress")  # an email to Ann
    db.session.commit()
    return ann


def test_export_has_everything_stored_about_the_customer(client, db, site, person, api_key):
    response = client.get(
        "/api/v1/customers/gdpr-1", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["customer"]["email"] == "gdpr-1@example.com"
    assert data["customer"]["attributes"]["seat"] == SECRET_VALUE
    assert sorted(s["comment"] for s in data["sessions"]) == [
        "Still too pricey",
        "Too pricey for Ann",
    ]
    assert {s["followup_answer"] for s in data["sessions"]} == {"Globex"}
    assert [v["item"]["title"] for v in data["votes"]] == ["SSO"]
    assert {s["item"]["title"] for s in data["subscriptions"]} == {"SSO", "Ann's idea"}
    assert [s["item"]["title"] for s in data["suggestions"]] == ["Ann's idea"]
    kinds = sorted((m["kind"], m["topic"]) for m in data["messages"])
    assert ("email", "roadmap.in_progress") in kinds and ("webhook", "vote.created") in kinds
    assert kinds.count(("webhook", "cancellation.completed")) == 2
    assert "Keep me" not in json.dumps(data)  # nobody else's data
    [event] = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "customer_exported")
    )
    assert event.actor == f"API key {api_key[:12]}"


def test_erasure_removes_personal_data_and_keeps_the_figures(client, db, site, person, api_key):
    period = Filter(Period.last_days(30))
    ranking = insights.reason_ranking(site, period)
    headers = {"Authorization": f"Bearer {api_key}"}
    response = client.delete("/api/v1/customers/gdpr-1", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {
        "erased": True, "sessions": 2, "votes": 1, "subscriptions": 2, "messages": 4,
    }  # fmt: skip
    assert client.get("/api/v1/customers/gdpr-1", headers=headers).status_code == 404
    assert client.delete("/api/v1/customers/gdpr-1", headers=headers).status_code == 404
    db.session.expire_all()
    customer = db.session.get(Customer, person.id)
    assert customer.external_id.startswith("erased:")
    assert (customer.email, customer.name, customer.company, customer.attributes) == (
        None, None, None, {},
    )  # fmt: skip
    mine = db.session.scalars(
        sa.select(CancellationSession).where(CancellationSession.customer_id == person.id)
    ).all()
    assert len(mine) == 2
    assert {(s.comment, s.followup_answer, json.dumps(s.attributes)) for s in mine} == {
        (None, None, "{}")
    }
    for model in (Vote, Subscription, OutboxMessage):
        assert not db.session.scalars(sa.select(model).where(model.customer_id == person.id)).all()
    # The neighbour keeps everything; the figures stay true.
    assert db.session.scalar(
        sa.select(CancellationSession.comment).where(CancellationSession.comment == "Keep me")
    )
    assert insights.reason_ranking(site, period) == ranking
    # No attribute value of theirs remains in the rollups, and they equal a rebuild.
    erased_rows = rollup_rows(site)
    assert SECRET_VALUE not in json.dumps(erased_rows, default=str)
    assert "neighbour" in json.dumps(erased_rows, default=str)
    rollups.rebuild(site)
    assert rollup_rows(site) == erased_rows


def test_cli_exports_and_erases(runner, db, site, person):
    exported = runner.invoke(
        args=["customers", "export", "--site", site.key, "--customer", "gdpr-1"]
    )
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["customer"]["name"] == "Ann Example"
    erased = runner.invoke(args=["customers", "erase", "--site", site.key, "--customer", "gdpr-1"])
    assert erased.exit_code == 0, erased.output
    assert "2 sessions anonymised, 1 votes" in erased.output
    again = runner.invoke(args=["customers", "erase", "--site", site.key, "--customer", "gdpr-1"])
    assert again.exit_code == 1
    assert again.output.strip() == "Error: No customer 'gdpr-1' on this site"
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["customer_exported", "customer_erased"]


def test_admin_erasure_needs_the_id_typed_again(admin_client, db, site, person):
    base = f"/admin/sites/{site.key}/privacy"
    page = admin_client.get(base, query_string={"customer": "gdpr-1@example.com"})
    assert "2 cancellation sessions" in page.get_data(as_text=True)
    download = admin_client.get(f"{base}/export", query_string={"customer": "gdpr-1"})
    assert json.loads(download.get_data())["customer"]["id"] == "gdpr-1"
    token = token_of(admin_client, site)
    admin_client.post(
        f"{base}/erase", data={"csrf_token": token, "customer": "gdpr-1", "confirm": "x"}
    )
    db.session.expire_all()
    assert db.session.get(Customer, person.id).external_id == "gdpr-1"
    admin_client.post(
        f"{base}/erase", data={"csrf_token": token, "customer": "gdpr-1", "confirm": "gdpr-1"}
    )
    db.session.expire_all()
    assert db.session.get(Customer, person.id).external_id.startswith("erased:")


def test_comments_past_the_retention_are_deleted_daily(admin_client, db, site, person):
    old = cancel(site, "old-timer", "An old comment")
    old.started_at = utcnow() - timedelta(days=130)
    db.session.commit()
    admin_client.post(
        f"/admin/sites/{site.key}/privacy/retention",
        data={"csrf_token": token_of(admin_client, site), "months": "3"},
    )
    assert site.comment_retention_months == 3
    worker.run_periodic(utcnow())
    db.session.expire_all()
    assert db.session.get(CancellationSession, old.id).comment is None
    assert db.session.get(CancellationSession, old.id).followup_answer is None
    assert (
        db.session.scalar(  # recent comments stay
            sa.select(sa.func.count()).where(CancellationSession.comment.is_not(None))
        )
        == 3
    )
    [event] = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "comments_expired")
    )
    assert event.details == {"sessions": 1, "months": 3}
    newer = cancel(site, "another", "Also old")
    newer.started_at = utcnow() - timedelta(days=130)
    db.session.commit()
    worker.run_periodic(utcnow())  # once a day: not again today
    db.session.expire_all()
    assert db.session.get(CancellationSession, newer.id).comment == "Also old"
    worker.run_periodic(utcnow() + timedelta(days=1, minutes=1))
    db.session.expire_all()
    assert db.session.get(CancellationSession, newer.id).comment is None


def test_retention_accepts_only_the_offered_periods(db, site):
    with pytest.raises(Exception, match="Keep comments for"):
        privacy.set_retention(site, 7)
