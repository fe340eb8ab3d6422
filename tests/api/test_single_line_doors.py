"""Single-line text at the API doors: roadmap titles (data API, customer suggestions), reason
keys, and the token's identity claims. A refused request stores nothing."""

import pytest
import sqlalchemy as sa

from tests.factories import BAD_LINES, auth, count_rows, make_token, widget
from widget_server.models import CancellationSession, Customer, RoadmapItem
from widget_server.services import roadmap


def refused(response) -> dict:
    """A 4xx in the envelope."""
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] in ("validation_error", "invalid_characters") and error["message"]
    return error


@pytest.mark.parametrize("bad", BAD_LINES)
def test_data_api_refuses_multi_line_titles(client, db, site, api_key, bad):
    title = f"Subject{bad}Bcc: victim@example.com"
    error = refused(
        client.post("/api/v1/roadmap/items", json={"title": title}, headers=auth(api_key))
    )
    if error["code"] == "validation_error":
        assert "title" in error["details"]
    assert count_rows(RoadmapItem) == 0
    item = roadmap.create_item(site, title="SSO")
    db.session.commit()
    for body in ({"title": title}, {"tags": ["ok", f"x{bad}"]}, {"target": f"2026-Q1{bad}"}):
        refused(client.patch(f"/api/v1/roadmap/items/{item.id}", json=body, headers=auth(api_key)))
    db.session.refresh(item)
    assert (item.title, item.tags, item.target) == ("SSO", [], None)


def test_data_api_keeps_line_breaks_in_descriptions(client, db, api_key):
    created = client.post(
        "/api/v1/roadmap/items",
        json={"title": "SSO", "description": "Okta\r\nand Azure AD"},
        headers=auth(api_key),
    )
    assert created.status_code == 201
    assert created.get_json()["description"] == "Okta\r\nand Azure AD"


@pytest.mark.parametrize("bad", BAD_LINES)
def test_customer_suggestions_refuse_multi_line_titles(client, db, site, bad):
    token = make_token(site, "ideas")
    refused(widget(client, site, "/roadmap/suggestions", {"token": token, "title": f"SSO{bad}!"}))
    assert count_rows(RoadmapItem) == 0


@pytest.mark.parametrize("bad", BAD_LINES)
def test_answers_refuse_reason_keys_that_are_not_one_line(client, db, site, bad):
    token = make_token(site)
    sid = widget(client, site, "/sessions", {"token": token}).get_json()["session"]
    body = {"token": token, "reason": f"too_expensive{bad}"}
    refused(widget(client, site, f"/sessions/{sid}/answer", body))
    assert db.session.scalar(sa.select(CancellationSession.reason_id)) is None


def test_comments_keep_line_breaks_but_not_nul(client, db, site):
    token = make_token(site)
    sid = widget(client, site, "/sessions", {"token": token}).get_json()["session"]
    nul = {"token": token, "reason": "other", "comment": "fine\u0000"}
    assert widget(client, site, f"/sessions/{sid}/answer", nul).status_code == 400
    ok = {"token": token, "reason": "other", "comment": "Line one\nLine two"}
    assert widget(client, site, f"/sessions/{sid}/answer", ok).status_code == 200
    assert db.session.scalar(sa.select(CancellationSession.comment)) == "Line one\nLine two"


@pytest.mark.parametrize("claim", ["sub", "email", "name", "company", "plan"])
@pytest.mark.parametrize("bad", ["a\r\nBcc: x@example.com", "a\x00", "a\x85", "a\u2028", "a\ud800"])
def test_token_identity_claims_must_be_one_line(client, db, site, claim, bad):
    token = make_token(site, **{claim: bad})
    response = widget(client, site, "/sessions", {"token": token})
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "token_invalid_claim" and repr(claim) in error["message"]
    assert count_rows(Customer) == 0 and count_rows(CancellationSession) == 0
