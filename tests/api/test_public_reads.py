"""Public reads cost what they show: the board and the flow's roadmap items read only the
site's items and votes (never the session history), a board read writes nothing for a
returning customer, and a board is reused for a moment by each process."""

from __future__ import annotations

import time

import sqlalchemy as sa

from tests.factories import ORIGIN, make_site, make_token, roadmap_board, widget
from tests.servers import post
from widget_server.extensions import db as _db
from widget_server.models import Customer, Reason, RoadmapItem, Site, Subscription
from widget_server.services import flow_config, roadmap, site_cache
from widget_server.services.customers import upsert_customer
from widget_server.services.tokens import verify_customer_token


class Statements:
    def __init__(self, db):
        self.bind, self.seen = db.engines[None], []

    def record(self, conn, cursor, statement, *args):
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            self.seen.append(statement)

    def __enter__(self):
        sa.event.listen(self.bind, "before_cursor_execute", self.record)
        return self.seen

    def __exit__(self, *exc):
        sa.event.remove(self.bind, "before_cursor_execute", self.record)


def test_board_and_flow_start_never_read_the_session_history(client, db, site):
    roadmap_board(site)
    roadmap.forget_board(site)
    token = make_token(site, "reader")
    widget(client, site, "/roadmap", {"token": token})  # the reader is new: written once
    with Statements(db) as seen:
        board = widget(client, site, "/roadmap", {"token": token})
    assert board.status_code == 200
    assert not any("cancellation_sessions" in s for s in seen)
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE")) for s in seen), seen
    roadmap.forget_board(site)
    with Statements(db) as seen:
        start = widget(client, site, "/sessions", {"token": make_token(site, "leaver")})
    assert start.status_code == 201 and start.get_json()["roadmap"]
    history = [s for s in seen if "cancellation_sessions" in s and "GROUP BY" in s.upper()]
    assert history == []


def test_a_board_is_reused_until_something_it_shows_changes(client, db, site):
    sso, *_ = roadmap_board(site)
    widget(client, site, "/roadmap", {})
    with Statements(db) as seen:
        widget(client, site, "/roadmap", {})
    assert not any("roadmap_items" in s for s in seen)  # served from this process's copy
    claims = verify_customer_token(site, make_token(site, "fan"))
    roadmap.vote(site, sso, upsert_customer(site, claims))
    db.session.commit()
    board = widget(client, site, "/roadmap", {}).get_json()
    [planned] = [c for c in board["columns"] if c["status"] == "planned"]
    assert planned["items"][0]["votes"] == 1  # a write in this process forgets the copy


def test_descriptions_are_rendered_when_saved(db, site):
    item = roadmap.create_item(site, title="SSO", description="Sign in with **Okta**")
    assert item.description_html == "<p>Sign in with <strong>Okta</strong></p>\n"
    roadmap.update_item(site, item, description="*Now* with SAML")
    assert item.description_html == "<p><em>Now</em> with SAML</p>\n"


def test_taking_a_vote_back_ends_the_items_emails(db, site):
    item = roadmap.create_item(site, title="Dark mode")
    fan = upsert_customer(site, verify_customer_token(site, make_token(site, "fan")))
    roadmap.vote(site, item, fan)
    roadmap.unvote(site, item, fan)
    subscription = db.session.scalar(sa.select(Subscription))
    assert subscription.unsubscribed_at is not None
    idea = roadmap.suggest(site, fan, title="My own idea")  # subscribed as its author
    roadmap.moderate(site, idea, approve=True)
    roadmap.unvote(site, idea, fan)
    mine = db.session.scalar(sa.select(Subscription).where(Subscription.item_id == idea.id))
    assert mine.unsubscribed_at is None


def test_status_changes_merges_and_moderation_move_updated_at(db, site):
    item = roadmap.create_item(site, title="SSO")
    other = roadmap.create_item(site, title="Single sign-on")
    db.session.commit()
    for row in (item, other):
        row.updated_at = row.updated_at.replace(year=2020)
    roadmap.change_status(site, item, "planned")
    roadmap.merge(site, other, item)
    assert item.updated_at.year > 2020 and other.updated_at.year > 2020
    assert db.session.get(RoadmapItem, other.id).status == "duplicate"


