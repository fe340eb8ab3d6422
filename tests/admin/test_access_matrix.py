"""Every admin route, for every role: the matrix is read from the URL map, so a new route
cannot escape it (it fails here until it declares who may use it)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.clients import csrf_token, login
from tests.factories import make_admin, make_site, make_token
from widget_server import create_app
from widget_server.models import ROLES, OutboxMessage
from widget_server.services import (
    experiments,
    flow,
    flow_config,
    notifications,
    roadmap,
    sites,
    users,
)
from widget_server.services.customers import upsert_customer
from widget_server.services.tokens import verify_customer_token

PASSWORD = "correct horse battery"
# Who may open a route, besides the site roles: anyone (sign-in) or any signed-in admin.
LEVELS = ("anyone", "account", *ROLES)


def admin_routes() -> list[tuple[str, str, str]]:
    app = create_app({"ENV": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.rule, rule.endpoint, method))
    return routes


ROUTES = admin_routes()


def required(app, endpoint: str, method: str) -> str:
    roles = getattr(app.view_functions[endpoint], "required_roles", None)
    assert roles is not None, f"{endpoint} declares no role (use site_view/account_view)"
    level = roles["GET" if method == "GET" else "POST"]
    assert level in LEVELS, f"{endpoint}: unknown role {level!r}"
    return level


@pytest.fixture
def world(db):
    """A site with one of everything, and an admin for each role (plus a stranger)."""
    site, _ = make_site("Matrix")
    other, _ = make_site("Elsewhere")
    item = roadmap.create_item(site, title="SSO")
    claims = verify_customer_token(site, make_token(site, "voter", email="v@example.com"))
    roadmap.vote(site, item, upsert_customer(site, claims))
    session, _ = flow.start_session(site, claims, locale="en")
    notifications.enqueue_emails(
        site, "roadmap.in_progress", [{"dedupe_key": "m1", "to": "v@example.com", "payload": {}}]
    )
    sites.set_webhook(site, "https://hooks.example.com/keepkit")
    holdout = experiments.set_holdout(site, 10, by="test")
    people = {"instance": make_admin("boss@example.com", PASSWORD)}
    for role in ROLES:
        people[role] = make_admin(
            f"{role}@example.com", PASSWORD, owner=False, sites=[site], role=role
        )
    people["stranger"] = make_admin("stranger@example.com", PASSWORD, owner=False, sites=[other])
    db.session.commit()
    values = {
        "site_key": site.key,
        "reason_id": flow_config.all_reasons(site)[0].id,
        "offer_id": flow_config.all_offers(site)[0].id,
        "item_id": item.id,
        "message_id": db.session.scalar(sa.select(OutboxMessage.id)),
        "origin_id": site.origins[0].id,
        "key_id": site.api_keys[0].id,
        "user_id": people["viewer"].id,
        "decision": "approve",
        "action": "rotate",
        "kind": "reasons",
        "session_id": session.public_id,
        "experiment_id": holdout.id,
    }
    # Where two routes use one parameter name for different things.
    overrides = {"admin.item_action": {"item_id": values["reason_id"], "action": "down"}}
    return {"site": site, "people": people, "values": values, "overrides": overrides}


def url(path: str, values: dict) -> str:
    import re

    def fill(match):
        name = match.group(1).split(":")[-1]
        assert name in values, f"no test value for <{name}> in {path}: add one to the matrix"
        return str(values[name])

    return re.sub(r"<([^>]+)>", fill, path)


def request(client, path, method, token=None):
    if method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": token or csrf_token(client, "/admin/account")})


def allowed(response) -> bool:
    """Let through: not refused, not sent to sign in (a form error or a redirect is fine)."""
    to_login = response.status_code == 302 and "/admin/login" in response.headers["Location"]
    return (
        response.status_code not in (401, 403, 404) and response.status_code < 500 and not to_login
    )


@pytest.mark.parametrize("who", ["anonymous", "stranger", "viewer", "editor", "owner", "instance"])
def test_every_admin_route_for_every_role(app, client, world, who):
    if who != "anonymous":
        assert login(client, f"{world['people'][who].email}", PASSWORD).status_code == 302
    rank = {"viewer": 0, "editor": 1, "owner": 2, "instance": 2}
    token = csrf_token(client, "/admin/login" if who == "anonymous" else "/admin/account")
    checked = 0
    for path, endpoint, method in ROUTES:
        level = required(app, endpoint, method)
        if path == "/admin/logout":
            continue  # signing out would end this client's session for the routes after it
        values = world["values"] | world["overrides"].get(endpoint, {})
        response = request(client, url(path, values), method, token)
        where = f"{who} {method} {path}: {response.status_code}"
        if level == "anyone":
            assert response.status_code < 500, where
        elif who == "anonymous":
            assert response.status_code == 302, where
            assert "/admin/login" in response.headers["Location"], where
        elif level == "account":
            assert allowed(response), where
        elif who == "stranger":
            assert response.status_code == 404, where
        elif rank[who] < ROLES.index(level):
            assert response.status_code == 403, where
            assert "An owner of the site can change your role" in response.get_data(as_text=True)
        else:
            assert allowed(response), where
        checked += 1
    assert checked > 30


def test_forbidden_means_unchanged(client, world):
    site = world["site"]
    secret = site.secret_primary
    login(client, "editor@example.com", PASSWORD)
    assert request(client, f"/admin/sites/{site.key}/secret/rotate", "POST").status_code == 403
    assert request(client, f"/admin/sites/{site.key}/api-keys", "POST").status_code == 403
    assert site.secret_primary == secret and len(site.api_keys) == 1


@pytest.mark.parametrize("who, sees", [("viewer", False), ("editor", False), ("owner", True)])
def test_only_owners_see_secrets(client, world, who, sees):
    site = world["site"]
    login(client, f"{who}@example.com", PASSWORD)
    html = client.get(f"/admin/sites/{site.key}/settings").get_data(as_text=True)
    for secret in (site.secret_primary, site.webhook_secret, site.api_keys[0].prefix):
        assert (secret in html) is sees


def test_roles_are_given_changed_and_taken_away_by_owners(client, world, db):
    from tests.clients import token_of

    site = world["site"]
    login(client, "owner@example.com", PASSWORD)
    token = token_of(client, site)
    page = client.post(
        f"/admin/sites/{site.key}/team",
        data={"csrf_token": token, "email": "New@Example.com", "role": "editor"},
    ).get_data(as_text=True)
    assert "new@example.com" in page and "shown only once" in page
    new = users.get_user("new@example.com")
    assert users.role_for(new, site) == "editor"
    client.post(
        f"/admin/sites/{site.key}/team/{new.id}", data={"csrf_token": token, "role": "viewer"}
    )
    db.session.expire_all()
    assert users.role_for(new, site) == "viewer"
    client.post(f"/admin/sites/{site.key}/team/{new.id}", data={"csrf_token": token, "remove": "1"})
    db.session.expire_all()
    assert users.role_for(new, site) is None
