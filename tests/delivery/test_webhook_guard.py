"""Webhook delivery through the SSRF guard: the resolved address is checked and connected to
directly (no second DNS lookup), TLS verifies the URL's host, redirects are not followed, and
queued messages go to the site's current URL."""

from __future__ import annotations

import ipaddress
import socket
import ssl

import pytest
import sqlalchemy as sa
import trustme

from tests.factories import make_customer
from tests.servers import Receiver
from widget_server.delivery import worker
from widget_server.models import OutboxMessage, utcnow
from widget_server.services import netguard, notifications, roadmap, sites

HOST = "hooks.example.test"


@pytest.fixture
def resolver(monkeypatch):
    """Answers for names under example.test, and a record of every lookup. The system resolver
    must never be asked about them: that would be a second lookup after the check."""
    answers: dict[str, list[str]] = {}
    asked: list[str] = []

    def resolve(host, port):
        asked.append(host)
        return [ipaddress.ip_address(a) for a in answers[host]]

    real = socket.getaddrinfo

    def system_resolver(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith("example.test"):
            raise AssertionError(f"{host} was looked up again, past the guard")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(netguard, "resolve", resolve)
    monkeypatch.setattr(socket, "getaddrinfo", system_resolver)
    resolver = type("Resolver", (), {"answers": answers, "asked": asked})
    return resolver


def queue_event(db, site) -> OutboxMessage:
    item = roadmap.create_item(site, title="API")
    roadmap.vote(site, item, make_customer(site, "hooked", name="Ann <b>", locale="de"))
    db.session.commit()
    return db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "webhook"))


def retry_now(db, message):
    message.next_attempt_at = utcnow()
    db.session.commit()


def test_a_name_resolving_to_loopback_is_refused_at_delivery(
    app, db, site, receiver, resolver, monkeypatch
):
    monkeypatch.setitem(app.config, "KEEPKIT_WEBHOOK_ALLOW_PRIVATE", False)
    port = receiver.server.server_port
    sites.set_webhook(site, f"http://{HOST}:{port}/hooks")  # a public-looking name: saved
    resolver.answers[HOST] = ["127.0.0.1"]  # ... whose DNS answer points inside
    message = queue_event(db, site)
    assert worker.run_once() == (0, 1, 0)
    db.session.refresh(message)
    assert f"{HOST} resolves to 127.0.0.1, a loopback address" in message.last_error
    assert receiver.requests == []
    # The same receiver, allowed on an intranet: it was the guard that held it back.
    monkeypatch.setitem(app.config, "KEEPKIT_WEBHOOK_ALLOW_PRIVATE", True)
    retry_now(db, message)
    assert worker.run_once() == (1, 0, 0)
    assert len(receiver.requests) == 1


def test_one_inside_answer_among_public_ones_refuses_the_name(
    app, db, site, receiver, resolver, monkeypatch
):
    monkeypatch.setitem(app.config, "KEEPKIT_WEBHOOK_ALLOW_PRIVATE", False)
    sites.set_webhook(site, f"https://{HOST}/hooks")
    resolver.answers[HOST] = ["93.184.216.34", "169.254.169.254"]
    message = queue_event(db, site)
    assert worker.run_once() == (0, 1, 0)
    db.session.refresh(message)
    assert "169.254.169.254, a link-local address" in message.last_error


def test_delivery_connects_to_the_checked_address_with_the_urls_host(db, site, receiver, resolver):
    port = receiver.server.server_port
    sites.set_webhook(site, f"http://{HOST}:{port}/hooks", allow_private=True)
    resolver.answers[HOST] = ["127.0.0.1"]
    queue_event(db, site)
    assert worker.run_once() == (1, 0, 0)
    assert resolver.asked == [HOST]  # resolved once, by the guard; connected to its answer
    headers, _ = receiver.requests[0]
    assert headers["Host"] == f"{HOST}:{port}"


@pytest.fixture
def ca():
    return trustme.CA()


def tls_receiver(ca, name: str, seen_names: list) -> Receiver:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    context.sni_callback = lambda sock, server_name, ctx: seen_names.append(server_name)
    return Receiver(tls=context)


