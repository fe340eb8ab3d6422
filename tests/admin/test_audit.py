"""The audit log: what owners must be able to review, with who, when and from where."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from tests.clients import login, token_of
from tests.factories import make_admin, make_token
from widget_server.models import AuditEvent
from widget_server.services import roadmap
from widget_server.services.customers import upsert_customer
from widget_server.services.tokens import verify_customer_token

PASSWORD = "correct horse battery"


def events(db, **where):
    query = sa.select(AuditEvent).order_by(AuditEvent.id)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(db.session.scalars(query))


def test_sign_ins_and_failures_are_recorded_with_the_address(client, db, admin):
    client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    login(client, password="wrong password!")
    login(client)
    failed, ok = events(db)
    assert (failed.action, failed.actor, failed.ip, failed.site_id) == (
        "login_failed", "pm@example.com", "203.0.113.7", None,
    )  # fmt: skip
    assert (ok.action, ok.actor_id, ok.ip) == ("login", admin.id, "203.0.113.7")


def test_secret_key_webhook_and_status_changes_are_recorded(admin_client, db, site):
    token = token_of(admin_client, site)
    base = f"/admin/sites/{site.key}"
    admin_client.post(f"{base}/secret/rotate", data={"csrf_token": token})
    admin_client.post(f"{base}/api-keys", data={"csrf_token": token})
    key = site.api_keys[-1]
    admin_client.post(f"{base}/api-keys/{key.id}/revoke", data={"csrf_token": token})
    admin_client.post(
        f"{base}/webhook",
        data={"csrf_token": token, "webhook_url": "https://hooks.example.com/k"},
    )
    item = roadmap.create_item(site, title="Dark mode")
    for sub in ("a", "b"):
        claims = verify_customer_token(site, make_token(site, sub, email=f"{sub}@example.com"))
        roadmap.vote(site, item, upsert_customer(site, claims))
    db.session.commit()
    admin_client.post(
        f"{base}/roadmap/{item.id}/status",
        data={"csrf_token": token, "status": "in_progress", "confirm": "1"},
    )
    recorded = {e.action: e for e in events(db, site_id=site.id)}
    assert set(recorded) >= {
        "secret_rotated", "api_key_created", "api_key_revoked", "webhook_changed",
        "roadmap_status_changed",
    }  # fmt: skip
    assert recorded["api_key_revoked"].details == {"prefix": key.prefix}
    assert recorded["webhook_changed"].details["url"] == "https://hooks.example.com/k"
    status = recorded["roadmap_status_changed"]
    assert status.actor == "pm@example.com"
    assert status.details == {
        "item": item.id, "title": "Dark mode", "previous": "under_consideration",
        "status": "in_progress", "emails_queued": 2,
    }  # fmt: skip


def test_a_status_change_through_the_data_api_names_the_key(client, db, site, api_key):
    item = roadmap.create_item(site, title="SSO")
    db.session.commit()
    client.patch(
        f"/api/v1/roadmap/items/{item.id}",
        json={"status": "planned"},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    [event] = events(db, action="roadmap_status_changed")
    assert event.actor == f"API key {api_key[:12]}" and event.details["status"] == "planned"


def test_owners_filter_and_download_the_log(admin_client, db, site):
    token = token_of(admin_client, site)
    admin_client.post(f"/admin/sites/{site.key}/secret/rotate", data={"csrf_token": token})
    page = admin_client.get(f"/admin/sites/{site.key}/audit", query_string={"action": "login"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<td>Signed in" in html and "<td>Signing secret rotated" not in html
    download = admin_client.get(f"/admin/sites/{site.key}/audit.csv")
    assert download.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["secret_rotated", "login"]  # newest first
    assert rows[0]["actor"] == "pm@example.com" and rows[0]["site"] == site.key


def test_site_owners_see_their_site_not_others_sign_ins(client, db, site):
    make_admin("boss@example.com", PASSWORD)
    make_admin("owner@example.com", PASSWORD, owner=False, sites=[site], role="owner")
    login(client, "boss@example.com", PASSWORD)
    client.post("/admin/logout", data={"csrf_token": token_of(client, site)})
    login(client, "owner@example.com", PASSWORD)
    client.post(
        f"/admin/sites/{site.key}/secret/rotate", data={"csrf_token": token_of(client, site)}
    )
    html = client.get(f"/admin/sites/{site.key}/audit").get_data(as_text=True)
    assert "<td>Signing secret rotated" in html and "boss@example.com" not in html
