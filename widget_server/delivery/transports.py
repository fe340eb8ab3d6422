"""Sending what the worker built: emails over SMTP, and signed webhooks over HTTP through the
SSRF guard. Every failure that may pass is a :class:`DeliveryError` (the worker retries it)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage

from flask import current_app

from widget_server.delivery.errors import DeliveryError, Undeliverable, message_site
from widget_server.models import OutboxMessage
from widget_server.services import netguard

WEBHOOK_TIMEOUT_SECONDS = 10


def send_email(email: EmailMessage) -> None:
    config = current_app.config
    host, port = config["KEEPKIT_SMTP_HOST"], config["KEEPKIT_SMTP_PORT"]
    try:
        smtp_class = smtplib.SMTP_SSL if port == 465 else smtplib.SMTP
        with smtp_class(host, port, timeout=30) as smtp:
            if port != 465 and config["KEEPKIT_SMTP_USER"]:
                smtp.starttls()
            if config["KEEPKIT_SMTP_USER"]:
                smtp.login(config["KEEPKIT_SMTP_USER"], config["KEEPKIT_SMTP_PASSWORD"])
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {host}:{port}: {exc}") from exc


# --- webhooks -----------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Keepkit-Signature`` header: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass(frozen=True)
class Webhook:
    url: str
    body: bytes
    headers: dict[str, str]


def build_webhook(message: OutboxMessage) -> Webhook:
    """The signed request for a queued event, to the site's webhook URL as it is now (a URL
    changed after the event was queued applies; the message records where it goes).

    :raises Undeliverable: when the site has no webhook URL any more.
    :raises DeliveryError: when the site has no webhook secret.
    """
    site = message_site(message)
    if not site.webhook_url:
        raise Undeliverable("the site has no webhook URL any more: set one, then resend")
    if not site.webhook_secret:
        raise DeliveryError("the site has no webhook secret")
    message.recipient = site.webhook_url
    body = json.dumps({"id": message.id, **message.payload}, separators=(",", ":")).encode()
    return Webhook(
        site.webhook_url,
        body,
        {
            "Content-Type": "application/json",
            "User-Agent": "Keepkit-Webhooks/1",
            "Keepkit-Signature": sign(site.webhook_secret, int(time.time()), body),
            "Keepkit-Event": message.topic,
        },
    )


def send_webhook(webhook: Webhook) -> None:
    """POST through the SSRF guard: only to checked addresses, redirects not followed.

    :raises DeliveryError: for a refused target, a network error or a non-2xx answer.
    """
    try:
        response = netguard.post(
            webhook.url,
            webhook.body,
            webhook.headers,
            allow_private=current_app.config["KEEPKIT_WEBHOOK_ALLOW_PRIVATE"],
            timeout=WEBHOOK_TIMEOUT_SECONDS,
        )
    except netguard.Refused as exc:
        raise DeliveryError(f"{webhook.url}: refused: {exc}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{webhook.url}: {str(exc) or type(exc).__name__}") from exc
    if 300 <= response.status < 400:
        location = (response.location or "")[:200]
        raise DeliveryError(
            f"HTTP {response.status}: redirects are not followed (Location: {location!r}); "
            "set the webhook URL to the final address"
        )
    if not 200 <= response.status < 300:
        raise DeliveryError(f"HTTP {response.status}")