@pytest.fixture
def trusting(ca, monkeypatch):
    """Keepkit trusts the test CA (as it trusts the system's CAs in production)."""

    def context():
        trusted = ssl.create_default_context()
        ca.configure_trust(trusted)
        return trusted

    monkeypatch.setattr(netguard, "tls_context", context)


def test_https_sends_sni_and_verifies_the_certificate_for_the_urls_host(
    db, site, receiver, resolver, ca, trusting
):
    seen: list[str] = []
    server = tls_receiver(ca, HOST, seen)
    try:
        port = server.server.server_port
        sites.set_webhook(site, f"https://{HOST}:{port}/hooks", allow_private=True)
        resolver.answers[HOST] = ["127.0.0.1"]
        queue_event(db, site)
        assert worker.run_once() == (1, 0, 0)
        assert seen == [HOST]
        assert server.requests[0][0]["Host"] == f"{HOST}:{port}"
    finally:
        server.stop()


def test_https_to_a_server_with_another_names_certificate_fails(
    db, site, receiver, resolver, ca, trusting
):
    server = tls_receiver(ca, "someone-else.example.test", [])
    try:
        port = server.server.server_port
        sites.set_webhook(site, f"https://{HOST}:{port}/hooks", allow_private=True)
        resolver.answers[HOST] = ["127.0.0.1"]
        message = queue_event(db, site)
        assert worker.run_once() == (0, 1, 0)
        db.session.refresh(message)
        assert "certificate" in message.last_error.lower()
        assert server.requests == []
    finally:
        server.stop()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(db, site, receiver, status):
    elsewhere = Receiver()
    try:
        receiver.replies = [(status, {"Location": elsewhere.url})]
        sites.set_webhook(site, receiver.url, allow_private=True)
        message = queue_event(db, site)
        assert worker.run_once() == (0, 1, 0)
        db.session.refresh(message)
        assert f"HTTP {status}: redirects are not followed" in message.last_error
        assert elsewhere.url in message.last_error
        assert len(receiver.requests) == 1 and elsewhere.requests == []
        assert message.state == "pending"  # retried later, like any failed delivery
    finally:
        elsewhere.stop()


def test_a_network_error_without_a_message_names_its_kind(db, site, receiver, monkeypatch):
    def post(*args, **kwargs):
        raise ConnectionResetError()  # str() of it is empty

    monkeypatch.setattr(netguard, "post", post)
    sites.set_webhook(site, receiver.url, allow_private=True)
    message = queue_event(db, site)
    assert worker.run_once() == (0, 1, 0)
    db.session.refresh(message)
    assert message.last_error == f"{receiver.url}: ConnectionResetError"


def test_queued_messages_go_to_the_sites_current_url(db, site, receiver):
    new = Receiver()
    try:
        sites.set_webhook(site, receiver.url, allow_private=True)
        message = queue_event(db, site)
        sites.set_webhook(site, new.url, allow_private=True)
        db.session.commit()
        assert worker.run_once() == (1, 0, 0)
        assert receiver.requests == [] and len(new.requests) == 1
        db.session.refresh(message)
        assert message.recipient == new.url  # the outbox shows where it went
    finally:
        new.stop()


def test_queued_messages_of_a_site_without_a_url_are_parked(db, site, receiver):
    sites.set_webhook(site, receiver.url, allow_private=True)
    message = queue_event(db, site)
    sites.set_webhook(site, None)
    db.session.commit()
    assert worker.run_once() == (0, 0, 1)
    db.session.refresh(message)
    assert (message.state, message.attempts) == ("failed", 1)  # no retries: nowhere to go
    assert "no webhook URL any more" in message.last_error
    # Once a URL is set again, the admin's "resend" delivers it.
    sites.set_webhook(site, receiver.url, allow_private=True)
    notifications.resend(site, message.id)
    db.session.commit()
    assert worker.run_once() == (1, 0, 0)
    assert len(receiver.requests) == 1


def test_a_url_saved_before_the_guard_is_refused_at_delivery(app, db, site, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_WEBHOOK_ALLOW_PRIVATE", False)
    port = receiver.server.server_port
    site.webhook_url, site.webhook_secret = f"http://2130706433:{port}/hooks", "whsec_old"
    message = queue_event(db, site)
    assert worker.run_once() == (0, 1, 0)
    db.session.refresh(message)
    assert "127.0.0.1 is a loopback address" in message.last_error
    assert receiver.requests == []