def test_board_reads_leave_every_connection_ready_for_writes(live):
    """On PostgreSQL a board read runs without a transaction of its own; the reader it must
    write (new, or changed) is still committed, and the connection goes back to the pool in
    transaction mode, so the writes that use it next stay all-or-nothing."""
    app, url = live
    db = _db
    with app.app_context():
        site, _ = make_site("Reads")
        item = roadmap.create_item(site, title="SSO", status="planned")
        db.session.commit()
        key, site_id, item_id = site.key, site.id, item.id
        token = make_token(site, "reader")
    board = f"{url}/api/v1/widget/{key}/roadmap"
    for _ in range(3):  # a new reader (written), then a returning one (a pure read)
        assert post(board, {"token": token}, Origin=ORIGIN)["can_vote"] is True
    post(board, {"token": None}, Origin=ORIGIN)
    with app.app_context():
        readers = db.session.scalars(
            sa.select(Customer.external_id).where(Customer.site_id == site_id)
        ).all()
        assert readers == ["reader"]
        db.session.remove()  # its connection back to the pool: take every pooled one below
        held = [db.engine.raw_connection() for _ in range(db.engine.pool.size())]
        try:
            modes = [getattr(c.driver_connection, "autocommit", False) for c in held]
            assert modes == [False] * len(held)  # PostgreSQL: back in transaction mode
        finally:
            for connection in held:
                connection.close()
    vote = f"{url}/api/v1/widget/{key}/roadmap/items/{item_id}/vote"
    assert post(vote, {"token": token, "vote": True}, Origin=ORIGIN)["votes"] == 1


def _reason_ids(client, site) -> list[str]:
    answer = widget(client, site, "/sessions", {"token": make_token(site, "snapshot-reader")})
    assert answer.status_code in (200, 201)
    return [r["id"] for r in answer.get_json()["reasons"]]


def test_a_site_snapshot_is_trusted_for_a_second_then_checked(client, db, site, monkeypatch):
    """Another process's change (here: written behind this process's back) is seen on the
    first request after the snapshot's second; within it, the site costs no query."""
    assert "too_expensive" in _reason_ids(client, site)
    db.session.execute(
        sa.update(Reason).where(Reason.site_id == site.id, Reason.key == "too_expensive")
        .values(archived_at=sa.func.now())
    )  # fmt: skip
    db.session.execute(
        sa.update(Site).where(Site.id == site.id).values(config_version=Site.config_version + 1)
    )
    db.session.commit()
    token = make_token(site, "snapshot-reader")
    with Statements(db) as seen:
        answer = widget(client, site, "/sessions", {"token": token})
        assert "too_expensive" in [r["id"] for r in answer.get_json()["reasons"]]
    assert not any("FROM sites" in s for s in seen), seen
    later = time.monotonic() + site_cache.CHECK_SECONDS + 0.1
    monkeypatch.setattr(site_cache, "_clock", lambda: later)
    assert "too_expensive" not in _reason_ids(client, site)


def test_this_process_sees_its_own_change_at_once(client, db, site):
    assert "too_expensive" in _reason_ids(client, site)
    reason = next(r for r in flow_config.all_reasons(site) if r.key == "too_expensive")
    flow_config.set_archived(reason, True)
    db.session.commit()
    assert "too_expensive" not in _reason_ids(client, site)


def test_a_returning_readers_board_read_is_one_statement(client, db, site):
    """The site is this process's snapshot and the board its copy: what is left to read is
    the reader and their votes, in one round trip."""
    sso, *_ = roadmap_board(site)
    token = make_token(site, "regular")
    widget(client, site, f"/roadmap/items/{sso.id}/vote", {"token": token, "vote": True})
    widget(client, site, "/roadmap", {"token": token})
    key = site.key
    with Statements(db) as seen:
        board = widget(client, key, "/roadmap", {"token": token})
    assert len(seen) == 1, seen
    items = [item for column in board.get_json()["columns"] for item in column["items"]]
    assert [item["id"] for item in items if item["voted"]] == [sso.id]
