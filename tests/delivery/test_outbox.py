"""Delivering the outbox in-process, against a real SMTP server and webhook receiver."""

import hashlib
import hmac
import json
import re
from datetime import timedelta

import sqlalchemy as sa

from tests.factories import complete_session, make_customer, outbox_messages
from tests.servers import SmtpServer, free_port
from widget_server.delivery import worker
from widget_server.models import Subscription, utcnow
from widget_server.services import flow, roadmap


def item_with_voter(db, site, title="Dark <script>mode</script>"):
    item = roadmap.create_item(site, title=title, description="Finally **dark**.")
    fan = make_customer(site, "fan", name="Ann <b>", locale="de")
    roadmap.vote(site, item, fan)
    db.session.commit()
    return item, fan


def test_status_email_is_translated_escaped_and_unsubscribable(client, db, site, smtp):
    item, fan = item_with_voter(db, site)
    roadmap.change_status(site, item, "in_progress")
    db.session.commit()
    assert worker.run_once() == (1, 0, 0)
    [email] = smtp.sink.messages
    assert email["To"] == "fan@example.com"
    assert email["Subject"] == "Wir arbeiten jetzt an „Dark <script>mode</script>“"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = email.get_body(("html",)).get_content()
    text = email.get_body(("plain",)).get_content()
    assert "Dark &lt;script&gt;mode&lt;/script&gt;" in html and "<script>" not in html
    assert "Hallo Ann &lt;b&gt;" in html and "In Arbeit" in html
    assert "Hallo Ann <b>," in text and "Dark <script>mode</script> (In Arbeit)" in text
    link = re.search(r"<(http://keepkit\.test(/u/[^>]+))>", email["List-Unsubscribe"]).group(2)
    assert link in html and link in text
    assert worker.run_once() == (0, 0, 0)  # nothing twice
    # One click (RFC 8058 POST from the mail client) unsubscribes from this item.
    assert client.post(link).status_code == 200
    sub = db.session.scalar(sa.select(Subscription).where(Subscription.customer_id == fan.id))
    assert sub.unsubscribed_at is not None
    roadmap.change_status(site, item, "shipped")
    db.session.commit()
    assert worker.run_once() == (0, 0, 0)
    assert client.get("/u/forged-token").status_code == 400


def test_winback_when_the_missing_feature_ships(db, site, smtp):
    item = roadmap.create_item(site, title="SSO")
    complete_session(
        site, "gone", "missing_features", roadmap_item=item, email="gone@example.com", locale="fi"
    )
    roadmap.change_status(site, item, "shipped")
    db.session.commit()
    assert worker.run_once() == (1, 0, 0)
    [email] = smtp.sink.messages
    assert email["Subject"] == "Toivoit ominaisuutta ”SSO”: nyt se on täällä"
    assert "Kun lähdit, kerroit tarvitsevasi tämän" in email.get_body(("plain",)).get_content()


