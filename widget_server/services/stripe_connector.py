"""The Stripe connector (optional, per site): Stripe's webhooks become lifecycle events, and
with an API key Keepkit reads a customer's MRR and plan from Stripe and, when the site opts
in, cancels at period end the subscription of a customer who confirmed a cancellation.

Stripe's webhooks are verified with the site's endpoint secret the way Stripe signs them:
``Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``, at most
five minutes old. The Stripe event id is the lifecycle event's id, so a webhook Stripe sends
again changes nothing.

Requests to Stripe go through the SSRF guard (:mod:`widget_server.services.netguard`): the
connection goes to a checked address and redirects are not followed. The API base is the
operator's setting (``KEEPKIT_STRIPE_API_BASE``), so another than Stripe's own may be on a
private or loopback address; link-local and reserved addresses stay refused.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlencode

import sqlalchemy as sa

from widget_server.errors import BadRequest, ValidationError
from widget_server.extensions import db
from widget_server.i18n import N_
from widget_server.models import Customer, LifecycleEvent, Site
from widget_server.models.lifecycle import CANCELLED, MRR_CHANGED, REACTIVATED, RENEWED
from widget_server.services import lifecycle, netguard
from widget_server.services.money import MAX_AMOUNT, is_currency
from widget_server.services.tokens import CustomerClaims

log = logging.getLogger(__name__)

STRIPE_API_BASE = "https://api.stripe.com"
TOLERANCE_SECONDS = 300
TIMEOUT_SECONDS = 5.0
WEBHOOK_SECRET = re.compile(r"^whsec_[A-Za-z0-9_]{8,200}$")
SUBSCRIPTION_ID = re.compile(r"^sub_[A-Za-z0-9_]{1,200}$")
API_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]{8,200}$")
# Stripe's price intervals in months.
MONTHS = {"day": 12 / 365, "week": 12 / 52, "month": 1, "year": 12}
HANDLED = (
    "customer.subscription.deleted",
    "customer.subscription.created",
    "customer.subscription.updated",
    "invoice.paid",
    "invoice.payment_succeeded",
)


class StripeUnavailable(Exception):
    """Stripe could not be asked, or answered with an error (the message says which)."""


# --- settings ------------------------------------------------------------------------------


def configure(
    site: Site,
    *,
    webhook_secret: str | None,
    api_key: str | None,
    apply_cancellations: bool | None = None,
) -> None:
    """Set the site's Stripe endpoint secret and API key (``""`` removes one; ``None`` keeps
    it) and whether confirmed cancellations are applied in Stripe.

    :raises ValidationError: ``invalid_stripe_secret``, ``invalid_stripe_key``,
        ``stripe_key_required`` (applying cancellations without an API key).
    """
    if webhook_secret is not None:
        webhook_secret = webhook_secret.strip()
        if webhook_secret and not WEBHOOK_SECRET.match(webhook_secret):
            raise ValidationError(
                N_(
                    "The webhook signing secret starts with whsec_ (Stripe shows it on the "
                    "endpoint's page)"
                ),
                code="invalid_stripe_secret",
            )
        site.stripe_webhook_secret = webhook_secret or None
    if api_key is not None:
        api_key = api_key.strip()
        if api_key and not API_KEY.match(api_key):
            raise ValidationError(
                N_(
                    "The API key starts with sk_ or rk_ (a restricted key with read access to "
                    "subscriptions is enough unless cancellations are applied)"
                ),
                code="invalid_stripe_key",
            )
        site.stripe_api_key = api_key or None
    if apply_cancellations is not None:
        site.stripe_apply_cancellations = apply_cancellations
    if site.stripe_apply_cancellations and not site.stripe_api_key:
        raise ValidationError(
            N_("Applying cancellations in Stripe needs an API key"), code="stripe_key_required"
        )
    db.session.flush()
    log.info("Site %s: Stripe connector settings changed", site.key)


def masked(secret: str | None) -> str | None:
    """A secret as the admin shows it: its kind and last four characters."""
    if not secret:
        return None
    kind = secret.rsplit("_", 1)[0] if secret.count("_") >= 1 else ""
    return f"{kind}_…{secret[-4:]}"


# --- webhooks ------------------------------------------------------------------------------


def verify(secret: str, header: str | None, payload: bytes, *, now: float | None = None) -> dict:
    """Check ``Stripe-Signature`` over the raw ``payload`` and return the event.

    :raises BadRequest: ``invalid_signature`` (missing, malformed, not matching, or older or
        newer than five minutes: a replay), ``invalid_event`` (not a Stripe event).
    """
    fields = [part.split("=", 1) for part in (header or "").split(",") if "=" in part]
    stamps = [value for key, value in fields if key.strip() == "t"]
    signatures = [value.strip() for key, value in fields if key.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not signatures:
        raise BadRequest(N_("Stripe-Signature is missing or malformed"), code="invalid_signature")
    stamp = int(stamps[0].strip())
    signed = f"{stamp}.".encode() + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise BadRequest(
            N_("The signature does not match the endpoint secret"), code="invalid_signature"
        )
    now = time.time() if now is None else now
    if abs(now - stamp) > TOLERANCE_SECONDS:
        raise BadRequest(
            N_("The signature's timestamp is more than five minutes away (a replay?)"),
            code="invalid_signature",
        )
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise BadRequest(N_("The body is not a Stripe event"), code="invalid_event") from exc
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise BadRequest(N_("The body is not a Stripe event"), code="invalid_event")
    return event


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def subscription_figures(subscription: dict) -> tuple[int, str | None, str | None]:
    """(MRR in minor units, currency, plan name) of a Stripe subscription object: the sum of
    its items' prices times quantities, per month."""
    items = subscription.get("items")
    items = items.get("data") if isinstance(items, dict) else None
    if not isinstance(items, list) or not items:
        plan = subscription.get("plan")
        items = [{"plan": plan, "quantity": subscription.get("quantity")}] if plan else []
    total, currency, plan_name = 0.0, None, None
    for item in items:
        if not isinstance(item, dict):
            continue
        price = item.get("price") if isinstance(item.get("price"), dict) else item.get("plan")
        if not isinstance(price, dict):
            continue
        amount = _int(price.get("unit_amount", price.get("amount")))
        recurring = price.get("recurring")
        if not isinstance(recurring, dict):
            recurring = price
        interval = MONTHS.get(recurring.get("interval", ""), 1)
        count = max(1, _int(recurring.get("interval_count")) or 1)
        quantity = _int(item.get("quantity")) if item.get("quantity") is not None else 1
        total += amount * quantity / (interval * count)
        if currency is None and isinstance(price.get("currency"), str):
            currency = price["currency"].upper()
        if plan_name is None:
            name = price.get("nickname") or price.get("id")
            plan_name = name[:100] if isinstance(name, str) else None
    currency = currency if is_currency(currency) else None
    return min(round(total), MAX_AMOUNT), currency, plan_name


