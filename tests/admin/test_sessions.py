"""Sessions end when they should: sign-out and password changes end every copy of the session
and remember-me cookies; sign-ins are throttled per account; short secret keys are refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.clients import csrf_token, login, token_of
from widget_server.config import load_config
from widget_server.extensions import limiter
from widget_server.models import AuditEvent
from widget_server.services import users

PASSWORD = "correct horse battery"


def remember_login(client):
    token = csrf_token(client)
    response = client.post(
        "/admin/login",
        data={
            "email": "pm@example.com",
            "password": PASSWORD,
            "remember": "1",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    return response


def copy_of(app, client, *names):
    """Another browser holding copies of ``client``'s cookies (a stolen laptop, say)."""
    other = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        other.set_cookie(name, cookie.value)
    return other


def signed_in(client, site) -> bool:
    return client.get(f"/admin/sites/{site.key}/").status_code == 200


def set_cookies(response, name):
    return [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]


def test_remember_me_cookie_is_samesite_httponly_and_reissued(app, client, admin, site):
    response = remember_login(client)
    [cookie] = set_cookies(response, "remember_token")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # Used to sign in again (the session cookie is gone): issued anew with a fresh expiry.
    browser = copy_of(app, client, "remember_token")
    again = browser.get(f"/admin/sites/{site.key}/")
    assert again.status_code == 200 and len(set_cookies(again, "remember_token")) == 1


def test_without_remember_me_no_remember_cookie(client, admin, site):
    login(client)
    response = client.get(f"/admin/sites/{site.key}/")
    assert response.status_code == 200
    assert not [c for c in set_cookies(response, "remember_token") if "Max-Age=0" not in c]


def test_sign_out_ends_every_copy_of_the_cookies(app, client, admin, site):
    remember_login(client)
    session_copy = copy_of(app, client, "session")
    remember_copy = copy_of(app, client, "remember_token")
    assert signed_in(session_copy, site) and signed_in(remember_copy, site)
    client.post("/admin/logout", data={"csrf_token": token_of(client, site)})
    assert not signed_in(client, site)
    assert not signed_in(session_copy, site)
    assert not signed_in(remember_copy, site)


def test_password_change_ends_other_sessions_and_keeps_this_one(app, client, admin, site, db):
    remember_login(client)
    elsewhere = copy_of(app, client, "session", "remember_token")
    token = token_of(client, site)
    wrong = client.post(
        "/admin/account",
        data={"csrf_token": token, "password": "nope", "new_password": "x" * 12,
              "confirm_password": "x" * 12},
    )  # fmt: skip
    assert wrong.status_code == 422 and "current password is wrong" in wrong.get_data(as_text=True)
    done = client.post(
        "/admin/account",
        data={"csrf_token": token, "password": PASSWORD, "new_password": "a new long password",
              "confirm_password": "a new long password"},
    )  # fmt: skip
    assert done.status_code == 302
    assert signed_in(client, site)
    assert not signed_in(elsewhere, site)
    assert users.authenticate("pm@example.com", "a new long password") is not None
    assert db.session.scalar(sa.select(AuditEvent.action).order_by(AuditEvent.id.desc())) == (
        "password_changed"
    )


def test_sign_out_everywhere_else(app, client, admin, site):
    login(client)
    elsewhere = copy_of(app, client, "session")
    client.post(
        "/admin/account",
        data={"csrf_token": token_of(client, site), "action": "sign_out_everywhere"},
    )
    assert signed_in(client, site) and not signed_in(elsewhere, site)


def test_cli_set_password_signs_the_admin_out(app, client, runner, admin, site, db):
    login(client)
    result = runner.invoke(
        args=["users", "set-password", "--email", "PM@example.com", "--password-stdin"],
        input="another long password\n",
    )
    assert result.exit_code == 0, result.output
    assert not signed_in(client, site)
    assert login(client, password="another long password").status_code == 302
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "password_set"))
    assert event.actor == "CLI" and event.details == {"email": "pm@example.com"}
    unknown = runner.invoke(
        args=["users", "set-password", "--email", "x@example.com", "--password-stdin"],
        input="another long password\n",
    )
    assert unknown.exit_code == 1 and "No admin with email x@example.com" in unknown.output
    assert "Traceback" not in unknown.output


@pytest.fixture
def account_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_LOGIN_ACCOUNT_LIMIT", "3 per 15 minutes")
    limiter.reset()
    yield
    limiter.reset()


def test_sign_ins_are_throttled_per_account_from_any_address(app, admin, site, account_limit):
    make = users.create_admin
    make("other@example.com", PASSWORD)
    for n in range(3):  # three failures, each from another address
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        assert login(client, password="wrong password!").status_code == 401
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    locked = login(attacker)  # even the right password waits now
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this account" in locked.get_data(as_text=True)
    assert login(app.test_client(), "other@example.com").status_code == 302  # others sign in


@pytest.mark.parametrize("secret", ["", "short", "x" * 31])
def test_production_refuses_a_secret_key_under_32_bytes(secret):
    with pytest.raises(RuntimeError, match="at least 32"):
        load_config(environ={"KEEPKIT_ENV": "production", "KEEPKIT_SECRET_KEY": secret})
    assert load_config(environ={"KEEPKIT_ENV": "production", "KEEPKIT_SECRET_KEY": "x" * 32})
