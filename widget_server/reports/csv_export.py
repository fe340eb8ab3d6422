"""Streaming CSV of cancellation sessions. Plain rows (no ORM objects) are fetched in batches
through a server-side cursor where the database has one, and written as they come, so memory
stays flat whatever the number of sessions."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.models import CancellationSession, Customer, Offer, Reason

COLUMNS = [
    "session_id", "started_at", "completed_at", "customer_id", "email", "company", "plan",
    "mrr", "currency", "tenure_days", "reason_id", "reason", "comment", "followup_answer",
    "offers_shown", "offer_id", "outcome", "roadmap_item_id", "locale",
]  # fmt: skip
BATCH = 1000
_UNSAFE = ("=", "+", "-", "@", "\t", "\r")


def _safe(value) -> str:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in _UNSAFE else text


def _rows_query(query: sa.Select) -> sa.Select:
    """The columns of the export for the sessions ``query`` selects (one joined query)."""
    s = CancellationSession
    ids = query.with_only_columns(s.id).order_by(None).subquery()
    return (
        sa.select(
            s.public_id, s.started_at, s.completed_at, Customer.external_id.label("customer"),
            Customer.email, Customer.company, s.plan, s.mrr, s.currency, s.tenure_days,
            Reason.key.label("reason_key"), Reason.labels, s.comment, s.followup_answer,
            s.offers_shown, Offer.key.label("offer_key"), s.outcome, s.roadmap_item_id, s.locale,
        )
        .join(Customer, Customer.id == s.customer_id)
        .outerjoin(Reason, Reason.id == s.reason_id)
        .outerjoin(Offer, Offer.id == s.offer_id)
        .where(s.id.in_(sa.select(ids.c.id)))
        .order_by(s.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip


def stream_csv(query: sa.Select) -> Iterator[str]:
    """Yield the CSV (header first) for the sessions ``query`` selects, in id order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for n, row in enumerate(db.session.execute(_rows_query(query)), 1):
        r = row
        writer.writerow(
            [
                r.public_id, r.started_at.isoformat(),
                r.completed_at.isoformat() if r.completed_at else "", _safe(r.customer),
                _safe(r.email), _safe(r.company), _safe(r.plan), r.mrr, r.currency,
                "" if r.tenure_days is None else r.tenure_days, r.reason_key or "",
                _safe(r.labels.get("en")) if r.labels else "", _safe(r.comment),
                _safe(r.followup_answer), " ".join(r.offers_shown or []), r.offer_key or "",
                r.outcome or "open", r.roadmap_item_id or "", r.locale,
            ]
        )  # fmt: skip
        if n % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
