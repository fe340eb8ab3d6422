"""Delivery never stops: a malformed message is parked, the others go on; headers are safe."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from tests.factories import make_admin, make_customer, outbox_messages
from tests.servers import free_port
from widget_server.delivery import tokens, worker
from widget_server.models import OutboxMessage, Subscription, utcnow
from widget_server.services import notifications, roadmap


def queue_voters(db, site, count: int, title: str):
    item = roadmap.create_item(site, title="placeholder")
    item.title = title  # as a row written before the doors refused control characters
    for i in range(count):
        roadmap.vote(site, item, make_customer(site, f"v{i}", name=f"Voter {i}", locale="en"))
    roadmap.change_status(site, item, "in_progress")
    db.session.commit()
    return item


def poison(db, site) -> OutboxMessage:
    """A message whose payload cannot be composed (no item id)."""
    notifications.enqueue_emails(
        site,
        "roadmap.in_progress",
        [{"dedupe_key": "poison", "to": "x@example.com", "payload": {"template": "status"}}],
    )
    db.session.commit()
    return db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == "poison"))


def test_one_poison_message_among_twenty_is_parked_and_twenty_are_delivered(db, site, smtp):
    bad = poison(db, site)
    queue_voters(db, site, 20, "Dark\r\nBcc: attacker@example.com\r\n\r\nmode")
    assert worker.run_once() == (20, 0, 1)
    assert len(smtp.sink.messages) == 20
    for email in smtp.sink.messages:  # the title stays inside the Subject: no header injected
        assert "Bcc" not in email and email.get_all("To") == [email["To"]]
        assert email["Subject"] == "We started working on “Dark Bcc: attacker@example.com mode”"
    db.session.refresh(bad)
    assert bad.state == "failed" and bad.attempts == 1
    assert "Cannot be composed: KeyError" in bad.last_error
    assert worker.run_once() == (0, 0, 0)  # parked: not retried by itself


def test_list_unsubscribe_is_a_literal_url_and_from_is_quoted(app, db, site, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_MAIL_FROM", "Acme Support <support@acme.example>")
    site.name = 'Acme, Inc. "Pro" <x@evil.example>'
    queue_voters(db, site, 1, "Reports")
    assert worker.run_once() == (1, 0, 0)
    [raw] = smtp.sink.raw
    headers = raw.split(b"\r\n\r\n", 1)[0].decode()
    link = re.search(r"^List-Unsubscribe: <(http://keepkit\.test/u/[^>\s]+)>\r?$", headers, re.M)
    assert link, headers  # one literal line, not RFC 2047-encoded
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in headers
    [email] = smtp.sink.messages
    assert email["From"].addresses[0].display_name == 'Acme, Inc. "Pro" <x@evil.example>'
    assert email["From"].addresses[0].addr_spec == "support@acme.example"
    assert len(email["From"].addresses) == 1
    [message] = outbox_messages()
    assert email["Message-ID"] == f"<outbox-{message.id}@acme.example>"  # as documented


def test_unsubscribe_link_asks_first_and_the_post_unsubscribes(client, db, site, smtp):
    queue_voters(db, site, 1, "Reports")
    worker.run_once()
    [email] = smtp.sink.messages
    path = re.search(r"<http://keepkit\.test(/u/[^>]+)>", email["List-Unsubscribe"]).group(1)
    page = client.get(path)  # what a mail scanner does
    assert page.status_code == 200
    assert "Stop emails about this roadmap item?" in page.get_data(as_text=True)
    assert '<form method="post"' in page.get_data(as_text=True)
    assert page.headers["X-Frame-Options"] == "DENY"
    subscription = db.session.scalar(sa.select(Subscription))
    assert subscription.unsubscribed_at is None
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "no more emails about this" in done.get_data(as_text=True)
    db.session.refresh(subscription)
    assert subscription.unsubscribed_at is not None


def test_digest_unsubscribe_also_asks_first(client, db, site):
    admin = make_admin("pm@example.com")
    admin.weekly_digest = True
    db.session.commit()
    with client.application.test_request_context():
        token = tokens.digest_unsubscribe_token(admin.id)
    assert "Stop the weekly digest?" in client.get(f"/u/{token}").get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.weekly_digest is True
    client.post(f"/u/{token}")
    db.session.refresh(admin)
    assert admin.weekly_digest is False


def test_transient_failures_are_retried_then_parked_and_resendable(
    app, admin_client, db, site, monkeypatch
):
    from tests.clients import token_of

    monkeypatch.setitem(app.config, "KEEPKIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "KEEPKIT_SMTP_PORT", free_port())  # nobody listens
    monkeypatch.setitem(app.config, "KEEPKIT_OUTBOX_MAX_ATTEMPTS", 2)
    queue_voters(db, site, 1, "Reports")
    assert worker.run_once() == (0, 1, 0)
    [message] = outbox_messages()
    message.next_attempt_at = utcnow()
    db.session.commit()
    assert worker.run_once() == (0, 0, 1)
    db.session.refresh(message)
    assert (message.state, message.attempts) == ("failed", 2)
    assert "Connection refused" in message.last_error
    page = admin_client.get(f"/admin/sites/{site.key}/outbox").get_data(as_text=True)
    assert "Connection refused" in page and "Resend" in page
    admin_client.post(
        f"/admin/sites/{site.key}/outbox/{message.id}/resend",
        data={"csrf_token": token_of(admin_client, site)},
    )
    db.session.refresh(message)
    assert (message.state, message.attempts, message.last_error) == ("pending", 0, None)


def test_a_message_that_kills_its_worker_every_time_is_parked(app, db, site, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_OUTBOX_MAX_ATTEMPTS", 2)
    queue_voters(db, site, 1, "Reports")
    for _ in range(2):  # claimed (attempt counted), then the worker dies each time
        assert len(worker.claim()) == 1
        [message] = outbox_messages()
        message.locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert worker.claim() == []
    db.session.refresh(message)
    assert (message.state, message.attempts) == ("failed", 2)
    assert "stopped while delivering" in message.last_error
