"""Delivering the outbox: emails over SMTP and signed webhooks over HTTP (``keepkit worker``).

Messages are claimed with a lease: a worker killed mid-delivery leaves its messages in
``sending``, and they become claimable again when the lease runs out. On PostgreSQL the claim
uses ``FOR UPDATE SKIP LOCKED`` so several workers never take the same message; every claim is
also a conditional update, which keeps SQLite (one writer at a time) correct.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import smtplib
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer

from widget_server.errors import NotFound
from widget_server.extensions import db
from widget_server.models import Customer, OutboxMessage, RoadmapItem, Site, utcnow
from widget_server.services import insights, jobs, netguard, rollups, stripe_connector
from widget_server.services.locales import pick_locale, translate
from widget_server.services.roadmap import status_label

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 3600
# Headers are written by the library (quoted display names, encoded words where needed), but
# a header whose raw value is an URL (List-Unsubscribe) must stay literal: RFC 2369 clients
# cannot read an RFC 2047-encoded URL. ``refold_source="none"`` keeps raw values as set.
EMAIL_POLICY = policy.SMTP.clone(refold_source="none")
WEBHOOK_TIMEOUT_SECONDS = 10

SUBJECTS = {
    "in_progress": {
        "en": "We started working on “{title}”",
        "de": "Wir arbeiten jetzt an „{title}“",
        "fi": "Aloitimme työn: ”{title}”",
    },
    "shipped": {
        "en": "“{title}” is live",
        "de": "„{title}“ ist verfügbar",
        "fi": "”{title}” on julkaistu",
    },
    "winback": {
        "en": "You asked for “{title}”: it is here now",
        "de": "Sie wollten „{title}“: jetzt gibt es das",
        "fi": "Toivoit ominaisuutta ”{title}”: nyt se on täällä",
    },
}

EMAIL_STRINGS = {
    "en": {
        "hi": "Hi", "started": "We have started working on an item you voted for:",
        "shipped": "Something you voted for is now available:",
        "winback": "When you left, you told us you needed this. It is here now:",
        "come_back": "We would love to have you back.", "see": "See the roadmap",
        "reactivate": "Come back to {site}",
        "why": "You get this email because you voted for this item.",
        "why_winback": "You get this email because you asked for this feature when you cancelled.",
        "unsubscribe": "Unsubscribe",
    },
    "de": {
        "hi": "Hallo", "started": "Wir arbeiten jetzt an etwas, wofür Sie gestimmt haben:",
        "shipped": "Etwas, wofür Sie gestimmt haben, ist jetzt verfügbar:",
        "winback": "Als Sie gekündigt haben, fehlte Ihnen das. Jetzt gibt es das:",
        "come_back": "Wir würden uns freuen, Sie wiederzusehen.", "see": "Zur Roadmap",
        "reactivate": "Zurück zu {site}",
        "why": "Sie erhalten diese E-Mail, weil Sie für diesen Eintrag gestimmt haben.",
        "why_winback": "Sie erhalten diese E-Mail, weil Sie sich diese Funktion bei Ihrer "
        "Kündigung gewünscht haben.",
        "unsubscribe": "Abmelden",
    },
    "fi": {
        "hi": "Hei", "started": "Aloitimme työn kohteen parissa, jota äänestit:",
        "shipped": "Äänestämäsi ominaisuus on nyt saatavilla:",
        "winback": "Kun lähdit, kerroit tarvitsevasi tämän. Nyt se on täällä:",
        "come_back": "Olisit lämpimästi tervetullut takaisin.", "see": "Katso tiekartta",
        "reactivate": "Palaa palveluun {site}",
        "why": "Saat tämän viestin, koska äänestit tätä kohdetta.",
        "why_winback": "Saat tämän viestin, koska toivoit tätä ominaisuutta peruuttaessasi.",
        "unsubscribe": "Peru tilaus",
    },
}  # fmt: skip


class DeliveryError(Exception):
    """A delivery failed for a reason that may pass (server down, HTTP 5xx): retried."""


class ComposeError(Exception):
    """A message cannot be built at all (bad data): retrying cannot help, it is parked."""


class RunCounts(NamedTuple):
    """What one worker pass did: delivered, scheduled for another try, parked as failed."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


class Undeliverable(DeliveryError):
    """Retrying cannot help: the message is parked as failed at once (and can be resent)."""


# --- unsubscribe links ---------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="keepkit-unsubscribe")


def unsubscribe_token(site_id: int, customer_id: int, item_id: int | None) -> str:
    return _serializer().dumps({"s": site_id, "c": customer_id, "i": item_id})


