"""Long work leaves the request: rate and currency changes queue a job the worker runs in
short steps, with progress the admin shows; a rebuild in steps equals a rebuild at once."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.clients import token_of
from tests.factories import backdate, complete_session, rollup_rows
from widget_server.delivery import worker
from widget_server.models import Job
from widget_server.services import jobs, rollups


def test_a_rate_change_queues_a_job_and_returns_at_once(admin_client, db, site):
    complete_session(site, "eur", "switching", "cancelled", mrr=10000, currency="EUR", folded=True)
    db.session.commit()
    before = rollup_rows(site)
    response = admin_client.post(
        f"/admin/sites/{site.key}/rates",
        data={"csrf_token": token_of(admin_client, site), "currency": "EUR", "rate": "1.1"},
    )
    assert response.status_code == 302
    [job] = db.session.scalars(sa.select(Job)).all()
    assert (job.kind, job.params, job.state, job.requested_by) == (
        "rebuild_mrr_bands", {"currency": "EUR"}, "queued", "pm@example.com",
    )  # fmt: skip
    assert rollup_rows(site) == before  # nothing recomputed in the request
    dashboard = admin_client.get(f"/admin/sites/{site.key}/").get_data(as_text=True)
    assert "Recalculating MRR bands" in dashboard and "waiting for the worker" in dashboard
    assert 'hx-trigger="every 2s"' in dashboard  # the banner follows the job by itself
    assert worker.run_once() == (0, 0, 0)
    db.session.refresh(job)
    assert job.state == "done" and job.steps_done == job.steps_total > 1
    fragment = admin_client.get(
        f"/admin/sites/{site.key}/jobs", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "done" in fragment and "every 2s" not in fragment  # finished: it stops polling


def test_the_same_waiting_job_is_not_queued_twice(db, site):
    first = jobs.enqueue(site, "rebuild_rollups", requested_by="CLI")
    again = jobs.enqueue(site, "rebuild_rollups", requested_by="someone else")
    assert first.id == again.id


def test_a_rebuild_in_steps_equals_a_rebuild_at_once(db, site):
    for i, days in enumerate((0, 1, 3, 40, 70)):
        session = complete_session(
            site, f"c{i}", "too_expensive", "cancelled", tenure=5,
            attributes={"region": "EU" if i % 2 else "US"}, folded=True,
        )  # fmt: skip
        backdate(site, session, days)
    db.session.commit()
    rollups.rebuild(site)
    at_once = rollup_rows(site)
    steps = []
    for done, total in rollups.rebuild_in_steps(site):
        db.session.commit()
        steps.append((done, total))
    assert rollup_rows(site) == at_once
    assert steps[-1][0] == steps[-1][1] == len(steps) > 5


def test_a_failing_job_is_retried_then_marked_failed(db, site):
    def broken(site):
        yield 1, 2
        raise RuntimeError("disk full")

    job = jobs.enqueue(site, "rebuild_rollups", requested_by="CLI")
    db.session.commit()
    assert jobs.run_due({"rebuild_rollups": broken}) == 0
    db.session.refresh(job)
    assert job.state == "failed" and job.attempts == jobs.MAX_ATTEMPTS
    assert re.match(r"RuntimeError: disk full", job.error)


def test_recalculate_button_queues_a_full_rebuild(admin_client, db, site):
    admin_client.post(
        f"/admin/sites/{site.key}/jobs/rebuild", data={"csrf_token": token_of(admin_client, site)}
    )
    assert db.session.scalar(sa.select(Job.kind)) == "rebuild_rollups"
