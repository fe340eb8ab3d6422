"""The SSRF guard: which URLs Keepkit may contact, and an HTTP POST that connects only to an
address it has checked.

A webhook URL is chosen by a site's admin, so it must not reach what only Keepkit's network can
reach: loopback, private networks (RFC 1918, IPv6 unique-local), carrier-grade NAT, link-local
(where cloud metadata services live), multicast, broadcast and reserved ranges, and IPv6 forms
that embed such an IPv4 address (IPv4-mapped and -compatible, NAT64, 6to4, Teredo).

Hosts are read the way browsers and resolvers read them (the WHATWG URL rules): ``127.1``,
``2130706433``, ``0x7f000001`` and ``0177.0.0.1`` are all 127.0.0.1; a trailing dot, upper case
and internationalised spellings (IDNA: ``ⓛocalhost``, full-width digits) are normalised before
any check. Names that only ever mean this machine or a local network (``localhost``,
``*.localhost``, ``*.local``, ``*.internal``, ``*.home.arpa``, single-label names) count as
private.

Two moments check:

* :func:`check_url` when a URL is saved: the URL's form and an address literal; a DNS name is
  not resolved then (answers change; saving must not wait on DNS).
* :func:`post` when a message is sent: the host is resolved once, **every** address it resolves
  to is checked, and the connection goes to a checked address directly, with the URL's host in
  the ``Host`` header and as the TLS server name (SNI and certificate verification), so a second
  DNS answer (rebinding) cannot redirect it. Redirects are never followed (the caller sees the
  3xx). No proxy from the environment is used.

``allow_private`` (``KEEPKIT_WEBHOOK_ALLOW_PRIVATE``, for intranet receivers) admits loopback,
private, carrier-grade NAT and unique-local addresses and local names. Link-local, unspecified,
multicast, broadcast, documentation and other reserved addresses are refused even then: no
webhook receiver lives there, but the metadata service does.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from widget_server.i18n import N_, Text

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 500


class Refused(Exception):
    """Keepkit must not contact this URL. ``code`` is a stable identifier; the message says why
    in words an admin understands (``str()`` in English, ``text`` for the admin's language)."""

    code = "refused"

    def __init__(self, template: str, /, **params: object):
        self.text = Text(template, **params)
        super().__init__(str(self.text))


class InvalidTarget(Refused):
    """Not an http(s) URL with a host Keepkit can read unambiguously."""

    code = "invalid_url"


class ForbiddenTarget(Refused):
    """An address (or a name) inside a network Keepkit must not reach."""

    code = "forbidden_target"


# (network, what it is, allowed with allow_private). First match wins.
_V4_RANGES = [
    ("127.0.0.0/8", N_("a loopback address"), True),
    ("10.0.0.0/8", N_("a private address"), True),
    ("172.16.0.0/12", N_("a private address"), True),
    ("192.168.0.0/16", N_("a private address"), True),
    ("100.64.0.0/10", N_("a carrier-grade NAT (shared) address"), True),
    ("0.0.0.0/8", N_("an unspecified ('this network') address"), False),
    ("169.254.0.0/16", N_("a link-local address"), False),
    ("192.0.0.0/24", N_("a reserved (IETF protocol) address"), False),
    ("192.0.2.0/24", N_("a documentation address"), False),
    ("198.51.100.0/24", N_("a documentation address"), False),
    ("203.0.113.0/24", N_("a documentation address"), False),
    ("192.88.99.0/24", N_("a reserved (6to4 relay) address"), False),
    ("198.18.0.0/15", N_("a benchmarking address"), False),
    ("224.0.0.0/4", N_("a multicast address"), False),
    ("240.0.0.0/4", N_("a reserved or broadcast address"), False),
]
_V6_RANGES = [
    ("fc00::/7", N_("a private (unique local) address"), True),
    ("fe80::/10", N_("a link-local address"), False),
    ("fec0::/10", N_("a site-local address"), False),
    ("ff00::/8", N_("a multicast address"), False),
    ("100::/64", N_("a discard-only address"), False),
    ("2001:db8::/32", N_("a documentation address"), False),
    ("64:ff9b:1::/48", N_("a local NAT64 address"), False),
]
_V4_NETWORKS = [(ipaddress.ip_network(n), Text(what), ok) for n, what, ok in _V4_RANGES]
_V6_NETWORKS = [(ipaddress.ip_network(n), Text(what), ok) for n, what, ok in _V6_RANGES]
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_DIGITS = {8: set("01234567"), 10: set("0123456789"), 16: set("0123456789abcdefABCDEF")}


def _classify(ip: IPAddress) -> tuple[Text, bool] | None:
    """``(what it is, allowed with allow_private)`` for an address Keepkit must not reach
    by default, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return Text(N_("a scoped (zone) address")), False
        if ip == ipaddress.IPv6Address("::"):
            return Text(N_("the unspecified address")), False
        if ip == ipaddress.IPv6Address("::1"):
            return Text(N_("a loopback address")), True
        embedded = []
        if ip.ipv4_mapped:
            embedded.append(("IPv4-mapped", ip.ipv4_mapped))
        elif ip in _IPV4_COMPATIBLE:
            return Text(N_("an IPv4-compatible address (deprecated)")), False
        elif ip in _NAT64:
            embedded.append(("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
        if ip.sixtofour:
            embedded.append(("6to4", ip.sixtofour))
        if ip.teredo:
            embedded.extend(("Teredo", v4) for v4 in ip.teredo)
        for form, v4 in embedded:
            found = _classify(v4)
            if found:
                what, ok = found
                return Text(
                    N_("%(what)s (%(form)s: %(address)s)"), what=what, form=form, address=str(v4)
                ), ok
        if ip.ipv4_mapped:
            return None  # a public IPv4 address, written as IPv6
        networks = _V6_NETWORKS
    else:
        networks = _V4_NETWORKS
    for network, what, ok in networks:
        if ip in network:
            return what, ok
    if ip.is_multicast or not ip.is_global:
        return Text(N_("a reserved address")), False
    return None


_PUBLIC_ONLY = N_(
    "%(subject)s; webhooks must go to a public address "
    "(KEEPKIT_WEBHOOK_ALLOW_PRIVATE=1 allows private ones on an intranet)"
)


def check_address(ip: IPAddress, *, allow_private: bool, host: str | None = None) -> None:
    """:raises ForbiddenTarget: unless Keepkit may connect to ``ip`` (``host``: the name it
    came from, for the message)."""
    found = _classify(ip)
    if found is None:
        return
    what, private = found
    if host:
        subject = Text(
            N_("%(host)s resolves to %(ip)s, %(what)s"), host=host, ip=str(ip), what=what
        )
    else:
        subject = Text(N_("%(ip)s is %(what)s"), ip=str(ip), what=what)
    if not private:
        raise ForbiddenTarget(
            N_("%(subject)s; Keepkit never sends webhooks there"), subject=subject
        )
    if not allow_private:
        raise ForbiddenTarget(_PUBLIC_ONLY, subject=subject)


def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 host as the WHATWG URL standard reads it (0x hex, 0 octal)."""
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if digits == "":
        return 0 if part else None
    if any(c not in _DIGITS[base] for c in digits):
        return None
    return int(digits, base)


def _ends_in_number(host: str) -> bool:
    last = host.split(".")[-1]
    return bool(last) and (set(last) <= _DIGITS[10] or _ipv4_number(last) is not None)


def _parse_ipv4(host: str) -> ipaddress.IPv4Address:
    """:raises InvalidTarget: for a host that ends in a number but is no IPv4 address."""
    parts = host.split(".")
    parsed = [_ipv4_number(p) if p else None for p in parts]
    if len(parts) > 4 or any(n is None for n in parsed):
        raise InvalidTarget(N_("%(host)r is neither an IPv4 address nor a host name"), host=host)
    numbers = [n for n in parsed if n is not None]
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise InvalidTarget(N_("%(host)r is not a valid IPv4 address"), host=host)
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(leading))
    return ipaddress.IPv4Address(value)


