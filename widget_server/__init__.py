"""Keepkit: cancellation flow, public roadmap and churn insights for SaaS companies."""

from __future__ import annotations

from flask import Flask

from widget_server.config import ROOT, load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides settings (``ENV`` picks the config class)."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "admin" / "templates"),
        static_folder=str(ROOT / "admin" / "static"),
        static_url_path="/admin/static",
    )
    app.config.from_mapping(load_config(config))
    register_extensions(app)
    register_guards(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_commands(app)
    return app


def register_commands(app: Flask) -> None:
    from widget_server import cli

    cli.register_commands(app)


def register_extensions(app: Flask) -> None:
    from widget_server.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.session_protection = "strong"
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)


def configure_sqlite(engine) -> None:
    """Let SQLAlchemy drive transactions on SQLite so SAVEPOINTs work (pysqlite otherwise
    issues its own BEGIN/COMMIT), enforce foreign keys, and wait on locks instead of failing."""
    from sqlalchemy import event

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
        # IMMEDIATE takes the write lock up front: two transactions that read and then write
        # would otherwise deadlock on the lock upgrade (SQLITE_BUSY without waiting).
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def register_guards(app: Flask) -> None:
    from widget_server import guards

    guards.register(app)


def register_blueprints(app: Flask) -> None:
    from widget_server.admin import bp as admin_bp
    from widget_server.api import data_bp, docs_bp, widget_bp
    from widget_server.extensions import csrf
    from widget_server.hosted import bp as hosted_bp
    from widget_server.public import bp as public_bp
    from widget_server.widget_assets import bp as widget_assets_bp

    for bp in (widget_bp, data_bp, docs_bp, hosted_bp, public_bp):
        csrf.exempt(bp)  # token / API-key authenticated, no cookies
        app.register_blueprint(bp)
    app.register_blueprint(widget_assets_bp)
    app.register_blueprint(admin_bp)
    if app.config["ENV_NAME"] in ("demo", "development", "testing"):
        from widget_server.demo import bp as demo_bp

        app.register_blueprint(demo_bp)


def register_error_handlers(app: Flask) -> None:
    from widget_server.api.errors import register

    register(app)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        return response
