"""Public pages: the roadmap as a page of its own, and one-click unsubscribe."""

from __future__ import annotations

from flask import Blueprint, abort, g, make_response, render_template, request
from flask_babel import gettext

from widget_server import ratelimit
from widget_server.customer import present
from widget_server.delivery.tokens import read_unsubscribe_token
from widget_server.extensions import db
from widget_server.i18n import N_, customer_locale, use_locale
from widget_server.models import Site
from widget_server.services import digests, roadmap, sites

bp = Blueprint("public", __name__, template_folder="templates")
ratelimit.limit_door(bp, "public")

# The unsubscribe page's question and answer, by what the link stops.
QUESTIONS = {
    "digest": N_("Stop the weekly digest?"),
    "item": N_("Stop emails about this roadmap item?"),
    "all": N_("Stop all roadmap emails from us?"),
}
DONE = {
    "digest": N_("You will get no more weekly digests."),
    "item": N_("You will get no more emails about this."),
    "all": N_("You will get no more roadmap emails from us."),
}


@bp.url_value_preprocessor
def _load_site(endpoint, values):
    """``g.site`` for the limiter (per address and site): the roadmap's site, or the site of a
    customer's unsubscribe link; None for unknown keys, broken links and admins' digest links."""
    if "site_key" in values:
        g.site = sites.find_site(values["site_key"])
        return
    data = read_unsubscribe_token(values.get("token", ""))
    g.site = db.session.get(Site, data["s"]) if data and "s" in data else None


@bp.after_request
def _headers(response):
    if request.endpoint == "public.unsubscribe":
        response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries a token
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/roadmap/<site_key>")
def roadmap_page(site_key: str):
    """The public roadmap, server-rendered and readable without JavaScript."""
    site = g.site
    if site is None:
        abort(404)
    locale = customer_locale(request.args.get("locale"), site.default_locale)
    board = present.board(site, roadmap.board(site), locale)
    use_locale(locale)
    response = make_response(
        render_template("public/roadmap.html", site=site, board=board, locale=locale)
    )
    response.headers["Cache-Control"] = "public, max-age=60"
    response.vary.add("Accept-Language")  # a cache keeps one copy per language asked for
    return response


@bp.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """GET (the link in the email) asks for confirmation and changes nothing: mail scanners
    follow links. POST unsubscribes: the confirmation form, or the mail client's one-click
    request (RFC 8058, ``List-Unsubscribe=One-Click``)."""
    data = read_unsubscribe_token(token)
    site = db.session.get(Site, data["s"]) if data and "s" in data else None
    locale = customer_locale(None, site.default_locale if site else "en")
    use_locale(locale)
    if data is None or ("s" in data and site is None):
        message = gettext("This unsubscribe link is not valid.")
        return render_template("public/message.html", message=message, locale=locale), 400
    what = "digest" if "a" in data else "item" if data["i"] else "all"
    if request.method == "GET":
        return render_template(
            "public/unsubscribe.html", question=gettext(QUESTIONS[what]), locale=locale, site=site
        )
    if "a" in data or site is None:  # an admin's digest token names no site
        digests.stop_weekly_digest(data["a"])
    else:
        roadmap.unsubscribe(site, data["c"], data["i"])
    message = gettext(DONE[what])
    return render_template("public/message.html", message=message, locale=locale, site=site)
