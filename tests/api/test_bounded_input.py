"""Bounded input: body size, JSON depth, NUL and lone surrogates, integers beyond a column.
Every refusal is a 4xx in the envelope, never a 500, and stores nothing."""

import base64
import json

import pytest
import sqlalchemy as sa

from tests.factories import auth, count_rows, make_token, widget
from widget_server.models import CancellationSession, RoadmapItem
from widget_server.services import roadmap

HUGE = "99999999999999999999"  # beyond BIGINT, let alone INTEGER
JUST_BEYOND = str(2**31)


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["message"]
    return error


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_bodies_over_one_megabyte_get_413(client, db, site, api_key):
    token = make_token(site)
    big = json.dumps({"token": token, "locale": "en", "pad": "x" * (1024 * 1024)})
    assert error_of(widget(client, site, "/sessions", big), 413)["code"] == "payload_too_large"
    response = client.post(
        "/api/v1/roadmap/items",
        data=json.dumps({"title": "x", "description": "y" * (1024 * 1024)}),
        headers=auth(api_key),
        content_type="application/json",
    )
    assert error_of(response, 413)["code"] == "payload_too_large"
    assert count_rows(CancellationSession) == 0 and count_rows(RoadmapItem) == 0
    just_under = json.dumps({"token": token, "locale": "en" + " " * (1024 * 1000)})
    assert widget(client, site, "/sessions", just_under).status_code == 422  # read, not refused


@pytest.mark.parametrize("depth", [33, 1000, 200_000])
def test_json_nesting_is_bounded(client, db, site, api_key, depth):
    body = '{"token": "t", "extra": ' + nested(depth - 1) + "}"
    assert error_of(widget(client, site, "/sessions", body), 400)["code"] == "json_too_deep"
    response = client.post(
        "/api/v1/roadmap/items",
        data='{"title": "x", "tags": ' + nested(depth - 1) + "}",
        headers=auth(api_key),
        content_type="application/json",
    )
    assert error_of(response, 400)["code"] == "json_too_deep"
    assert count_rows(RoadmapItem) == 0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_is_json_without_nan_or_infinity(client, db, site, api_key, constant):
    body = '{"title": "SSO", "tags": [' + constant + "]}"
    response = client.post(
        "/api/v1/roadmap/items", data=body, headers=auth(api_key), content_type="application/json"
    )
    assert error_of(response, 400)["code"] == "invalid_json"
    assert count_rows(RoadmapItem) == 0


def test_thirty_two_levels_are_read(client, db, site):
    body = '{"token": "t", "extra": ' + nested(31) + "}"
    assert error_of(widget(client, site, "/sessions", body), 422)["code"] == "validation_error"


@pytest.mark.parametrize(
    "body",
    [
        '{"token": "T", "locale": "en\\u0000"}',
        '{"token": "T", "locale": "\\ud800"}',
        '{"token": "T", "\\u0000": 1}',
        '{"token": "T", "deep": [{"a": ["\\udfff"]}]}',
    ],
)
def test_nul_and_lone_surrogates_anywhere_in_json_are_refused(client, db, site, body):
    body = body.replace("T", make_token(site))
    assert error_of(widget(client, site, "/sessions", body), 400)["code"] == "invalid_characters"
    assert count_rows(CancellationSession) == 0


def test_nul_in_query_strings_and_paths_is_refused(client, db, site, api_key):
    for url in (
        "/api/v1/insights/reasons?plan=%00",
        "/api/v1/sessions?cursor=a%00",
        "/api/v1/roadmap/items?status=planned%00",
        "/api/v1/insights/summary?segment=region%3DEU%00",
        "/api/v1/insights/summary?%00=1",
    ):
        response = client.get(url, headers=auth(api_key))
        assert error_of(response, 400)["code"] == "invalid_characters", url
    similar = client.get(f"/api/v1/widget/{site.key}/roadmap/similar?q=sso%00")
    assert error_of(similar, 400)["code"] == "invalid_characters"
    path = widget(client, site, "/../../x%00/sessions", {"token": make_token(site)})
    assert path.status_code in (400, 404) and path.get_json()["error"]["code"]
    no_site = client.post("/api/v1/widget/site_%00/sessions", data="{}")
    assert error_of(no_site, 400)["code"] == "invalid_characters"


