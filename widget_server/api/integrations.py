"""Billing providers' webhooks: ``POST /integrations/stripe/<site_key>`` (see
:mod:`widget_server.services.stripe_connector`). Authenticated by the provider's signature,
not by cookies; every answer is JSON, errors in the API's envelope."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from widget_server.api.errors import envelope
from widget_server.errors import KeepkitError, NotFound
from widget_server.extensions import limiter
from widget_server.services import sites, stripe_connector

log = logging.getLogger(__name__)

bp = Blueprint("integrations", __name__, url_prefix="/integrations")
# One budget per site key (Stripe sends from many addresses), as large as the data API's.
limiter.limit(
    lambda: current_app.config["KEEPKIT_DATA_RATE_LIMIT"],
    key_func=lambda: f"integrations:{(request.view_args or {}).get('site_key', '')[:64]}",
)(bp)


@bp.post("/stripe/<site_key>")
def stripe_webhook(site_key: str):
    """A Stripe webhook: verified, mapped, stored once per Stripe event id. Types Keepkit does
    not map are acknowledged (200) and ignored, so Stripe stops sending them again."""
    site = sites.find_site(site_key)
    if site is None or not site.stripe_webhook_secret:
        raise NotFound("No Stripe connector for this site", code="site_not_found")
    payload = request.get_data(cache=False)
    event = stripe_connector.verify(
        site.stripe_webhook_secret, request.headers.get("Stripe-Signature"), payload
    )
    result = stripe_connector.receive(site, event)
    return jsonify({"received": True, **result})


@bp.errorhandler(KeepkitError)
def _refused(exc: KeepkitError):
    """A refused webhook (bad signature, unknown site, bad event), in the API's envelope
    although the path is not under /api/: Stripe shows the answer to the integrator."""
    site_key = (request.view_args or {}).get("site_key", "")
    log.info("Stripe webhook for %s refused: %s", site_key, exc.message)
    return envelope(exc.status, exc.code, exc.message, exc.details)