@dataclass(frozen=True)
class Target:
    """A URL Keepkit may try: scheme, canonical host (ASCII, no trailing dot; an address
    without brackets), port, the path with its query, and the host's address if it is one."""

    scheme: str
    host: str
    port: int
    path: str
    ip: IPAddress | None


def _canonical_host(raw: str, bracketed: bool) -> tuple[str, IPAddress | None]:
    if bracketed:
        if "%" in raw:
            raise InvalidTarget(N_("IPv6 zone identifiers are not allowed in a webhook URL"))
        try:
            return raw, ipaddress.IPv6Address(raw)
        except ValueError as exc:
            raise InvalidTarget(N_("[%(host)s] is not an IPv6 address"), host=raw) from exc
    try:
        # IDNA (with nameprep: full-width digits and dots, circled letters … become ASCII),
        # as the resolver would read the name.
        host = raw.encode("idna").decode("ascii").lower() if not raw.isascii() else raw.lower()
    except UnicodeError as exc:
        raise InvalidTarget(N_("The host is not a valid internationalised name")) from exc
    if host.endswith("."):
        host = host[:-1]
    if not host or host.endswith("."):
        raise InvalidTarget(N_("The URL has an empty host"))
    if _ends_in_number(host):
        ip = _parse_ipv4(host)
        return str(ip), ip
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        raise InvalidTarget(N_("%(host)r is not a valid host name"), host=host)
    return host, None


