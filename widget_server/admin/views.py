"""Admin views: parse input, check access, call one service, render."""

from __future__ import annotations

from datetime import date
from functools import wraps
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
from flask_login import current_user, login_required, login_user, logout_user

from widget_server.errors import KeepkitError
from widget_server.extensions import db, limiter, login_manager
from widget_server.models import MAX_ID, OFFER_TYPES, OUTCOMES, STATUSES, AdminUser
from widget_server.reports import csv_export, formatting
from widget_server.reports.data import dashboard_context
from widget_server.services import flow_config, insights, money, sessions, sites, users
from widget_server.services.locales import SUPPORTED_LOCALES
from widget_server.services.roadmap import STATUS_LABELS

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 50
MAX_PAGE = MAX_ID // PER_PAGE  # the offset stays within an INTEGER


@bp.app_template_filter("money")
def _money(amount, currency):
    return formatting.money(amount, currency)


@bp.app_template_filter("percent")
def _percent(share):
    return formatting.percent(share)


@bp.app_template_filter("change")
def _change(value):
    return formatting.change(value)


@login_manager.user_loader
def _load_user(user_id: str):
    return db.session.get(AdminUser, int(user_id)) if user_id.isdigit() else None


@login_manager.unauthorized_handler
def _unauthorized():
    target = url_for("admin.login", next=request.full_path.rstrip("?"))
    if request.headers.get("HX-Request"):
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def _safe_next(value: str | None) -> str:
    """Only same-host relative paths are followed after login."""
    if value:
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc and value.startswith("/") and "\\" not in value:
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
    """Render the page, or only its fragment for htmx requests (``Vary: HX-Request``)."""
    is_htmx = request.headers.get("HX-Request") and partial
    response = make_response(render_template(partial if is_htmx else template, **context))
    response.vary.add("HX-Request")
    return response


def site_view(view):
    """Load ``g.site`` from ``site_key`` and refuse sites the admin may not see (404)."""

    @wraps(view)
    @login_required
    def wrapper(site_key, **kwargs):
        try:
            site = sites.get_site(site_key)
        except KeepkitError:
            abort(404)
        if not users.can_access(current_user, site):
            abort(404)
        g.site = site
        g.sites = users.visible_sites(current_user)
        return view(**kwargs)

    return wrapper


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KEEPKIT_LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    error = None
    if request.method == "POST":
        user = users.authenticate(request.form.get("email", ""), request.form.get("password", ""))
        if user is None:
            error = "Wrong email or password."
        else:
            login_user(user, remember=bool(request.form.get("remember")))
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("login.html", error=error), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def index():
    visible = users.visible_sites(current_user)
    if not visible:
        return render_template("no_sites.html")
    return redirect(url_for("admin.dashboard", site_key=visible[0].key))


def _parse_period(args) -> tuple[insights.Period, str | None]:
    today = date.today()
    preset = args.get("range")
    presets = {"7d": 7, "30d": 30, "90d": 90, "12m": 365}
    if preset in presets:
        return insights.Period.last_days(presets[preset], today), None
    try:
        end = date.fromisoformat(args["to"]) if args.get("to") else None
        start = date.fromisoformat(args["from"]) if args.get("from") else None
    except ValueError:
        return insights.Period.last_days(30, today), "Dates must look like 2026-01-31."
    try:
        return insights.Period.from_input(start, end, today), None
    except KeepkitError as exc:
        return insights.Period.last_days(30, today), f"{exc.message}."


@bp.post("/digest")
@login_required
def digest():
    """Opt in to (or out of) the weekly PDF digest of every site this admin sees."""
    from widget_server.services.digests import set_weekly_digest

    enabled = bool(request.form.get("weekly_digest"))
    set_weekly_digest(current_user, enabled)
    db.session.commit()
    flash("You will get the PDF report every Monday." if enabled else "Weekly digest turned off.")
    return redirect(_safe_next(request.form.get("next")))


def parse_filter(args) -> tuple[insights.Filter, str | None]:
    """Dashboard filters from the query string: range/from/to, plan, segment (attr=value)."""
    period, error = _parse_period(args)
    attribute, value = None, None
    if "=" in (args.get("segment") or ""):
        attribute, value = args["segment"].split("=", 1)
    return insights.Filter(period, args.get("plan") or None, attribute or None, value), error


@bp.get("/sites/<site_key>/")
@site_view
def dashboard():
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
        **context,
    )


