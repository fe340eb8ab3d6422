"""Customer tokens (signed by the host backend) and outcome receipts (signed by Keepkit)."""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt

from widget_server.errors import InvalidToken
from widget_server.models import Site
from widget_server.services.money import MAX_AMOUNT, is_currency
from widget_server.services.text import is_single_line

LEEWAY_SECONDS = 60
MAX_LIFETIME_SECONDS = 24 * 3600
MAX_ATTRIBUTES = 50
# Attribute numbers stay within what every JSON reader (JavaScript included) holds exactly.
MAX_ATTRIBUTE_NUMBER = 2**53
_STRING_CLAIMS = {"email": 255, "name": 255, "company": 255, "plan": 100}
_TIME_CLAIMS = ("exp", "iat", "nbf")
MAX_TOKEN_LENGTH = 8192
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


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
    # The Stripe customer id (``stripe_customer`` claim; a ``sub`` of the form cus_… is one).
    stripe_customer: str | None = None
    # Whether the token said the MRR (else the Stripe connector may read it from Stripe).
    has_mrr: bool = True


# Tokens this process has verified: the same widget sends its token with every request (a
# flow's three steps, each vote, each board read), and checking the signature and the claims
# again would give the same answer. Keyed by the token itself; an entry holds for the secrets
# and currency it was checked with (a rotated secret or a changed currency checks again),
# and the time claims (exp, nbf, iat) are checked again on every use.
_VERIFIED: dict[str, tuple[int, tuple[str, ...], str, dict, CustomerClaims]] = {}
_VERIFIED_MAX = 4096
_verified_lock = threading.Lock()


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
    now = time.time() if now is None else now
    secrets = tuple(site.secrets)
    known = _VERIFIED.get(token)
    if known is not None and known[:3] == (site.id, secrets, site.currency):
        _check_times(known[3], now)
        return known[4]
    header = _strict_header(token)
    if header.get("alg") != "HS256":
        raise _bad(
            "token_algorithm_not_allowed",
            f"Customer tokens must be signed with HS256, not {header.get('alg')!r}",
        )
    if "crit" in header or "b64" in header:
        raise _bad(
            "token_malformed",
            "Customer tokens use no JWS extensions ('crit', 'b64' headers)",
        )
    payload = None
    for secret in secrets:
        try:
            # The time claims are checked in _claims: PyJWT parses NaN and Infinity from JSON
            # and lets a NaN ``exp`` through.
            payload = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                options={
                    "require": ["exp", "sub"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_sub": False,
                },
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.MissingRequiredClaimError as exc:
            raise _bad("token_missing_claim", f"The token has no {exc.claim!r} claim") from exc
        except jwt.DecodeError as exc:
            raise _bad("token_malformed", "The customer token is not a well-formed JWT") from exc
        except jwt.InvalidTokenError as exc:
            raise _bad("token_invalid_claim", f"The token has an invalid claim: {exc}") from exc
    if payload is None:
        raise _bad(
            "token_bad_signature",
            "The token's signature does not match this site's secrets",
        )
    claims = _claims(site, payload, now)
    with _verified_lock:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            del _VERIFIED[next(iter(_VERIFIED))]  # the oldest entry
        _VERIFIED[token] = (site.id, secrets, site.currency, payload, claims)
    return claims


def _malformed() -> InvalidToken:
    return _bad("token_malformed", "The customer token is not a well-formed JWT")


def _segment(text: str) -> bytes:
    """One base64url segment, in its one canonical spelling: no padding, no ``+/``, no
    whitespace, no stray bits (PyJWT alone accepts a padded signature)."""
    if not _BASE64URL.fullmatch(text):
        raise _malformed()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:  # binascii.Error included
        raise _malformed() from exc
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != text:
        raise _malformed()
    return raw


def _no_duplicates(pairs: list) -> dict:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate keys")  # one parser takes the first, another the last
    return dict(pairs)


def _json_object(raw: bytes) -> dict:
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError
        raise _malformed() from exc
    if not isinstance(value, dict):
        raise _malformed()
    return value


def _strict_header(token: str) -> dict:
    """The JOSE header, after checking that the compact serialisation is exactly three
    canonical base64url segments of JSON objects without duplicate keys (what PyJWT then
    reads is what was signed, with one meaning).

    :raises InvalidToken: ``token_malformed``.
    """
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise _malformed()
    parts = token.split(".")
    if len(parts) != 3:
        raise _malformed()
    if parts[2]:  # an empty signature (alg "none") fails later, with a clearer code
        _segment(parts[2])
    _json_object(_segment(parts[1]))
    return _json_object(_segment(parts[0]))


def _is_number(value) -> bool:
    """A JSON number that is neither a boolean nor NaN/Infinity (which PyJWT parses)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _check_times(payload: dict, now: float) -> None:
    for claim in _TIME_CLAIMS:
        if claim in payload and not _is_number(payload[claim]):
            raise _bad(
                "token_invalid_claim",
                f"{claim!r} must be a unix timestamp in seconds (a finite number)",
            )
    exp = payload["exp"]
    if exp < now - LEEWAY_SECONDS:
        raise _bad("token_expired", "The customer token has expired")
    if exp > now + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise _bad("token_lifetime_too_long", "'exp' may be at most 24 hours ahead")
    for claim in ("nbf", "iat"):
        if payload.get(claim, now) > now + LEEWAY_SECONDS:
            raise _bad("token_not_yet_valid", "The token is not valid yet (nbf/iat)")


def _text_claim(payload: dict, claim: str, limit: int) -> str | None:
    value = payload.get(claim)
    if value is not None and (
        not isinstance(value, str) or len(value) > limit or not is_single_line(value)
    ):
        raise _bad(
            "token_invalid_claim",
            f"{claim!r} must be one line of text of at most {limit} characters "
            "(no line breaks or control characters)",
        )
    return value


def _attribute_ok(key, value) -> bool:
    if not isinstance(key, str) or not 0 < len(key) <= 64 or not is_single_line(key):
        return False
    if isinstance(value, str):
        return len(value) <= 255 and is_single_line(value)
    if isinstance(value, bool):
        return True
    return _is_number(value) and abs(value) <= MAX_ATTRIBUTE_NUMBER


def _claims(site: Site, payload: dict, now: float) -> CustomerClaims:
    _check_times(payload, now)
    sub = payload["sub"]
    if isinstance(sub, int) and not isinstance(sub, bool) and abs(sub) < 10**255:
        sub = str(sub)
    if not isinstance(sub, str) or not sub.strip():
        raise _bad("token_invalid_claim", "'sub' must be a non-empty string of at most 255 chars")
    values: dict = {"sub": _text_claim({"sub": sub}, "sub", 255)}
    for claim, limit in _STRING_CLAIMS.items():
        value = _text_claim(payload, claim, limit)
        if value is not None:
            values[claim] = value
    mrr = payload.get("mrr", 0)
    if isinstance(mrr, bool) or not isinstance(mrr, int) or not 0 <= mrr <= MAX_AMOUNT:
        raise _bad(
            "token_invalid_claim",
            f"'mrr' must be a whole number of minor units from 0 to {MAX_AMOUNT}",
        )
    values["mrr"] = mrr
    values["has_mrr"] = "mrr" in payload
    stripe_customer = _text_claim(payload, "stripe_customer", 255)
    if stripe_customer is not None:
        values["stripe_customer"] = stripe_customer
    currency = payload.get("currency", site.currency)
    if not is_currency(currency):
        raise _bad("token_invalid_claim", "'currency' must be an ISO 4217 code such as EUR")
    values["currency"] = currency
    signed_up = payload.get("signed_up_at")
    if signed_up is not None:
        if (
            isinstance(signed_up, bool)
            or not isinstance(signed_up, int)
            or not 0 <= signed_up <= now + 24 * 3600
        ):
            raise _bad(
                "token_invalid_claim",
                "'signed_up_at' must be unix seconds between 1970-01-01 and tomorrow",
            )
        values["signed_up_at"] = datetime.fromtimestamp(signed_up, UTC)
    attributes = payload.get("attributes", {})
    if not isinstance(attributes, dict) or len(attributes) > MAX_ATTRIBUTES:
        raise _bad("token_invalid_claim", "'attributes' must be a flat object (at most 50 keys)")
    if not all(_attribute_ok(key, value) for key, value in attributes.items()):
        raise _bad(
            "token_invalid_claim",
            "'attributes' keys must be 1-64 characters and values strings (at most 255 "
            "characters), numbers (at most 2^53) or booleans: no nesting, no control characters",
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
