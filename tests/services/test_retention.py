"""Retention's figures at the edges of its windows: the period is read in parts split where
each window begins, so a session completed exactly N days ago, one a second later, and a
cancellation reported exactly N days after the save must each land on the right side. The
service's answer is compared with the definition computed in Python over the same rows."""

import random
import uuid
from datetime import timedelta

from widget_server.models import CancellationSession, Customer, utcnow
from widget_server.services import impact
from widget_server.services.period import Period

DAY = 86400


def expected(rows, lower, upper, now):
    """Retention by its definition, one session at a time."""

    def within(row, days):
        return row["reported"] is not None and row["reported"] <= days * DAY

    def of(outcome):
        return [r for r in rows if r["outcome"] == outcome and lower <= r["at"] < upper]

    saves, cancels = of("saved"), of("cancelled")
    overdue = [r for r in cancels if r["at"] <= now - timedelta(days=impact.CONFIRMATION_DAYS)]
    unconfirmed = [r for r in overdue if not within(r, impact.CONFIRMATION_DAYS)]
    windows = {}
    for days in impact.RETENTION_WINDOWS:
        eligible = [r for r in saves if r["at"] <= now - timedelta(days=days)]
        kept = [r for r in eligible if not within(r, days)]
        windows[str(days)] = {
            "eligible": len(eligible),
            "retained": len(kept),
            "retained_mrr": sum(r["mrr"] for r in kept),
        }
    return {
        "currency": "USD",
        "saved": len(saves),
        "saved_mrr": sum(r["mrr"] for r in saves),
        "cancellations": len(cancels),
        "confirmed_cancellations": sum(within(r, impact.CONFIRMATION_DAYS) for r in cancels),
        "still_paying": len(unconfirmed),
        "still_paying_mrr": sum(r["mrr"] for r in unconfirmed),
        "windows": windows,
    }


def test_sessions_on_the_edges_of_each_window_count_on_the_right_side(db, site):
    now = utcnow().replace(microsecond=0)
    rng = random.Random(11)
    edges = [impact.CONFIRMATION_DAYS, *impact.RETENTION_WINDOWS]
    ages = [timedelta(days=d) + timedelta(seconds=s) for d in edges for s in (-1, 0, 1)]
    ages += [timedelta(seconds=rng.randrange(0, 200 * DAY)) for _ in range(60)]
    reports = [None, -3600, 0] + [d * DAY + s for d in edges for s in (-1, 0, 1)]
    rows = []
    for n, age in enumerate(ages * 2):
        outcome = "saved" if n < len(ages) else "cancelled"
        customer = Customer(site_id=site.id, external_id=f"c{n}", currency="USD")
        db.session.add(customer)
        db.session.flush()
        row = {
            "outcome": outcome,
            "at": now - age,
            "mrr": rng.randrange(100, 10000),
            "reported": rng.choice(reports),
        }
        db.session.add(
            CancellationSession(
                public_id=str(uuid.uuid4()), site_id=site.id, customer_id=customer.id,
                currency="USD", mrr=row["mrr"], outcome=outcome, started_at=row["at"],
                completed_at=row["at"], billing_cancelled_after=row["reported"],
            )
        )  # fmt: skip
        rows.append(row)
    db.session.flush()

    for period in (
        Period.last_days(365, now.date()),
        Period.last_days(60, now.date()),
        Period(now.date() - timedelta(days=120), now.date() - timedelta(days=31)),
        Period(now.date() - timedelta(days=90), now.date() - timedelta(days=90)),
    ):
        lower, upper = period.bounds
        assert impact.retention(site, period, now=now) == expected(rows, lower, upper, now), period
