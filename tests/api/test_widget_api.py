import json
import uuid

import jwt
import pytest
import sqlalchemy as sa

from tests.clients import login
from tests.factories import ORIGIN, count_rows, make_admin, make_token
from widget_server.models import CancellationSession, Customer


def post(client, site, path, body, origin=ORIGIN, content_type="text/plain;charset=UTF-8"):
    headers = {"Origin": origin} if origin else {}
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        f"/api/v1/widget/{site.key}{path}", data=data, headers=headers, content_type=content_type
    )


def start(client, site, **body):
    body.setdefault("token", make_token(site))
    return post(client, site, "/sessions", body)


def test_full_flow_to_saved_with_receipt(client, db, site):
    response = start(client, site, locale="fi-FI")
    assert response.status_code == 201
    data = response.get_json()
    assert data["locale"] == "fi"
    assert data["limits"] == {"comment": 2000}
    assert data["reasons"][0] == {
        "id": "too_expensive",
        "label": "Liian kallis",
        "requires_text": False,
        "missing_feature": False,
        "followup": "Mikä olisi sinulle reilu hinta?",
    }
    sid = data["session"]
    token = make_token(site)
    answer = post(
        client,
        site,
        f"/sessions/{sid}/answer",
        {"token": token, "reason": "too_expensive", "comment": "Hinta <b>nousi</b>"},
    )
    offer = answer.get_json()["offer"]
    assert offer["type"] == "discount" and offer["percent"] == 30 and offer["months"] == 3
    done = post(
        client,
        site,
        f"/sessions/{sid}/complete",
        {"token": token, "outcome": "saved", "offer": offer["id"]},
    )
    assert done.status_code == 200
    result = done.get_json()
    assert result["outcome"] == "saved"
    assert result["reason"] == {"id": "too_expensive", "label": "Liian kallis"}
    assert result["comment"] == "Hinta <b>nousi</b>"
    assert result["offer"]["id"] == offer["id"] and result["session"] == sid
    receipt = jwt.decode(result["receipt"], site.secret_primary, algorithms=["HS256"])
    assert receipt == {
        "sub": "cust-1",
        "session": sid,
        "outcome": "saved",
        "offer": offer["id"],
        "iat": receipt["iat"],
    }


def test_cancel_without_offer_and_dismiss(client, db, site):
    sid = start(client, site).get_json()["session"]
    token = make_token(site)
    answer = post(client, site, f"/sessions/{sid}/answer", {"token": token, "reason": "switching"})
    assert answer.get_json()["offer"] is None
    result = post(
        client, site, f"/sessions/{sid}/complete", {"token": token, "outcome": "cancelled"}
    )
    assert result.get_json()["outcome"] == "cancelled"
    other = start(client, site).get_json()["session"]
    dismissed = post(
        client, site, f"/sessions/{other}/complete", {"token": token, "outcome": "dismissed"}
    )
    assert dismissed.get_json() | {"receipt": None} == {
        "outcome": "dismissed",
        "reason": None,
        "comment": None,
        "offer": None,
        "session": other,
        "receipt": None,
    }


def test_retries_never_duplicate(client, db, site):
    sid = str(uuid.uuid4())
    first = start(client, site, session=sid)
    again = start(client, site, session=sid)
    assert (first.status_code, again.status_code) == (201, 200)
    assert count_rows(CancellationSession) == 1
    token = make_token(site)
    post(client, site, f"/sessions/{sid}/answer", {"token": token, "reason": "switching"})
    one = post(client, site, f"/sessions/{sid}/complete", {"token": token, "outcome": "cancelled"})
    two = post(client, site, f"/sessions/{sid}/complete", {"token": token, "outcome": "cancelled"})
    assert two.status_code == 200 and one.get_json() == two.get_json()
    changed = post(
        client, site, f"/sessions/{sid}/complete", {"token": token, "outcome": "dismissed"}
    )
    assert changed.status_code == 409
    assert changed.get_json()["error"]["code"] == "session_completed"
    late = post(client, site, f"/sessions/{sid}/answer", {"token": token, "reason": "other"})
    assert late.status_code == 409