def test_smtp_down_then_back_delivers_once(app, db, site, monkeypatch):
    port = free_port()
    monkeypatch.setitem(app.config, "KEEPKIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "KEEPKIT_SMTP_PORT", port)
    item, _ = item_with_voter(db, site)
    roadmap.change_status(site, item, "in_progress")
    db.session.commit()
    assert worker.run_once() == (0, 1, 0)
    [message] = outbox_messages()
    assert (message.state, message.attempts) == ("pending", 1)
    assert "Connection refused" in message.last_error
    assert message.next_attempt_at > utcnow() + timedelta(seconds=20)  # backed off
    server = SmtpServer(port).start()
    try:
        assert worker.run_once() == (0, 0, 0)  # not due yet
        message.next_attempt_at = utcnow()
        db.session.commit()
        assert worker.run_once() == (1, 0, 0)
        assert worker.run_once() == (0, 0, 0)
        assert len(server.sink.messages) == 1
    finally:
        server.stop()
    db.session.refresh(message)
    assert (message.state, message.attempts, message.last_error) == ("sent", 2, None)


def test_a_killed_workers_messages_are_retried_after_the_lease(db, site, smtp):
    item, _ = item_with_voter(db, site)
    roadmap.change_status(site, item, "in_progress")
    db.session.commit()
    claimed = worker.claim()  # ... and the worker dies before delivering
    assert len(claimed) == 1
    assert worker.run_once() == (0, 0, 0)  # still leased to the dead worker
    [message] = outbox_messages()
    message.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert worker.run_once() == (1, 0, 0)
    assert len(smtp.sink.messages) == 1


def test_webhooks_are_signed_and_retried(db, site, receiver):
    site.webhook_url, site.webhook_secret = receiver.url, "whsec_test"
    item = roadmap.create_item(site, title="API")
    db.session.commit()
    receiver.replies = [500]
    roadmap.vote(site, item, make_customer(site, "hooked", name="Ann <b>", locale="de"))
    db.session.commit()
    assert worker.run_once() == (0, 1, 0)
    [message] = outbox_messages()
    message.next_attempt_at = utcnow()
    db.session.commit()
    assert worker.run_once() == (1, 0, 0)
    assert len(receiver.requests) == 2
    headers, body = receiver.requests[-1]
    # Verify as a receiver would: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
    parts = dict(p.split("=", 1) for p in headers["Keepkit-Signature"].split(","))
    expected = hmac.new(b"whsec_test", f"{parts['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    event = json.loads(body)
    assert event["event"] == "vote.created" and event["data"]["customer"] == "hooked"
    assert headers["Keepkit-Event"] == "vote.created"


def test_cancellation_completed_webhook(db, site, receiver):
    site.webhook_url, site.webhook_secret = receiver.url, "whsec_test"
    session = complete_session(site, "leaver", "switching", mrr=4900, plan="Pro", comment="Globex")
    flow.complete_session(site, session, outcome="cancelled")  # a retried request
    db.session.commit()
    assert worker.run_once() == (1, 0, 0)
    event = json.loads(receiver.requests[0][1])
    assert event["event"] == "cancellation.completed"
    data = event["data"]
    assert (data["outcome"], data["mrr"], data["customer"]["id"], data["reason"]["id"]) == (
        "cancelled", 4900, "leaver", "switching",
    )  # fmt: skip


def test_weekly_digest_once_a_week_with_the_pdf(client, db, site, smtp):
    import io

    from pypdf import PdfReader

    from tests.factories import make_admin
    from widget_server.services import digests

    admin = make_admin("pm@example.com")
    quiet = make_admin("quiet@example.com")
    digests.set_weekly_digest(admin, True)
    complete_session(site, "gone", "switching", mrr=12300, days_ago=utcnow().weekday() + 3)
    db.session.commit()
    assert worker.run_once() == (1, 0, 0)
    assert worker.run_once() == (0, 0, 0)  # once a week
    [email] = smtp.sink.messages
    assert email["To"] == "pm@example.com" and quiet.email not in email["To"]
    assert "Lost MRR $123 from 1 cancellation." in email.get_body(("plain",)).get_content()
    [attachment] = list(email.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    pdf_text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert "$123" in pdf_text
    link = re.search(r"<http://keepkit\.test(/u/[^>]+)>", email["List-Unsubscribe"]).group(1)
    assert client.post(link).status_code == 200
    db.session.refresh(admin)
    assert admin.weekly_digest is False


def test_the_digest_in_the_recipients_language(db, site, smtp):
    from tests.factories import make_admin, pdf_text
    from widget_server.services import digests

    german = make_admin("de@example.com")
    german.locale = "de"
    automatic = make_admin("auto@example.com")  # no choice: the site's default locale
    site.default_locale = "fi"
    for admin in (german, automatic):
        digests.set_weekly_digest(admin, True)
    complete_session(site, "gone", "switching", mrr=12300, days_ago=utcnow().weekday() + 3)
    db.session.commit()
    assert worker.run_once() == (2, 0, 0)
    emails = {email["To"]: email for email in smtp.sink.messages}
    body = emails["de@example.com"].get_body(("plain",)).get_content()
    assert "Verlorener MRR 123\xa0$ aus 1 Kündigung." in body
    assert emails["de@example.com"]["Subject"].startswith("Kündigungsanalyse für Acme")
    [attachment] = list(emails["de@example.com"].iter_attachments())
    assert "Kündigungsanalyse" in pdf_text(attachment.get_content())
    finnish = emails["auto@example.com"].get_body(("plain",)).get_content()
    assert "Menetetty MRR 123\xa0$ (1 peruutus)." in finnish


def test_admin_opts_in_to_the_digest(admin_client, db, admin, site):
    from tests.clients import token_of

    token = token_of(admin_client, site)
    admin_client.post("/admin/digest", data={"csrf_token": token, "weekly_digest": "1"})
    db.session.refresh(admin)
    assert admin.weekly_digest is True


def test_winback_links_to_the_sites_reactivation_page_naming_the_item(db, site, smtp):
    from widget_server.services import sites

    sites.update_site(
        site, name="Acme <Apps>", default_locale="en", currency="USD", brand_color="#0f766e",
        discount_window_days=365, reactivation_url="https://app.example.com/billing?plan=pro",
    )  # fmt: skip
    item = roadmap.create_item(site, title="SSO")
    complete_session(site, "gone", "missing_features", roadmap_item=item, email="gone@example.com")
    roadmap.change_status(site, item, "shipped")
    db.session.commit()
    assert worker.run_once() == (1, 0, 0)
    [email] = smtp.sink.messages
    html = email.get_body(("html",)).get_content()
    url = f"https://app.example.com/billing?plan=pro&amp;keepkit_item={item.id}"
    assert html.count("<a href=") == 2  # one button, and the unsubscribe link
    assert f'<a href="{url}" style="display: inline-block; background: #0f766e' in html
    assert "Come back to Acme &lt;Apps&gt;" in html and "Acme &lt;Apps&gt;</p>" in html
    text = email.get_body(("plain",)).get_content()
    assert f"Come back to Acme <Apps>: {url.replace('&amp;', '&')}" in text


def test_a_site_logo_heads_its_emails_inline(db, site, smtp):
    """The logo travels inside the email (multipart/related, cid:), as mail clients show it;
    without a logo the site's name heads it."""
    import base64

    from widget_server.services import sites

    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    item, _ = item_with_voter(db, site, title="SSO")
    roadmap.change_status(site, item, "in_progress")
    db.session.commit()
    assert worker.run_once() == (1, 0, 0)
    sites.set_logo(site, png)
    roadmap.change_status(site, item, "shipped")
    db.session.commit()
    assert worker.run_once() == (1, 0, 0)
    plain, branded = smtp.sink.messages
    assert "<img" not in plain.get_body(("html",)).get_content()
    assert not [p for p in plain.walk() if p.get_content_maintype() == "image"]
    [html] = [p.get_content() for p in branded.walk() if p.get_content_type() == "text/html"]
    [image] = [p for p in branded.walk() if p.get_content_type() == "image/png"]
    cid = image["Content-ID"].strip("<>")
    assert f'<img src="cid:{cid}" alt="Acme"' in html
    assert image.get_content() == png
