"""Closed-loop benchmark: lifecycle events ingested through ``POST /api/v1/events`` in batches
of 500, and the retention and reactivation insights over N sessions and at least N events.
Run through `make bench` (SQLite and PostgreSQL) or directly:

    python scripts/bench_loop.py --database sqlite:////tmp/bench-loop.db --sessions 1000000
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from bench import show, timed  # scripts/bench.py, beside this file
from flask_migrate import upgrade

from widget_server import create_app
from widget_server.extensions import db
from widget_server.models import Customer, LifecycleEvent, Site, utcnow
from widget_server.services import impact, seed, sites
from widget_server.services.period import Period

BATCH = 500
TYPES = ("subscription.renewed", "subscription.cancelled", "subscription.reactivated")


def top_up_events(site: Site, total: int) -> int:
    """Monthly renewals of random seeded customers until the site has ``total`` events."""
    count = sa.select(sa.func.count()).where(LifecycleEvent.site_id == site.id)
    have = db.session.scalar(count)
    if have >= total:
        return 0
    ids = list(db.session.scalars(sa.select(Customer.id).where(Customer.site_id == site.id)))
    rng, now, added = random.Random(7), utcnow(), 0
    while have + added < total:
        size = min(5000, total - have - added)
        rows = []
        for n in range(added, added + size):
            when = now - timedelta(days=rng.random() * 365)
            rows.append(
                {
                    "site_id": site.id, "customer_id": rng.choice(ids),
                    "event_id": f"bench-renewal-{n}", "type": "subscription.renewed",
                    "occurred_at": when, "mrr": None, "currency": None, "created_at": when,
                }
            )  # fmt: skip
        db.session.execute(sa.insert(LifecycleEvent), rows)
        db.session.commit()
        added += size
    return added


def vacuum() -> None:
    """PostgreSQL: after a bulk load, mark the pages all-visible (as autovacuum soon would),
    so covering indexes answer without reading the table."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("cancellation_sessions", "lifecycle_events", "outbox_messages"):
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")


def ingestion(client, api_key: str, batches: int) -> None:
    """Batches of 500 new events (a third for customers Keepkit has not seen), timed over the
    data API in this process."""
    rng, now = random.Random(11), utcnow()
    run = int(now.timestamp())  # new ids on each run, also with --reuse
    headers = {"Authorization": f"Bearer {api_key}"}
    bodies = []
    for b in range(batches):
        events = []
        for n in range(BATCH):
            customer = f"seed-{rng.randrange(100_000)}" if n % 3 else f"new-{run}-{b}-{n}"
            when = now - timedelta(days=rng.random() * 60)
            event = {
                "id": f"ingest-{run}-{b}-{n}",
                "type": rng.choice(TYPES),
                "customer": customer,
                "occurred_at": when.isoformat(),
            }
            if n % 5 == 0:
                event |= {"type": "mrr.changed", "mrr": rng.randrange(1000, 50000)}
            events.append(event)
        bodies.append({"events": events})
    samples = []
    for body in bodies:
        started = time.perf_counter()
        response = client.post("/api/v1/events", json=body, headers=headers)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["accepted"] == BATCH, response.get_json()
    total = sum(samples)
    print(
        f"ingestion: {batches * BATCH:,} events in {batches} batches of {BATCH}: {total:.2f} s "
        f"= {batches * BATCH / total:,.0f} events/s (median batch "
        f"{statistics.median(samples) * 1000:.0f} ms)"
    )
    again = client.post("/api/v1/events", json=bodies[0], headers=headers).get_json()
    assert again == {"accepted": 0, "duplicates": BATCH}, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=None, help="default: as many as sessions")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument(
        "--reuse", action="store_true", help="time an already seeded database (no seeding)"
    )
    args = parser.parse_args()
    total_events = args.events or args.sessions
    os.environ["KEEPKIT_ENV"] = "development"
    app = create_app({"ENV": "development", "SQLALCHEMY_DATABASE_URI": args.database})
    kind = args.database.split(":")[0]
    print(f"# Keepkit closed-loop benchmark: {args.sessions:,} sessions on {kind}")
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores")
    with app.app_context():
        upgrade()
        site = db.session.scalar(sa.select(Site).where(Site.name == "Bench loop"))
        if not (args.reuse and site):
            site, _ = sites.create_site("Bench loop", [])
            db.session.commit()
            started = time.perf_counter()
            seed.seed_sessions(site, min(400, args.sessions))
            seed.seed_roadmap(site)
            seed.seed_sessions(site, args.sessions, progress=lambda *_: db.session.commit())
            db.session.commit()
            print(f"seeding sessions: {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            added = seed.seed_events(site, progress=lambda *_: db.session.commit())
            db.session.commit()
            print(f"seeding {added:,} lifecycle events: {time.perf_counter() - started:.1f} s")
            top_up_events(site, total_events)
            seed.analyze()
            db.session.commit()
            vacuum()
        events = db.session.scalar(sa.select(sa.func.count()).select_from(LifecycleEvent))
        print(f"lifecycle events: {events:,}")
        year = Period.last_days(365)
        quarter = Period.last_days(90)
        half = Period.last_days(180)
        show("retention, 12 months", timed(lambda: impact.retention(site, year)))
        show("retention, 180 days", timed(lambda: impact.retention(site, half)))
        show("retention, 90 days", timed(lambda: impact.retention(site, quarter)))
        show("reactivations, 12 months", timed(lambda: impact.reactivations(site, year)))
        show("reactivations, 90 days", timed(lambda: impact.reactivations(site, quarter)))
        show("reactivated MRR per roadmap item", timed(lambda: impact.reactivated_by_item(site)))
        api_key = sites.create_api_key(site)
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {api_key}"}
    for path in ("retention", "reactivations"):
        url = f"/api/v1/insights/{path}?from={year.start}&to={year.end}"
        show(
            f"GET /api/v1/insights/{path}, 12 months",
            timed(lambda u=url: client.get(u, headers=headers)),
        )
    ingestion(client, api_key, args.batches)


if __name__ == "__main__":
    main()