def read_unsubscribe_token(token: str) -> dict | None:
    """``{"s", "c", "i"}`` (a customer's roadmap emails) or ``{"a"}`` (an admin's digest)."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if isinstance(data, dict) and ({"s", "c", "i"} <= set(data) or set(data) == {"a"}):
        return data
    return None


def _absolute(path: str) -> str:
    base = current_app.config["KEEPKIT_PUBLIC_URL"].rstrip("/")
    if not base:
        raise DeliveryError("KEEPKIT_PUBLIC_URL is not set: emails need absolute links")
    return base + path


# --- claiming -----------------------------------------------------------------------------


def max_attempts() -> int:
    return current_app.config["KEEPKIT_OUTBOX_MAX_ATTEMPTS"]


def _park_abandoned(now) -> None:
    """Messages whose lease ran out after their last allowed attempt are parked: a message that
    kills its worker every time (out of memory, say) must not be claimed forever."""
    db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.state == "sending",
            OutboxMessage.locked_until < now,
            OutboxMessage.attempts >= max_attempts(),
        )
        .values(
            state="failed",
            locked_until=None,
            last_error="The worker stopped while delivering it, every time it was tried",
        )
    )


def claim(limit: int = 20) -> list[int]:
    """Take up to ``limit`` due messages for this worker; returns their ids (committed).

    Claiming counts the attempt, so a message whose delivery kills the worker is still
    counted and, after the last attempt, parked. One ``UPDATE … WHERE id IN (SELECT … [FOR
    UPDATE SKIP LOCKED]) RETURNING id``: a transaction that starts with its write never
    deadlocks on SQLite's lock upgrade, and on PostgreSQL concurrent workers skip each other's
    rows. A message whose lease expired (its worker died) is due again.
    """
    now = utcnow()
    lease = timedelta(seconds=current_app.config["KEEPKIT_OUTBOX_LEASE_SECONDS"])
    _park_abandoned(now)
    due = sa.or_(
        sa.and_(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now),
        sa.and_(OutboxMessage.state == "sending", OutboxMessage.locked_until < now),
    )
    candidates = sa.select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates.scalar_subquery()), due)
        .values(state="sending", locked_until=now + lease, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id)
    )
    claimed = sorted(db.session.connection().execute(statement).scalars())
    db.session.commit()
    return claimed


def _backoff(attempts: int) -> timedelta:
    base = current_app.config["KEEPKIT_RETRY_BASE_SECONDS"]
    return timedelta(seconds=min(base * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS))


def _record(message_id: int, **values) -> None:
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.state == "sending")
        .values(locked_until=None, **values)
    )
    db.session.commit()


def _build(message: OutboxMessage):
    """The email or HTTP request for a message. Any failure here is about the message's data,
    not the network: it becomes a :class:`ComposeError`."""
    try:
        return build_email(message) if message.kind == "email" else build_webhook(message)
    except DeliveryError:
        raise
    except Exception as exc:
        log.exception("Outbox message %s cannot be composed", message.id)
        raise ComposeError(f"Cannot be composed: {type(exc).__name__}: {exc}") from exc


def process(message_id: int) -> str:
    """Deliver one claimed message and record the result: ``"sent"``, ``"retried"`` (due again
    after a backoff) or ``"failed"`` (parked until an admin resends it). Never raises for a
    problem with the message itself, so one bad message cannot stop the others.

    The reads end (commit) before any network I/O, so no transaction is held open while
    talking to an SMTP server or a webhook receiver.
    """
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.state != "sending":
        db.session.commit()
        return "skipped"
    attempts, kind = message.attempts, message.kind
    try:
        built = _build(message)
        db.session.commit()
        if kind == "email":
            send_email(built)
        else:
            send_webhook(built)
    except (DeliveryError, ComposeError) as exc:
        db.session.rollback()
        park = isinstance(exc, ComposeError | Undeliverable) or attempts >= max_attempts()
        _record(
            message_id,
            state="failed" if park else "pending",
            last_error=str(exc)[:2000],
            next_attempt_at=utcnow() + _backoff(attempts),
        )
        log.warning(
            "Outbox message %s %s after attempt %s: %s",
            message_id,
            "parked as failed" if park else "will be retried",
            attempts,
            exc,
        )
        return "failed" if park else "retried"
    _record(message_id, state="sent", sent_at=utcnow(), last_error=None)
    log.info("Outbox message %s (%s) delivered", message_id, kind)
    return "sent"


def run_periodic(now) -> None:
    """The worker's periodic tasks, each once per period whichever worker gets there first:
    this week's digests, and the daily deletion of comments past a site's retention."""
    from widget_server.services import audit, digests, privacy, schedule

    digests.enqueue_due(now)
    db.session.commit()
    if schedule.claim("comment-retention", timedelta(days=1), now):
        for site, count in privacy.expire_comments(now).items():
            audit.record(
                "comments_expired",
                actor="Keepkit",
                site=site,
                sessions=count,
                months=site.comment_retention_months,
            )
        db.session.commit()


def fold_completions() -> int:
    """Count every completion queued for the rollups, a batch per transaction."""
    total = 0
    while folded := rollups.fold_pending():
        db.session.commit()
        total += folded
    return total


def _stripe_cancel(site, customer_id: int):
    api_base = current_app.config["KEEPKIT_STRIPE_API_BASE"]
    return stripe_connector.cancel_at_period_end(site, customer_id, api_base)


JOB_HANDLERS: dict[str, jobs.Handler] = {
    "rebuild_rollups": rollups.rebuild_in_steps,
    "rebuild_mrr_bands": rollups.rebuild_mrr_bands_in_steps,
    "stripe_cancel": _stripe_cancel,
}


def run_once(batch: int = 20) -> RunCounts:
    """Run the periodic tasks and the jobs that are due, then deliver everything that is due.

    Returns how many messages were sent, retried later and parked as failed.
    """
    fold_completions()
    run_periodic(utcnow())
    jobs.run_due(JOB_HANDLERS)
    counts = {"sent": 0, "retried": 0, "failed": 0, "skipped": 0}
    while ids := claim(batch):
        for message_id in ids:
            counts[process(message_id)] += 1
    return RunCounts(counts["sent"], counts["retried"], counts["failed"])


def run_forever(poll_seconds: float = 2.0, should_stop=lambda: False) -> None:
    """Poll until stopped. A database outage is waited out (logged, retried every poll)."""
    while not should_stop():
        try:
            counts = run_once()
        except sa.exc.DBAPIError as exc:
            db.session.rollback()
            log.error("The database is unreachable; retrying in %ss: %s", poll_seconds, exc)
            time.sleep(poll_seconds)
            continue
        if any(counts):
            log.info("Outbox: sent %s, retried %s, failed %s", *counts)
        else:
            time.sleep(poll_seconds)


def resend(site: Site, message_id: int) -> None:
    """Queue a message again (admin: resend a webhook or a failed email).

    :raises NotFound: ``message_not_found`` unless the message belongs to the site.
    """
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.site_id != site.id:
        raise NotFound("No such message", code="message_not_found")
    message.state = "pending"
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.locked_until = None
    message.last_error = None
    db.session.flush()


# --- email --------------------------------------------------------------------------------


def header_text(value: str) -> str:
    """One line of header-safe text: control characters (CR, LF, NUL, …) and line or paragraph
    separators become spaces. Input doors refuse them already; this keeps the worker safe for
    rows written before they did."""
    cleaned = "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in value or ""
    )
    return " ".join(cleaned.split())


def parse_mail_from(value: str) -> Address:
    """``KEEPKIT_MAIL_FROM`` as ``addr`` or ``Name <addr>``.

    :raises ValueError: when it is not one email address.
    """
    value = value or ""
    header = None
    if header_text(value) == value.strip():
        header = policy.default.header_factory("From", value)
    if (
        header is None
        or header.defects
        or len(header.addresses) != 1
        or not header.addresses[0].domain
    ):
        raise ValueError(f"KEEPKIT_MAIL_FROM must be 'addr' or 'Name <addr>', not {value!r}")
    return header.addresses[0]


def message_id(message: OutboxMessage, domain: str) -> str:
    """The stable Message-ID of an outbox message: the same on every attempt, so a receiver
    can drop the copy a worker killed after the SMTP server accepted it sends again."""
    return f"<outbox-{message.id}@{domain}>"


def _compose(
    message: OutboxMessage,
    *,
    sender: str | None,
    subject: str,
    unsubscribe: str,
    template: str,
    context: dict,
) -> EmailMessage:
    """An HTML + text email from ``email/<template>.{txt,html}`` with a stable Message-ID and
    the one-click unsubscribe headers (RFC 8058).

    Every header goes through the email library's API: display names are quoted, subjects
    encoded, addresses parsed (a malformed one raises). ``sender`` replaces the display name
    of ``KEEPKIT_MAIL_FROM`` (e.g. the site's name); None keeps it.
    """
    mail_from = parse_mail_from(current_app.config["KEEPKIT_MAIL_FROM"])
    email = EmailMessage(policy=EMAIL_POLICY)
    email["Subject"] = header_text(subject)
    display = header_text(sender) if sender else mail_from.display_name
    email["From"] = Address(display_name=display or "Keepkit", addr_spec=mail_from.addr_spec)
    email["To"] = Address(addr_spec=message.recipient.strip())
    email["Message-ID"] = message_id(message, mail_from.domain or "keepkit.local")
    # Literal <https://…> (RFC 2369): never folded or encoded.
    email.set_raw("List-Unsubscribe", f"<{unsubscribe}>")
    email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    context = {**context, "subject": subject, "unsubscribe_url": unsubscribe}
    logo = _logo(context.get("site"))
    context["logo_cid"] = logo[2][1:-1] if logo else None
    email.set_content(render_template(f"email/{template}.txt", **context))
    email.add_alternative(render_template(f"email/{template}.html", **context), subtype="html")
    if logo:
        # Inline (multipart/related, cid:): mail clients block data: images and remote ones.
        data, subtype, cid = logo
        list(email.iter_parts())[1].add_related(data, "image", subtype, cid=cid)
    return email


def _logo(site: Site | None) -> tuple[bytes, str, str] | None:
    """The site's logo (stored as a data: URI) as bytes, image subtype and a Content-ID."""
    if site is None or not site.logo or not site.logo.startswith("data:image/"):
        return None
    header, _, encoded = site.logo.partition(",")
    subtype = header[len("data:image/") :].split(";", 1)[0]
    try:
        data = base64.b64decode(encoded, validate=True)
    except ValueError:
        return None
    return data, subtype, make_msgid(domain="logo.keepkit.local")


def _site(message: OutboxMessage) -> Site:
    """The message's site (its messages go with a deleted site: ON DELETE CASCADE)."""
    site = db.session.get(Site, message.site_id)
    if site is None:
        raise ComposeError("The site no longer exists")
    return site


def build_digest(message: OutboxMessage) -> EmailMessage:
    """The weekly digest: a short summary in the body and the PDF report attached."""
    from widget_server.reports.pdf import render_pdf  # WeasyPrint: loaded only when needed

    payload = message.payload
    site = _site(message)
    period = insights.Period(date.fromisoformat(payload["from"]), date.fromisoformat(payload["to"]))
    filters = insights.Filter(period)
    email = _compose(
        message,
        sender=None,
        subject=f"Cancellation insights for {site.name}: {period.start} to {period.end}",
        unsubscribe=_absolute(f"/u/{_serializer().dumps({'a': payload['user_id']})}"),
        template="digest",
        context={
            "site": site,
            "period": period,
            "summary": insights.summary(site, filters),
            "dashboard_url": _absolute(f"/admin/sites/{site.key}/"),
        },
    )
    name = f"keepkit-insights-{period.start}-{period.end}.pdf"
    email.add_attachment(
        render_pdf(site, filters), maintype="application", subtype="pdf", filename=name
    )
    return email


def _with_item(url: str | None, item_id: int) -> str | None:
    """The site's reactivation address naming the item: ``…?keepkit_item=7``."""
    if not url:
        return None
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("keepkit_item", item_id)])
    return urlunsplit(parts._replace(query=query))


