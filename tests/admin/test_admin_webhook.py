"""The admin's webhook form refuses inside targets with a message the admin can act on."""

from __future__ import annotations

import html

import pytest

from tests.clients import token_of
from tests.factories import INSIDE
from widget_server.extensions import db


def save(admin_client, site, url):
    token = token_of(admin_client, site)
    return admin_client.post(
        f"/admin/sites/{site.key}/webhook",
        data={"csrf_token": token, "webhook_url": url},
        follow_redirects=True,
    )


@pytest.mark.parametrize("url", INSIDE)
def test_inside_targets_are_refused_with_a_message(admin_client, site, url):
    assert save(admin_client, site, "https://hooks.example.com/kk").status_code == 200
    page = save(admin_client, site, url)
    text = html.unescape(page.get_data(as_text=True))
    assert "This webhook URL is not allowed" in text
    db.session.refresh(site)
    assert site.webhook_url == "https://hooks.example.com/kk"


def test_intranet_deployments_may_allow_private_targets(app, admin_client, site, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_WEBHOOK_ALLOW_PRIVATE", True)
    save(admin_client, site, "http://10.0.0.5:8080/hooks")
    db.session.refresh(site)
    assert site.webhook_url == "http://10.0.0.5:8080/hooks"
    # ... but never link-local (the cloud metadata service).
    page = save(admin_client, site, "http://169.254.169.254/latest/meta-data")
    assert "never sends webhooks there" in html.unescape(page.get_data(as_text=True))
    db.session.refresh(site)
    assert site.webhook_url == "http://10.0.0.5:8080/hooks"
