"""Customers cancelling at the same moment, some twice, land in the rollups exactly once."""

from __future__ import annotations

import sqlalchemy as sa

from tests.factories import ORIGIN, make_site, make_token
from tests.servers import post as post_json
from tests.servers import run_at_once
from widget_server.extensions import db
from widget_server.models import ReasonRollup
from widget_server.services import insights, rollups, sites
from widget_server.services.period import Filter, Period

CUSTOMERS = 40


def post(url: str, body: dict) -> dict:
    return post_json(url, body, Origin=ORIGIN)


def rollup_rows(site):
    t = ReasonRollup.__table__
    return sorted(tuple(r) for r in db.session.execute(sa.select(t).where(t.c.site_id == site.id)))


def test_concurrent_completions_are_all_counted(live):
    app, base = live
    with app.app_context():
        site, _ = make_site("Rush")
        db.session.commit()
        key, secret = site.key, site.secret_primary
    api = f"{base}/api/v1/widget/{key}"
    sessions = []
    for i in range(CUSTOMERS):
        token = make_token(secret, f"c{i}", mrr=1000 + i, plan=("Starter", "Growth")[i % 2])
        session = post(f"{api}/sessions", {"token": token})["session"]
        post(f"{api}/sessions/{session}/answer", {"token": token, "reason": "switching"})
        sessions.append((session, token, "dismissed" if i % 4 == 0 else "cancelled"))

    # Every session is completed twice at the same moment (a double submit); each completion
    # is queued for the rollups once, and the fold (the worker's) counts them.
    def complete(session: str, token: str, outcome: str):
        post(f"{api}/sessions/{session}/complete", {"token": token, "outcome": outcome})

    assert run_at_once(complete, sessions * 2) == []
    with app.app_context():
        site = sites.get_site(key)
        assert rollups.pending(site) == CUSTOMERS
        rollups.fold_all()
        db.session.commit()
        summary = insights.summary(site, Filter(Period.last_days(1)))
        incremental = rollup_rows(site)
        rollups.rebuild(site)
        rebuilt = rollup_rows(site)
        db.session.rollback()
        db.session.remove()
    cancelled = [i for i in range(CUSTOMERS) if i % 4]
    assert (summary["cancelled"], summary["dismissed"]) == (len(cancelled), CUSTOMERS // 4)
    assert summary["lost_mrr"] == sum(1000 + i for i in cancelled)
    assert incremental == rebuilt
