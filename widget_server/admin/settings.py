"""Admin: a site's settings — reasons and offers, general settings and logo, exchange rates,
allowed origins, the signing secret, API keys, the webhook, and recalculating the figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, current_app, g, redirect, render_template, request
from flask_babel import gettext
from flask_login import current_user

from widget_server.admin.common import (
    Routes,
    audit,
    done,
    failed,
    refused,
    render,
    settings_url,
    site_view,
)
from widget_server.models import OFFER_TYPES, STATUSES, Offer, Reason, Site
from widget_server.services import flow_config, jobs, money, sites
from widget_server.services.locales import SUPPORTED_LOCALES
from widget_server.services.roadmap import STATUS_LABELS

routes = Routes()


def _settings_context(**extra):
    return {
        "reasons": flow_config.all_reasons(g.site),
        "offers": flow_config.all_offers(g.site),
        "public_url": current_app.config["KEEPKIT_PUBLIC_URL"] or request.host_url.rstrip("/"),
        "statuses": STATUSES,
        "default_labels": STATUS_LABELS,
        "rates": money.rates(g.site),
        "missing_rates": money.currencies_without_rate(g.site),
        "locales": SUPPORTED_LOCALES,
        **extra,
    }


@routes.get("/sites/<site_key>/settings")
@site_view("viewer")
def settings():
    return render_template("settings.html", **_settings_context(jobs=jobs.recent(g.site)))


@routes.get("/sites/<site_key>/jobs")
@site_view("viewer")
def job_list():
    """The recalculations, for the fragment that refreshes itself while one runs."""
    compact = request.args.get("compact") == "True"
    active = jobs.active(g.site) if compact else jobs.recent(g.site)
    return render("_jobs.html", "_jobs.html", jobs=active, compact=compact)


@routes.post("/sites/<site_key>/jobs/rebuild")
@site_view("editor")
def rebuild_figures():
    """Recalculate every figure of the dashboard from the sessions (in the worker)."""
    jobs.enqueue(g.site, "rebuild_rollups", requested_by=current_user.email)
    return done(
        gettext("The worker recalculates the figures now; the progress shows below."),
        settings_url("figures"),
    )


def _labels(prefix: str) -> dict:
    return {loc: request.form.get(f"{prefix}_{loc}", "") for loc in SUPPORTED_LOCALES}


@routes.route(
    "/sites/<site_key>/reasons/new", methods=["GET", "POST"], defaults={"reason_id": None}
)
@routes.route("/sites/<site_key>/reasons/<int:reason_id>", methods=["GET", "POST"])
@site_view("editor")
def reason_form(reason_id: int | None):
    reason = flow_config.get_reason(g.site, reason_id) if reason_id else None

    def page(error: str | None = None):
        return render_template(
            "reason_form.html",
            reason=reason,
            error=error,
            locales=SUPPORTED_LOCALES,
            form=request.form,
        )

    if request.method == "GET":
        return page()
    refused(page=page)
    flow_config.save_reason(
        g.site,
        reason,
        labels=_labels("label"),
        followup=_labels("followup"),
        requires_text=bool(request.form.get("requires_text")),
        is_missing_feature=bool(request.form.get("is_missing_feature")),
    )
    return done(gettext("Reason saved."), settings_url("reasons"))


@routes.post("/sites/<site_key>/<kind>/<int:item_id>/<action>")
@site_view("editor")
def item_action(kind: str, item_id: int, action: str):
    """Reorder, archive or restore a reason or an offer; htmx swaps the list."""
    getters: dict[str, Callable[[Site, int], Reason | Offer]] = {
        "reasons": flow_config.get_reason,
        "offers": flow_config.get_offer,
    }
    getter = getters.get(kind)
    if getter is None or action not in ("up", "down", "archive", "restore"):
        abort(404)
    item = getter(g.site, item_id)
    if action in ("up", "down"):
        flow_config.move(g.site, item, -1 if action == "up" else 1)
    else:
        flow_config.set_archived(item, action == "archive")
    if request.headers.get("HX-Request"):
        return render(f"_{kind}.html", f"_{kind}.html", **_settings_context())
    return redirect(settings_url(kind))


def _offer_form_data() -> dict:
    form = request.form
    data: dict[str, Any] = {k: form.get(k) for k in (
        "type", "discount_percent", "discount_months", "pause_months", "target_plan",
        "contact_url", "plans", "min_mrr", "max_mrr",
    )}  # fmt: skip
    data["reason_ids"] = form.getlist("reason_ids")
    data["texts"] = {
        loc: {f: form.get(f"{f}_{loc}", "") for f in ("title", "body", "cta")}
        for loc in SUPPORTED_LOCALES
    }
    return data


@routes.route("/sites/<site_key>/offers/new", methods=["GET", "POST"], defaults={"offer_id": None})
@routes.route("/sites/<site_key>/offers/<int:offer_id>", methods=["GET", "POST"])
@site_view("editor")
def offer_form(offer_id: int | None):
    offer = flow_config.get_offer(g.site, offer_id) if offer_id else None

    def page(error: str | None = None):
        return render_template(
            "offer_form.html",
            offer=offer,
            error=error,
            locales=SUPPORTED_LOCALES,
            types=OFFER_TYPES,
            reasons=flow_config.all_reasons(g.site),
            form=request.form,
        )

    if request.method == "GET":
        return page()
    refused(page=page)
    flow_config.save_offer(g.site, offer, _offer_form_data())
    return done(gettext("Offer saved."), settings_url("offers"))


@routes.post("/sites/<site_key>/general")
@site_view("owner")
def general():
    form = request.form
    refused(back=settings_url("general"))
    sites.update_site(
        g.site,
        name=form.get("name", ""),
        default_locale=form.get("default_locale", ""),
        currency=form.get("currency", ""),
        brand_color=form.get("brand_color", ""),
        discount_window_days=form.get("discount_window_days"),
        app_url=form.get("app_url", ""),
        reactivation_url=form.get("reactivation_url", ""),
        requested_by=current_user.email,
    )
    return done(gettext("Settings saved."), settings_url("general"))


@routes.post("/sites/<site_key>/logo")
@site_view("editor")
def logo():
    upload = request.files.get("logo")
    refused(back=settings_url("general"))
    if request.form.get("remove"):
        sites.set_logo(g.site, None)
        return done(gettext("Logo removed."), settings_url("general"))
    if upload is None or not upload.filename:
        return failed(gettext("Choose a PNG or JPEG file."), settings_url("general"))
    sites.set_logo(g.site, upload.read(sites.MAX_LOGO_BYTES + 1))
    return done(gettext("Logo saved; reports show it."), settings_url("general"))


@routes.post("/sites/<site_key>/rates")
@site_view("editor")
def set_rate():
    form = request.form
    who = current_user.email
    refused(back=settings_url("currencies"))
    if form.get("remove"):
        money.remove_rate(g.site, form["remove"], requested_by=who)
        message = gettext(
            "Rate removed. The worker is recalculating the MRR bands; the dashboard shows its "
            "progress."
        )
        return done(message, settings_url("currencies"))
    money.set_rate(g.site, form.get("currency", ""), form.get("rate", ""), requested_by=who)
    message = gettext(
        "Exchange rate saved: amounts use it now. The worker is recalculating the MRR bands; "
        "the dashboard shows its progress."
    )
    return done(message, settings_url("currencies"))


@routes.post("/sites/<site_key>/origins")
@site_view("owner")
def add_origin():
    refused(back=settings_url("origins"))
    row = sites.add_origin(g.site, request.form.get("origin", ""))
    audit("origin_added", origin=row.origin)
    return done(gettext("Origin added."), settings_url("origins"))


@routes.post("/sites/<site_key>/origins/<int:origin_id>/delete")
@site_view("owner")
def remove_origin(origin_id: int):
    origin = sites.remove_origin(g.site, origin_id)
    audit("origin_removed", origin=origin)
    return done(gettext("Origin removed."), settings_url("origins"))


@routes.post("/sites/<site_key>/secret/<action>")
@site_view("owner")
def secret(action: str):
    if action == "rotate":
        sites.rotate_secret(g.site)
        audit("secret_rotated")
        message = gettext(
            "New signing secret created. Tokens signed with the previous one keep working "
            "until you retire it."
        )
    elif action == "retire":
        sites.retire_secondary_secret(g.site)
        audit("secret_retired")
        message = gettext("Previous secret retired: only the current secret verifies tokens now.")
    else:
        abort(404)
    return done(message, settings_url("secrets"))


@routes.post("/sites/<site_key>/api-keys")
@site_view("owner")
def create_api_key():
    plain = sites.create_api_key(g.site)
    audit("api_key_created", prefix=g.site.api_keys[-1].prefix)
    return render_template("settings.html", **_settings_context(new_api_key=plain))


@routes.post("/sites/<site_key>/api-keys/<int:key_id>/revoke")
@site_view("owner")
def revoke_api_key(key_id: int):
    prefix = sites.revoke_api_key(g.site, key_id)
    audit("api_key_revoked", prefix=prefix)
    return done(gettext("API key revoked."), settings_url("api-keys"))


@routes.post("/sites/<site_key>/webhook")
@site_view("owner")
def webhook_settings():
    url = (request.form.get("webhook_url") or "").strip()
    new_secret = bool(request.form.get("new_secret"))
    allow_private = current_app.config["KEEPKIT_WEBHOOK_ALLOW_PRIVATE"]
    refused(back=settings_url("webhook"))
    sites.set_webhook(g.site, url or None, new_secret=new_secret, allow_private=allow_private)
    audit("webhook_changed", url=url or None, new_secret=new_secret)
    return done(gettext("Webhook settings saved."), settings_url("webhook"))
