"""Configuration classes. Values come from ``KEEPKIT_*`` environment variables.

Nothing here is read at import time: :func:`load_config` is called by the app factory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "keepkit-dev-secret-key-not-for-production"  # noqa: S105 - refused in production
MIN_SECRET_KEY_BYTES = 32


class ConfigError(RuntimeError):
    """A setting is missing or wrong: Keepkit cannot start (one line for the operator)."""


class Config:
    ENV_NAME = "production"
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI = ""
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {}
    # A pooled connection that sat idle longer than this many seconds is tested before use, so
    # the app recovers by itself after a database restart (dead connections are replaced
    # instead of failing requests). Busy connections skip the test: under load it would cost
    # each request one more round trip (see widget_server/database.py).
    KEEPKIT_DATABASE_PING_IDLE = 1.0
    # Seconds to wait for PostgreSQL to accept a connection (libpq's minimum is 2): a database
    # host that stopped answering costs a request this long, then a 503, never a hang.
    KEEPKIT_DATABASE_CONNECT_TIMEOUT = 3
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Re-issued with a fresh expiry whenever it signs someone in (admin views); a sign-out
    # anywhere (a new session generation in the login id it carries) ends every copy.
    REMEMBER_COOKIE_DURATION = timedelta(days=14)
    WTF_CSRF_TIME_LIMIT = None
    # Bodies over 1 MB get 413 payload_too_large (Flask's defaults hold the key, set to None,
    # so it must be set here rather than with setdefault).
    MAX_CONTENT_LENGTH = 1024 * 1024
    # Without KEEPKIT_REDIS_URL: counters in each process (widget_server/ratelimit.py).
    RATELIMIT_STORAGE_URI = "keepkit-memory://"
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_ENABLED = True
    # The limiter fails open: when Redis is unreachable, each process counts in memory (and
    # logs it) until Redis answers again; a storage error never turns a request into a 500,
    # so a customer can always cancel.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    # Limits for the public widget endpoints, per client address and site.
    KEEPKIT_WIDGET_RATE_LIMIT = "120 per minute"
    KEEPKIT_DATA_RATE_LIMIT = "600 per minute"
    KEEPKIT_LOGIN_RATE_LIMIT = "10 per minute"
    # Failed sign-ins per account, from any address.
    KEEPKIT_LOGIN_ACCOUNT_LIMIT = "10 per 15 minutes"
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
    # After this many attempts a message is parked as "failed" until an admin resends it.
    KEEPKIT_OUTBOX_MAX_ATTEMPTS = 25
    # Browsers cache the widget script this long (the URL carries the major version).
    KEEPKIT_WIDGET_MAX_AGE = 86400
    # Webhooks may go to loopback and private addresses (intranet receivers). Link-local,
    # multicast and reserved addresses are refused even then (see services/netguard.py).
    KEEPKIT_WEBHOOK_ALLOW_PRIVATE = False
    # Reverse proxies in front of Keepkit: their X-Forwarded-For/-Proto give the client's
    # address (for rate limits and logs) and scheme. 0 trusts no forwarded header.
    KEEPKIT_TRUSTED_PROXIES = 0
    # The Stripe API the connector calls (another Stripe-compatible server, e.g. for tests).
    # Set by the operator, so it may be a loopback or private address; a site's admin never
    # chooses it.
    KEEPKIT_STRIPE_API_BASE = "https://api.stripe.com"


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SECRET_KEY = DEV_SECRET_KEY
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    # A developer's webhook receiver usually runs on their own machine.
    KEEPKIT_WEBHOOK_ALLOW_PRIVATE = True


class TestingConfig(DevelopmentConfig):
    ENV_NAME = "testing"
    TESTING = True
    KEEPKIT_PUBLIC_URL = "http://keepkit.test"
    # Limits stay on (so tests can exercise them) but high; a test lowers one to check it.
    KEEPKIT_WIDGET_RATE_LIMIT = "100000 per minute"
    KEEPKIT_DATA_RATE_LIMIT = "100000 per minute"
    KEEPKIT_LOGIN_RATE_LIMIT = "100000 per minute"
    KEEPKIT_LOGIN_ACCOUNT_LIMIT = "100000 per minute"
    # As in production: tests of delivery to a local receiver allow private targets themselves.
    KEEPKIT_WEBHOOK_ALLOW_PRIVATE = False


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
    "KEEPKIT_DATABASE_CONNECT_TIMEOUT": "KEEPKIT_DATABASE_CONNECT_TIMEOUT",
    "KEEPKIT_DATABASE_PING_IDLE": "KEEPKIT_DATABASE_PING_IDLE",
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
    "KEEPKIT_OUTBOX_MAX_ATTEMPTS": "KEEPKIT_OUTBOX_MAX_ATTEMPTS",
    "KEEPKIT_TRUSTED_PROXIES": "KEEPKIT_TRUSTED_PROXIES",
    "KEEPKIT_WEBHOOK_ALLOW_PRIVATE": "KEEPKIT_WEBHOOK_ALLOW_PRIVATE",
    "KEEPKIT_STRIPE_API_BASE": "KEEPKIT_STRIPE_API_BASE",
}


# Redis for rate limits: a dead or unreachable server must cost a request at most this long
# before the limiter falls back to memory (the redis client would otherwise wait for the OS).
REDIS_STORAGE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _flag(value, name: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off``. :raises ConfigError: naming the setting."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be 1 or 0 (true or false), not {value!r}")


def _count(value, name: str, *, maximum: int) -> int:
    """A whole number from 0 to ``maximum``. :raises ConfigError: naming the setting."""
    try:
        number = int(str(value).strip())
    except ValueError:
        number = -1
    if not 0 <= number <= maximum:
        raise ConfigError(f"{name} must be a whole number from 0 to {maximum}, not {value!r}")
    return number


def _make_sqlite_directory(url: str) -> None:
    """A SQLite file's directory must exist before SQLite can create the file (instance/ is
    not in a fresh clone)."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        # Not fatal: if it cannot be made, SQLite says why when Keepkit first connects.
        with contextlib.suppress(OSError):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def load_config(overrides: dict | None = None, environ: Mapping[str, str] | None = None) -> dict:
    """Build the settings dict from the class for ``KEEPKIT_ENV`` and the environment."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    env_name = overrides.pop("ENV", None) or environ.get("KEEPKIT_ENV", "production")
    if env_name not in CONFIGS:
        raise ConfigError(f"KEEPKIT_ENV must be one of {sorted(CONFIGS)}, not {env_name!r}")
    cls = CONFIGS[env_name]
    settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
    for env_key, setting in _ENV_KEYS.items():
        if environ.get(env_key):
            settings[setting] = environ[env_key]
    settings.update(overrides)
    for key in (
        "KEEPKIT_DATABASE_CONNECT_TIMEOUT",
        "KEEPKIT_SMTP_PORT",
        "KEEPKIT_OUTBOX_LEASE_SECONDS",
        "KEEPKIT_RETRY_BASE_SECONDS",
        "KEEPKIT_OUTBOX_MAX_ATTEMPTS",
    ):
        settings[key] = int(settings[key])
    settings["KEEPKIT_DATABASE_PING_IDLE"] = float(settings["KEEPKIT_DATABASE_PING_IDLE"])
    settings["KEEPKIT_WEBHOOK_ALLOW_PRIVATE"] = _flag(
        settings["KEEPKIT_WEBHOOK_ALLOW_PRIVATE"], "KEEPKIT_WEBHOOK_ALLOW_PRIVATE"
    )
    settings["KEEPKIT_TRUSTED_PROXIES"] = _count(
        settings["KEEPKIT_TRUSTED_PROXIES"], "KEEPKIT_TRUSTED_PROXIES", maximum=10
    )
    if settings["RATELIMIT_STORAGE_URI"].startswith(("redis", "rediss", "valkey")):
        settings["RATELIMIT_STORAGE_OPTIONS"] = {
            **REDIS_STORAGE_OPTIONS,
            **settings.get("RATELIMIT_STORAGE_OPTIONS", {}),
        }
    if not settings["SQLALCHEMY_DATABASE_URI"]:
        settings["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(ROOT / "instance" / "keepkit.db")
    settings["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
        settings["SQLALCHEMY_DATABASE_URI"]
    )
    if settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    elif settings["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        options = dict(settings["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {
            "connect_timeout": settings["KEEPKIT_DATABASE_CONNECT_TIMEOUT"],
            **options.get("connect_args", {}),
        }
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = options
    secret = settings.get("SECRET_KEY") or ""
    if settings["ENV_NAME"] == "production" and (
        len(secret.encode()) < MIN_SECRET_KEY_BYTES or secret == DEV_SECRET_KEY
    ):
        raise ConfigError(
            f"KEEPKIT_SECRET_KEY must be a random value of at least {MIN_SECRET_KEY_BYTES} "
            'bytes in production (e.g. python -c "import secrets; '
            'print(secrets.token_urlsafe(48))"), or set KEEPKIT_ENV=development for local use.'
        )
    if settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _make_sqlite_directory(settings["SQLALCHEMY_DATABASE_URI"])
    return settings
