import pytest

from widget_server import create_app
from widget_server.config import load_config


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(RuntimeError, match="KEEPKIT_SECRET_KEY"):
        load_config(environ={"KEEPKIT_ENV": "production"})


def test_environment_configures_the_app():
    config = load_config(
        environ={
            "KEEPKIT_ENV": "production",
            "KEEPKIT_SECRET_KEY": "s" * 40,
            "KEEPKIT_DATABASE_URL": "postgresql://u@h/db",
            "KEEPKIT_REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert config["SESSION_COOKIE_SECURE"] is True


def test_default_database_is_sqlite_under_instance():
    config = load_config(environ={"KEEPKIT_ENV": "development"})
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("/instance/keepkit.db")


def test_unknown_environment_is_refused():
    with pytest.raises(RuntimeError, match="KEEPKIT_ENV"):
        load_config(environ={"KEEPKIT_ENV": "staging"})


def test_wsgi_builds_the_production_app(monkeypatch, tmp_path):
    monkeypatch.setenv("KEEPKIT_ENV", "production")
    monkeypatch.setenv("KEEPKIT_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("KEEPKIT_DATABASE_URL", f"sqlite:///{tmp_path}/prod.db")
    app = create_app()
    assert app.config["ENV_NAME"] == "production"
    assert "demo.acme" not in app.view_functions


def test_private_webhook_targets_are_off_in_production_and_on_for_development():
    production = {"KEEPKIT_ENV": "production", "KEEPKIT_SECRET_KEY": "s" * 40}
    assert load_config(environ=production)["KEEPKIT_WEBHOOK_ALLOW_PRIVATE"] is False
    assert load_config(environ={"KEEPKIT_ENV": "testing"})["KEEPKIT_WEBHOOK_ALLOW_PRIVATE"] is False
    for env in ("development", "demo"):
        assert load_config(environ={"KEEPKIT_ENV": env})["KEEPKIT_WEBHOOK_ALLOW_PRIVATE"] is True
    intranet = load_config(environ={**production, "KEEPKIT_WEBHOOK_ALLOW_PRIVATE": "1"})
    assert intranet["KEEPKIT_WEBHOOK_ALLOW_PRIVATE"] is True
    strict = load_config(
        environ={"KEEPKIT_ENV": "development", "KEEPKIT_WEBHOOK_ALLOW_PRIVATE": "0"}
    )
    assert strict["KEEPKIT_WEBHOOK_ALLOW_PRIVATE"] is False
    with pytest.raises(RuntimeError, match="KEEPKIT_WEBHOOK_ALLOW_PRIVATE must be 1 or 0"):
        load_config(environ={**production, "KEEPKIT_WEBHOOK_ALLOW_PRIVATE": "maybe"})


def test_redis_for_rate_limits_gets_short_timeouts():
    config = load_config(
        environ={"KEEPKIT_ENV": "development", "KEEPKIT_REDIS_URL": "redis://cache:6379/0"}
    )
    options = config["RATELIMIT_STORAGE_OPTIONS"]
    assert options["socket_connect_timeout"] <= 1 and options["socket_timeout"] <= 1
    assert config["RATELIMIT_SWALLOW_ERRORS"] and config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"]
