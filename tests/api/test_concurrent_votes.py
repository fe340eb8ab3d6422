"""200 voters at once through the HTTP API: the counts come out exact."""

from __future__ import annotations

import sqlalchemy as sa

from tests.factories import make_site, make_token
from tests.servers import post, run_at_once
from widget_server.extensions import db
from widget_server.models import Vote
from widget_server.services import roadmap, sites

VOTERS = 200


def test_two_hundred_concurrent_voters(live):
    app, base = live
    with app.app_context():
        site, _ = make_site("Votes")
        a = roadmap.create_item(site, title="A", status="planned")
        b = roadmap.create_item(site, title="B", status="planned")
        db.session.commit()
        key, secret, a_id, b_id = site.key, site.secret_primary, a.id, b.id
    tokens = [make_token(secret, f"v{i}", company=f"co{i % 50}") for i in range(VOTERS)]
    vote = f"{base}/api/v1/widget/{key}/roadmap/items/{{}}/vote"

    def voter(i: int):
        post(vote.format(a_id), {"token": tokens[i], "vote": True})
        post(vote.format(b_id), {"token": tokens[i], "vote": True})
        post(vote.format(a_id), {"token": tokens[i], "vote": True})  # a retry: no-op
        if i % 2:
            post(vote.format(b_id), {"token": tokens[i], "vote": False})

    assert run_at_once(voter, [(i,) for i in range(VOTERS)]) == []
    with app.app_context():
        stats = {
            r["item"].title: (r["votes"], r["companies"])
            for r in roadmap.items_with_stats(sites.get_site(key), roadmap.ItemFilter())
        }
        rows = db.session.scalar(sa.select(sa.func.count()).select_from(Vote))
        db.session.remove()
    # Even-numbered voters keep their vote on B; they belong to the 25 even companies.
    assert stats == {"A": (VOTERS, 50), "B": (VOTERS // 2, 25)}
    assert rows == VOTERS + VOTERS // 2
