"""What every admin page shares: its routes table, access checks, the htmx-aware render, the
audit helper, the period of the query string and the one mapping of domain errors to what the
admin sees. The pages themselves live in one module per area (dashboard, sessions, settings,
roadmap, outbox, audit, team, experiments, impact, privacy, auth)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required

from widget_server import database
from widget_server.api.errors import error_page
from widget_server.errors import KeepkitError
from widget_server.i18n import N_, admin_locale, current_locale, use_locale
from widget_server.models import utcnow
from widget_server.reports import formatting
from widget_server.services import insights, jobs, rollups, sites, users
from widget_server.services.period import DEFAULT_DAYS, Filter, InvalidPeriod, Period

log = logging.getLogger(__name__)

# Scripts and styles from our own files only (no inline handlers, no eval), nothing framed.
ADMIN_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@dataclass
class Routes:
    """An area's pages, collected by its decorators and added to the admin blueprint by
    ``widget_server.admin`` (importing an area registers nothing by itself)."""

    rules: list[tuple[str, Callable, dict[str, Any]]] = field(default_factory=list)

    def route(self, rule: str, **options: Any) -> Callable[[Callable], Callable]:
        def decorate(view: Callable) -> Callable:
            self.rules.append((rule, view, options))
            return view

        return decorate

    def get(self, rule: str, **options: Any) -> Callable[[Callable], Callable]:
        return self.route(rule, methods=["GET"], **options)

    def post(self, rule: str, **options: Any) -> Callable[[Callable], Callable]:
        return self.route(rule, methods=["POST"], **options)

    def register(self, bp: Blueprint) -> None:
        for rule, view, options in self.rules:
            bp.add_url_rule(rule, view_func=view, **options)


# --- the blueprint's hooks (registered by widget_server.admin) ---------------------------


# The roles' names as the pages show them ("editor of Acme").
ROLE_LABELS = {"viewer": N_("viewer"), "editor": N_("editor"), "owner": N_("owner")}


# A session's outcome as the pages name it ("open": not completed yet).
OUTCOME_LABELS = {
    "cancelled": N_("cancelled"),
    "saved": N_("saved"),
    "dismissed": N_("dismissed"),
    "open": N_("open"),
}
# An outbox message's state.
STATE_LABELS = {
    "pending": N_("pending"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "failed": N_("failed"),
}


def admin_labels() -> dict:
    """The names the pages show for jobs, roles and outcomes, in the admin's language."""
    return {
        "job_kinds": {kind: gettext(label) for kind, label in jobs.KINDS.items()},
        "role_names": {role: gettext(label) for role, label in ROLE_LABELS.items()},
        "outcome_names": {key: gettext(label) for key, label in OUTCOME_LABELS.items()},
        "state_names": {key: gettext(label) for key, label in STATE_LABELS.items()},
    }


def security_headers(response):
    response.headers["Content-Security-Policy"] = ADMIN_CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def admin_language() -> None:
    """The admin's pages, text and figures alike, in the signed-in admin's language (their
    Account page), else the browser's, else English: ``$43,820`` or ``43.820 $``."""
    chosen = current_user.locale if current_user.is_authenticated else None
    use_locale(admin_locale(chosen))


def _major(amount, currency) -> str:
    """Minor units as a plain number for a form field (``49.00``; JPY ``4900``)."""
    return f"{formatting.major(amount, currency):.{formatting.digits(currency)}f}"


# The figures' filters: the admin's pages, and the emails and the PDF rendered in the app.
TEMPLATE_FILTERS: dict[str, Callable] = {
    "money": formatting.money,
    "major": _major,
    "number": formatting.number,
    "percent": formatting.percent,
    "points": formatting.points,
    "change": formatting.change,
    "day": formatting.day,
    "month": formatting.month_label,
}
# Counted words, in the reader's plural form: the admin's pages, the emails and the PDF.
TEMPLATE_GLOBALS: dict[str, Callable] = {
    "cancellations": formatting.cancellations,
    "saves": formatting.saves,
    "current_locale": current_locale,
    "segment_name": insights.segment_name,
}


def domain_error(exc: KeepkitError):
    """The admin's one mapping of a refused request (a domain error; the unit of work has
    rolled back everything the request changed): what the view declared with
    :func:`refused`, else the error page with the error's status."""
    message = exc.localized()  # in the admin's language (the data API keeps English)
    page, back = g.get("admin_refused", (None, None))
    if page is not None:
        response = make_response(page(message))
        response.status_code = 422
        return response
    if back is not None:
        flash(message, "error")
        return redirect(back)
    return error_page(exc.status, message)


# --- for the pages ------------------------------------------------------------------------


