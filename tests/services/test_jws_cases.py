"""JSON Web Signature cases for customer tokens (HS256), in the spirit of Project Wycheproof's
JWS vectors: one valid token and the ways a token can be malformed, forged, confused or
re-encoded. Every invalid case is refused with InvalidToken, never with another exception.

Wycheproof's own file is not vendored here: content fetched from public repositories may not
be committed in this project, and no package registry ships it. These cases are written for
Keepkit from RFC 7515, RFC 7518 and RFC 7797.
"""

import base64
import hashlib
import hmac
import json
import time

import pytest

from widget_server.errors import InvalidToken
from widget_server.services.tokens import verify_customer_token

OTHER_KEY = b"another-site-secret-0123456789abcdef"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw(value) -> bytes:
    """JSON as sent: bytes are taken as they are, anything else is serialised."""
    if isinstance(value, bytes):
        return value
    return json.dumps(value, separators=(",", ":")).encode()


def claims(**extra) -> dict:
    return {"sub": "jws-case", "exp": int(time.time()) + 600, **extra}


def mac(signing_input: str, key: bytes, digest=hashlib.sha256) -> bytes:
    return hmac.new(key, signing_input.encode(), digest).digest()


def token(key: bytes, header=None, payload=None, *, digest=hashlib.sha256, signature=None):
    """A compact JWS; ``signature`` (bytes, or a str taken as the segment) replaces the MAC."""
    header = {"alg": "HS256", "typ": "JWT"} if header is None else header
    signing_input = b64(raw(header)) + "." + b64(raw(claims() if payload is None else payload))
    if signature is None:
        signature = mac(signing_input, key, digest)
    return signing_input + "." + (signature if isinstance(signature, str) else b64(signature))


def with_segment(text: str, index: int, segment: str) -> str:
    parts = text.split(".")
    parts[index] = segment
    return ".".join(parts)


