"""Sites: creation with defaults, origins, signing secrets and data API keys."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from widget_server.errors import Conflict, NotFound, Unauthorized, ValidationError
from widget_server.extensions import db
from widget_server.i18n import N_, Text
from widget_server.models import ApiKey, Offer, Reason, Site, SiteOrigin, utcnow
from widget_server.services import jobs, netguard
from widget_server.services.defaults import DEFAULT_OFFERS, DEFAULT_REASONS
from widget_server.services.money import is_currency
from widget_server.services.text import is_single_line, single_line

log = logging.getLogger(__name__)
API_KEY_PREFIX = "kk_live_"
MAX_NAME = 200
MAX_ORIGIN = 255


_URL_NAMES = {"app_url": N_("The app link"), "reactivation_url": N_("The reactivation link")}


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def normalize_origin(value: str) -> str:
    """Return ``scheme://host[:port]`` for a URL or origin.

    :raises ValidationError: ``invalid_origin`` when it is not an http(s) origin on one line
        (``urlsplit`` would silently drop tabs and line breaks).
    """
    if not isinstance(value, str) or not is_single_line(value):
        raise ValidationError(
            N_("An origin must be one line of text such as https://app.example.com"),
            code="invalid_origin",
        )
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            N_(
                "%(value)r is not an origin; use scheme://host[:port], e.g. https://app.example.com"
            ),
            params={"value": value},
            code="invalid_origin",
        )
    host = parts.hostname.lower()
    default_port = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError as exc:
        raise ValidationError(
            N_("%(value)r has an invalid port"), code="invalid_origin", params={"value": value}
        ) from exc
    suffix = f":{port}" if port and port != default_port else ""
    origin = f"{parts.scheme}://{host}{suffix}"
    if len(origin) > MAX_ORIGIN:
        raise ValidationError(
            N_("An origin has at most %(max)s characters"),
            code="invalid_origin",
            params={"max": MAX_ORIGIN},
        )
    return origin


def create_site(
    name: str, origins: list[str], *, currency: str = "USD", default_locale: str = "en"
) -> tuple[Site, str]:
    """Create a site with the default reasons and offers and one data API key.

    Returns the site and the plain API key (only its digest is stored).

    :raises ValidationError: ``invalid_name`` (empty or over 200 characters),
        ``invalid_characters`` (a name that is not a single line), ``invalid_origin`` or
        ``invalid_currency``.
    """
    name = single_line(name, "name", Text(N_("The name"))).strip()
    if not name or len(name) > MAX_NAME:
        raise ValidationError(
            N_("A site needs a name of at most %(max)s characters"),
            code="invalid_name",
            params={"max": MAX_NAME},
        )
    currency = (currency or "").upper()
    if not is_currency(currency):
        raise ValidationError(
            N_("currency must be an ISO 4217 code such as USD"), code="invalid_currency"
        )
    site = Site(
        key="site_" + secrets.token_hex(8),
        name=name,
        secret_primary=new_secret(),
        currency=currency,
        default_locale=default_locale,
    )
    for origin in dict.fromkeys(normalize_origin(o) for o in origins):
        site.origins.append(SiteOrigin(origin=origin))
    db.session.add(site)
    db.session.flush()
    reasons = {}
    for position, spec in enumerate(DEFAULT_REASONS):
        reason = Reason(
            site_id=site.id,
            key=spec["key"],
            position=position,
            labels=spec["labels"],
            followup=spec.get("followup"),
            requires_text=spec.get("requires_text", False),
            is_missing_feature=spec.get("is_missing_feature", False),
        )
        reasons[spec["key"]] = reason
        db.session.add(reason)
    for position, spec in enumerate(DEFAULT_OFFERS):
        fields = {k: v for k, v in spec.items() if k != "reasons"}
        offer = Offer(site_id=site.id, position=position, **fields)
        offer.reasons = [reasons[key] for key in spec["reasons"]]
        db.session.add(offer)
    api_key = create_api_key(site)
    db.session.flush()
    return site, api_key


_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def update_site(
    site: Site,
    *,
    name: str,
    default_locale: str,
    currency: str,
    brand_color: str,
    discount_window_days,
    app_url: str | None = None,
    reactivation_url: str | None = None,
    requested_by: str = "Keepkit",
) -> None:
    """Change a site's general settings. A new currency has the worker recompute the MRR
    bands (a job).

    :raises ValidationError: ``invalid_characters`` for a name that is not a single line,
        else ``invalid_site`` naming the field at fault.
    """
    from widget_server.services.locales import SUPPORTED_LOCALES

    name = single_line(name, "name", Text(N_("The name"))).strip()
    currency = (currency or "").strip().upper()
    try:
        window = int(discount_window_days)
    except (TypeError, ValueError):
        window = -1
    checks = [
        (0 < len(name) <= MAX_NAME, "name", N_("A site needs a name (at most 200 characters)")),
        (
            default_locale in SUPPORTED_LOCALES,
            "default_locale",
            N_("Choose a language Keepkit ships"),
        ),
        (is_currency(currency), "currency", N_("Use an ISO 4217 code such as EUR")),
        (bool(_COLOR.fullmatch(brand_color or "")), "brand_color", N_("Use a colour like #4f46e5")),
        (0 <= window <= 3650, "discount_window_days", N_("Use 0 to 3650 days")),
    ]
    urls = {"app_url": app_url, "reactivation_url": reactivation_url}
    for field, url in urls.items():
        if url is None:
            continue
        url = urls[field] = single_line(url, field, Text(_URL_NAMES[field])).strip()
        parts = urlsplit(url) if url else None
        web = parts is None or (parts.scheme in ("http", "https") and bool(parts.netloc))
        checks.append(
            (
                web and len(url) <= 500,
                field,
                N_("Use a web address like https://app.example.com/billing"),
            )
        )
    for ok, field, message in checks:
        if not ok:
            raise ValidationError(message, code="invalid_site", details={field: message})
    currency_changed = currency != site.currency
    site.name, site.default_locale, site.currency = name, default_locale, currency
    site.brand_color, site.discount_window_days = brand_color.lower(), window
    for field, url in urls.items():
        if url is not None:
            setattr(site, field, url or None)
    db.session.flush()
    if currency_changed:
        jobs.enqueue(site, "rebuild_mrr_bands", requested_by=requested_by)


def set_webhook(
    site: Site, url: str | None, *, new_secret: bool = False, allow_private: bool = False
) -> None:
    """Set (or clear, with None) the site's webhook URL; a signing secret is created with the
    first URL, or anew when ``new_secret``. Messages already queued go to the new URL.

    The URL must be http(s) and must not name a loopback, private, link-local, CGNAT,
    multicast or reserved address in any spelling (``allow_private``: loopback and private
    ones are accepted; see :mod:`widget_server.services.netguard`). DNS names are checked
    again, resolved, each time a message is sent.

    :raises ValidationError: ``invalid_webhook_url`` unless it is a usable http(s) URL;
        ``webhook_url_not_allowed`` when it names an address Keepkit must not reach.
    """
    if url is not None:
        try:
            netguard.check_url(url, allow_private=allow_private)
        except netguard.ForbiddenTarget as exc:
            raise ValidationError(
                N_("This webhook URL is not allowed: %(problem)s"),
                code="webhook_url_not_allowed",
                params={"problem": exc.text},
            ) from exc
        except netguard.Refused as exc:
            raise ValidationError(
                N_("Invalid webhook URL: %(problem)s"),
                code="invalid_webhook_url",
                params={"problem": exc.text},
            ) from exc
    site.webhook_url = url
    if new_secret or (url and not site.webhook_secret):
        site.webhook_secret = "whsec_" + secrets.token_urlsafe(24)
    db.session.flush()
    log.info("Webhook URL of site %s set to %s", site.key, url)


MAX_LOGO_BYTES = 200 * 1024
_LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def set_logo(site: Site, data: bytes | None) -> None:
    """Store (or with None, remove) the site's logo, shown on PDF reports.

    :raises ValidationError: ``invalid_logo`` unless it is a PNG or JPEG of at most 200 KB.
    """
    if data is None:
        site.logo = None
        db.session.flush()
        return
    kind = next((t for magic, t in _LOGO_TYPES.items() if data.startswith(magic)), None)
    if kind is None or len(data) > MAX_LOGO_BYTES:
        raise ValidationError(
            N_("The logo must be a PNG or JPEG of at most 200 KB"), code="invalid_logo"
        )
    site.logo = f"data:{kind};base64," + base64.b64encode(data).decode()
    db.session.flush()


def find_site(key: str) -> Site | None:
    """The site with this key, or None."""
    return db.session.scalar(sa.select(Site).where(Site.key == key))


def site_not_found(key: str) -> NotFound:
    return NotFound(f"No site with key {key!r}", code="site_not_found")


def get_site(key: str) -> Site:
    """:raises NotFound: when no site has this key."""
    site = find_site(key)
    if site is None:
        raise site_not_found(key)
    return site


def add_origin(site: Site, value: str) -> SiteOrigin:
    """:raises ValidationError: bad origin. :raises Conflict: already allowed."""
    origin = normalize_origin(value)
    if any(o.origin == origin for o in site.origins):
        raise Conflict(
            N_("%(origin)s is already allowed"), code="origin_exists", params={"origin": origin}
        )
    row = SiteOrigin(origin=origin)
    site.origins.append(row)
    db.session.flush()
    return row


def remove_origin(site: Site, origin_id: int) -> str:
    """Returns the origin removed.

    :raises NotFound: when the origin does not belong to the site."""
    row = next((o for o in site.origins if o.id == origin_id), None)
    if row is None:
        raise NotFound(N_("No such origin"), code="origin_not_found")
    site.origins.remove(row)
    db.session.flush()
    return row.origin


def origin_allowed(site: Site, origin: str) -> bool:
    try:
        origin = normalize_origin(origin)
    except ValidationError:
        return False
    return any(o.origin == origin for o in site.origins)


def rotate_secret(site: Site) -> str:
    """Start a secret rotation: a new primary; the old one keeps verifying tokens."""
    site.secret_secondary = site.secret_primary
    site.secret_primary = new_secret()
    db.session.flush()
    return site.secret_primary


def retire_secondary_secret(site: Site) -> None:
    """Finish a rotation: tokens signed with the previous secret stop working."""
    site.secret_secondary = None
    db.session.flush()


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(site: Site) -> str:
    """Create a data API key and return it in plain text (stored as a digest only)."""
    plain = API_KEY_PREFIX + secrets.token_urlsafe(32)
    site.api_keys.append(ApiKey(prefix=plain[: len(API_KEY_PREFIX) + 4], digest=_digest(plain)))
    db.session.flush()
    return plain


def revoke_api_key(site: Site, key_id: int) -> str:
    """Returns the revoked key's prefix.

    :raises NotFound: when the key does not belong to the site."""
    row = next((k for k in site.api_keys if k.id == key_id and k.revoked_at is None), None)
    if row is None:
        raise NotFound(N_("No such active API key"), code="api_key_not_found")
    row.revoked_at = utcnow()
    db.session.flush()
    return row.prefix


LAST_USED_GRANULARITY = timedelta(minutes=10)


def api_key(plain: str) -> ApiKey:
    """The active data API key ``plain`` names.

    :raises Unauthorized: for an unknown or revoked key.
    """
    row = db.session.scalar(sa.select(ApiKey).where(ApiKey.digest == _digest(plain or "")))
    if row is None or row.revoked_at is not None:
        raise Unauthorized(N_("The API key is unknown or revoked"), code="invalid_api_key")
    return row


def api_key_use_is_news(row: ApiKey) -> bool:
    """Whether :func:`note_api_key_use` would change anything: when a key was last used is
    kept to the nearest ten minutes, so reads do not write on every request."""
    return row.last_used_at is None or utcnow() - row.last_used_at > LAST_USED_GRANULARITY


def note_api_key_use(row: ApiKey) -> None:
    """Record that the key was used now (one conditional UPDATE: several requests at once
    write it once)."""
    now = utcnow()
    db.session.execute(
        sa.update(ApiKey)
        .where(
            ApiKey.id == row.id,
            sa.or_(
                ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_GRANULARITY
            ),
        )
        .values(last_used_at=now)
    )
