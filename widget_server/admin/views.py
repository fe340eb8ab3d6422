"""Admin views: parse input, check access, call one service, render."""

from __future__ import annotations

import logging
from collections.abc import Callable
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
    stream_with_context,
    url_for,
)
from flask_login import (
    current_user,
    login_required,
    login_user,
    logout_user,
    user_loaded_from_cookie,
)

from widget_server import database
from widget_server.config import ROOT
from widget_server.errors import KeepkitError
from widget_server.extensions import db, limiter, login_manager
from widget_server.guards import whole_number
from widget_server.models import (
    MAX_ID,
    OFFER_TYPES,
    OUTCOMES,
    STATUSES,
    Offer,
    Reason,
    Site,
    utcnow,
)
from widget_server.reports import csv_export, formatting
from widget_server.reports.data import dashboard_context
from widget_server.services import (
    flow_config,
    insights,
    jobs,
    money,
    rollups,
    sessions,
    sites,
    users,
)
from widget_server.services.locales import SUPPORTED_LOCALES
from widget_server.services.period import DEFAULT_DAYS, Filter, InvalidPeriod, Period
from widget_server.services.roadmap import STATUS_LABELS

bp = Blueprint(
    "admin", __name__, url_prefix="/admin", template_folder=str(ROOT / "admin" / "templates")
)
PER_PAGE = 50
MAX_PAGE = MAX_ID // PER_PAGE  # the offset stays within an INTEGER
# Scripts and styles from our own files only (no inline handlers, no eval), nothing framed.
ADMIN_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@bp.context_processor
def _names():
    return {"job_kinds": jobs.KINDS}


@bp.after_request
def _security_headers(response):
    response.headers["Content-Security-Policy"] = ADMIN_CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.before_app_request
def _reader_locale():
    """Figures are formatted for the reader (Accept-Language): ``$43,820`` or ``43.820 $``."""
    g.reader_locale = formatting.pick_locale(request.accept_languages)


@bp.app_template_filter("money")
def _money(amount, currency):
    return formatting.money(amount, currency)


@bp.app_template_filter("major")
def _major(amount, currency):
    """Minor units as a plain number for a form field (``49.00``; JPY ``4900``)."""
    return f"{formatting.major(amount, currency):.{formatting.digits(currency)}f}"


@bp.app_template_filter("number")
def _number(value):
    return formatting.number(value)


@bp.app_template_filter("plural")
def _plural(count, word, words=None):
    return formatting.plural(count, word, words)


@bp.app_template_filter("percent")
def _percent(share):
    return formatting.percent(share)


@bp.app_template_filter("points")
def _points(value):
    return formatting.points(value)


@bp.app_template_filter("change")
def _change(value, good="up"):
    return formatting.change(value, good)


@bp.app_template_filter("day")
def _day(value):
    return formatting.day(value)


@bp.app_template_filter("month")
def _month(month):
    return formatting.month_label(month)


@login_manager.user_loader
def _load_user(login_id: str):
    return users.user_for_login_id(login_id)


@user_loaded_from_cookie.connect
def _reissue_remember_cookie(app, user):
    """A remember-me cookie that signed someone in is issued again with a fresh expiry."""
    login_user(user, remember=True, fresh=False)


log = logging.getLogger(__name__)


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


@login_manager.unauthorized_handler
def _unauthorized():
    target = url_for("admin.login", next=request.full_path.rstrip("?"))
    if request.headers.get("HX-Request"):
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def _safe_next(value: str | None) -> str:
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


def commit_or_error(action, success: str) -> str | None:
    """Run ``action`` (service calls) as the request's unit of work: commit and flash
    ``success``, or roll back and return the domain error's message (for the form)."""
    try:
        action()
    except KeepkitError as exc:
        db.session.rollback()
        return exc.message
    db.session.commit()
    flash(success)
    return None


def commit_or_flash(action, success: str) -> bool:
    """As :func:`commit_or_error`, flashing the error. Returns whether it succeeded."""
    error = commit_or_error(action, success)
    if error:
        flash(error, "error")
    return error is None


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
                    f"You are {ROLE_NAMES[g.role]} of {site.name}; this needs "
                    f"{ROLE_NAMES[needed]}. An owner of the site can change your role.",
                )
            return view(**kwargs)

        # functools' stubs give the wrapper no attributes of its own; the test reads this one.
        wrapper.required_roles = required  # type: ignore[attr-defined]
        return wrapper

    return decorate