def spelled_with(key: bytes, chars: str) -> str:
    """A valid token whose signature segment contains one of ``chars`` (varying a claim)."""
    for n in range(1000):
        candidate = token(key, payload=claims(n=n))
        if any(c in candidate.split(".")[2] for c in chars):
            return candidate
    raise AssertionError("no such signature")


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def invalid_cases(key: bytes) -> dict[str, str]:
    good = token(key)
    head, body, sig = good.split(".")
    sig_bytes = base64.urlsafe_b64decode(sig + "=")
    signing_input = f"{head}.{body}"
    cases: dict[str, str] = {}

    # the signature, modified
    for i in range(len(sig_bytes)):
        flipped = bytearray(sig_bytes)
        flipped[i] ^= 0x01
        cases[f"signature byte {i} flipped"] = with_segment(good, 2, b64(bytes(flipped)))
    cases |= {
        "signature empty": f"{signing_input}.",
        "signature truncated by one byte": with_segment(good, 2, b64(sig_bytes[:-1])),
        "signature truncated to half": with_segment(good, 2, b64(sig_bytes[:16])),
        "signature with a byte appended": with_segment(good, 2, b64(sig_bytes + b"\x00")),
        "signature all zero": with_segment(good, 2, b64(bytes(32))),
        "signature of another key": token(OTHER_KEY),
        "signature with an empty key": token(b""),
        "signature of another payload": with_segment(good, 1, b64(raw(claims(sub="admin")))),
        "signature as HS512 over the same input": with_segment(
            good, 2, b64(mac(signing_input, key, hashlib.sha512))
        ),
    }
    # the same signature, spelled differently
    last = ALPHABET.index(sig[-1])
    cases |= {
        "signature padded with =": good + "=",
        "signature padded with ==": good + "==",
        "signature with a stray bit in its last character": with_segment(
            good, 2, sig[:-1] + ALPHABET[last ^ 1]
        ),
        "signature in the standard alphabet (+/)": (
            lambda t: with_segment(t, 2, t.split(".")[2].replace("-", "+").replace("_", "/"))
        )(spelled_with(key, "-_")),
        "signature with a space inside": with_segment(good, 2, sig[:10] + " " + sig[10:]),
        "signature with a newline inside": with_segment(good, 2, sig[:10] + "\n" + sig[10:]),
        "header padded with =": with_segment(good, 0, head + "="),
        "payload padded with =": with_segment(good, 1, body + "="),
        "header not base64url": with_segment(good, 0, "!!!" + head),
        "payload not base64url": with_segment(good, 1, body + "%"),
    }
    # the algorithm
    for alg in ("none", "None", "NONE", "nOnE"):
        cases[f"alg {alg} without signature"] = token(key, {"alg": alg}, signature="")
        cases[f"alg {alg} with a signature"] = token(key, {"alg": alg})
    for alg, digest in (("HS384", hashlib.sha384), ("HS512", hashlib.sha512)):
        cases[f"alg {alg} correctly signed with the site secret"] = token(
            key, {"alg": alg}, digest=digest
        )
    for alg in ("RS256", "ES256", "PS256", "EdDSA", "hs256", "HS256 ", " HS256", ""):
        cases[f"alg {alg!r} with an HMAC signature"] = token(key, {"alg": alg})
    for alg in (None, 256, ["HS256"], {"alg": "HS256"}, True):
        cases[f"alg {alg!r}"] = token(key, {"alg": alg})
    cases["alg missing"] = token(key, {"typ": "JWT"})
    cases["alg with a NUL"] = token(key, {"alg": "HS256\u0000"})
    # the structure
    cases |= {
        "one segment": head,
        "two segments": signing_input,
        "four segments": good + "." + sig,
        "five segments (a JWE)": good + ".e30.e30",
        "trailing dot": good + ".",
        "dots only": "..",
        "leading space": " " + good,
        "trailing newline": good + "\n",
        "tab inside": head + "\t." + body + "." + sig,
        "space after a dot": head + ". " + body + "." + sig,
        "fullwidth dot": good.replace(".", "\uff0e", 1),
        "non-ASCII character": good + "é",
        "lone surrogate": good + "\ud800",
        "NUL": good + "\x00",
        "over 8 KB": token(key, payload=claims(pad="x" * 9000)),
    }
    # the JSON inside
    dup_alg = b'{"alg":"none","alg":"HS256"}'
    cases |= {
        "duplicate alg in the header": token(key, dup_alg),
        "duplicate alg, same value": token(key, b'{"alg":"HS256","alg":"HS256"}'),
        "duplicate sub in the payload": token(
            key, payload=b'{"sub":"user","sub":"admin","exp":%d}' % (time.time() + 600)
        ),
        "header an array": token(key, b'["HS256"]'),
        "header a string": token(key, b'"HS256"'),
        "header not JSON": token(key, b"alg=HS256"),
        "header with a byte order mark": token(key, b'\xef\xbb\xbf{"alg":"HS256"}'),
        "header not UTF-8": token(key, b'{"alg":"HS256","x":"\xff"}'),
        "header with an overlong UTF-8 sequence": token(key, b'{"alg":"HS256","x":"\xc0\xaf"}'),
        "payload an array": token(key, payload=[claims()]),
        "payload a string": token(key, payload="jws-case"),
        "payload a number": token(key, payload=1),
        "payload null": token(key, payload=b"null"),
        "payload true": token(key, payload=True),
        "payload empty": token(key, payload=b""),
        "payload not JSON": token(key, payload=b"sub=jws-case"),
        "payload nested 2000 deep": token(key, payload=b"[" * 2000 + b"]" * 2000),
        "payload with trailing garbage": token(key, payload=raw(claims()) + b"x"),
        "sub with an escaped NUL": token(
            key, payload=b'{"sub":"a\\u0000","exp":%d}' % (time.time() + 600)
        ),
        "sub with an escaped lone surrogate": token(
            key, payload=b'{"sub":"\\ud800","exp":%d}' % (time.time() + 600)
        ),
        "sub with an escaped line break": token(
            key, payload=b'{"sub":"a\\r\\nb","exp":%d}' % (time.time() + 600)
        ),
        "exp NaN": token(key, payload=b'{"sub":"a","exp":NaN}'),
        "exp Infinity": token(key, payload=b'{"sub":"a","exp":Infinity}'),
    }
    # extensions the token may not use (RFC 7515 4.1.11, RFC 7797)
    cases |= {
        "crit naming exp": token(key, {"alg": "HS256", "crit": ["exp"]}),
        "crit naming an unknown header": token(key, {"alg": "HS256", "crit": ["x"], "x": 1}),
        "crit empty": token(key, {"alg": "HS256", "crit": []}),
        "crit not a list": token(key, {"alg": "HS256", "crit": "b64"}),
        "b64 false with crit": token(key, {"alg": "HS256", "b64": False, "crit": ["b64"]}),
        "b64 false without crit": token(key, {"alg": "HS256", "b64": False}),
    }
    # key identifiers and embedded keys change nothing: only the site's secrets verify
    cases |= {
        "kid path traversal, signed with an empty key": token(
            b"", {"alg": "HS256", "kid": "../../../../../../dev/null"}
        ),
        "kid naming the secondary secret, another key": token(
            OTHER_KEY, {"alg": "HS256", "kid": "secondary"}
        ),
        "kid with SQL, another key": token(OTHER_KEY, {"alg": "HS256", "kid": "' OR 1=1 --"}),
        "kid an object, another key": token(OTHER_KEY, {"alg": "HS256", "kid": {"k": "x"}}),
        "embedded jwk of another key": token(
            OTHER_KEY,
            {"alg": "HS256", "jwk": {"kty": "oct", "k": b64(OTHER_KEY)}},
        ),
        "jku and x5u pointing elsewhere, another key": token(
            OTHER_KEY,
            {"alg": "HS256", "jku": "https://evil.test/k", "x5u": "https://evil.test/c"},
        ),
    }
    return cases


