"""Admin: signing in and out, the admin's own account, the weekly digest and the first page."""

from __future__ import annotations

import logging

from babel import Locale
from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import force_locale, gettext
from flask_login import (
    LoginManager,
    current_user,
    login_user,
    logout_user,
    user_loaded_from_cookie,
)

from widget_server import database
from widget_server.admin.common import (
    Routes,
    account_view,
    audit,
    public_view,
    refused,
    safe_next,
)
from widget_server.extensions import limiter
from widget_server.i18n import N_, admin_locale
from widget_server.services import users
from widget_server.services.locales import SUPPORTED_LOCALES

log = logging.getLogger(__name__)
routes = Routes()


def language_name(code: str) -> str:
    """A language named in itself, as language menus do (``Deutsch``, ``suomi``)."""
    return Locale.parse(code).get_display_name(code) or code


AUTOMATIC = N_("Automatic (the browser's language)")


def init_login(manager: LoginManager) -> None:
    """Who is signed in (a login id carries the session generation), where the signed-out
    go, and remember-me cookies renewed on use."""
    manager.user_loader(users.user_for_login_id)
    manager.unauthorized_handler(_unauthorized)
    user_loaded_from_cookie.connect(_reissue_remember_cookie)


def _reissue_remember_cookie(app, user):
    """A remember-me cookie that signed someone in is issued again with a fresh expiry."""
    login_user(user, remember=True, fresh=False)


def _unauthorized():
    target = url_for("admin.login", next=request.full_path.rstrip("?"))
    if request.headers.get("HX-Request"):
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


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


@routes.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KEEPKIT_LOGIN_RATE_LIMIT"], methods=["POST"])
@public_view
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    error, status = None, 200
    if request.method == "POST":
        email = users.normalize_email(request.form.get("email", ""))[:255]
        if _account_locked(email):
            error, status = (
                gettext(
                    "Too many failed sign-ins for this account. Wait 15 minutes and try "
                    "again, or ask another owner to set a new password."
                ),
                429,
            )
        else:
            user = users.authenticate(email, request.form.get("password", ""))
            if user is None:
                _count_failure(email)
                # The refusal is an error answer, but its audit record stands.
                database.write_now(
                    lambda: audit("login_failed", actor=email or "(no email)", email=email)
                )
                error, status = gettext("Wrong email or password."), 401
            else:
                audit("login", actor=user)
                remember = bool(request.form.get("remember"))
                database.after_commit(lambda: login_user(user, remember=remember))
                return redirect(safe_next(request.args.get("next")))
    return render_template("login.html", error=error), status


@routes.post("/logout")
@account_view
def logout():
    """Sign out: this ends the admin's session and remember-me cookie everywhere, copies
    included (a new session generation)."""
    user = current_user._get_current_object()
    users.end_sessions(user)
    audit("logout", actor=user)
    logout_user()
    flash(gettext("You are signed out."))
    return redirect(url_for("admin.login"))


@routes.route("/account", methods=["GET", "POST"])
@account_view
def account():
    """Change the password (ends every other session), sign out everywhere else, or choose
    the language of the admin area, the PDF report and the digest."""
    user = current_user._get_current_object()

    def page(error: str | None = None):
        return render_template(
            "account.html",
            error=error,
            sites=users.visible_sites(user),
            languages=[(code, language_name(code)) for code in SUPPORTED_LOCALES],
            automatic=gettext(AUTOMATIC),
        )

    if request.method == "GET":
        return page()
    form = request.form
    if form.get("action") == "language":
        refused(page=page)
        users.set_locale(user, form.get("locale") or None)
        # The next page is in the new language: the flash is read there.
        with force_locale(admin_locale(user.locale)):
            message = gettext("Language saved.")
        database.after_commit(lambda: flash(message))
        return redirect(url_for("admin.account"))
    if form.get("action") == "sign_out_everywhere":
        users.end_sessions(user)
        audit("sessions_ended", actor=user)
        message = gettext("Signed out everywhere else: only this browser is still signed in.")
    else:
        if form.get("new_password") != form.get("confirm_password"):
            return page(gettext("The new passwords do not match.")), 422
        refused(page=page)
        users.change_password(user, form.get("password", ""), form.get("new_password", ""))
        audit("password_changed", actor=user)
        message = gettext("Password changed; every other session is signed out.")
    # The new generation replaces this browser's cookies, so it stays signed in (once stored).
    remember = bool(request.cookies.get("remember_token"))
    database.after_commit(lambda: login_user(user, remember=remember))
    database.after_commit(lambda: flash(message))
    return redirect(url_for("admin.account"))


@routes.get("/")
@account_view
def index():
    """The first site's dashboard, or the one picked in the site menu (``?site=KEY``)."""
    visible = users.visible_sites(current_user)
    if not visible:
        return render_template("no_sites.html")
    chosen = next((s for s in visible if s.key == request.args.get("site")), visible[0])
    return redirect(url_for("admin.dashboard", site_key=chosen.key))


@routes.post("/digest")
@account_view
def digest():
    """Opt in to (or out of) the weekly PDF digest of every site this admin sees."""
    from widget_server.services.digests import set_weekly_digest

    enabled = bool(request.form.get("weekly_digest"))
    set_weekly_digest(current_user, enabled)
    flash(
        gettext("You will get the PDF report every Monday.")
        if enabled
        else gettext("Weekly digest turned off.")
    )
    return redirect(safe_next(request.form.get("next")))
