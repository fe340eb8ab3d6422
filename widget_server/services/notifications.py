"""Writing emails and webhooks to the outbox, in the caller's transaction, and queuing a
message again. The worker (``widget_server.delivery.worker``) delivers them.

A message is identified by its ``dedupe_key``: enqueuing the same key twice is a no-op, which
is what keeps a voter from getting two "shipped" emails for one item.
"""

from __future__ import annotations

import sqlalchemy as sa

from widget_server.errors import NotFound
from widget_server.extensions import db
from widget_server.i18n import N_
from widget_server.models import Customer, OutboxMessage, Site, utcnow
from widget_server.services.sql import insert_or_ignore


def _insert_ignore(rows: list[dict]) -> int:
    if not rows:
        return 0
    now = utcnow()
    for row in rows:
        row.setdefault("state", "pending")
        row.setdefault("attempts", 0)
        row.setdefault("created_at", now)
        row.setdefault("next_attempt_at", now)
    statement = insert_or_ignore(OutboxMessage, ["dedupe_key"])
    # RETURNING lists only the rows inserted, so duplicates are not counted.
    inserted = db.session.connection().execute(statement.returning(OutboxMessage.id), rows)
    return len(inserted.all())


def enqueue_emails(site: Site, topic: str, messages: list[dict]) -> int:
    """Queue emails. Each message: ``dedupe_key``, ``to`` and the template ``payload`` (whose
    ``customer_id``, if any, links the message to that customer).

    Returns how many were new.
    """
    rows = [
        {
            "site_id": site.id,
            "customer_id": m["payload"].get("customer_id"),
            "kind": "email",
            "topic": topic,
            "dedupe_key": m["dedupe_key"],
            "recipient": m["to"],
            "payload": m["payload"],
        }
        for m in messages
        if m.get("to")
    ]
    return _insert_ignore(rows)


def enqueue_webhook(
    site: Site, event: str, data: dict, *, dedupe_key: str, customer: Customer | None = None
) -> bool:
    """Queue a webhook event if the site has a webhook URL; ``customer``: the one it is about.
    Returns whether one was queued."""
    if not site.webhook_url:
        return False
    body = {"event": event, "created": int(utcnow().timestamp()), "data": data}
    row = {
        "site_id": site.id,
        "customer_id": customer.id if customer else None,
        "kind": "webhook",
        "topic": event,
        "dedupe_key": f"webhook:{site.id}:{dedupe_key}",
        "recipient": site.webhook_url,
        "payload": body,
    }
    return _insert_ignore([row]) == 1


def recent(site: Site, kind: str, limit: int = 50) -> list[OutboxMessage]:
    query = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.site_id == site.id, OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def resend(site: Site, message_id: int) -> None:
    """Queue a message again (admin: resend a webhook or a failed email).

    :raises NotFound: ``message_not_found`` unless the message belongs to the site.
    """
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.site_id != site.id:
        raise NotFound(N_("No such message"), code="message_not_found")
    message.state = "pending"
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.locked_until = None
    message.last_error = None
    db.session.flush()