def valid_cases(key: bytes) -> dict[str, str]:
    exp = int(time.time()) + 600
    return {
        "plain": token(key),
        "header without typ": token(key, {"alg": "HS256"}),
        "kid ignored": token(key, {"alg": "HS256", "kid": "rotation-2026"}),
        "alg spelled with escapes": token(key, b'{"\\u0061lg":"HS\\u0032\\u0035\\u0036"}'),
        "claim names spelled with escapes": token(
            key, payload=b'{"\\u0073ub":"jws-case","\\u0065xp":%d}' % exp
        ),
        "sub with an escaped letter": token(
            key, payload=b'{"sub":"jws-cas\\u00e9","exp":%d}' % exp
        ),
        "whitespace inside the JSON": token(
            key, b'{ "alg" : "HS256" }', b'{\n "sub": "jws-case",\n "exp": %d\n}' % exp
        ),
    }


def test_valid_tokens_are_accepted(site):
    key = site.secret_primary.encode()
    for name, text in valid_cases(key).items():
        claims_ = verify_customer_token(site, text)
        assert claims_.sub.startswith("jws-cas"), name


def test_every_invalid_token_is_refused_with_invalid_token(site):
    key = site.secret_primary.encode()
    cases = invalid_cases(key)
    assert len(cases) > 120
    accepted, other = [], []
    for name, text in cases.items():
        try:
            verify_customer_token(site, text)
        except InvalidToken as exc:
            assert exc.code.startswith("token_") and exc.message, name
        except Exception as exc:  # reported below, by case
            other.append(f"{name}: {exc!r}")
        else:
            accepted.append(name)
    assert accepted == [], "invalid tokens accepted"
    assert other == [], "invalid tokens refused with another exception"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("alg none without signature", "token_algorithm_not_allowed"),
        ("alg HS512 correctly signed with the site secret", "token_algorithm_not_allowed"),
        ("signature of another key", "token_bad_signature"),
        ("signature padded with =", "token_malformed"),
        ("duplicate alg in the header", "token_malformed"),
        ("crit naming exp", "token_malformed"),
        ("exp NaN", "token_invalid_claim"),
        ("sub with an escaped line break", "token_invalid_claim"),
        ("lone surrogate", "token_malformed"),
    ],
)
def test_codes_say_why(site, name, code):
    with pytest.raises(InvalidToken) as info:
        verify_customer_token(site, invalid_cases(site.secret_primary.encode())[name])
    assert info.value.code == code


def test_the_secondary_secret_verifies_during_rotation_and_no_other(db, site):
    from widget_server.services import sites

    old = site.secret_primary.encode()
    sites.rotate_secret(site)
    assert verify_customer_token(site, token(old)).sub == "jws-case"
    refused = 0
    for text in invalid_cases(old).values():
        with pytest.raises(InvalidToken):
            verify_customer_token(site, text)
        refused += 1
    assert refused > 120
