"""The outbox worker (``keepkit worker``): claims due messages, has them composed
(:mod:`widget_server.delivery.emails`) and sent (:mod:`widget_server.delivery.transports`),
and records the result: sent, retried after a backoff, or parked as failed. Between passes it
runs the periodic tasks and the queued jobs.

Messages are claimed with a lease: a worker killed mid-delivery leaves its messages in
``sending``, and they become claimable again when the lease runs out. On PostgreSQL the claim
uses ``FOR UPDATE SKIP LOCKED`` so several workers never take the same message; every claim is
also a conditional update, which keeps SQLite (one writer at a time) correct.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app

from widget_server.delivery.emails import build_email
from widget_server.delivery.errors import ComposeError, DeliveryError, Undeliverable
from widget_server.delivery.transports import build_webhook, send_email, send_webhook
from widget_server.extensions import db
from widget_server.models import OutboxMessage, utcnow
from widget_server.services import jobs, rollups, stripe_connector

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 3600


class RunCounts(NamedTuple):
    """What one worker pass did: delivered, scheduled for another try, parked as failed."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


# --- claiming -----------------------------------------------------------------------------


def max_attempts() -> int:
    return current_app.config["KEEPKIT_OUTBOX_MAX_ATTEMPTS"]


def _park_abandoned(now) -> None:
    """Messages whose lease ran out after their last allowed attempt are parked: a message that
    kills its worker every time (out of memory, say) must not be claimed forever."""
    db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.state == "sending",
            OutboxMessage.locked_until < now,
            OutboxMessage.attempts >= max_attempts(),
        )
        .values(
            state="failed",
            locked_until=None,
            last_error="The worker stopped while delivering it, every time it was tried",
        )
    )


def claim(limit: int = 20) -> list[int]:
    """Take up to ``limit`` due messages for this worker; returns their ids (committed).

    Claiming counts the attempt, so a message whose delivery kills the worker is still
    counted and, after the last attempt, parked. One ``UPDATE … WHERE id IN (SELECT … [FOR
    UPDATE SKIP LOCKED]) RETURNING id``: a transaction that starts with its write never
    deadlocks on SQLite's lock upgrade, and on PostgreSQL concurrent workers skip each other's
    rows. A message whose lease expired (its worker died) is due again.
    """
    now = utcnow()
    lease = timedelta(seconds=current_app.config["KEEPKIT_OUTBOX_LEASE_SECONDS"])
    _park_abandoned(now)
    due = sa.or_(
        sa.and_(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now),
        sa.and_(OutboxMessage.state == "sending", OutboxMessage.locked_until < now),
    )
    candidates = sa.select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates.scalar_subquery()), due)
        .values(state="sending", locked_until=now + lease, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id)
    )
    claimed = sorted(db.session.connection().execute(statement).scalars())
    db.session.commit()
    return claimed


def _backoff(attempts: int) -> timedelta:
    base = current_app.config["KEEPKIT_RETRY_BASE_SECONDS"]
    return timedelta(seconds=min(base * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS))


def _record(message_id: int, **values) -> None:
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.state == "sending")
        .values(locked_until=None, **values)
    )
    db.session.commit()


def _build(message: OutboxMessage):
    """The email or HTTP request for a message. Any failure here is about the message's data,
    not the network: it becomes a :class:`ComposeError`."""
    try:
        return build_email(message) if message.kind == "email" else build_webhook(message)
    except DeliveryError:
        raise
    except Exception as exc:
        log.exception("Outbox message %s cannot be composed", message.id)
        raise ComposeError(f"Cannot be composed: {type(exc).__name__}: {exc}") from exc


def process(message_id: int) -> str:
    """Deliver one claimed message and record the result: ``"sent"``, ``"retried"`` (due again
    after a backoff) or ``"failed"`` (parked until an admin resends it). Never raises for a
    problem with the message itself, so one bad message cannot stop the others.

    The reads end (commit) before any network I/O, so no transaction is held open while
    talking to an SMTP server or a webhook receiver.
    """
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.state != "sending":
        db.session.commit()
        return "skipped"
    attempts, kind = message.attempts, message.kind
    try:
        built = _build(message)
        db.session.commit()
        if kind == "email":
            send_email(built)
        else:
            send_webhook(built)
    except (DeliveryError, ComposeError) as exc:
        db.session.rollback()
        park = isinstance(exc, ComposeError | Undeliverable) or attempts >= max_attempts()
        _record(
            message_id,
            state="failed" if park else "pending",
            last_error=str(exc)[:2000],
            next_attempt_at=utcnow() + _backoff(attempts),
        )
        log.warning(
            "Outbox message %s %s after attempt %s: %s",
            message_id,
            "parked as failed" if park else "will be retried",
            attempts,
            exc,
        )
        return "failed" if park else "retried"
    _record(message_id, state="sent", sent_at=utcnow(), last_error=None)
    log.info("Outbox message %s (%s) delivered", message_id, kind)
    return "sent"


def run_periodic(now) -> None:
    """The worker's periodic tasks, each once per period whichever worker gets there first:
    this week's digests, and the daily deletion of comments past a site's retention."""
    from widget_server.services import audit, digests, privacy, schedule

    digests.enqueue_due(now)
    db.session.commit()
    if schedule.claim("comment-retention", timedelta(days=1), now):
        for site, count in privacy.expire_comments(now).items():
            audit.record(
                "comments_expired",
                actor="Keepkit",
                site=site,
                sessions=count,
                months=site.comment_retention_months,
            )
        db.session.commit()


def fold_completions() -> int:
    """Count every completion queued for the rollups, a batch per transaction."""
    total = 0
    while folded := rollups.fold_pending():
        db.session.commit()
        total += folded
    return total


def _stripe_cancel(site, customer_id: int):
    api_base = current_app.config["KEEPKIT_STRIPE_API_BASE"]
    return stripe_connector.cancel_at_period_end(site, customer_id, api_base)


JOB_HANDLERS: dict[str, jobs.Handler] = {
    "rebuild_rollups": rollups.rebuild_in_steps,
    "rebuild_mrr_bands": rollups.rebuild_mrr_bands_in_steps,
    "stripe_cancel": _stripe_cancel,
}


def run_once(batch: int = 20) -> RunCounts:
    """Run the periodic tasks and the jobs that are due, then deliver everything that is due.

    Returns how many messages were sent, retried later and parked as failed.
    """
    fold_completions()
    run_periodic(utcnow())
    jobs.run_due(JOB_HANDLERS)
    counts = {"sent": 0, "retried": 0, "failed": 0, "skipped": 0}
    while ids := claim(batch):
        for message_id in ids:
            counts[process(message_id)] += 1
    return RunCounts(counts["sent"], counts["retried"], counts["failed"])


def run_forever(poll_seconds: float = 2.0, should_stop=lambda: False) -> None:
    """Poll until stopped. A database outage is waited out (logged, retried every poll)."""
    while not should_stop():
        try:
            counts = run_once()
        except sa.exc.DBAPIError as exc:
            db.session.rollback()
            log.error("The database is unreachable; retrying in %ss: %s", poll_seconds, exc)
            time.sleep(poll_seconds)
            continue
        if any(counts):
            log.info("Outbox: sent %s, retried %s, failed %s", *counts)
        else:
            time.sleep(poll_seconds)
