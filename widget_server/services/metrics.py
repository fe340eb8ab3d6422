"""The figures Keepkit reports, defined once: lost MRR, saves and saved MRR, the save rate,
an offer's conversion and a share of the lost MRR.

The sums are SQL aggregate expressions over any rows that carry an outcome and an MRR in its
currency (sessions, or rollup rows with their ``sessions`` count), so the ranking, the
breakdowns, the trend, the roadmap and the reports each stay one query of their own shape.
Amounts are minor units of the site's currency; an amount in a currency without an exchange
rate is left out of the sums (the summary counts those sessions as ``unconverted``).
"""

from __future__ import annotations

import sqlalchemy as sa

from widget_server.models import Site
from widget_server.services.money import converted

CANCELLED, SAVED = "cancelled", "saved"


def total(expression):
    """SQL: SUM(expression), 0 rather than NULL over no rows."""
    return sa.func.coalesce(sa.func.sum(expression), 0)


def total_if(condition, value):
    """SQL: SUM(CASE WHEN condition THEN value ELSE 0 END), never NULL."""
    return total(sa.case((condition, value), else_=0))


def cancellations(outcome, sessions=1):
    """SQL: how many of the rows are cancellations (``sessions``: each row's count)."""
    return total_if(outcome == CANCELLED, sessions)


def saves(outcome, sessions=1):
    """SQL: how many of the rows are saves (an accepted offer, or "Keep my subscription";
    a flow closed without deciding is neither a save nor a cancellation)."""
    return total_if(outcome == SAVED, sessions)


def lost_mrr(site: Site, outcome, mrr, currency):
    """SQL: lost MRR, the MRR of the cancelled rows in the site's currency."""
    return total_if(outcome == CANCELLED, converted(site, mrr, currency))


def saved_mrr(site: Site, outcome, mrr, currency):
    """SQL: saved MRR, the MRR of the saved rows in the site's currency (before any
    discount an offer gave)."""
    return total_if(outcome == SAVED, converted(site, mrr, currency))


def share(part: int, whole: int) -> float:
    """``part`` / ``whole`` to four digits (a share of lost MRR, 0-1), 0 when ``whole`` is."""
    return round(part / whole, 4) if whole else 0.0


def save_rate(saved: int, cancelled: int) -> float:
    """Saves among the decided flows: saved / (saved + cancelled), 0 when none decided."""
    return share(saved, saved + cancelled)


def conversion(accepted: int, shown: int) -> float:
    """How often an offer that was shown was accepted: accepted / shown, 0 when never shown."""
    return share(accepted, shown)


def change(current: float, before: float) -> float | None:
    """The relative change from ``before`` to ``current``; None when ``before`` is 0."""
    return round((current - before) / before, 4) if before else None
