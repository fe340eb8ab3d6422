"""Admin pages load only our own scripts, nobody frames Keepkit, and login stays on the host."""

from __future__ import annotations

import pytest

from tests.clients import csrf_token
from tests.factories import make_token


def policy(response) -> dict:
    return {
        part.split()[0]: part.split()[1:]
        for part in response.headers["Content-Security-Policy"].split(";")
        if part.strip()
    }


@pytest.mark.parametrize("page", ["", "sessions", "settings", "roadmap", "outbox"])
def test_admin_pages_allow_no_inline_script_and_no_framing(admin_client, site, page):
    response = admin_client.get(f"/admin/sites/{site.key}/{page}")
    assert response.status_code == 200
    csp = policy(response)
    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp.get("style-src", [])
    assert csp["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    html = response.get_data(as_text=True)
    assert " onsubmit=" not in html and " onchange=" not in html and " onclick=" not in html
    assert ' style="' not in html


def test_login_page_refuses_framing(client):
    response = client.get("/admin/login")
    assert policy(response)["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_hosted_and_public_pages_refuse_framing(client, site):
    token = make_token(site, "framed")
    for path in (f"/c/{site.key}?token={token}", f"/roadmap/{site.key}", "/u/not-a-token"):
        response = client.get(path)
        assert policy(response)["frame-ancestors"] == ["'none'"], path
        assert response.headers["X-Frame-Options"] == "DENY", path


@pytest.mark.parametrize(
    "target",
    [
        "////evil.example/x",
        "///evil.example/x",
        "//evil.example/x",
        "/\\evil.example",
        "/\\/evil.example",
        "https://evil.example/x",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/\n/evil.example",
        "evil.example",
    ],
)
def test_login_never_redirects_off_site(client, admin, target):
    token = csrf_token(client)
    creds = {"email": "pm@example.com", "password": "correct horse battery", "csrf_token": token}
    response = client.post("/admin/login", query_string={"next": target}, data=creds)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_login_follows_a_local_next(client, admin, site):
    token = csrf_token(client)
    creds = {"email": "pm@example.com", "password": "correct horse battery", "csrf_token": token}
    target = f"/admin/sites/{site.key}/sessions?outcome=cancelled"
    response = client.post("/admin/login", query_string={"next": target}, data=creds)
    assert response.headers["Location"] == target


def test_site_menu_works_without_script(admin_client, db, site):
    from tests.factories import make_site

    other, _ = make_site("Other")
    response = admin_client.get("/admin/", query_string={"site": other.key})
    assert response.headers["Location"] == f"/admin/sites/{other.key}/"
    unknown = admin_client.get("/admin/", query_string={"site": "site_nope"})
    assert unknown.headers["Location"] == f"/admin/sites/{site.key}/"
