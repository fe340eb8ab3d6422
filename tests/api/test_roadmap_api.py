import sqlalchemy as sa

from tests.factories import auth, make_site, make_token, roadmap_board, widget
from widget_server.extensions import db as _db
from widget_server.models import CancellationSession, OutboxMessage, RoadmapItem, Vote
from widget_server.services import roadmap
from widget_server.services.customers import upsert_customer
from widget_server.services.tokens import verify_customer_token


def test_board_without_token_and_with_votes(client, db, site):
    sso, *_ = roadmap_board(site)
    board = widget(client, site, "/roadmap", {}).get_json()
    assert board["can_vote"] is False
    columns = {c["status"]: [i["title"] for i in c["items"]] for c in board["columns"]}
    assert columns == {
        "under_consideration": [],
        "planned": ["SSO"],
        "in_progress": ["Dark mode"],
        "shipped": ["CSV export"],
    }
    planned = board["columns"][1]["items"][0]
    assert planned["description_html"] == "<p><strong>Okta</strong> &lt;b&gt;x&lt;/b&gt;</p>\n"
    token = make_token(site, "voter", company="acme")
    vote = widget(client, site, f"/roadmap/items/{sso.id}/vote", {"token": token, "vote": True})
    assert vote.get_json() == {"item_id": sso.id, "votes": 1, "voted": True}
    again = widget(client, site, f"/roadmap/items/{sso.id}/vote", {"token": token, "vote": True})
    assert again.get_json()["votes"] == 1
    mine = widget(client, site, "/roadmap", {"token": token, "locale": "de"}).get_json()
    assert mine["can_vote"] is True and mine["columns"][1]["label"] == "Geplant"
    assert mine["columns"][1]["items"][0]["voted"] is True
    off = widget(client, site, f"/roadmap/items/{sso.id}/vote", {"token": token, "vote": False})
    assert off.get_json() == {"item_id": sso.id, "votes": 0, "voted": False}


def test_a_returning_voter_is_read_as_stored_and_refreshed_when_the_token_changed(client, db, site):
    sso, dark, *_ = roadmap_board(site)
    first = make_token(site, "voter", company="Acme")
    assert widget(client, site, f"/roadmap/items/{sso.id}/vote", {"token": first, "vote": True})
    # The same claims again: the stored customer as it is.
    again = widget(client, site, f"/roadmap/items/{dark.id}/vote", {"token": first, "vote": True})
    assert again.get_json() == {"item_id": dark.id, "votes": 1, "voted": True}
    # The company changed since: the customer is updated and the vote counts for the new one.
    moved = make_token(site, "voter", company="Globex")
    widget(client, site, f"/roadmap/items/{dark.id}/vote", {"token": moved, "vote": False})
    voted = widget(client, site, f"/roadmap/items/{dark.id}/vote", {"token": moved, "vote": True})
    assert voted.get_json() == {"item_id": dark.id, "votes": 1, "voted": True}
    _db.session.expire_all()
    companies = dict(_db.session.execute(sa.select(Vote.item_id, Vote.company)).all())
    assert companies == {sso.id: "Acme", dark.id: "Globex"}
    customer = roadmap.reader(site, "voter")[0]
    assert customer.company == "Globex"


def test_vote_errors(client, db, site):
    sso, _, shipped, secret = roadmap_board(site)
    token = make_token(site, "voter")
    no_token = widget(client, site, f"/roadmap/items/{sso.id}/vote", {"vote": True})
    assert no_token.status_code == 401 and no_token.get_json()["error"]["code"] == "token_missing"
    closed = widget(
        client, site, f"/roadmap/items/{shipped.id}/vote", {"token": token, "vote": True}
    )
    assert closed.status_code == 409
    assert closed.get_json()["error"]["code"] == "item_not_votable"
    hidden = widget(
        client, site, f"/roadmap/items/{secret.id}/vote", {"token": token, "vote": True}
    )
    assert hidden.status_code == 404
    missing = widget(client, site, "/roadmap/items/999999/vote", {"token": token, "vote": True})
    assert missing.status_code == 404
    bad = widget(client, site, f"/roadmap/items/{sso.id}/vote", {"token": token, "vote": "maybe"})
    assert bad.status_code == 422
    # An unknown item is told first, whatever the token.
    for body in ({"vote": True}, {"token": "not-a-jwt", "vote": True}):
        unknown = widget(client, site, "/roadmap/items/999999/vote", body)
        assert unknown.status_code == 404, body
    forged = widget(client, site, f"/roadmap/items/{sso.id}/vote", {"token": "x.y.z", "vote": True})
    assert forged.status_code == 401
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Vote)) == 0