def _customer_id(obj: dict) -> str | None:
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if isinstance(customer, str) and 0 < len(customer) <= 255 and customer.isprintable():
        return customer
    return None


def _external_id(site: Site, stripe_customer: str) -> str:
    """The Keepkit customer a Stripe customer id names: whose token said it
    (``stripe_customer``), else the one whose ``sub`` it is."""
    found = db.session.scalar(
        sa.select(Customer.external_id)
        .where(Customer.site_id == site.id, Customer.stripe_customer_id == stripe_customer)
        .limit(1)
    )
    return found or stripe_customer


def _had_cancelled(site: Site, external_id: str, before: datetime) -> bool:
    """Whether the customer's last cancellation or reactivation before ``before`` was a
    cancellation."""
    e = LifecycleEvent
    last = db.session.scalar(
        sa.select(e.type)
        .join(Customer, Customer.id == e.customer_id)
        .where(
            Customer.site_id == site.id,
            Customer.external_id == external_id,
            e.type.in_((CANCELLED, REACTIVATED)),
            e.occurred_at <= before,
        )
        .order_by(e.occurred_at.desc(), e.id.desc())
        .limit(1)
    )
    return last == CANCELLED


def to_lifecycle(site: Site, event: dict) -> dict | None:
    """The lifecycle event a Stripe event means, or None for one Keepkit ignores."""
    kind, obj = event["type"], event["data"]["object"]
    stripe_customer = _customer_id(obj)
    created = _int(event.get("created")) or int(time.time())
    if kind not in HANDLED or stripe_customer is None or not 0 < len(event["id"]) <= 255:
        return None
    occurred_at = datetime.fromtimestamp(min(created, 32503680000), UTC)
    customer = _external_id(site, stripe_customer)
    base = {"id": event["id"], "customer": customer, "occurred_at": occurred_at}
    if kind.startswith("invoice."):
        if obj.get("subscription") is None and obj.get("parent") is None:
            return None  # a one-off invoice starts no paid period
        return base | {"type": RENEWED, "mrr": None, "currency": None}
    mrr, currency, _plan = subscription_figures(obj)
    figures = {"mrr": mrr, "currency": currency}
    if kind == "customer.subscription.deleted":
        return base | {"type": CANCELLED} | figures
    if kind == "customer.subscription.created":
        kind = REACTIVATED if _had_cancelled(site, customer, occurred_at) else MRR_CHANGED
        return base | {"type": kind} | figures
    previous = event["data"].get("previous_attributes")
    if isinstance(previous, dict) and {"items", "plan", "quantity"} & set(previous):
        return base | {"type": MRR_CHANGED} | figures
    return None


