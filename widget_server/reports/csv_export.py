"""Streaming CSV of cancellation sessions: rows are read in batches and written as they come,
so memory stays flat whatever the number of sessions."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.models import CancellationSession

COLUMNS = [
    "session_id", "started_at", "completed_at", "customer_id", "email", "company", "plan",
    "mrr", "currency", "tenure_days", "reason_id", "reason", "comment", "followup_answer",
    "offers_shown", "offer_id", "outcome", "roadmap_item_id", "locale",
]  # fmt: skip
BATCH = 1000


def _safe(value) -> str:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _row(s: CancellationSession) -> list:
    return [
        s.public_id,
        s.started_at.isoformat(),
        s.completed_at.isoformat() if s.completed_at else "",
        _safe(s.customer.external_id),
        _safe(s.customer.email),
        _safe(s.customer.company),
        _safe(s.plan),
        s.mrr,
        s.currency,
        "" if s.tenure_days is None else s.tenure_days,
        s.reason.key if s.reason else "",
        _safe(s.reason.labels.get("en")) if s.reason else "",
        _safe(s.comment),
        _safe(s.followup_answer),
        " ".join(s.offers_shown or []),
        s.offer.key if s.offer else "",
        s.outcome or "open",
        s.roadmap_item_id or "",
        s.locale,
    ]


def stream_csv(query: sa.Select) -> Iterator[str]:
    """Yield the CSV (header first) for the sessions ``query`` selects, in id order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    ordered = query.order_by(CancellationSession.id).execution_options(yield_per=BATCH)
    for n, session in enumerate(db.session.scalars(ordered), 1):
        writer.writerow(_row(session))
        if n % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            db.session.expunge_all()  # keep the identity map from growing
    yield buffer.getvalue()