def test_a_voter_is_the_customer_of_the_items_site(client, db, site):
    """The same customer id, with the same claims, on another site is another customer: the
    vote is this site's customer's (new here), not the other site's."""
    other, _ = make_site("Other")
    upsert_customer(other, verify_customer_token(other, make_token(other, "voter", company="Acme")))
    _db.session.commit()
    sso, *_ = roadmap_board(site)
    token = make_token(site, "voter", company="Acme")
    voted = widget(client, site, f"/roadmap/items/{sso.id}/vote", {"token": token, "vote": True})
    assert voted.get_json() == {"item_id": sso.id, "votes": 1, "voted": True}
    _db.session.expire_all()
    vote = _db.session.scalars(sa.select(Vote)).one()
    assert vote.company == "Acme" and vote.customer.site_id == site.id


def test_anonymous_voting_is_a_site_option(client, db, site):
    sso, *_ = roadmap_board(site)
    anon = "0b7f2c8e-2e52-4a3c-9a67-1f3f0c2a9d11"
    refused = widget(
        client, site, f"/roadmap/items/{sso.id}/vote", {"anonymous_id": anon, "vote": True}
    )
    assert refused.status_code == 401
    site.anonymous_voting = True
    db.session.commit()
    ok = widget(client, site, f"/roadmap/items/{sso.id}/vote", {"anonymous_id": anon, "vote": True})
    assert ok.get_json()["votes"] == 1


def test_suggestions_and_similar(client, db, site):
    roadmap_board(site)
    token = make_token(site, "ideas")
    created = widget(
        client, site, "/roadmap/suggestions", {"token": token, "title": "Okta SSO please"}
    )
    assert created.status_code == 201 and created.get_json()["moderation"] == "pending"
    short = widget(client, site, "/roadmap/suggestions", {"token": token, "title": "x"})
    assert short.status_code == 422
    similar = client.get(f"/api/v1/widget/{site.key}/roadmap/similar?q=sso+for+okta")
    assert [i["title"] for i in similar.get_json()["items"]] == ["SSO"]


def test_cancel_flow_offers_roadmap_items(client, db, site):
    sso, *_ = roadmap_board(site)
    token = make_token(site, "leaver", mrr=29900)
    start = widget(client, site, "/sessions", {"token": token}).get_json()
    assert {"id": sso.id, "title": "SSO"} in start["roadmap"]
    missing = next(r for r in start["reasons"] if r["missing_feature"])
    sid = start["session"]
    widget(
        client,
        site,
        f"/sessions/{sid}/answer",
        {"token": token, "reason": missing["id"], "roadmap_item": sso.id},
    )
    widget(client, site, f"/sessions/{sid}/complete", {"token": token, "outcome": "cancelled"})
    session = db.session.scalar(sa.select(CancellationSession))
    assert session.roadmap_item_id == sso.id


def test_data_api_roadmap_items(client, db, site, api_key):
    created = client.post(
        "/api/v1/roadmap/items",
        json={"title": "Audit log", "status": "planned", "tags": ["security"]},
        headers=auth(api_key),
    )
    assert created.status_code == 201
    item = created.get_json()
    assert {
        k: item[k] for k in ("title", "status", "votes", "companies", "voters_mrr", "lost_mrr")
    } == {
        "title": "Audit log",
        "status": "planned",
        "votes": 0,
        "companies": 0,
        "voters_mrr": 0,
        "lost_mrr": 0,
    }
    listed = client.get("/api/v1/roadmap/items?sort=lost_mrr", headers=auth(api_key)).get_json()
    assert [i["id"] for i in listed["items"]] == [item["id"]] and listed["next_cursor"] is None
    bad = client.post("/api/v1/roadmap/items", json={"title": ""}, headers=auth(api_key))
    assert bad.status_code == 422 and "title" in bad.get_json()["error"]["details"]
    bad_sort = client.get("/api/v1/roadmap/items?sort=random", headers=auth(api_key))
    assert bad_sort.status_code == 422
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(RoadmapItem)) == 1