def refused(
    *, page: Callable[[str], ResponseReturnValue] | None = None, back: str | None = None
) -> None:
    """Declare what this request shows if a service refuses it: ``page(message)``, the same
    form again with the message (422, the form keeps what was typed), or ``back``, a page
    where the message is flashed."""
    g.admin_refused = (page, back)


def done(message: str, url: str):
    """The request succeeded: say so on ``url`` once the unit of work has committed it."""
    database.after_commit(lambda: flash(message))
    return redirect(url)


def failed(message: str, url: str):
    """The request was refused before any service was asked: say why on ``url``."""
    flash(message, "error")
    return redirect(url)


def settings_url(anchor: str) -> str:
    return url_for("admin.settings", site_key=g.site.key) + f"#{anchor}"


def client_ip() -> str | None:
    return request.remote_addr


def audit(action: str, *, site=None, actor=None, **details) -> None:
    """Record ``action`` by the signed-in admin (or ``actor``) from this request's address."""
    from widget_server.services import audit as audit_log

    audit_log.record(
        action,
        actor=actor or current_user._get_current_object(),
        site=site or g.get("site"),
        ip=client_ip(),
        **details,
    )


def safe_next(value: str | None) -> str:
    """Only same-host absolute paths are followed after login; anything else (other hosts,
    ``//host``, ``/\\host``, schemes, control characters browsers would drop) lands on the
    dashboard."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and value.isprintable()
    ):
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc and not parts.path.startswith("//"):
            return value
    return url_for("admin.index")


def render(template: str, partial: str | None = None, **context):
    """Render the page, or only its fragment for htmx requests (``Vary: HX-Request``). htmx's
    history restore (the back button after a cache miss) needs the whole page."""
    is_htmx = (
        request.headers.get("HX-Request")
        and not request.headers.get("HX-History-Restore-Request")
        and partial
    )
    response = make_response(
        render_template((partial or template) if is_htmx else template, **context)
    )
    response.vary.add("HX-Request")
    response.vary.add("HX-History-Restore-Request")
    return response


def attachment(body, mimetype: str, filename: str):
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def site_view(role: str, *, write: str | None = None):
    """A page of one site: load ``g.site`` from ``site_key`` (404 for sites the admin has no
    role on) and require ``role`` for reading, ``write`` (default: ``role``) for other
    methods (403 with the reason). The access-matrix test reads ``required_roles``."""
    required = {"GET": role, "POST": write or role}

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(site_key, **kwargs):
            try:
                site = sites.get_site(site_key)
            except KeepkitError:
                abort(404)
            g.role = users.role_for(current_user, site)
            if g.role is None:
                abort(404)
            g.site = site
            g.sites = users.visible_sites(current_user)
            needed = required["GET" if request.method in ("GET", "HEAD") else "POST"]
            if not users.has_role(current_user, site, needed):
                abort(
                    403,
                    gettext(
                        "Your role on %(site)s is %(role)s; this needs %(needed)s. An owner "
                        "of the site can change your role.",
                        site=site.name,
                        role=gettext(ROLE_LABELS[g.role]),
                        needed=gettext(ROLE_LABELS[needed]),
                    ),
                )
            return view(**kwargs)

        # functools' stubs give the wrapper no attributes of its own; the test reads this one.
        wrapper.required_roles = required  # type: ignore[attr-defined]
        return wrapper

    return decorate


def account_view(view):
    """A page of the signed-in admin's own account (no site)."""
    wrapper = login_required(view)
    wrapper.required_roles = {"GET": "account", "POST": "account"}
    return wrapper


def public_view(view):
    """A page anyone may open (the sign-in form)."""
    view.required_roles = {"GET": "anyone", "POST": "anyone"}
    return view


def parse_period(args, *, days: int = DEFAULT_DAYS) -> tuple[Period, str | None]:
    """The period of the query string (range, or from/to), or, when it cannot be read, the
    last ``days`` days and the message the form shows."""
    today = utcnow().date()  # periods are UTC days everywhere, whatever the server's zone
    try:
        period = Period.parse(
            args.get("from"), args.get("to"), today=today, preset=args.get("range"), days=days
        )
    except InvalidPeriod as exc:
        return Period.last_days(days, today), f"{exc.localized()}."
    return period, None


def parse_filter(args) -> tuple[Filter, str | None]:
    """Dashboard filters from the query string: range/from/to, plan, segment (attr=value)."""
    period, error = parse_period(args)
    return Filter.parse(period, plan=args.get("plan"), segment=args.get("segment")), error


def current_figures() -> None:
    """Count the site's queued completions before showing its figures."""
    if rollups.pending(g.site):
        database.write_now(lambda: rollups.fold_all(g.site))