ROLE_NAMES = {"viewer": "a viewer", "editor": "an editor", "owner": "an owner"}


def account_view(view):
    """A page of the signed-in admin's own account (no site)."""
    wrapper = login_required(view)
    wrapper.required_roles = {"GET": "account", "POST": "account"}
    return wrapper


def public_view(view):
    """A page anyone may open (the sign-in form)."""
    view.required_roles = {"GET": "anyone", "POST": "anyone"}
    return view


def _account_limit():
    from limits import parse

    return parse(current_app.config["KEEPKIT_LOGIN_ACCOUNT_LIMIT"])


def _account_locked(email: str) -> bool:
    """Whether this account had too many failed sign-ins lately (whatever the address).
    The limiter's storage fails open: a storage outage must not lock everyone out."""
    try:
        return not limiter.limiter.test(_account_limit(), "login-account", email)
    except Exception:
        log.exception("Rate-limit storage unavailable; not throttling sign-ins per account")
        return False


def _count_failure(email: str) -> None:
    try:
        limiter.limiter.hit(_account_limit(), "login-account", email)
    except Exception:
        log.exception("Rate-limit storage unavailable; failed sign-in not counted")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KEEPKIT_LOGIN_RATE_LIMIT"], methods=["POST"])
@public_view
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    error, status = None, 200
    if request.method == "POST":
        email = users.normalize_email(request.form.get("email", ""))[:255]
        if _account_locked(email):
            error, status = (
                "Too many failed sign-ins for this account. Wait 15 minutes and try again, "
                "or ask another owner to set a new password.",
                429,
            )
        else:
            user = users.authenticate(email, request.form.get("password", ""))
            if user is None:
                _count_failure(email)
                audit("login_failed", actor=email or "(no email)", email=email)
                db.session.commit()
                error, status = "Wrong email or password.", 401
            else:
                login_user(user, remember=bool(request.form.get("remember")))
                audit("login", actor=user)
                db.session.commit()
                return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), status


@bp.post("/logout")
@account_view
def logout():
    """Sign out: this ends the admin's session and remember-me cookie everywhere, copies
    included (a new session generation)."""
    user = current_user._get_current_object()
    users.end_sessions(user)
    audit("logout", actor=user)
    db.session.commit()
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("admin.login"))


@bp.route("/account", methods=["GET", "POST"])
@account_view
def account():
    """Change the password (ends every other session) or sign out everywhere else."""
    user = current_user._get_current_object()
    error = None
    message = ""
    if request.method == "POST":
        form = request.form
        if form.get("action") == "sign_out_everywhere":
            users.end_sessions(user)
            audit("sessions_ended", actor=user)
            message = "Signed out everywhere else: only this browser is still signed in."
        else:
            try:
                if form.get("new_password") != form.get("confirm_password"):
                    raise KeepkitError("The new passwords do not match.")
                users.change_password(user, form.get("password", ""), form.get("new_password", ""))
            except KeepkitError as exc:
                db.session.rollback()
                error = exc.message
            else:
                audit("password_changed", actor=user)
                message = "Password changed; every other session is signed out."
        if error is None:
            db.session.commit()
            # The new generation replaces this browser's cookies, so it stays signed in.
            login_user(user, remember=bool(request.cookies.get("remember_token")))
            flash(message)
            return redirect(url_for("admin.account"))
    return render_template("account.html", error=error, sites=users.visible_sites(user)), (
        422 if error else 200
    )


@bp.get("/")
@account_view
def index():
    """The first site's dashboard, or the one picked in the site menu (``?site=KEY``)."""
    visible = users.visible_sites(current_user)
    if not visible:
        return render_template("no_sites.html")
    chosen = next((s for s in visible if s.key == request.args.get("site")), visible[0])
    return redirect(url_for("admin.dashboard", site_key=chosen.key))


