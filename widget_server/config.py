"""Configuration classes. Values come from ``KEEPKIT_*`` environment variables.

Nothing here is read at import time: :func:`load_config` is called by the app factory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "keepkit-dev-secret-key-not-for-production"  # noqa: S105 - refused in production


class Config:
    ENV_NAME = "production"
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI = ""
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None
    # Bodies over 1 MB get 413 payload_too_large (Flask's defaults hold the key, set to None,
    # so it must be set here rather than with setdefault).
    MAX_CONTENT_LENGTH = 1024 * 1024
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_ENABLED = True
    # Limits for the public widget endpoints, per client address and site.
    KEEPKIT_WIDGET_RATE_LIMIT = "120 per minute"
    KEEPKIT_DATA_RATE_LIMIT = "600 per minute"
    KEEPKIT_LOGIN_RATE_LIMIT = "10 per minute"
    KEEPKIT_PUBLIC_URL = ""
    KEEPKIT_SMTP_HOST = "localhost"
    KEEPKIT_SMTP_PORT = 25
    KEEPKIT_SMTP_USER = ""
    KEEPKIT_SMTP_PASSWORD = ""
    KEEPKIT_MAIL_FROM = "keepkit@localhost"
    # Retry delays for outbox deliveries: base * 2**(attempt-1), at most an hour.
    KEEPKIT_RETRY_BASE_SECONDS = 30
    # A claimed message is retried by another worker when its worker has not finished it
    # within this time (e.g. it was killed mid-delivery).
    KEEPKIT_OUTBOX_LEASE_SECONDS = 300
    # Browsers cache the widget script this long (the URL carries the major version).
    KEEPKIT_WIDGET_MAX_AGE = 86400


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SECRET_KEY = DEV_SECRET_KEY
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False


class TestingConfig(DevelopmentConfig):
    ENV_NAME = "testing"
    TESTING = True
    KEEPKIT_PUBLIC_URL = "http://keepkit.test"
    # Limits stay on (so tests can exercise them) but high; a test lowers one to check it.
    KEEPKIT_WIDGET_RATE_LIMIT = "100000 per minute"
    KEEPKIT_DATA_RATE_LIMIT = "100000 per minute"
    KEEPKIT_LOGIN_RATE_LIMIT = "100000 per minute"


CONFIGS = {
    "production": Config,
    "development": DevelopmentConfig,
    "dev": DevelopmentConfig,
    "demo": DevelopmentConfig,
    "testing": TestingConfig,
}

_ENV_KEYS = {
    "KEEPKIT_SECRET_KEY": "SECRET_KEY",
    "KEEPKIT_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "KEEPKIT_REDIS_URL": "RATELIMIT_STORAGE_URI",
    "KEEPKIT_PUBLIC_URL": "KEEPKIT_PUBLIC_URL",
    "KEEPKIT_SMTP_HOST": "KEEPKIT_SMTP_HOST",
    "KEEPKIT_SMTP_PORT": "KEEPKIT_SMTP_PORT",
    "KEEPKIT_SMTP_USER": "KEEPKIT_SMTP_USER",
    "KEEPKIT_SMTP_PASSWORD": "KEEPKIT_SMTP_PASSWORD",
    "KEEPKIT_MAIL_FROM": "KEEPKIT_MAIL_FROM",
    "KEEPKIT_WIDGET_RATE_LIMIT": "KEEPKIT_WIDGET_RATE_LIMIT",
    "KEEPKIT_OUTBOX_LEASE_SECONDS": "KEEPKIT_OUTBOX_LEASE_SECONDS",
    "KEEPKIT_RETRY_BASE_SECONDS": "KEEPKIT_RETRY_BASE_SECONDS",
}


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(overrides: dict | None = None, environ: dict | None = None) -> dict:
    """Build the settings dict from the class for ``KEEPKIT_ENV`` and the environment."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    env_name = overrides.pop("ENV", None) or environ.get("KEEPKIT_ENV", "production")
    if env_name not in CONFIGS:
        raise RuntimeError(f"KEEPKIT_ENV must be one of {sorted(CONFIGS)}, not {env_name!r}")
    cls = CONFIGS[env_name]
    settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
    for env_key, setting in _ENV_KEYS.items():
        if environ.get(env_key):
            settings[setting] = environ[env_key]
    settings.update(overrides)
    for key in ("KEEPKIT_SMTP_PORT", "KEEPKIT_OUTBOX_LEASE_SECONDS", "KEEPKIT_RETRY_BASE_SECONDS"):
        settings[key] = int(settings[key])
    if not settings["SQLALCHEMY_DATABASE_URI"]:
        settings["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(ROOT / "instance" / "keepkit.db")
    settings["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
        settings["SQLALCHEMY_DATABASE_URI"]
    )
    if settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    secret = settings.get("SECRET_KEY")
    if settings["ENV_NAME"] == "production" and (not secret or secret == DEV_SECRET_KEY):
        raise RuntimeError(
            "KEEPKIT_SECRET_KEY must be set to a long random value in production "
            '(e.g. python -c "import secrets; print(secrets.token_urlsafe(48))"), '
            "or set KEEPKIT_ENV=development for local use."
        )
    return settings
