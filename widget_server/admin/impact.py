"""Admin: the Impact page (what happened after the flow, from billing's lifecycle events) and
the Stripe connector's settings."""

from __future__ import annotations

from flask import current_app, g, request
from flask_babel import gettext

from widget_server.admin.common import (
    Routes,
    audit,
    done,
    parse_period,
    refused,
    render,
    settings_url,
    site_view,
)
from widget_server.services import impact, stripe_connector

routes = Routes()


@routes.get("/sites/<site_key>/impact")
@site_view("viewer")
def impact_page():
    """Saves that lasted, cancellations billing confirmed, customers who came back."""
    period, error = parse_period(request.args, days=180)
    return render(
        "impact.html",
        period=period,
        error=error,
        retention=impact.retention(g.site, period),
        reactivations=impact.reactivations(g.site, period),
        still_paying=impact.still_paying(g.site, period),
        windows=impact.RETENTION_WINDOWS,
        confirmation_days=impact.CONFIRMATION_DAYS,
        attribution_days=impact.ATTRIBUTION_DAYS,
    )


@routes.post("/sites/<site_key>/stripe")
@site_view("owner")
def stripe_settings():
    """Owners set the Stripe endpoint secret, the API key (blank: kept; "remove" removes) and
    whether confirmed cancellations are applied in Stripe."""
    form = request.form
    secret = (form.get("stripe_webhook_secret") or "").strip()
    key = (form.get("stripe_api_key") or "").strip()

    def save():
        stripe_connector.configure(
            g.site,
            webhook_secret="" if form.get("remove_secret") else (secret or None),
            api_key="" if form.get("remove_key") else (key or None),
            apply_cancellations=bool(form.get("apply_cancellations")),
        )
        audit(
            "stripe_connector_changed",
            webhook_secret=stripe_connector.masked(g.site.stripe_webhook_secret),
            api_key=stripe_connector.masked(g.site.stripe_api_key),
            apply_cancellations=g.site.stripe_apply_cancellations,
        )

    refused(back=settings_url("stripe"))
    save()
    return done(gettext("Stripe connector saved."), settings_url("stripe"))


def stripe_endpoint_helpers():
    """For every template (the admin's settings): where Stripe sends a site's events."""

    def stripe_endpoint(site_key: str) -> str:
        base = current_app.config["KEEPKIT_PUBLIC_URL"].rstrip("/") or request.host_url.rstrip("/")
        return f"{base}/integrations/stripe/{site_key}"

    return {"stripe_endpoint": stripe_endpoint, "masked": stripe_connector.masked}
