"""Jobs: long work done by the worker instead of a request (rollup rebuilds), with progress
the admin shows. A job runs as a series of short steps, each committed with its progress, so
it holds no lock for long and a job whose worker died resumes from the start when its lease
runs out (every step is idempotent)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.i18n import N_
from widget_server.models import Job, Site, utcnow

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 3
KINDS = {
    "rebuild_rollups": N_("Recalculating the dashboard's figures"),
    "rebuild_mrr_bands": N_("Recalculating MRR bands after a currency change"),
    "stripe_cancel": N_("Cancelling a subscription in Stripe at the end of its period"),
}
# A job's steps: a function of (site, **params) that yields (done, total) after each step.
Handler = Callable[..., Iterator[tuple[int, int]]]


def enqueue(site: Site, kind: str, params: dict | None = None, *, requested_by: str) -> Job:
    """Queue a job (in the caller's transaction). The same job already waiting is reused."""
    if kind not in KINDS:
        raise ValueError(f"Unknown job kind {kind!r}")
    params = params or {}
    waiting = db.session.scalars(
        sa.select(Job).where(Job.site_id == site.id, Job.kind == kind, Job.state == "queued")
    ).all()
    for job in waiting:
        if job.params == params:
            return job
    job = Job(site_id=site.id, kind=kind, params=params, requested_by=requested_by[:255])
    db.session.add(job)
    db.session.flush()
    log.info("Job %s queued for %s: %s %s", job.id, site.key, kind, params)
    return job


def active(site: Site) -> list[Job]:
    """The site's queued and running jobs, oldest first (the dashboard says figures lag)."""
    query = sa.select(Job).where(Job.site_id == site.id, Job.state.in_(("queued", "running")))
    return list(db.session.scalars(query.order_by(Job.id)))


def recent(site: Site, limit: int = 10) -> list[Job]:
    query = sa.select(Job).where(Job.site_id == site.id).order_by(Job.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def claim() -> Job | None:
    """Take the oldest due job (committed): queued, or running under an expired lease.

    Two statements in one transaction: choosing the row (``SKIP LOCKED`` on PostgreSQL, so
    workers pass over each other's) and then updating that one row. (An ``UPDATE … WHERE id IN
    (SELECT … LIMIT 1 SKIP LOCKED)`` may run its subquery more than once and take several.)
    """
    now = utcnow()
    due = sa.or_(Job.state == "queued", sa.and_(Job.state == "running", Job.locked_until < now))
    candidate = sa.select(Job.id).where(due).order_by(Job.id).limit(1)
    if db.session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    job_id = db.session.scalar(candidate)
    if job_id is not None:
        db.session.execute(
            sa.update(Job)
            .where(Job.id == job_id)
            .values(
                state="running",
                locked_until=now + LEASE,
                attempts=Job.attempts + 1,
                started_at=now,
                steps_done=0,
            )
        )
    db.session.commit()
    return db.session.get(Job, job_id) if job_id is not None else None


def run(job: Job, handlers: dict[str, Handler]) -> bool:
    """Run a claimed job step by step, committing its progress after each. Returns whether it
    finished; a failure is recorded (and retried by the next claim, up to MAX_ATTEMPTS)."""
    site = db.session.get(Site, job.site_id)
    try:
        for done, total in handlers[job.kind](site, **job.params):
            job.steps_done, job.steps_total = done, total
            job.locked_until = utcnow() + LEASE
            db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.exception("Job %s (%s) failed", job.id, job.kind)
        job.error = f"{type(exc).__name__}: {exc}"[:2000]
        job.state = "failed" if job.attempts >= MAX_ATTEMPTS else "queued"
        job.locked_until = None
        db.session.commit()
        return False
    job.state, job.finished_at, job.locked_until, job.error = "done", utcnow(), None, None
    db.session.commit()
    log.info("Job %s (%s) done in %s steps", job.id, job.kind, job.steps_total)
    return True


def run_due(handlers: dict[str, Handler]) -> int:
    """Run every due job, one after another. Returns how many finished."""
    finished = 0
    while (job := claim()) is not None:
        finished += run(job, handlers)
    return finished
