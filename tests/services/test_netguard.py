"""The SSRF guard: every spelling of an inside address is refused when a webhook URL is saved,
and every address a name resolves to is checked before a connection."""

from __future__ import annotations

import ipaddress

import pytest

from tests.factories import INSIDE
from widget_server.errors import ValidationError
from widget_server.services import netguard, sites

NOT_URLS = [
    "ftp://hooks.example.com/h",
    "javascript:alert(1)",
    "hooks.example.com/h",
    "http:///h",
    "http://user:secret@hooks.example.com/h",
    "http://hooks.example.com@127.0.0.1/h",
    "http://hooks example.com/h",
    "http://hooks.example.com/h\r\nX-Injected: 1",
    "http://hooks.example.com\\@127.0.0.1/h",
    "http://1.2.3.4.5/h",
    "http://%31%32%37.0.0.1/h",
    "http://[::1%25lo]/h",
    "http://[127.0.0.1]/h",
    "http://hooks.example.com:0/h",
    "http://hooks.example.com:99999/h",
    "https://" + "a" * 500 + ".example.com/h",
]

PUBLIC = [
    "https://hooks.example.com/keepkit",
    "https://hooks.example.com:8443/keepkit?team=7",
    "http://93.184.216.34/h",
    "https://[2606:4700:4700::1111]/h",
    "http://[::ffff:93.184.216.34]/h",
    "https://b\u00fccher.example/h",
]


@pytest.mark.parametrize("url", INSIDE)
def test_inside_addresses_are_refused_in_every_spelling(url):
    with pytest.raises(netguard.ForbiddenTarget):
        netguard.check_url(url)


@pytest.mark.parametrize("url", NOT_URLS)
def test_urls_that_cannot_be_read_unambiguously_are_refused(url):
    with pytest.raises(netguard.InvalidTarget):
        netguard.check_url(url)


@pytest.mark.parametrize("url", PUBLIC)
def test_public_targets_are_accepted(url):
    assert netguard.check_url(url).scheme in ("http", "https")


def test_hosts_are_read_as_resolvers_read_them():
    assert netguard.check_url("https://B\u00dcCHER.Example./h").host == "xn--bcher-kva.example"
    assert netguard.parse_url("http://0x7f.1:81/a?b=1").ip == ipaddress.ip_address("127.0.0.1")
    assert netguard.parse_url("http://0x7f.1:81/a?b=1").path == "/a?b=1"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.1:8080/h",
        "http://localhost/h",
        "http://10.0.0.5/h",
        "http://[fd00::1]/h",
        "http://[::ffff:192.168.0.1]/h",
        "http://intranet/h",
    ],
)
def test_allow_private_admits_intranet_receivers(url):
    assert netguard.check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/h",
        "http://[::ffff:169.254.169.254]/h",
        "http://0.0.0.0/h",
        "http://224.0.0.1/h",
        "http://255.255.255.255/h",
    ],
)
def test_allow_private_still_refuses_link_local_and_reserved(url):
    with pytest.raises(netguard.ForbiddenTarget, match="never"):
        netguard.check_url(url, allow_private=True)


def test_every_address_a_name_resolves_to_is_checked(monkeypatch):
    answers = {
        "public.example": ["93.184.216.34"],
        "mixed.example": ["93.184.216.34", "127.0.0.1"],  # one bad answer spoils the name
        "mapped.example": ["::ffff:10.0.0.1"],
        "meta.example": ["169.254.169.254"],
    }
    monkeypatch.setattr(
        netguard, "resolve", lambda host, port: [ipaddress.ip_address(a) for a in answers[host]]
    )

    def addresses(host, allow_private=False):
        target = netguard.check_url(f"https://{host}/h")
        return [str(a) for a in netguard.addresses(target, allow_private=allow_private)]

    assert addresses("public.example") == ["93.184.216.34"]
    for host in ("mixed.example", "mapped.example", "meta.example"):
        with pytest.raises(netguard.ForbiddenTarget, match=f"{host} resolves to"):
            addresses(host)
    assert addresses("mixed.example", allow_private=True) == ["93.184.216.34", "127.0.0.1"]
    with pytest.raises(netguard.ForbiddenTarget):
        addresses("meta.example", allow_private=True)


# --- saving a site's webhook URL ------------------------------------------------------------


@pytest.mark.parametrize("url", INSIDE)
def test_set_webhook_refuses_inside_targets_and_keeps_the_old_url(db, site, url):
    sites.set_webhook(site, "https://hooks.example.com/kk")
    secret = site.webhook_secret
    with pytest.raises(ValidationError) as refused:
        sites.set_webhook(site, url)
    assert refused.value.code == "webhook_url_not_allowed"
    assert "public address" in refused.value.message or "never" in refused.value.message
    assert (site.webhook_url, site.webhook_secret) == ("https://hooks.example.com/kk", secret)


@pytest.mark.parametrize("url", NOT_URLS)
def test_set_webhook_refuses_what_is_not_an_http_url(db, site, url):
    with pytest.raises(ValidationError) as refused:
        sites.set_webhook(site, url)
    assert refused.value.code == "invalid_webhook_url"
    assert site.webhook_url is None and site.webhook_secret is None


def test_set_webhook_allows_private_targets_when_told(db, site):
    sites.set_webhook(site, "http://127.0.0.1:9000/hooks", allow_private=True)
    assert site.webhook_url == "http://127.0.0.1:9000/hooks"
    assert site.webhook_secret.startswith("whsec_")