def parse_period(args, *, days: int = DEFAULT_DAYS) -> tuple[Period, str | None]:
    """The period of the query string (range, or from/to), or, when it cannot be read, the
    last ``days`` days and the message the form shows."""
    today = utcnow().date()  # periods are UTC days everywhere, whatever the server's zone
    try:
        period = Period.parse(
            args.get("from"), args.get("to"), today=today, preset=args.get("range"), days=days
        )
    except InvalidPeriod as exc:
        return Period.last_days(days, today), f"{exc.message}."
    return period, None


@bp.post("/digest")
@account_view
def digest():
    """Opt in to (or out of) the weekly PDF digest of every site this admin sees."""
    from widget_server.services.digests import set_weekly_digest

    enabled = bool(request.form.get("weekly_digest"))
    set_weekly_digest(current_user, enabled)
    db.session.commit()
    flash("You will get the PDF report every Monday." if enabled else "Weekly digest turned off.")
    return redirect(_safe_next(request.form.get("next")))


def parse_filter(args) -> tuple[Filter, str | None]:
    """Dashboard filters from the query string: range/from/to, plan, segment (attr=value)."""
    period, error = parse_period(args)
    return Filter.parse(period, plan=args.get("plan"), segment=args.get("segment")), error


def current_figures() -> None:
    """Count the site's queued completions before showing its figures."""
    if rollups.pending(g.site):
        database.write_now(lambda: rollups.fold_all(g.site))


@bp.get("/sites/<site_key>/")
@site_view("viewer")
def dashboard():
    current_figures()
    filters, error = parse_filter(request.args)
    by = request.args.get("by") or "plan"
    try:
        context = dashboard_context(g.site, filters, by)
    except KeepkitError as exc:
        context, error = dashboard_context(g.site, filters, "plan"), exc.message
        by = "plan"
    return render(
        "dashboard.html",
        "_ranking.html",
        period=filters.period,
        plan=filters.plan,
        filters=filters,
        by=by,
        plans=sessions.site_plans(g.site),
        attributes=insights.attribute_keys(g.site),
        error=error,
        rates=money.rates(g.site),
        jobs=jobs.active(g.site),
        **context,
    )


def _session_filter(args) -> sessions.SessionFilter:
    outcome = args.get("outcome") if args.get("outcome") in (*OUTCOMES, "open") else None
    completed = None
    if args.get("from") or args.get("to"):
        completed, _ = parse_period(args)
    return sessions.SessionFilter(
        reason_key=args.get("reason") or None,
        outcome=outcome,
        plan=args.get("plan") or None,
        with_comment=bool(args.get("with_comment")),
        completed=completed,
        search=(args.get("q") or "").strip() or None,
    )


def _attachment(body, mimetype: str, filename: str):
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/sites/<site_key>/report.pdf")
@site_view("viewer")
def report_pdf():
    """The PDF report for the dashboard's current filters."""
    from widget_server.reports.pdf import render_pdf

    current_figures()
    filters, _ = parse_filter(request.args)
    pdf = render_pdf(g.site, filters, request.args.get("size", "A4"))
    name = f"keepkit-insights-{g.site.key}-{filters.period.start}-{filters.period.end}.pdf"
    return _attachment(pdf, "application/pdf", name)


@bp.get("/sites/<site_key>/sessions.csv")
@site_view("viewer")
def session_csv():
    """All sessions matching the list's filters, streamed."""
    query = sessions.sessions_query(g.site, _session_filter(request.args))
    name = f"keepkit-sessions-{g.site.key}-{utcnow().date().isoformat()}.csv"
    return _attachment(stream_with_context(csv_export.stream_csv(query)), "text/csv", name)


@bp.get("/sites/<site_key>/sessions")
@site_view("viewer")
def session_list():
    args = request.args
    page = whole_number(args.get("page", "1"), 1, MAX_PAGE)
    if page is None:
        abort(400, f"page must be a whole number from 1 to {MAX_PAGE}")
    filters = _session_filter(args)
    query = sessions.sessions_query(g.site, filters)
    rows, has_more = sessions.page_newest(query, page, PER_PAGE)
    offers = flow_config.all_offers(g.site)
    return render(
        "sessions.html",
        "_sessions.html",
        rows=rows,
        page=page,
        has_more=has_more,
        total=sessions.count(query),
        per_page=PER_PAGE,
        offer_titles={o.key: (o.texts.get("en") or {}).get("title", o.key) for o in offers},
        filters=filters,
        reasons=flow_config.all_reasons(g.site),
        plans=sessions.site_plans(g.site),
        outcomes=OUTCOMES,
    )


