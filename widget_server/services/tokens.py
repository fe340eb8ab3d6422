"""Customer tokens (signed by the host backend) and outcome receipts (signed by Keepkit)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt

from widget_server.errors import InvalidToken
from widget_server.models import Site

LEEWAY_SECONDS = 60
MAX_LIFETIME_SECONDS = 24 * 3600
MAX_ATTRIBUTES = 50
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_STRING_CLAIMS = {"email": 255, "name": 255, "company": 255, "plan": 100}


@dataclass(frozen=True)
class CustomerClaims:
    sub: str
    currency: str
    email: str | None = None
    name: str | None = None
    company: str | None = None
    plan: str | None = None
    mrr: int = 0
    signed_up_at: datetime | None = None
    attributes: dict = field(default_factory=dict)


def _bad(code: str, message: str) -> InvalidToken:
    return InvalidToken(message, code=code)


def verify_customer_token(site: Site, token: str | None, *, now: float | None = None):
    """Check a customer token against the site's secrets and return its claims.

    :raises InvalidToken: with code ``token_missing``, ``token_malformed``,
        ``token_algorithm_not_allowed``, ``token_bad_signature``, ``token_expired``,
        ``token_lifetime_too_long``, ``token_not_yet_valid``, ``token_missing_claim`` or
        ``token_invalid_claim``.
    """
    if not token or not isinstance(token, str):
        raise _bad("token_missing", "A customer token is required")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise _bad("token_malformed", "The customer token is not a well-formed JWT") from exc
    if header.get("alg") != "HS256":
        raise _bad(
            "token_algorithm_not_allowed",
            f"Customer tokens must be signed with HS256, not {header.get('alg')!r}",
        )
    now = time.time() if now is None else now
    payload = None
    for secret in site.secrets:
        try:
            payload = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub"], "verify_exp": False, "verify_sub": False},
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.MissingRequiredClaimError as exc:
            raise _bad("token_missing_claim", f"The token has no {exc.claim!r} claim") from exc
        except jwt.ImmatureSignatureError as exc:
            raise _bad("token_not_yet_valid", "The token is not valid yet (nbf/iat)") from exc
        except jwt.DecodeError as exc:
            raise _bad("token_malformed", "The customer token is not a well-formed JWT") from exc
        except jwt.InvalidTokenError as exc:
            raise _bad("token_invalid_claim", f"The token has an invalid claim: {exc}") from exc
    if payload is None:
        raise _bad(
            "token_bad_signature",
            "The token's signature does not match this site's secrets",
        )
    return _claims(site, payload, now)


def _claims(site: Site, payload: dict, now: float) -> CustomerClaims:
    exp = payload["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise _bad("token_invalid_claim", "'exp' must be a unix timestamp in seconds")
    if exp < now - LEEWAY_SECONDS:
        raise _bad("token_expired", "The customer token has expired")
    if exp > now + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise _bad("token_lifetime_too_long", "'exp' may be at most 24 hours ahead")
    sub = payload["sub"]
    if isinstance(sub, int) and not isinstance(sub, bool):
        sub = str(sub)
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise _bad("token_invalid_claim", "'sub' must be a non-empty string of at most 255 chars")
    values: dict = {"sub": sub}
    for claim, limit in _STRING_CLAIMS.items():
        value = payload.get(claim)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > limit:
            raise _bad(
                "token_invalid_claim", f"{claim!r} must be a string of at most {limit} chars"
            )
        values[claim] = value
    mrr = payload.get("mrr", 0)
    if isinstance(mrr, bool) or not isinstance(mrr, int) or mrr < 0:
        raise _bad("token_invalid_claim", "'mrr' must be a non-negative integer in minor units")
    values["mrr"] = mrr
    currency = payload.get("currency", site.currency)
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise _bad("token_invalid_claim", "'currency' must be an ISO 4217 code such as EUR")
    values["currency"] = currency
    signed_up = payload.get("signed_up_at")
    if signed_up is not None:
        if isinstance(signed_up, bool) or not isinstance(signed_up, int) or signed_up < 0:
            raise _bad("token_invalid_claim", "'signed_up_at' must be unix seconds")
        values["signed_up_at"] = datetime.fromtimestamp(signed_up, UTC)
    attributes = payload.get("attributes", {})
    if not isinstance(attributes, dict) or len(attributes) > MAX_ATTRIBUTES:
        raise _bad("token_invalid_claim", "'attributes' must be a flat object (at most 50 keys)")
    for key, value in attributes.items():
        if (
            not 0 < len(key) <= 64
            or not _plain_text(key)
            or not isinstance(value, str | int | float | bool)
            or (isinstance(value, str) and (len(value) > 255 or not _plain_text(value)))
        ):
            raise _bad(
                "token_invalid_claim",
                "'attributes' keys must be 1-64 characters and values strings, numbers or "
                "booleans (no nesting, no control characters)",
            )
    values["attributes"] = attributes
    return CustomerClaims(**values)


def issue_receipt(
    site: Site, *, sub: str, session: str, outcome: str, offer: str | None, issued_at: datetime
) -> str:
    """A receipt the host backend verifies with its site secret before acting on an outcome.

    ``issued_at`` is the completion time, so a replayed request gets the same receipt.
    """
    claims = {
        "sub": sub,
        "session": session,
        "outcome": outcome,
        "offer": offer,
        "iat": int(issued_at.timestamp()),
    }
    return jwt.encode(claims, site.secret_primary, algorithm="HS256")


def _plain_text(text: str) -> bool:
    """No control characters and valid Unicode (no lone surrogates): storable and searchable
    as text on every database."""
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
