import time

import jwt
import pytest

from tests.factories import make_token
from widget_server.errors import InvalidToken
from widget_server.services import sites
from widget_server.services.tokens import verify_customer_token


def code_of(site, token, **kw):
    with pytest.raises(InvalidToken) as info:
        verify_customer_token(site, token, **kw)
    return info.value.code


def test_valid_token_gives_claims(site):
    token = make_token(
        site,
        "c-9",
        email="a@b.co",
        company="acct-1",
        plan="Pro",
        mrr=4999,
        currency="EUR",
        signed_up_at=1_600_000_000,
        attributes={"seats": 4, "beta": True},
        unknown_claim="x",
    )
    claims = verify_customer_token(site, token)
    assert (claims.sub, claims.plan, claims.mrr, claims.currency) == ("c-9", "Pro", 4999, "EUR")
    assert claims.company == "acct-1"
    assert claims.attributes == {"seats": 4, "beta": True}
    assert claims.signed_up_at.year == 2020


def test_currency_defaults_to_site_currency(site):
    assert verify_customer_token(site, make_token(site)).currency == "USD"


@pytest.mark.parametrize(
    ("token_kwargs", "code"),
    [
        ({"lifetime": -120}, "token_expired"),
        ({"lifetime": 25 * 3600}, "token_lifetime_too_long"),
        ({"mrr": -5}, "token_invalid_claim"),
        ({"mrr": "99"}, "token_invalid_claim"),
        ({"mrr": 9.5}, "token_invalid_claim"),
        ({"currency": "euro"}, "token_invalid_claim"),
        ({"attributes": {"nested": {"a": 1}}}, "token_invalid_claim"),
        ({"attributes": {"region": "EU\u0000"}}, "token_invalid_claim"),
        ({"attributes": {"region": "\ud800"}}, "token_invalid_claim"),
        ({"attributes": {"": "EU"}}, "token_invalid_claim"),
        ({"signed_up_at": "yesterday"}, "token_invalid_claim"),
        ({"sub": ""}, "token_invalid_claim"),
        ({"email": 5}, "token_invalid_claim"),
    ],
)
def test_bad_claims_have_their_own_code(site, token_kwargs, code):
    assert code_of(site, make_token(site, **token_kwargs)) == code


def test_expiry_allows_sixty_seconds_of_skew(site):
    assert verify_customer_token(site, make_token(site, lifetime=-30)).sub == "cust-1"
    assert code_of(site, make_token(site, lifetime=-90)) == "token_expired"


def test_missing_claims(site):
    now = int(time.time())
    no_exp = jwt.encode({"sub": "x"}, site.secret_primary, algorithm="HS256")
    no_sub = jwt.encode({"exp": now + 60}, site.secret_primary, algorithm="HS256")
    assert code_of(site, no_exp) == "token_missing_claim"
    assert code_of(site, no_sub) == "token_missing_claim"


def test_signature_algorithm_and_format(site):
    assert code_of(site, make_token("another-secret-that-is-long-enough-0123")) == (
        "token_bad_signature"
    )
    assert code_of(site, make_token("k" * 64, alg="HS512")) == ("token_algorithm_not_allowed")
    unsigned = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, None, algorithm="none")
    assert code_of(site, unsigned) == "token_algorithm_not_allowed"
    assert code_of(site, "not.a.jwt") == "token_malformed"
    assert code_of(site, "") == "token_missing"
    assert code_of(site, None) == "token_missing"


def test_either_secret_works_during_rotation(db, site):
    old_token = make_token(site)
    sites.rotate_secret(site)
    assert verify_customer_token(site, old_token).sub == "cust-1"
    assert verify_customer_token(site, make_token(site)).sub == "cust-1"
    sites.retire_secondary_secret(site)
    assert code_of(site, old_token) == "token_bad_signature"


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": NAN},  # PyJWT parses NaN; ``exp: NaN`` never compared as expired
        {"exp": INF},
        {"exp": -INF},
        {"iat": NAN},
        {"iat": INF},
        {"nbf": INF},
        {"nbf": NAN},
        {"mrr": 10**12 + 1},
        {"mrr": 10**30},
        {"currency": "ABC"},
        {"currency": "EUR\n"},
        {"currency": "eur"},
        {"signed_up_at": -1},
        {"signed_up_at": int(time.time()) + 3 * 86400},
        {"signed_up_at": 10**20},
        {"attributes": {"seats": NAN}},
        {"attributes": {"seats": INF}},
        {"attributes": {"seats": 2**60}},
    ],
    ids=lambda claims: "-".join(claims),
)
def test_numbers_times_and_currencies_are_bounded(site, claims):
    assert code_of(site, make_token(site, **claims)) == "token_invalid_claim"


def test_bounds_are_inclusive(site):
    now = int(time.time())
    claims = verify_customer_token(
        site,
        make_token(site, mrr=10**12, currency="CHF", signed_up_at=now, attributes={"n": 2**53}),
    )
    assert (claims.mrr, claims.currency, claims.attributes) == (10**12, "CHF", {"n": 2**53})
    assert verify_customer_token(site, make_token(site, signed_up_at=0)).signed_up_at.year == 1970


def test_not_before_and_issued_at_in_the_future(site):
    ahead = int(time.time()) + 600
    assert code_of(site, make_token(site, nbf=ahead)) == "token_not_yet_valid"
    assert code_of(site, make_token(site, iat=ahead)) == "token_not_yet_valid"
    assert verify_customer_token(site, make_token(site, nbf=int(time.time()) + 30)).sub


def test_a_token_verified_before_is_still_checked_for_time_secrets_and_currency(db, site):
    """The process remembers tokens it verified (a widget sends the same one every request);
    what can change since is checked on every use."""
    token = make_token(site, lifetime=120)
    assert verify_customer_token(site, token).sub == "cust-1"
    assert verify_customer_token(site, token).sub == "cust-1"  # remembered
    assert code_of(site, token, now=time.time() + 300) == "token_expired"
    assert code_of(site, token, now=time.time() - 600) == "token_not_yet_valid"
    site.currency = "EUR"
    assert verify_customer_token(site, token).currency == "EUR"  # the site's, read again
    sites.rotate_secret(site)
    sites.rotate_secret(site)  # the token's secret is gone from both slots
    assert code_of(site, token) == "token_bad_signature"