def parse_url(url: str) -> Target:
    """Read an http(s) URL strictly.

    :raises InvalidTarget: for anything else: another scheme, no host, credentials in the URL,
        spaces or control characters, a bad port, an ambiguous host.
    """
    if not isinstance(url, str) or not url:
        raise InvalidTarget(N_("The URL is empty"))
    if len(url) > MAX_URL_LENGTH:
        raise InvalidTarget(N_("The URL is longer than %(max)s characters"), max=MAX_URL_LENGTH)
    if any(c.isspace() or ord(c) < 32 or 127 <= ord(c) < 160 for c in url):
        raise InvalidTarget(N_("The URL contains spaces or control characters"))
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unbalanced or invalid [IPv6] host
        raise InvalidTarget(N_("The URL cannot be read: check the host")) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise InvalidTarget(N_("The URL must start with https:// or http:// and name a host"))
    if "@" in parts.netloc:
        raise InvalidTarget(N_("The URL must not contain a user name or password"))
    if "\\" in url:
        raise InvalidTarget(N_("The URL must not contain backslashes"))
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidTarget(N_("The URL has an invalid port")) from exc
    if port == 0:
        raise InvalidTarget(N_("The URL has an invalid port"))
    bracketed = parts.netloc.startswith("[")
    host, ip = _canonical_host(parts.hostname or "", bracketed)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path, ip)


def _check_name(host: str, *, allow_private: bool) -> None:
    local = host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES)
    if (local or "." not in host) and not allow_private:
        what = (
            N_("a name for this machine or a local network") if local else N_("not a public name")
        )
        subject = Text(N_("%(host)s is %(what)s"), host=host, what=Text(what))
        raise ForbiddenTarget(_PUBLIC_ONLY, subject=subject)


def check_url(url: str, *, allow_private: bool = False) -> Target:
    """Check a URL without resolving it (when it is saved).

    :raises InvalidTarget: when it is not a usable http(s) URL.
    :raises ForbiddenTarget: when its host is an address or a name Keepkit must not reach.
    """
    target = parse_url(url)
    if target.ip is not None:
        check_address(target.ip, allow_private=allow_private)
    else:
        _check_name(target.host, allow_private=allow_private)
    return target


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to (the system resolver; tests replace this).

    :raises OSError: when it does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def addresses(target: Target, *, allow_private: bool) -> list[IPAddress]:
    """The checked addresses to connect to for ``target``: all of them, or none.

    :raises ForbiddenTarget: when any address the host resolves to is not allowed.
    :raises OSError: when the host does not resolve.
    """
    if target.ip is not None:
        check_address(target.ip, allow_private=allow_private)
        return [target.ip]
    _check_name(target.host, allow_private=allow_private)
    found = list(dict.fromkeys(resolve(target.host, target.port)))
    if not found:
        raise OSError(f"{target.host} did not resolve to any address")
    for ip in found:
        check_address(ip, allow_private=allow_private, host=target.host)
    return found


def tls_context() -> ssl.SSLContext:
    """Certificates are verified against the system's trust store and the URL's host."""
    return ssl.create_default_context()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to ``address``; the ``Host`` header names the URL's host."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((str(self.address), self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to ``address``; SNI and the certificate check use the URL's host."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float):
        self.tls = tls_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self):
        sock = socket.create_connection((str(self.address), self.port), self.timeout)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


@dataclass(frozen=True)
class Response:
    status: int
    location: str | None


def _exchange(method, url, body, headers, *, allow_private, timeout, read):
    """Send one request to ``url``, connecting only to checked addresses (the first that
    accepts the connection), and return ``read(reply)``. Redirects are returned, not followed.

    :raises InvalidTarget: for an unusable URL.
    :raises ForbiddenTarget: when the URL's host is, or resolves to, a forbidden address.
    :raises OSError: when no address accepts a connection, or on a network or TLS error.
    :raises http.client.HTTPException: when the reply is not HTTP.
    """
    target = parse_url(url)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    error: OSError | None = None
    for address in addresses(target, allow_private=allow_private):
        connection = connection_class(target.host, target.port, address, timeout)
        try:
            try:
                connection.connect()
            except ssl.SSLError:
                raise  # the server answered, but is not who the URL names: no other try
            except OSError as exc:
                error = exc
                continue
            connection.request(method, target.path, body=body, headers=headers)
            return read(connection.getresponse())
        finally:
            connection.close()
    raise error or OSError(f"could not connect to {target.host}")


def post(
    url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, timeout: float
) -> Response:
    """POST ``body`` to ``url`` (see :func:`_exchange`: checked addresses only, redirects
    not followed); the answer's status and ``Location``."""
    return _exchange(
        "POST", url, body, headers, allow_private=allow_private, timeout=timeout,
        read=lambda reply: Response(reply.status, reply.getheader("Location")),
    )  # fmt: skip


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


def call(
    method: str,
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    *,
    allow_private: bool,
    timeout: float,
    max_body: int = 1_000_000,
) -> Reply:
    """Send one request to ``url`` as :func:`post` does and read at most ``max_body`` bytes
    of the answer: for APIs Keepkit reads.

    :raises InvalidTarget, ForbiddenTarget, OSError, http.client.HTTPException: as :func:`post`.
    """
    return _exchange(
        method, url, body, headers, allow_private=allow_private, timeout=timeout,
        read=lambda reply: Reply(reply.status, reply.read(max_body)),
    )  # fmt: skip