def test_session_id_of_another_customer_conflicts(client, db, site):
    sid = str(uuid.uuid4())
    start(client, site, session=sid)
    response = start(client, site, session=sid, token=make_token(site, "someone-else"))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "session_conflict"
    other = post(
        client,
        site,
        f"/sessions/{sid}/complete",
        {"token": make_token(site, "someone-else"), "outcome": "dismissed"},
    )
    assert other.status_code == 404


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "validation_error"),
        ("garbage", "token_malformed"),
        ("expired", "token_expired"),
        ("bad_signature", "token_bad_signature"),
        ("no_exp", "token_missing_claim"),
        ("hs512", "token_algorithm_not_allowed"),
    ],
)
def test_bad_tokens_are_401_and_store_nothing(client, db, site, token, code):
    tokens = {
        "expired": make_token(site, lifetime=-3600),
        "bad_signature": make_token("x" * 43),
        "no_exp": jwt.encode({"sub": "a"}, site.secret_primary, algorithm="HS256"),
        "hs512": make_token("y" * 64, alg="HS512"),
        "garbage": "garbage",
    }
    body = {} if token is None else {"token": tokens[token]}
    response = start(client, site, **body) if token else post(client, site, "/sessions", {})
    assert response.status_code == (422 if token is None else 401)
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert count_rows(CancellationSession) == 0 and count_rows(Customer) == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "invalid_json"),
        ("[1, 2]", 400, "invalid_json"),
        ({"token": "t", "surprise": 1}, 422, "validation_error"),
        ({"token": "t", "locale": "x" * 50}, 422, "validation_error"),
        ({"token": "t", "session": "not-a-uuid"}, 422, "invalid_session_id"),
    ],
)
def test_malformed_bodies_get_clear_errors(client, db, site, body, status, code):
    if isinstance(body, dict) and body.get("token") == "t":
        body["token"] = make_token(site)
    response = post(client, site, "/sessions", body)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert count_rows(CancellationSession) == 0


def test_answer_validation(client, db, site):
    sid = start(client, site).get_json()["session"]
    token = make_token(site)

    def answer(**body):
        return post(client, site, f"/sessions/{sid}/answer", {"token": token, **body})

    unknown = answer(reason="does_not_exist")
    assert unknown.status_code == 422 and unknown.get_json()["error"]["code"] == "unknown_reason"
    other = answer(reason="other", comment="   ")
    assert other.status_code == 422 and other.get_json()["error"]["code"] == "comment_required"
    long = answer(reason="switching", comment="x" * 2001)
    assert long.get_json()["error"]["code"] == "text_too_long"
    saved = post(
        client,
        site,
        f"/sessions/{sid}/complete",
        {"token": token, "outcome": "saved", "offer": "discount_30"},
    )
    assert saved.status_code == 422 and saved.get_json()["error"]["code"] == "offer_not_shown"
    bad = post(client, site, f"/sessions/{sid}/complete", {"token": token, "outcome": "maybe"})
    assert bad.status_code == 422 and "outcome" in bad.get_json()["error"]["details"]
    session = db.session.scalar(sa.select(CancellationSession))
    assert session.reason_id is None and session.outcome is None


def test_cors_and_origin_allowlist(client, db, site):
    ok = start(client, site)
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in ok.headers["Vary"]
    assert "Set-Cookie" not in ok.headers
    evil = post(client, site, "/sessions", {"token": make_token(site)}, origin="https://evil.test")
    assert evil.status_code == 403
    assert evil.get_json()["error"]["code"] == "origin_not_allowed"
    preflight = client.options(
        f"/api/v1/widget/{site.key}/sessions",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert count_rows(CancellationSession) == 1


def test_the_widget_api_ignores_and_never_sets_cookies(client, db, site):
    """A browser sends the admin's cookies along when one person is both (an admin trying
    their own widget): the widget API neither reads nor answers them."""
    make_admin()
    assert login(client).status_code == 302
    started = start(client, site)
    assert started.status_code == 201
    assert "Set-Cookie" not in started.headers
    assert "Cookie" not in started.headers["Vary"]
    # The admin session itself is untouched by the widget's requests.
    admin = client.get("/admin/", follow_redirects=True)
    assert admin.status_code == 200 and admin.request.path != "/admin/login"


def test_json_content_type_is_accepted_too(client, db, site):
    response = post(
        client, site, "/sessions", {"token": make_token(site)}, content_type="application/json"
    )
    assert response.status_code == 201


def test_unknown_site_and_method_use_the_envelope(client, db):
    missing = client.post("/api/v1/widget/nope/sessions", data="{}")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "site_not_found"
    wrong = client.get("/api/v1/nowhere")
    assert wrong.get_json() == {
        "error": {"code": "not_found", "message": wrong.get_json()["error"]["message"]}
    }


def test_rate_limit_on_public_endpoints(app, client, db, site, monkeypatch):
    from widget_server.extensions import limiter

    monkeypatch.setitem(app.config, "KEEPKIT_WIDGET_RATE_LIMIT", "3 per minute")
    limiter.reset()
    responses = [start(client, site) for _ in range(4)]
    assert [r.status_code for r in responses] == [201, 201, 201, 429]
    assert responses[-1].get_json()["error"]["code"] == "rate_limited"
    assert count_rows(CancellationSession) == 3


def test_saved_without_offer_is_keep_my_subscription(client, db, site):
    sid = start(client, site).get_json()["session"]
    token = make_token(site)
    post(client, site, f"/sessions/{sid}/answer", {"token": token, "reason": "switching"})
    kept = post(client, site, f"/sessions/{sid}/complete", {"token": token, "outcome": "saved"})
    assert kept.status_code == 200
    body = kept.get_json()
    assert (body["outcome"], body["offer"]) == ("saved", None)
    session = db.session.scalar(sa.select(CancellationSession))
    assert (session.outcome, session.offer_id) == ("saved", None)
