"""Streaming CSV of cancellation sessions. Plain rows (no ORM objects) are read a page at a
time and written as they come, so memory stays flat whatever the number of sessions."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from widget_server.extensions import db
from widget_server.models import CancellationSession, Customer, Offer, Reason

COLUMNS = [
    "session_id", "started_at", "completed_at", "customer_id", "email", "company", "plan",
    "mrr", "currency", "tenure_days", "reason_id", "reason", "comment", "followup_answer",
    "offers_shown", "offer_id", "outcome", "roadmap_item_id", "locale",
]  # fmt: skip
BATCH = 1000
_UNSAFE = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in _UNSAFE else text


def _page_query(query: sa.Select) -> sa.Select:
    """The export's columns for a page of the sessions ``query`` selects, after the id bound
    as ``after``, in id order: one query walking the primary key (aliases keep the joins apart
    from any the filters made)."""
    s = CancellationSession
    customer, reason, offer = aliased(Customer), aliased(Reason), aliased(Offer)
    return (
        query.with_only_columns(
            s.id, s.public_id, s.started_at, s.completed_at,
            customer.external_id.label("customer"), customer.email, customer.company, s.plan,
            s.mrr, s.currency, s.tenure_days, reason.key.label("reason_key"),
            reason.labels["en"].as_string().label("reason_label"),
            s.comment, s.followup_answer, s.offers_shown, offer.key.label("offer_key"),
            s.outcome, s.roadmap_item_id, s.locale,
        )
        .select_from(s)
        .join(customer, customer.id == s.customer_id)
        .outerjoin(reason, reason.id == s.reason_id)
        .outerjoin(offer, offer.id == s.offer_id)
        .where(s.id > sa.bindparam("after"))
        .order_by(None)
        .order_by(s.id)
        .limit(BATCH)
    )  # fmt: skip


def stream_csv(query: sa.Select) -> Iterator[str]:
    """Yield the CSV (header first) for the sessions ``query`` selects, in id order.

    Page by page (keyset on the id), each page read in a short transaction of its own: a
    long export holds no lock and no cursor between pages, so completions and other writers
    never wait for it, and memory stays flat.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    after, page = 0, _page_query(query)
    while True:
        rows = db.session.execute(page, {"after": after}).all()
        db.session.rollback()  # end this page's read transaction
        for r in rows:
            writer.writerow(
                [
                    r.public_id, r.started_at.isoformat(),
                    r.completed_at.isoformat() if r.completed_at else "", safe_cell(r.customer),
                    safe_cell(r.email), safe_cell(r.company), safe_cell(r.plan), r.mrr,
                    r.currency, "" if r.tenure_days is None else r.tenure_days,
                    r.reason_key or "", safe_cell(r.reason_label),
                    safe_cell(r.comment), safe_cell(r.followup_answer),
                    " ".join(r.offers_shown or []), r.offer_key or "", r.outcome or "open",
                    r.roadmap_item_id or "", r.locale,
                ]
            )  # fmt: skip
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < BATCH:
            return
        after = rows[-1].id