COMMENTS_PER_REASON = 5


@bp.get("/sites/<site_key>/comments")
@site_view("viewer")
def comments():
    """What cancelling customers wrote, by reason (ranked by lost revenue in the period), the
    newest first, with a search; each reason links to all its comments in the sessions list."""
    current_figures()
    period, error = parse_period(request.args)
    search = (request.args.get("q") or "").strip()[:200] or None
    groups = sessions.comments_by_reason(
        g.site, period, search=search, per_reason=COMMENTS_PER_REASON
    )
    return render_template(
        "comments.html",
        groups=groups,
        period=period,
        search=search,
        error=error,
        currency=g.site.currency,
        per_reason=COMMENTS_PER_REASON,
    )


@bp.get("/sites/<site_key>/sessions/<session_id>")
@site_view("viewer")
def session_detail(session_id: str):
    session = sessions.get_for_admin(g.site, session_id)
    if session is None:
        abort(404)
    offers = flow_config.all_offers(g.site)
    return render_template(
        "session.html",
        s=session,
        offer_titles={o.key: (o.texts.get("en") or {}).get("title", o.key) for o in offers},
    )


# --- settings ----------------------------------------------------------------------------


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


@bp.get("/sites/<site_key>/settings")
@site_view("viewer")
def settings():
    return render_template("settings.html", **_settings_context(jobs=jobs.recent(g.site)))


@bp.get("/sites/<site_key>/jobs")
@site_view("viewer")
def job_list():
    """The recalculations, for the fragment that refreshes itself while one runs."""
    compact = request.args.get("compact") == "True"
    active = jobs.active(g.site) if compact else jobs.recent(g.site)
    return render("_jobs.html", "_jobs.html", jobs=active, compact=compact)


@bp.post("/sites/<site_key>/jobs/rebuild")
@site_view("editor")
def rebuild_figures():
    """Recalculate every figure of the dashboard from the sessions (in the worker)."""
    jobs.enqueue(g.site, "rebuild_rollups", requested_by=current_user.email)
    db.session.commit()
    flash("The worker recalculates the figures now; the progress shows below.")
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#figures")


def _labels(prefix: str) -> dict:
    return {loc: request.form.get(f"{prefix}_{loc}", "") for loc in SUPPORTED_LOCALES}


@bp.route("/sites/<site_key>/reasons/new", methods=["GET", "POST"], defaults={"reason_id": None})
@bp.route("/sites/<site_key>/reasons/<int:reason_id>", methods=["GET", "POST"])
@site_view("editor")
def reason_form(reason_id: int | None):
    reason = flow_config.get_reason(g.site, reason_id) if reason_id else None
    error = None
    if request.method == "POST":
        error = commit_or_error(
            lambda: flow_config.save_reason(
                g.site,
                reason,
                labels=_labels("label"),
                followup=_labels("followup"),
                requires_text=bool(request.form.get("requires_text")),
                is_missing_feature=bool(request.form.get("is_missing_feature")),
            ),
            "Reason saved.",
        )
        if error is None:
            return redirect(url_for("admin.settings", site_key=g.site.key) + "#reasons")
    return render_template(
        "reason_form.html", reason=reason, error=error, locales=SUPPORTED_LOCALES, form=request.form
    ), (422 if error else 200)


@bp.post("/sites/<site_key>/<kind>/<int:item_id>/<action>")
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
    db.session.commit()
    if request.headers.get("HX-Request"):
        return render(f"_{kind}.html", f"_{kind}.html", **_settings_context())
    return redirect(url_for("admin.settings", site_key=g.site.key) + f"#{kind}")


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


