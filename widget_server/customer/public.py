"""Public pages: the roadmap as a page of its own, and one-click unsubscribe."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, make_response, render_template, request

from widget_server import ratelimit
from widget_server.delivery.tokens import read_unsubscribe_token
from widget_server.extensions import db, limiter
from widget_server.models import Site
from widget_server.services import digests, roadmap, sites
from widget_server.services.locales import pick_locale

bp = Blueprint("public", __name__, template_folder="templates")
limiter.limit(
    lambda: current_app.config["KEEPKIT_WIDGET_RATE_LIMIT"],
    key_func=lambda: ratelimit.site_bucket("public"),
)(bp)

PAGE_STRINGS = {
    "en": {"title": "Roadmap", "votes": "votes", "empty": "Nothing here yet.",
           "how": "To vote, open the roadmap from inside {site} while signed in and press an "
                  "item's vote button. Voters get an email when work starts and when it ships.",
           "open_app": "Open {site}",
           "unsubscribed": "You will get no more emails about this.",
           "unsubscribed_all": "You will get no more roadmap emails from us.",
           "unsubscribed_digest": "You will get no more weekly digests.",
           "invalid": "This unsubscribe link is not valid.",
           "confirm_item": "Stop emails about this roadmap item?",
           "confirm_all": "Stop all roadmap emails from us?",
           "confirm_digest": "Stop the weekly digest?", "confirm": "Unsubscribe"},
    "de": {"title": "Roadmap", "votes": "Stimmen", "empty": "Noch nichts hier.",
           "how": "Um abzustimmen, öffnen Sie die Roadmap angemeldet in {site} und drücken Sie "
                  "beim Eintrag auf die Stimme. Sie erhalten eine E-Mail, wenn die Arbeit "
                  "beginnt und wenn sie fertig ist.",
           "open_app": "{site} öffnen",
           "unsubscribed": "Sie erhalten dazu keine E-Mails mehr.",
           "unsubscribed_all": "Sie erhalten keine Roadmap-E-Mails mehr von uns.",
           "unsubscribed_digest": "Sie erhalten keinen wöchentlichen Bericht mehr.",
           "invalid": "Dieser Abmeldelink ist ungültig.",
           "confirm_item": "Keine E-Mails mehr zu diesem Roadmap-Eintrag?",
           "confirm_all": "Keine Roadmap-E-Mails mehr von uns?",
           "confirm_digest": "Den wöchentlichen Bericht abbestellen?", "confirm": "Abmelden"},
    "fi": {"title": "Tiekartta", "votes": "ääntä", "empty": "Täällä ei ole vielä mitään.",
           "how": "Äänestä avaamalla tiekartta kirjautuneena palvelussa {site} ja painamalla "
                  "kohteen äänestyspainiketta. Saat sähköpostin, kun työ alkaa ja kun se "
                  "julkaistaan.",
           "open_app": "Avaa {site}",
           "unsubscribed": "Et saa tästä enää sähköposteja.",
           "unsubscribed_all": "Et saa meiltä enää tiekarttaviestejä.",
           "unsubscribed_digest": "Et saa enää viikkoraporttia.",
           "invalid": "Tämä peruutuslinkki ei ole voimassa.",
           "confirm_item": "Lopetetaanko viestit tästä tiekartan kohteesta?",
           "confirm_all": "Lopetetaanko kaikki tiekarttaviestit?",
           "confirm_digest": "Lopetetaanko viikkoraportti?", "confirm": "Peru tilaus"},
}  # fmt: skip


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
    locale = pick_locale(
        request.args.get("locale") or request.accept_languages.best, site.default_locale
    )
    board = roadmap.board(site, locale)
    response = make_response(
        render_template(
            "public/roadmap.html", site=site, board=board, locale=locale, t=PAGE_STRINGS[locale]
        )
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
    locale = pick_locale(request.accept_languages.best, site.default_locale if site else "en")
    t = PAGE_STRINGS[locale]
    if data is None or ("s" in data and site is None):
        return render_template("public/message.html", message=t["invalid"], locale=locale), 400
    if request.method == "GET":
        question = t[
            "confirm_digest" if "a" in data else "confirm_item" if data["i"] else "confirm_all"
        ]
        return render_template(
            "public/unsubscribe.html", question=question, t=t, locale=locale, site=site
        )
    if "a" in data or site is None:  # an admin's digest token names no site
        digests.stop_weekly_digest(data["a"])
        message = t["unsubscribed_digest"]
    else:
        roadmap.unsubscribe(site, data["c"], data["i"])
        message = t["unsubscribed"] if data["i"] else t["unsubscribed_all"]
    return render_template("public/message.html", message=message, locale=locale, site=site)
