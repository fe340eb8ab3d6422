"""``make load``: Keepkit under gunicorn and locust next to a no-op Flask endpoint.

For each database (SQLite, PostgreSQL) and each scenario (full cancel flows; vote then
unvote; board reads), run separately:

1. the no-op app (scripts/load/noop.py) under the same gunicorn config, driven by the same
   locust users for the same time;
2. Keepkit (``wsgi:app``, production settings) the same way;
3. the checks: every write the server acknowledged is stored exactly once (sessions completed
   with their outcome and offer, the last vote state per customer and item, one customer row
   per token), nothing answered with an error was committed, and the rollups equal a rebuild
   from the sessions.

Prints a table (req/s of Keepkit and of the no-op, ratio, p50/p99, errors, 5xx, integrity)
and writes it with every figure as JSON. Exits 1 on any 5xx, any request left without an
answer, or any integrity failure.

Settings (environment, or the options below): LOAD_USERS (50), LOAD_SECONDS (60),
LOAD_DATABASES (sqlite,postgresql), LOAD_SCENARIOS (flow,vote,board), LOAD_SEED (0: a fresh
database per run; N: a database kept between runs and topped up to N seeded sessions),
LOAD_PG_URL (postgresql://postgres@127.0.0.1:5432: the server where the database
``keepkit_load`` is created), LOAD_REDIS_URL (rate-limit storage for Keepkit; default
in-process memory), LOAD_OUTPUT (instance/load/load.json). gunicorn's worker settings come from
gunicorn.conf.py (KEEPKIT_WORKERS, KEEPKIT_THREADS, …).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import harness
from harness import ROOT, log

SCENARIO_NAMES = {
    "flow": "full cancel flow (start, answer, complete)",
    "vote": "vote then unvote",
    "board": "board read",
}


def options(argv=None):
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=int(env("LOAD_USERS", "50")))
    parser.add_argument("--seconds", type=float, default=float(env("LOAD_SECONDS", "60")))
    parser.add_argument("--databases", default=env("LOAD_DATABASES", "sqlite,postgresql"))
    parser.add_argument("--scenarios", default=env("LOAD_SCENARIOS", "flow,vote,board"))
    parser.add_argument("--seed", type=int, default=int(env("LOAD_SEED", "0")))
    parser.add_argument(
        "--pg-url", default=env("LOAD_PG_URL", "postgresql://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--redis-url", default=env("LOAD_REDIS_URL", ""))
    parser.add_argument(
        "--output", type=Path, default=Path(env("LOAD_OUTPUT", ROOT / "instance/load/load.json"))
    )
    args = parser.parse_args(argv)
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for name in args.databases:
        if name not in ("sqlite", "postgresql"):
            parser.error(f"unknown database {name!r} (sqlite, postgresql)")
    for name in args.scenarios:
        if name not in SCENARIO_NAMES:
            parser.error(f"unknown scenario {name!r} ({', '.join(SCENARIO_NAMES)})")
    if not 1 <= args.users <= 1000 or not 1 <= args.seconds <= 3600:
        parser.error("LOAD_USERS must be 1-1000 and LOAD_SECONDS 1-3600")
    if "127.0.0.1" not in args.pg_url and "localhost" not in args.pg_url:
        parser.error("LOAD_PG_URL must be a server on 127.0.0.1 (the load stays on loopback)")
    return args


def database_url(kind: str, args, work: Path) -> str:
    keep = args.seed > 0
    if kind == "sqlite":
        name = f"keepkit-load-{args.seed}.db" if keep else "keepkit-load.db"
        return harness.fresh_sqlite(work / name, keep=keep)
    # A fresh database is this run's own (two runs on one server never meet) and is dropped
    # at the end; a seeded one is kept for the next run.
    name = f"keepkit_load_{args.seed}" if keep else f"keepkit_load_{os.getpid()}"
    return harness.recreate_postgres(args.pg_url, name, keep=keep)


def run_scenario(kind, url, site, scenario, args, work: Path) -> dict:
    seconds, users = args.seconds, args.users
    with harness.start_noop(work / "gunicorn-noop.log", site) as noop:
        floor = harness.drive([scenario], noop.url, site, users, seconds, work / "noop.json")
    extra = {"KEEPKIT_REDIS_URL": args.redis_url or None}
    log_path = work / f"gunicorn-{kind}-{scenario}.log"
    with (
        harness.start_keepkit(url, log_path, site, **extra) as keepkit,
        harness.Worker(url, work / f"worker-{kind}-{scenario}.log", **extra),
    ):
        record = harness.drive([scenario], keepkit.url, site, users, seconds, work / "run.json")
    began = time.monotonic()
    integrity = harness.check(url, site, [record], rollups=scenario == "flow")
    checked_in = time.monotonic() - began
    kk, base = harness.summarize(record, seconds), harness.summarize(floor, seconds)
    return {
        "database": kind,
        "scenario": scenario,
        "keepkit": kk,
        "noop": base,
        "ratio": round(kk["rps"] / base["rps"], 3) if base["rps"] else None,
        "integrity": integrity.as_dict(),
        "integrity_label": integrity.label(),
        "check_seconds": round(checked_in, 1),
        "gunicorn_log": str(log_path),
    }


def versions(args) -> dict:
    import sqlalchemy as sa

    info = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "machine": f"{platform.system()} {platform.release()} ({platform.machine()})",
    }
    if "postgresql" in args.databases:
        from widget_server.config import normalize_database_url

        engine = sa.create_engine(normalize_database_url(f"{args.pg_url}/postgres"))
        with engine.connect() as conn:
            info["postgresql"] = conn.scalar(sa.text("SHOW server_version"))
        engine.dispose()
    return info


def fmt(value, digits=0):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def table(rows: list[dict]) -> str:
    header = (
        "| scenario | database | Keepkit req/s | no-op req/s | ratio | p50 / p99 (ms) "
        "| errors | 5xx | integrity |"
    )
    lines = [header, "|" + "---|" * 9]
    for row in rows:
        kk = row["keepkit"]
        lines.append(
            f"| {SCENARIO_NAMES[row['scenario']]} | {row['database']} | {fmt(kk['rps'])} "
            f"| {fmt(row['noop']['rps'])} | {fmt(row['ratio'], 3)} "
            f"| {fmt(kk['p50_ms'])} / {fmt(kk['p99_ms'])} | {kk['errors']} | {kk['5xx']} "
            f"| {row['integrity_label']} |"
        )
        if len(kk["steps"]) > 1:
            for name, step in sorted(kk["steps"].items()):
                lines.append(
                    f"| · {name} | | {fmt(step['rps'])} | | | {fmt(step['p50_ms'])} / "
                    f"{fmt(step['p99_ms'])} | {step['errors']} | {step['5xx']} | |"
                )
    return "\n".join(lines)


def main(argv=None) -> int:
    args = options(argv)
    work = args.output.parent
    work.mkdir(parents=True, exist_ok=True)
    settings = harness.gunicorn_settings()
    log(
        f"Load: {args.users} users, {args.seconds:g} s per run, scenarios "
        f"{', '.join(args.scenarios)}, databases {', '.join(args.databases)}, "
        f"gunicorn {settings['workers']} x {settings['worker_class']}"
        f" ({settings['threads']} thread(s)), seed {args.seed:,} sessions"
    )
    rows = []
    for kind in args.databases:
        url = database_url(kind, args, work)
        try:
            site = harness.prepare_site(url, args.seed)
            log(f"\n{kind}: site {site.key}, {site.sessions:,} sessions stored")
            for scenario in args.scenarios:
                row = run_scenario(kind, url, site, scenario, args, work)
                rows.append(row)
                kk = row["keepkit"]
                log(
                    f"  {scenario:5} Keepkit {fmt(kk['rps'])} req/s vs no-op "
                    f"{fmt(row['noop']['rps'])} (ratio {fmt(row['ratio'], 3)}), p50 "
                    f"{fmt(kk['p50_ms'])} ms, p99 {fmt(kk['p99_ms'])} ms, errors {kk['errors']} "
                    f"(5xx {kk['5xx']}, unanswered {kk['no_answer']}); {row['integrity_label']}"
                )
                for problem in row["integrity"]["problems"]:
                    log(f"    ! {problem}")
        finally:
            if kind == "postgresql" and not args.seed:
                harness.drop_postgres(args.pg_url, url.rsplit("/", 1)[1])
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "users": args.users,
        "seconds": args.seconds,
        "seed": args.seed,
        "gunicorn": settings,
        "rate_limit_storage": "redis" if args.redis_url else "memory",
        "machine": versions(args),
        "rows": rows,
    }
    args.output.write_text(json.dumps(report, indent=2))
    log("\n" + table(rows))
    log(f"\nJSON: {args.output}")
    failed = [
        f"{r['database']}/{r['scenario']}"
        for r in rows
        if r["keepkit"]["5xx"] or r["keepkit"]["no_answer"] or not r["integrity"]["ok"]
    ]
    if failed:
        log(f"FAILED (5xx, unanswered requests or integrity): {', '.join(failed)}")
        return 1
    log("OK: no 5xx, every request answered, every acknowledged write stored exactly once.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