def test_data_api_patch_status_notifies_like_the_admin(client, db, site, api_key):
    sso, *_ = roadmap_board(site)
    token = make_token(site, "fan", email="fan@example.com")
    widget(client, site, f"/roadmap/items/{sso.id}/vote", {"token": token, "vote": True})
    response = client.patch(
        f"/api/v1/roadmap/items/{sso.id}", json={"status": "in_progress"}, headers=auth(api_key)
    )
    assert response.status_code == 200 and response.get_json()["status"] == "in_progress"
    assert response.get_json()["title"] == "SSO"  # untouched fields stay
    queued = list(_db.session.scalars(sa.select(OutboxMessage.recipient)))
    assert queued == ["fan@example.com"]
    bad = client.patch(
        f"/api/v1/roadmap/items/{sso.id}", json={"status": "done"}, headers=auth(api_key)
    )
    assert bad.status_code == 422
    other = client.patch(
        "/api/v1/roadmap/items/999999", json={"status": "planned"}, headers=auth(api_key)
    )
    assert other.status_code == 404 and other.get_json()["error"]["code"] == "item_not_found"


def test_public_roadmap_page_without_javascript(client, db, site):
    roadmap_board(site)
    response = client.get(f"/roadmap/{site.key}", headers={"Accept-Language": "fi"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<script" not in html
    assert "Suunniteltu" in html and "SSO" in html and "Secret" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert client.get("/roadmap/nope").status_code == 404


def test_data_api_roadmap_pagination(client, db, site, api_key):
    for i in range(5):
        roadmap.create_item(site, title=f"Item {i}")
    db.session.commit()
    seen, cursor = [], None
    while True:
        url = "/api/v1/roadmap/items?limit=2&sort=created" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=auth(api_key)).get_json()
        seen += [i["title"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"Item {i}" for i in reversed(range(5))]
    session_cursor = client.get("/api/v1/sessions?limit=1", headers=auth(api_key)).get_json()
    wrong = client.get(
        f"/api/v1/roadmap/items?cursor={session_cursor['next_cursor'] or 'czox'}",
        headers=auth(api_key),
    )
    assert wrong.status_code == 400 and wrong.get_json()["error"]["code"] == "invalid_cursor"


def test_vote_answers_hidden_items_and_suggestions_as_unknown(client, db, site):
    """A pending or rejected suggestion, or a hidden item, is indistinguishable from an id
    that does not exist: same status, same body, whatever the vote and the token."""
    _, _, shipped, secret = roadmap_board(site)
    suggester = upsert_customer(site, verify_customer_token(site, make_token(site, "ideas")))
    pending = roadmap.suggest(site, suggester, title="Okta SSO please")
    rejected = roadmap.suggest(site, suggester, title="Blockchain")
    roadmap.moderate(site, rejected, approve=False)
    db.session.commit()
    token = make_token(site, "voter")
    answers = set()
    for item_id in (pending.id, rejected.id, secret.id, 999_999):
        for body in (
            {"token": token, "vote": True},
            {"token": token, "vote": False},
            {"vote": True},
        ):
            response = widget(client, site, f"/roadmap/items/{item_id}/vote", body)
            assert response.status_code == 404
            answers.add(response.get_data(as_text=True))
    assert len(answers) == 1 and '"item_not_found"' in answers.pop()
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Vote)) == 0
    closed = widget(
        client, site, f"/roadmap/items/{shipped.id}/vote", {"token": token, "vote": True}
    )
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "item_not_votable"
