"""Talking to localstripe (started by tests/integrations/conftest.py): its API key, a webhook
registration, and a paying customer."""

from __future__ import annotations

import json
import urllib.request
import uuid

from stripe import StripeClient

API_KEY = "sk_test_keepkit12345"


def register_webhook(localstripe: str, name: str, url: str, secret: str) -> None:
    """localstripe signs and posts every event to ``url`` with ``secret`` from now on."""
    body = json.dumps({"url": url, "secret": secret}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{localstripe}/_config/webhooks/{name}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback
        pass


def paying_customer(client: StripeClient, *, amount=4900, quantity=2, email="a@example.com"):
    """A Stripe customer with a card and an active monthly subscription; (customer, sub)."""
    customer = client.v1.customers.create(params={"email": email})
    product = client.v1.products.create(params={"name": "Pro"})
    plan = client.v1.plans.create(
        params={
            "id": f"plan_{uuid.uuid4().hex[:12]}",
            "product": product.id,
            "amount": amount,
            "currency": "usd",
            "interval": "month",
            "nickname": "Pro",
        }
    )
    card = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    client.v1.payment_methods.attach(card.id, params={"customer": customer.id})
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": card.id}}
    )
    subscription = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"plan": plan.id, "quantity": quantity}]}
    )
    return customer, subscription, plan
