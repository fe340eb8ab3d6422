"""``keepkit sites set-webhook --site KEY --url URL [--json]``."""

from __future__ import annotations

import json

import pytest

from tests.factories import INSIDE
from widget_server.extensions import db


def set_webhook(runner, *args):
    return runner.invoke(args=["sites", "set-webhook", *args])


def test_prints_the_signing_secret_as_json(runner, site):
    result = set_webhook(
        runner, "--site", site.key, "--url", "https://hooks.example.com/kk", "--json"
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    db.session.refresh(site)
    assert printed == {"url": "https://hooks.example.com/kk", "secret": site.webhook_secret}
    assert printed["secret"].startswith("whsec_")
    # A second URL keeps the secret receivers already verify with.
    again = set_webhook(runner, "--site", site.key, "--url", "https://hooks.example.com/v2")
    assert again.exit_code == 0 and printed["secret"] in again.stdout


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.1/hooks", "127.0.0.1 is a loopback address"),
        ("http://2130706433/hooks", "127.0.0.1 is a loopback address"),
        ("http://0x7f000001/hooks", "127.0.0.1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/hooks", "loopback address (IPv4-mapped: 127.0.0.1)"),
        ("http://localhost/hooks", "localhost is a name for this machine"),
        ("http://169.254.169.254/latest", "169.254.169.254 is a link-local address"),
        ("http://192.168.0.10/hooks", "192.168.0.10 is a private address"),
        ("ftp://hooks.example.com/x", "Invalid webhook URL: The URL must start with https://"),
    ],
)
def test_refuses_inside_targets_in_one_line(runner, site, url, says):
    result = set_webhook(runner, "--site", site.key, "--url", url)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and says in result.stderr
    assert "Traceback" not in result.output
    db.session.refresh(site)
    assert site.webhook_url is None


@pytest.mark.parametrize("url", INSIDE)
def test_refuses_every_spelling_of_an_inside_target(runner, site, url):
    result = set_webhook(runner, "--site", site.key, "--url", url, "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: This webhook URL is not allowed: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    db.session.refresh(site)
    assert site.webhook_url is None


def test_private_targets_with_the_setting(app, runner, site, monkeypatch):
    monkeypatch.setitem(app.config, "KEEPKIT_WEBHOOK_ALLOW_PRIVATE", True)
    result = set_webhook(runner, "--site", site.key, "--url", "http://10.0.0.5/hooks", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["url"] == "http://10.0.0.5/hooks"


def test_unknown_site(runner, db):
    result = set_webhook(runner, "--site", "site_nope", "--url", "https://hooks.example.com/")
    assert result.exit_code == 1 and "No site with key 'site_nope'" in result.stderr