def _session_filter(args) -> sessions.SessionFilter:
    outcome = args.get("outcome") if args.get("outcome") in (*OUTCOMES, "open") else None
    completed = None
    if args.get("from") or args.get("to"):
        completed, _ = _parse_period(args)
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
@site_view
def report_pdf():
    """The PDF report for the dashboard's current filters."""
    from widget_server.reports.pdf import render_pdf

    filters, _ = parse_filter(request.args)
    pdf = render_pdf(g.site, filters, request.args.get("size", "A4"))
    name = f"keepkit-insights-{g.site.key}-{filters.period.start}-{filters.period.end}.pdf"
    return _attachment(pdf, "application/pdf", name)


@bp.get("/sites/<site_key>/sessions.csv")
@site_view
def session_csv():
    """All sessions matching the list's filters, streamed."""
    query = sessions.sessions_query(g.site, _session_filter(request.args))
    name = f"keepkit-sessions-{g.site.key}-{date.today().isoformat()}.csv"
    return _attachment(stream_with_context(csv_export.stream_csv(query)), "text/csv", name)


@bp.get("/sites/<site_key>/sessions")
@site_view
def session_list():
    args = request.args
    page = args.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and len(page) <= 10 else 0
    if not 1 <= page <= MAX_PAGE:
        abort(400, f"page must be a whole number from 1 to {MAX_PAGE}")
    filters = _session_filter(args)
    rows, has_more = sessions.page_newest(sessions.sessions_query(g.site, filters), page, PER_PAGE)
    return render(
        "sessions.html",
        "_sessions.html",
        rows=rows,
        page=page,
        has_more=has_more,
        filters=filters,
        reasons=flow_config.all_reasons(g.site),
        plans=sessions.site_plans(g.site),
        outcomes=OUTCOMES,
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
@site_view
def settings():
    return render_template("settings.html", **_settings_context())


def _labels(prefix: str) -> dict:
    return {loc: request.form.get(f"{prefix}_{loc}", "") for loc in SUPPORTED_LOCALES}


@bp.route("/sites/<site_key>/reasons/new", methods=["GET", "POST"], defaults={"reason_id": None})
@bp.route("/sites/<site_key>/reasons/<int:reason_id>", methods=["GET", "POST"])
@site_view
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
@site_view
def item_action(kind: str, item_id: int, action: str):
    """Reorder, archive or restore a reason or an offer; htmx swaps the list."""
    getter = {"reasons": flow_config.get_reason, "offers": flow_config.get_offer}.get(kind)
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
    data = {k: form.get(k) for k in (
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
@site_view
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
@site_view
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
        ),
        "Settings saved.",
    )
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#general")


@bp.post("/sites/<site_key>/logo")
@site_view
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
@site_view
def set_rate():
    form = request.form
    if form.get("remove"):
        commit_or_flash(lambda: money.remove_rate(g.site, form["remove"]), "Rate removed.")
    else:
        commit_or_flash(
            lambda: money.set_rate(g.site, form.get("currency", ""), form.get("rate", "")),
            "Exchange rates saved; the dashboard and reports use them now.",
        )
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#currencies")


@bp.post("/sites/<site_key>/origins")
@site_view
def add_origin():
    commit_or_flash(
        lambda: sites.add_origin(g.site, request.form.get("origin", "")), "Origin added."
    )
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#origins")


@bp.post("/sites/<site_key>/origins/<int:origin_id>/delete")
@site_view
def remove_origin(origin_id: int):
    sites.remove_origin(g.site, origin_id)
    db.session.commit()
    flash("Origin removed.")
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#origins")


@bp.post("/sites/<site_key>/secret/<action>")
@site_view
def secret(action: str):
    if action == "rotate":
        sites.rotate_secret(g.site)
        message = (
            "New signing secret created. Tokens signed with the previous one keep working "
            "until you retire it."
        )
    elif action == "retire":
        sites.retire_secondary_secret(g.site)
        message = "Previous secret retired: only the current secret verifies tokens now."
    else:
        abort(404)
    db.session.commit()
    flash(message)
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#secrets")


@bp.post("/sites/<site_key>/api-keys")
@site_view
def create_api_key():
    plain = sites.create_api_key(g.site)
    db.session.commit()
    return render_template("settings.html", **_settings_context(new_api_key=plain))


@bp.post("/sites/<site_key>/api-keys/<int:key_id>/revoke")
@site_view
def revoke_api_key(key_id: int):
    sites.revoke_api_key(g.site, key_id)
    db.session.commit()
    flash("API key revoked.")
    return redirect(url_for("admin.settings", site_key=g.site.key) + "#api-keys")