@bp.route("/sites/<site_key>/offers/new", methods=["GET", "POST"], defaults={"offer_id": None})
@bp.route("/sites/<site_key>/offers/<int:offer_id>", methods=["GET", "POST"])
@site_view("editor")
def offer_form(offer_id: int | None):
    offer = flow_config.get_offer(g.site, offer_id) if offer_id else None
    error = None
    if request.method == "POST":
        error = commit_or_error(
            lambda: flow_config.save_offer(g.site, offer, _offer_form_data()), "Offer saved."
        )
        if error is None:
            return redirect(url_for("admin.settings", site_key=g.site.key) + "#offers")
    return render_template(
        "offer_form.html",
        offer=offer,
        error=error,
        locales=SUPPORTED_LOCALES,
        types=OFFER_TYPES,
        reasons=flow_config.all_reasons(g.site),
        form=request.form,
    ), (422 if error else 200)


@bp.post("/sites/<site_key>/general")
@site_view("owner")
def general():
    form = request.form
    commit_or_flash(
        lambda: sites.update_site(
            g.site,
            name=form.get("name", ""),
            default_locale=form.get("default_locale", ""),
            currency=form.get("currency", ""),
            brand_color=form.get("brand_color", ""),
            discount_window_days=form.get("discount_window_days"),
            app_url=form.get("app_url", ""),
            reactivation_url=form.get("reactivation_url", ""),
            requested_by=current_user.email,
        ),
        "Settings saved.",
    )
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#general")


@bp.post("/sites/<site_key>/logo")
@site_view("editor")
def logo():
    upload = request.files.get("logo")
    if request.form.get("remove"):
        commit_or_flash(lambda: sites.set_logo(g.site, None), "Logo removed.")
    elif upload is None or not upload.filename:
        flash("Choose a PNG or JPEG file.", "error")
    else:
        data = upload.read(sites.MAX_LOGO_BYTES + 1)
        commit_or_flash(lambda: sites.set_logo(g.site, data), "Logo saved; reports show it.")
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#general")


@bp.post("/sites/<site_key>/rates")
@site_view("editor")
def set_rate():
    form = request.form
    who = current_user.email
    later = " The worker is recalculating the MRR bands; the dashboard shows its progress."
    if form.get("remove"):
        commit_or_flash(
            lambda: money.remove_rate(g.site, form["remove"], requested_by=who),
            "Rate removed." + later,
        )
    else:
        commit_or_flash(
            lambda: money.set_rate(
                g.site, form.get("currency", ""), form.get("rate", ""), requested_by=who
            ),
            "Exchange rate saved: amounts use it now." + later,
        )
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#currencies")


@bp.post("/sites/<site_key>/origins")
@site_view("owner")
def add_origin():
    def add():
        row = sites.add_origin(g.site, request.form.get("origin", ""))
        audit("origin_added", origin=row.origin)

    commit_or_flash(add, "Origin added.")
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#origins")


@bp.post("/sites/<site_key>/origins/<int:origin_id>/delete")
@site_view("owner")
def remove_origin(origin_id: int):
    origin = sites.remove_origin(g.site, origin_id)
    audit("origin_removed", origin=origin)
    db.session.commit()
    flash("Origin removed.")
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#origins")


@bp.post("/sites/<site_key>/secret/<action>")
@site_view("owner")
def secret(action: str):
    if action == "rotate":
        sites.rotate_secret(g.site)
        audit("secret_rotated")
        message = (
            "New signing secret created. Tokens signed with the previous one keep working "
            "until you retire it."
        )
    elif action == "retire":
        sites.retire_secondary_secret(g.site)
        audit("secret_retired")
        message = "Previous secret retired: only the current secret verifies tokens now."
    else:
        abort(404)
    db.session.commit()
    flash(message)
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#secrets")


@bp.post("/sites/<site_key>/api-keys")
@site_view("owner")
def create_api_key():
    plain = sites.create_api_key(g.site)
    audit("api_key_created", prefix=g.site.api_keys[-1].prefix)
    db.session.commit()
    return render_template("settings.html", **_settings_context(new_api_key=plain))


@bp.post("/sites/<site_key>/api-keys/<int:key_id>/revoke")
@site_view("owner")
def revoke_api_key(key_id: int):
    prefix = sites.revoke_api_key(g.site, key_id)
    audit("api_key_revoked", prefix=prefix)
    db.session.commit()
    flash("API key revoked.")
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#api-keys")