def receive(site: Site, event: dict) -> dict:
    """Store what a verified Stripe event means. Returns ``{"stored": bool, "ignored": bool}``:
    ignored for types Keepkit does not map, not stored for an event id seen before."""
    mapped = to_lifecycle(site, event)
    if mapped is None:
        return {"stored": False, "ignored": True}
    result = lifecycle.record_events(site, [mapped])
    stripe_customer = _customer_id(event["data"]["object"])
    if mapped["customer"] == stripe_customer:
        db.session.execute(
            sa.update(Customer)
            .where(
                Customer.site_id == site.id,
                Customer.external_id == stripe_customer,
                Customer.stripe_customer_id.is_(None),
            )
            .values(stripe_customer_id=stripe_customer)
        )
    return {"stored": result["accepted"] == 1, "ignored": False}


# --- the Stripe API ------------------------------------------------------------------------


def _api(api_key: str, api_base: str, method: str, path: str, params: dict | None = None):
    """Call Stripe's API. :raises StripeUnavailable: on any failure."""
    base = api_base.rstrip("/")
    query = urlencode(params or {})
    url = base + path + (f"?{query}" if query and method == "GET" else "")
    body = query.encode() if method != "GET" else None
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    try:
        reply = netguard.call(
            method,
            url,
            body,
            headers,
            # The operator chose another server (e.g. a test double on loopback).
            allow_private=base != STRIPE_API_BASE,
            timeout=TIMEOUT_SECONDS,
        )
        data = json.loads(reply.body)
    except (netguard.Refused, OSError, http.client.HTTPException, ValueError) as exc:
        raise StripeUnavailable(f"Stripe could not be reached: {exc}") from exc
    if reply.status >= 400 or not isinstance(data, dict):
        error = data.get("error", {}) if isinstance(data, dict) else {}
        message = error.get("message") if isinstance(error, dict) else None
        raise StripeUnavailable(f"Stripe answered {reply.status}: {message or 'no message'}")
    return data


def active_subscriptions(api_key: str, api_base: str, stripe_customer: str) -> list[dict]:
    """The customer's active subscriptions. :raises StripeUnavailable:"""
    data = _api(
        api_key, api_base, "GET", "/v1/subscriptions",
        {"customer": stripe_customer, "status": "active", "limit": 10},
    )  # fmt: skip
    return [s for s in data.get("data") or [] if isinstance(s, dict)]


def stripe_customer_of(claims: CustomerClaims) -> str | None:
    if claims.stripe_customer:
        return claims.stripe_customer
    return claims.sub if claims.sub.startswith("cus_") else None


def complete_claims(site, claims: CustomerClaims, api_base: str) -> CustomerClaims:
    """``claims`` with the MRR, currency and plan of the customer's Stripe subscription when
    the token said no MRR and the site has a Stripe API key. Fails open: when Stripe cannot
    answer, the claims are returned as they are (and the reason logged)."""
    stripe_customer = stripe_customer_of(claims)
    if claims.has_mrr or not site.stripe_api_key or not stripe_customer:
        return claims
    try:
        subscriptions = active_subscriptions(site.stripe_api_key, api_base, stripe_customer)
    except StripeUnavailable as exc:
        log.warning("Site %s: MRR not read from Stripe: %s", site.key, exc)
        return claims
    if not subscriptions:
        return claims
    mrr, currency, plan = subscription_figures(subscriptions[0])
    return replace(
        claims,
        mrr=mrr,
        currency=currency or claims.currency,
        plan=claims.plan or plan,
        stripe_customer=stripe_customer,
    )


def cancel_at_period_end(site: Site, customer_id: int, api_base: str):
    """A job's steps: cancel the customer's active Stripe subscriptions at the end of their
    paid period (they confirmed a cancellation in the flow). Yields (done, total).

    :raises StripeUnavailable: so that the job is retried.
    """
    customer = db.session.get(Customer, customer_id)
    stripe_customer = customer and (
        customer.stripe_customer_id
        or (customer.external_id if customer.external_id.startswith("cus_") else None)
    )
    if not site.stripe_api_key or not stripe_customer:
        yield 1, 1
        return
    subscriptions = active_subscriptions(site.stripe_api_key, api_base, stripe_customer)
    for done, subscription in enumerate(subscriptions, 1):
        if not subscription.get("cancel_at_period_end") and SUBSCRIPTION_ID.match(
            str(subscription.get("id"))
        ):
            _api(
                site.stripe_api_key, api_base, "POST",
                f"/v1/subscriptions/{subscription['id']}", {"cancel_at_period_end": "true"},
            )  # fmt: skip
            log.info("Site %s: Stripe subscription of %s ends at period end", site.key, customer_id)
        yield done, len(subscriptions)
    if not subscriptions:
        yield 1, 1
