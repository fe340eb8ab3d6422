"""Keepkit benchmark: seed N sessions into a fresh database and time what product managers
wait for. Run through `make bench` (SQLite and PostgreSQL) or directly:

    python scripts/bench.py --database sqlite:////tmp/bench.db --sessions 1000000
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from flask_migrate import upgrade

from widget_server import create_app
from widget_server.extensions import db
from widget_server.models import Site
from widget_server.reports import csv_export, pdf
from widget_server.reports.data import dashboard_context
from widget_server.services import insights, rollups, seed, sessions, sites, users
from widget_server.services.period import Filter, Period


def timed(fn, repeat: int = 5) -> float:
    """Median wall time in milliseconds over ``repeat`` runs (after one warm-up)."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def rollup_write(site) -> float:
    """Median time of the rollup upserts one completed session adds (rolled back)."""
    from widget_server.models import CancellationSession

    s = CancellationSession
    latest = db.session.scalars(
        sa.select(s).where(s.site_id == site.id, s.outcome.is_not(None)).limit(50)
    ).all()
    samples = []
    for session in latest:
        started = time.perf_counter()
        rollups.add_session(site, session)
        samples.append((time.perf_counter() - started) * 1000)
    db.session.rollback()
    return statistics.median(samples)


def show(label: str, milliseconds: float) -> None:
    print(f"{label}: {milliseconds:.1f} ms")


def admin_pages(app, client, key: str) -> None:
    """Every admin page a product manager opens (each GET route of the admin), timed over
    HTTP; the slowest must stay under a second (PDF and CSV downloads are timed below)."""
    from widget_server.models import Customer, Offer, Reason, RoadmapItem

    with app.app_context():
        site = sites.get_site(key)
        ids = {
            "reason_id": db.session.scalar(sa.select(Reason.id).where(Reason.site_id == site.id)),
            "offer_id": db.session.scalar(sa.select(Offer.id).where(Offer.site_id == site.id)),
            "item_id": db.session.scalar(
                sa.select(RoadmapItem.id).where(RoadmapItem.site_id == site.id).limit(1)
            ),
        }
        email = db.session.scalar(
            sa.select(Customer.email).where(Customer.site_id == site.id).limit(1)
        )
        db.session.remove()
    skip = {"admin.report_pdf", "admin.session_csv", "admin.audit_csv", "admin.privacy_export"}
    extra = {
        "admin.session_list": ["", "?page=200", "?outcome=cancelled&q=price"],
        "admin.privacy_page": ["", f"?customer={email}"],
    }
    slowest, seen = (0.0, ""), set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or "GET" not in rule.methods:
            continue
        if rule.endpoint in skip or "site_key" not in rule.arguments:
            continue
        values = {"site_key": key} | {k: v for k, v in ids.items() if k in rule.arguments}
        if set(rule.arguments) - set(values):
            continue
        with app.test_request_context():
            from flask import url_for

            path = url_for(rule.endpoint, **values)
        if path in seen:
            continue
        seen.add(path)
        for query in extra.get(rule.endpoint, [""]):
            ms = timed(lambda path=path + query: client.get(path), 3)
            show(f"admin page {path.replace(key, 'KEY')}{query}", ms)
            slowest = max(slowest, (ms, path + query))
    print(f"slowest admin page: {slowest[0]:.1f} ms ({slowest[1].replace(key, 'KEY')})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument(
        "--reuse", action="store_true", help="time an already seeded database (no seeding)"
    )
    args = parser.parse_args()
    os.environ["KEEPKIT_ENV"] = "development"
    app = create_app({"ENV": "development", "SQLALCHEMY_DATABASE_URI": args.database})
    print(f"# Keepkit benchmark: {args.sessions:,} sessions on {args.database.split(':')[0]}")
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores")
    with app.app_context():
        upgrade()
        site = db.session.scalar(sa.select(Site).where(Site.name == "Bench"))
        if not (args.reuse and site):
            site, _ = sites.create_site("Bench", [])
            users.create_admin("bench@example.com", "bench-password-123")
            db.session.commit()
            started = time.perf_counter()
            seed.seed_sessions(site, args.sessions, progress=lambda done, todo: db.session.commit())
            seed.seed_roadmap(site)
            db.session.commit()
            print(f"seeding (rollups included): {time.perf_counter() - started:.1f} s")
            seed.analyze()
            db.session.commit()
        started = time.perf_counter()
        rollups.rebuild(site)
        db.session.commit()
        print(f"rebuilding the rollups from the sessions: {time.perf_counter() - started:.1f} s")
        for table in rollups.TABLES:
            count = db.session.scalar(sa.select(sa.func.count()).select_from(table))
            print(f"{table.__tablename__}: {count:,} rows")
        year = Filter(Period.last_days(365))
        month = Filter(Period.last_days(30))
        ranking, breakdown = insights.reason_ranking, insights.breakdown
        show("reasons ranking, 12 months", timed(lambda: ranking(site, year)))
        show("reasons ranking, 30 days", timed(lambda: ranking(site, month)))
        show("dashboard data, 12 months", timed(lambda: dashboard_context(site, year), 3))
        for by in ("plan", "tenure", "mrr", "attr:region"):
            show(f"segments by {by}, 12 months", timed(lambda by=by: breakdown(site, year, by), 3))
        # A filter on a custom attribute value reads that value's rollup rows.
        eu = Filter(year.period, attribute="region", value="EU")
        show(
            "dashboard data, 12 months, region = EU", timed(lambda: dashboard_context(site, eu), 1)
        )
        show("completing a session: the rollup writes", rollup_write(site))
        key = site.key
    client = app.test_client()
    with client:
        client.get("/admin/login")
        from tests.clients import csrf_token  # the same helper the tests use

        token = csrf_token(client)
        client.post(
            "/admin/login",
            data={
                "email": "bench@example.com",
                "password": "bench-password-123",
                "csrf_token": token,
            },
        )
        page = f"/admin/sites/{key}/?range=12m"
        show("dashboard page, 12 months", timed(lambda: client.get(page), 3))
        admin_pages(app, client, key)
    with app.test_request_context():
        site = sites.get_site(key)
        query = sessions.sessions_query(site, sessions.SessionFilter())
        started, rows = time.perf_counter(), 0
        for chunk in csv_export.stream_csv(query):
            rows += chunk.count("\n")
        elapsed = time.perf_counter() - started
        # Memory in a second pass: tracemalloc slows Python down too much to time with it.
        tracemalloc.start()
        for _ in csv_export.stream_csv(query):
            pass
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"CSV export: {rows:,} lines in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s, "
            f"peak Python memory {peak / 2**20:.1f} MiB"
        )
        started = time.perf_counter()
        data = pdf.render_pdf(sites.get_site(key), Filter(Period.last_days(365)))
        print(
            f"PDF report, 12 months: {time.perf_counter() - started:.2f} s ({len(data) // 1024} KB)"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