@pytest.mark.parametrize("item_id", [HUGE, JUST_BEYOND])
def test_ids_beyond_an_integer_column_are_not_found(client, db, site, api_key, item_id):
    for response in (
        client.get(f"/api/v1/roadmap/items/{item_id}", headers=auth(api_key)),
        client.patch(
            f"/api/v1/roadmap/items/{item_id}", json={"title": "x"}, headers=auth(api_key)
        ),
        widget(
            client,
            site,
            f"/roadmap/items/{item_id}/vote",
            {"token": make_token(site), "vote": True},
        ),
    ):
        assert error_of(response, 404)["code"] in ("not_found", "item_not_found")


def test_roadmap_item_beyond_an_integer_column_in_an_answer(client, db, site):
    token = make_token(site)
    sid = widget(client, site, "/sessions", {"token": token}).get_json()["session"]
    for item_id in (int(HUGE), 2**31, -1, 0):
        body = {"token": token, "reason": "missing_features", "roadmap_item": item_id}
        response = widget(client, site, f"/sessions/{sid}/answer", body)
        assert error_of(response, 422)["code"] == "validation_error"
    assert db.session.scalar(sa.select(CancellationSession.reason_id)) is None


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_cursors_and_limits_beyond_range(client, db, site, api_key):
    roadmap.create_item(site, title="One")
    db.session.commit()
    for url in (
        f"/api/v1/sessions?cursor={cursor('s:' + HUGE)}",
        f"/api/v1/sessions?cursor={cursor('s:' + JUST_BEYOND)}",
        f"/api/v1/sessions?cursor={cursor('s:' + '9' * 60)}",
        f"/api/v1/roadmap/items?cursor={cursor('r:' + HUGE)}",
        f"/api/v1/roadmap/items?cursor={cursor('r:-1')}",
        f"/api/v1/roadmap/items?cursor={cursor('r:' + chr(0x663))}",  # an Arabic-Indic 3
    ):
        assert error_of(client.get(url, headers=auth(api_key)), 400)["code"] == "invalid_cursor"
    for url in (f"/api/v1/sessions?limit={HUGE}", f"/api/v1/roadmap/items?limit={HUGE}"):
        error = error_of(client.get(url, headers=auth(api_key)), 422)
        assert "limit" in error["details"]


@pytest.mark.parametrize("query", ["to=0001-01-01", "to=9999-12-31", "from=0001-01-01"])
def test_dates_far_out_of_range_are_a_422_not_an_overflow(client, db, api_key, query):
    for path in ("summary", "segments", "offers", "trend", "reasons"):
        response = client.get(f"/api/v1/insights/{path}?{query}", headers=auth(api_key))
        assert error_of(response, 422)["code"] == "invalid_period", path
    sessions = client.get(f"/api/v1/sessions?{query}", headers=auth(api_key))
    assert error_of(sessions, 422)["code"] == "invalid_period"


def test_the_dashboard_survives_dates_far_out_of_range(admin_client, site):
    response = admin_client.get(f"/admin/sites/{site.key}/?to=0001-01-01")
    assert response.status_code == 200
    assert "Dates must be between 1970 and 2999" in response.get_data(as_text=True)


def test_query_parameters_are_given_once(client, db, api_key):
    response = client.get("/api/v1/insights/reasons?plan=Starter&plan=Pro", headers=auth(api_key))
    error = error_of(response, 422)
    assert error["code"] == "validation_error" and "plan" in error["details"]


def test_booleans_and_ids_in_bodies_are_json_types(client, db, site, api_key):
    for body in ({"title": "SSO", "public": 0}, {"title": "SSO", "public": "yes"}):
        response = client.post("/api/v1/roadmap/items", json=body, headers=auth(api_key))
        assert "public" in error_of(response, 422)["details"]
    assert count_rows(RoadmapItem) == 0
    item = roadmap.create_item(site, title="SSO", status="planned")
    db.session.commit()
    vote = widget(
        client, site, f"/roadmap/items/{item.id}/vote", {"token": make_token(site), "vote": 1}
    )
    assert "vote" in error_of(vote, 422)["details"]
    token = make_token(site)
    sid = widget(client, site, "/sessions", {"token": token}).get_json()["session"]
    answer = {"token": token, "reason": "missing_features", "roadmap_item": str(item.id)}
    assert (
        "roadmap_item"
        in error_of(widget(client, site, f"/sessions/{sid}/answer", answer), 422)["details"]
    )
