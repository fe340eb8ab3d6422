"""Keepkit: cancellation flow, public roadmap and churn insights for SaaS companies."""

from __future__ import annotations

import logging
from functools import wraps

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from widget_server.config import ROOT, load_config

log = logging.getLogger(__name__)


class Keepkit(Flask):
    """Flask with one unit of work per request (see :mod:`widget_server.database`): what a
    view changed is committed after it returned a success, and rolled back otherwise."""

    def dispatch_request(self):
        from widget_server import database

        try:
            result = super().dispatch_request()
        except BaseException:
            database.abandon_unit_of_work()
            raise
        response = self.make_response(result)
        try:
            database.end_unit_of_work(response)
        except BaseException:
            database.abandon_unit_of_work()  # a failed commit: the error handlers start clean
            raise
        return response


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, except on the widget API: it is cookie-less (a site key,
    a customer token and the Origin), so its requests neither read nor write the cookie
    (Flask's null session: reading it finds nothing, writing it fails loudly)."""

    COOKIELESS = "/api/v1/widget/"

    def open_session(self, app, request):
        if request.path.startswith(self.COOKIELESS):
            return None
        return super().open_session(app, request)


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides settings (``ENV`` picks the config class)."""
    app = Keepkit(
        __name__,
        instance_path=str(ROOT / "instance"),
        # Templates every surface shares (the error page, the handbook); each surface keeps its
        # own beside it (admin/templates/ at the top, customer/, reports/, delivery/, demo/).
        template_folder="templates",
        static_folder=str(ROOT / "admin" / "static"),
        static_url_path="/admin/static",
    )
    app.config.from_mapping(load_config(config))
    app.session_interface = CookieSessions()
    register_proxy_fix(app)
    register_extensions(app)
    register_i18n(app)
    register_guards(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_commands(app)
    guard_after_request(app)
    return app


def guard_after_request(app: Flask) -> None:
    """No after-request step can turn a response into an error.

    They run after the view, which may have committed: a completion recorded as "saved" must
    not be answered with a 500 (the host would then cancel the subscription), e.g. because the
    rate limiter's header step lost Redis. A failing step is logged and skipped; the response
    and the other steps stand. Call last: steps registered later are not guarded.
    """
    for name, steps in app.after_request_funcs.items():
        app.after_request_funcs[name] = [_guarded(step, name) for step in steps]


def _guarded(step, blueprint: str | None):
    @wraps(step)
    def run(response):
        try:
            return step(response)
        except Exception:
            log.exception(
                "After-request step %r (%s) failed; the response is sent without it",
                getattr(step, "__qualname__", step),
                blueprint or "app",
            )
            return response

    return run


def register_proxy_fix(app: Flask) -> None:
    """Behind ``KEEPKIT_TRUSTED_PROXIES`` reverse proxies, take the client's address and scheme
    from the headers they set (X-Forwarded-For, X-Forwarded-Proto; the Host header is passed
    through by the proxy). With 0, forwarded headers are ignored: anyone could send them."""
    proxies = app.config["KEEPKIT_TRUSTED_PROXIES"]
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Flask's documented way to wrap its WSGI app; its stubs declare wsgi_app a method.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]


def register_commands(app: Flask) -> None:
    from widget_server import cli

    cli.register_commands(app)


def register_extensions(app: Flask) -> None:
    from widget_server import database, ratelimit
    from widget_server.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    ratelimit.skip_doors(app)
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.session_protection = "strong"
    database.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)


def register_i18n(app: Flask) -> None:
    from widget_server import i18n

    i18n.init_app(app)


def configure_sqlite(engine) -> None:
    """Let SQLAlchemy drive transactions on SQLite so SAVEPOINTs work (pysqlite otherwise
    issues its own BEGIN/COMMIT), enforce foreign keys, and wait on locks instead of failing."""
    from sqlalchemy import event

    from widget_server import database

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        # Readers do not block the writer (and the other way round); several processes
        # (web, worker) share one file.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # Writers take the write lock up front (IMMEDIATE): two transactions that read and
        # then write would otherwise fail on the lock upgrade (SQLITE_BUSY without waiting).
        # Readers do not take it (see widget_server.database).
        connection.exec_driver_sql(database.begin_statement())


def register_guards(app: Flask) -> None:
    from widget_server import guards

    guards.register(app)


def register_blueprints(app: Flask) -> None:
    from widget_server.admin import bp as admin_bp
    from widget_server.api import data_bp, docs_bp, widget_bp
    from widget_server.api.health import bp as health_bp
    from widget_server.api.integrations import bp as integrations_bp
    from widget_server.customer.hosted import bp as hosted_bp
    from widget_server.customer.public import bp as public_bp
    from widget_server.customer.widget_assets import bp as widget_assets_bp
    from widget_server.delivery.emails import bp as delivery_bp
    from widget_server.extensions import csrf
    from widget_server.handbook import bp as handbook_bp
    from widget_server.handbook import icon_bp
    from widget_server.reports.pdf import bp as reports_bp

    for bp in (widget_bp, data_bp, docs_bp, hosted_bp, public_bp, integrations_bp):
        csrf.exempt(bp)  # token / API-key / signature authenticated, no cookies
        app.register_blueprint(bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(handbook_bp)
    app.register_blueprint(icon_bp)
    app.register_blueprint(widget_assets_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(delivery_bp)  # the email templates; no routes
    app.register_blueprint(reports_bp)  # the PDF's template; no routes
    if app.config["ENV_NAME"] in ("demo", "development", "testing"):
        from widget_server.demo import bp as demo_bp

        app.register_blueprint(demo_bp)


def register_error_handlers(app: Flask) -> None:
    from widget_server.api.errors import register

    register(app)


# Pages that set no policy of their own (error pages, public pages) load nothing but our own
# styles and images, and nobody may frame them: the widgets use a Shadow DOM, never a frame.
DEFAULT_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def register_security_headers(app: Flask) -> None:
    from flask import request

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        # The demo host page stands for an integrator's own page: it keeps its own rules.
        if response.mimetype == "text/html" and request.blueprint != "demo":
            response.headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response
