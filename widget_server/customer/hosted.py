"""The hosted cancellation page ``/c/<site_key>?token=…``: the same flow, server-rendered,
usable without JavaScript (the fallback when the script is blocked; also for email links).

Like the widget API it is cookie-less and authenticated by the customer token alone; the token
travels in a hidden field, so CSRF does not apply (nobody else can submit for the customer).

The page's language is chosen once per request, before any view runs (the ``locale`` field or
parameter, else the browser's, else the site's default); views, templates and error pages all
read it from there (:func:`widget_server.i18n.current_locale`).
"""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, g, make_response, render_template, request
from flask_babel import gettext

from widget_server import ratelimit
from widget_server.api.errors import error_page
from widget_server.customer import present
from widget_server.errors import InvalidToken, KeepkitError
from widget_server.guards import whole_number
from widget_server.i18n import N_, Text, current_locale, customer_locale, use_locale
from widget_server.services import flow, sites, stripe_connector
from widget_server.services.tokens import verify_customer_token

bp = Blueprint("hosted", __name__, template_folder="templates", url_prefix="/c")
ratelimit.limit_door(bp, "hosted")


@bp.url_value_preprocessor
def _load_site(endpoint, values):
    # Runs before the limiter, which counts per address and site (unknown keys: one bucket).
    g.site_key = values.pop("site_key")
    g.site = sites.find_site(g.site_key)


@bp.before_request
def _require_site():
    if g.site is None:
        raise sites.site_not_found(g.site_key)
    use_locale(customer_locale(request.values.get("locale"), g.site.default_locale))


@bp.after_request
def _headers(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries a token
    return response


def _page(template: str, status: int = 200, **context):
    html = render_template(template, site=g.site, locale=current_locale(), **context)
    return make_response(html, status)


def _claims():
    token = request.values.get("token", "")
    try:
        return token, verify_customer_token(g.site, token)
    except InvalidToken as exc:
        raise _Invalid(exc) from exc


class _Invalid(Exception):
    def __init__(self, error: InvalidToken):
        self.error = error


@bp.errorhandler(KeepkitError)
def _refused(exc: KeepkitError):
    """A step the flow refused (the unit of work has rolled it back): the page the step
    declared (``g.refused_page``), in the customer's language; else the app's error page."""
    page = g.get("refused_page")
    return page(exc) if page else error_page(exc.status, exc.localized())


@bp.errorhandler(_Invalid)
def _invalid(exc: _Invalid):
    message = gettext(
        "This link is no longer valid. Please open the cancellation page again from your account."
    )
    return _page("hosted/invalid.html", 401, message=message)


def _roadmap_item(form) -> int | None:
    """The roadmap item picked for a missing-feature reason, if any (ignored otherwise)."""
    value = form.get("roadmap_item", "")
    reason = next((r for r in flow.active_reasons(g.site) if r.key == form.get("reason")), None)
    if reason is None or not reason.is_missing_feature:
        return None
    return whole_number(value)  # not "²", not 10^30


# What the customer reads for an error: their language, never an internal code.
ERROR_TEXTS = {
    "unknown_reason": Text(N_("Why are you cancelling?")),
    "comment_required": Text(N_("For this reason, please tell us a few words in the comment.")),
    "text_too_long": Text(
        N_("Please keep the comment under %(max)s characters."), max=flow.MAX_COMMENT
    ),
    "invalid_characters": Text(
        N_("The comment contains characters we cannot store. Please remove them.")
    ),
    "session_completed": Text(
        N_("This cancellation was already completed. Nothing else needs doing.")
    ),
}
ERROR_FAILED = Text(
    N_("Something went wrong. Please open the cancellation page again from your account.")
)


def _error_text(exc: KeepkitError) -> str:
    return ERROR_TEXTS.get(exc.code, ERROR_FAILED).localized()


def _reasons_page(token, session_id, *, status=200, error=None, chosen=None, comment=""):
    choices = present.choices(flow.choices(g.site), current_locale())
    reasons = choices["reasons"]
    required = [r["label"] for r in reasons if r.get("requires_text")]
    comment_label = (
        gettext(
            "Comment (required for: %(reasons)s; optional otherwise)",
            reasons=", ".join(required),
        )
        if required
        else gettext("Anything else you want to tell us? (optional)")
    )
    return _page(
        "hosted/reasons.html",
        status,
        token=token,
        session_id=session_id,
        reasons=reasons,
        comment_label=comment_label,
        roadmap_items=choices["roadmap"],
        error=error,
        chosen=chosen,
        comment=comment,
        max_comment=flow.MAX_COMMENT,
    )


@bp.get("/<site_key>")
def start():
    """The reasons form. Nothing is stored until the customer submits it."""
    token, _ = _claims()
    return _reasons_page(token, str(uuid.uuid4()))


@bp.post("/<site_key>")
def answer():
    """Start (idempotently, by the form's session id) and answer; then the offer or confirm."""
    token, claims = _claims()
    claims = stripe_connector.complete_claims(
        g.site, claims, current_app.config["KEEPKIT_STRIPE_API_BASE"]
    )
    form = request.form
    g.refused_page = lambda exc: _reasons_page(
        token,
        form.get("session") or str(uuid.uuid4()),
        status=422,
        error=_error_text(exc),
        chosen=form.get("reason"),
        comment=form.get("comment", ""),
    )
    locale = current_locale()
    session, _ = flow.start_session(g.site, claims, locale=locale, public_id=form.get("session"))
    offer = flow.answer_session(
        g.site,
        session,
        reason_key=form.get("reason", ""),
        comment=form.get("comment"),
        # Each reason's follow-up has its own field; the chosen reason's counts.
        followup_answer=form.get(f"followup_{form.get('reason', '')}"),
        roadmap_item_id=_roadmap_item(form),
    )
    shown = present.offer(offer, locale) if offer else None
    return _page("hosted/decide.html", token=token, session=session, offer=shown)


@bp.post("/<site_key>/<session_id>/confirm")
def confirm(session_id: str):
    """The customer declined the offer: show the confirmation step."""
    token, claims = _claims()
    session = flow.get_session(g.site, claims, session_id)
    return _page("hosted/decide.html", token=token, session=session, offer=None)


@bp.post("/<site_key>/<session_id>/complete")
def complete(session_id: str):
    _, claims = _claims()
    session = flow.get_session(g.site, claims, session_id)
    outcome = request.form.get("outcome", "")
    g.refused_page = lambda exc: _page("hosted/invalid.html", exc.status, message=_error_text(exc))
    flow.complete_session(g.site, session, outcome=outcome, offer_key=request.form.get("offer"))
    return _page("hosted/done.html", outcome=session.outcome, offer=session.offer)
