"""Helpers for the Flask test client: CSRF tokens and signing in to the admin."""

from __future__ import annotations

import re


def csrf_token(client, path="/admin/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, email="pm@example.com", password="correct horse battery"):
    token = csrf_token(client)
    return client.post(
        "/admin/login", data={"email": email, "password": password, "csrf_token": token}
    )


def token_of(client, site):
    """The CSRF token of the site's pages, for a signed-in admin."""
    return csrf_token(client, f"/admin/sites/{site.key}/settings")