def build_email(message: OutboxMessage) -> EmailMessage:
    payload = message.payload
    if payload.get("template") == "digest":
        return build_digest(message)
    site = _site(message)
    item = db.session.get(RoadmapItem, payload["item_id"])
    customer = db.session.get(Customer, payload["customer_id"])
    if item is None or customer is None:
        raise ComposeError("The roadmap item or the customer no longer exists")
    locale = pick_locale(customer.locale, site.default_locale)
    kind = payload["template"]
    status = payload.get("status", "shipped")
    key = "winback" if kind == "winback" else status
    token = unsubscribe_token(site.id, customer.id, None if kind == "winback" else item.id)
    return _compose(
        message,
        sender=site.name,
        subject=translate(SUBJECTS[key], locale).format(title=item.title),
        unsubscribe=_absolute(f"/u/{token}"),
        template="roadmap",
        context={
            "site": site,
            "item": item,
            "description_html": item.description_html,
            "customer": customer,
            "kind": kind,
            "status": status,
            "status_label": status_label(site, status, locale),
            "locale": locale,
            "roadmap_url": _absolute(f"/roadmap/{site.key}"),
            "reactivation_url": _with_item(site.reactivation_url, item.id)
            if kind == "winback"
            else None,
            "brand": site.brand_color or "#4f46e5",
            "t": EMAIL_STRINGS[locale],
        },
    )


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
    site = _site(message)
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
