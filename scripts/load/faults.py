"""``make faults``: Keepkit under load while things break, on a PostgreSQL and a Redis of this
script's own (initdb into a temporary directory, free ports), so stopping them disturbs
nothing else on the machine.

Scenarios (each under locust load, with every acknowledged write recorded and checked after):

1. ``worker-kill``: a gunicorn worker killed with SIGKILL, twice, mid-load; no acknowledged
   write lost, the master starts a new worker (SQLite and PostgreSQL).
2. ``pg-restart``: PostgreSQL stopped (fast shutdown) mid-load and started again a few seconds
   later; requests during the outage get 503 ``database_unavailable`` quickly, the app
   recovers by itself (pool pre-ping) and no acknowledged write is lost (PostgreSQL).
3. ``redis-down``: with KEEPKIT_REDIS_URL set, Redis frozen (SIGSTOP: it accepts connections
   but never answers), then killed, then started again; the widget keeps working (no 5xx) and
   no completion is answered with an error after it was committed (SQLite and PostgreSQL).
4. ``worker-delivery``: ``keepkit worker`` killed with SIGKILL three times while it delivers
   voters' emails to an SMTP server (aiosmtpd, in this script), once right after the server
   stored a message and before it answered; the worker is started again each time. Nothing
   is lost; a message is sent twice only when the worker was killed between the SMTP
   server's acceptance and the worker recording it as sent (docs/deploy.md, "Delivery
   guarantees") (SQLite and PostgreSQL).

Prints the figures (requests during each fault, their statuses, the longest of them, recovery
time, lost and duplicated writes) as a Markdown table and writes them as JSON. Exits 1 when a
scenario fails its bar.

Settings: FAULTS_USERS (10), FAULTS_SECONDS (20: each load run), FAULTS_DATABASES
(sqlite,postgresql), FAULTS_SCENARIOS (worker-kill,pg-restart,redis-down,worker-delivery),
FAULTS_EMAILS (200), FAULTS_OUTPUT (instance/load/faults.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path

import harness
from harness import BIN, ROOT, log

SCENARIOS = ("worker-kill", "pg-restart", "redis-down", "worker-delivery")
# The bars: how long a request may take while the database is down, and how soon after it is
# back requests must succeed again.
MAX_OUTAGE_LATENCY_S = 10.0
MAX_RECOVERY_S = 15.0


# --- a PostgreSQL and a Redis of our own -------------------------------------------------------


def postgres_bin() -> Path:
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise SystemExit("PostgreSQL server binaries not found: apt-get install postgresql")
    return versions[-1].parent


class OwnPostgres:
    """A throwaway PostgreSQL cluster in a temporary directory, on a free port of 127.0.0.1.
    initdb refuses to run as root, so as root it runs as the ``postgres`` system user."""

    def __init__(self):
        self.bin = postgres_bin()
        self.port = harness.free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="keepkit-faults-pg-"))
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")  # fmt: skip
        self.start()

    def _run(self, tool: str, *args) -> None:
        command = [*self.as_user, str(self.bin / tool), *map(str, args)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # noqa: S603

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", self.data, "-l", self.log_path, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class OwnRedis:
    """redis-server on a free port of 127.0.0.1, nothing kept on disk."""

    def __init__(self):
        self.port = harness.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(  # noqa: S603 - Debian's redis-server
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        if not harness.wait_until(self.answers, 10):
            raise RuntimeError("redis-server did not start")

    def answers(self) -> bool:
        import redis

        client = redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def keys(self) -> int:
        import redis

        client = redis.from_url(self.url, socket_timeout=1)
        try:
            return client.dbsize()
        finally:
            client.close()

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)


# --- timelines -------------------------------------------------------------------------------


def during(record: dict, begin: float, end: float) -> list[list]:
    """The requests in progress at some moment of [begin, end]."""
    return [r for r in record["requests"] if r[0] < end and r[0] + r[1] / 1000 > begin]


def window(requests: list[list]) -> dict:
    statuses = Counter(
        f"{r[3]} {r[4]}" if r[4] else str(r[3]) if r[3] else "no answer" for r in requests
    )
    return {
        "requests": len(requests),
        "statuses": dict(sorted(statuses.items())),
        "max_latency_ms": round(max((r[1] for r in requests), default=0), 1),
    }


def recovery(record: dict, back: float) -> dict:
    """After ``back`` (the service answers again): when the first request succeeded, and when
    the last one failed."""
    after = [r for r in record["requests"] if r[0] >= back]
    ok = [r for r in after if 200 <= r[3] < 300]
    failed = [r for r in after if not 200 <= r[3] < 300]
    first_ok = min((r[0] + r[1] / 1000 for r in ok), default=None)
    last_failed = max((r[0] + r[1] / 1000 for r in failed), default=None)
    return {
        "first_success_s": None if first_ok is None else round(first_ok - back, 2),
        "last_failure_s": None if last_failed is None else round(last_failed - back, 2),
        "failures_after": len(failed),
    }


def five_xx(record: dict, allowed: tuple = ()) -> Counter:
    return Counter(
        f"{r[3]} {r[4] or ''}".strip()
        for r in record["requests"]
        if 500 <= r[3] < 600 and (r[3], r[4]) not in allowed
    )


# --- scenarios -------------------------------------------------------------------------------


class Faults:
    def __init__(self, args, work: Path):
        self.args = args
        self.work = work
        self.results: list[dict] = []
        self.failures: list[str] = []

    def fail(self, scenario: str, database: str, why: str) -> None:
        self.failures.append(f"{scenario} on {database}: {why}")
        log(f"    FAILED: {why}")

    def load(self, host: str, site, users=None, scenarios=("flow", "vote")) -> harness.Client:
        return harness.Client(
            list(scenarios),
            host,
            site,
            users or self.args.users,
            self.args.seconds,
            self.work / f"faults-{uuid.uuid4().hex[:6]}.json",
        ).start()

    def integrity(self, name, kind, url, site, record) -> harness.Check:
        result = harness.check(url, site, [record])
        log(f"    integrity: {result.label()}")
        for problem in result.problems:
            log(f"      ! {problem}")
        if not result.ok:
            self.fail(name, kind, result.label())
        return result

    # 1 ---------------------------------------------------------------------------------------

    def worker_kill(self, kind: str, url: str, site) -> dict:
        log(f"  worker-kill ({kind}): SIGKILL to a gunicorn worker, twice, mid-load")
        seconds = self.args.seconds
        with harness.start_keepkit(url, self.work / f"gunicorn-kill-{kind}.log", site) as server:
            workers = server.worker_pids()
            client = self.load(server.url, site)
            kills = []
            for share in (0.35, 0.65):
                time.sleep(max(0.0, client_started(client) + seconds * share - time.time()))
                victim = server.worker_pids()[0]
                os.kill(victim, signal.SIGKILL)
                kills.append({"at": time.time(), "pid": victim})
            record = client.result()
            respawned = harness.wait_until(lambda: len(server.worker_pids()) == len(workers), 30)
        summary = harness.summarize(record, seconds)
        cut = [during(record, k["at"] - 0.01, k["at"] + 0.01) for k in kills]
        result = {
            "scenario": "worker-kill",
            "database": kind,
            "workers": len(workers),
            "kills": len(kills),
            "requests": summary["requests"],
            "statuses": summary["statuses"],
            "in_flight_at_kills": [window(c) for c in cut],
            "respawned": respawned,
        }
        log(
            f"    {summary['requests']} requests, statuses {summary['statuses']}; in flight at "
            f"the kills: {[w['requests'] for w in result['in_flight_at_kills']]}; "
            f"workers back: {respawned}"
        )
        if not respawned:
            self.fail("worker-kill", kind, "gunicorn did not replace the killed workers")
        if summary["5xx"]:
            self.fail("worker-kill", kind, f"{summary['5xx']} responses were 5xx")
        result["integrity"] = self.integrity("worker-kill", kind, url, site, record).as_dict()
        return result

    # 2 ---------------------------------------------------------------------------------------

    def pg_restart(self, kind: str, url: str, site, pg: OwnPostgres) -> dict:
        log("  pg-restart (postgresql): fast shutdown mid-load, started again 3 s later")
        seconds = self.args.seconds
        with harness.start_keepkit(url, self.work / "gunicorn-pg-restart.log", site) as server:
            client = self.load(server.url, site)
            time.sleep(max(0.0, client_started(client) + seconds * 0.3 - time.time()))
            down = time.time()
            pg.stop("fast")
            stopped = time.time()
            time.sleep(3)
            pg.start()
            back = time.time()
            record = client.result()
        outage = window(during(record, down, back))
        after = recovery(record, back)
        unexpected = five_xx(record, allowed=((503, "database_unavailable"),))
        result = {
            "scenario": "pg-restart",
            "database": kind,
            "outage_s": round(back - down, 2),
            "shutdown_s": round(stopped - down, 2),
            "during_outage": outage,
            "recovery": after,
            "other_5xx": dict(unexpected),
            "statuses": harness.summarize(record, seconds)["statuses"],
        }
        log(
            f"    outage {result['outage_s']} s: {outage['requests']} requests, statuses "
            f"{outage['statuses']}, longest {outage['max_latency_ms']:.0f} ms; after the "
            f"restart: first success {after['first_success_s']} s, last failure "
            f"{after['last_failure_s']} s ({after['failures_after']} failures)"
        )
        if unexpected:
            self.fail("pg-restart", kind, f"other 5xx than 503 database_unavailable: {unexpected}")
        if outage["max_latency_ms"] > MAX_OUTAGE_LATENCY_S * 1000:
            self.fail("pg-restart", kind, f"a request took {outage['max_latency_ms']:.0f} ms")
        if after["first_success_s"] is None or after["first_success_s"] > MAX_RECOVERY_S:
            self.fail("pg-restart", kind, "no successful request soon after the restart")
        if (after["last_failure_s"] or 0) > MAX_RECOVERY_S:
            self.fail("pg-restart", kind, "requests still failed long after the restart")
        if not any(s.startswith("503") for s in outage["statuses"]):
            self.fail("pg-restart", kind, "no request was answered 503 during the outage")
        result["integrity"] = self.integrity("pg-restart", kind, url, site, record).as_dict()
        return result

    # 3 ---------------------------------------------------------------------------------------

    def redis_down(self, kind: str, url: str, site) -> dict:
        log(f"  redis-down ({kind}): Redis frozen 3 s, then killed, started again 5 s later")
        seconds = self.args.seconds
        redis = OwnRedis()
        try:
            log_path = self.work / f"gunicorn-redis-{kind}.log"
            with harness.start_keepkit(url, log_path, site, KEEPKIT_REDIS_URL=redis.url) as server:
                client = self.load(server.url, site, scenarios=("flow", "vote", "board"))
                began = client_started(client)
                time.sleep(max(0.0, began + seconds * 0.2 - time.time()))
                keys_before = redis.keys()
                frozen = time.time()
                redis.freeze()
                time.sleep(3)
                redis.thaw()
                thawed = time.time()
                time.sleep(max(0.0, began + seconds * 0.45 - time.time()))
                killed = time.time()
                redis.kill()
                time.sleep(5)
                redis.start()
                restarted = time.time()
                record = client.result()
            logged = "Rate limit storage" in log_path.read_text(errors="replace")
        finally:
            redis.close()
        summary = harness.summarize(record, seconds)
        result = {
            "scenario": "redis-down",
            "database": kind,
            "limiter_keys_in_redis_before": keys_before,
            "frozen": window(during(record, frozen, thawed)),
            "down": window(during(record, killed, restarted)),
            "after_restart": recovery(record, restarted),
            "statuses": summary["statuses"],
            "outage_logged": logged,
        }
        log(
            f"    frozen 3 s: {result['frozen']['requests']} requests "
            f"{result['frozen']['statuses']}, longest {result['frozen']['max_latency_ms']:.0f} "
            f"ms; down {restarted - killed:.1f} s: {result['down']['requests']} requests "
            f"{result['down']['statuses']}, longest {result['down']['max_latency_ms']:.0f} ms; "
            f"all: {summary['statuses']}"
        )
        if not keys_before:
            self.fail("redis-down", kind, "the limiter wrote nothing to Redis before the fault")
        if summary["5xx"]:
            self.fail("redis-down", kind, f"{summary['5xx']} responses were 5xx")
        if summary["errors"]:
            self.fail("redis-down", kind, f"{summary['errors']} requests failed")
        result["integrity"] = self.integrity("redis-down", kind, url, site, record).as_dict()
        return result

    # 4 ---------------------------------------------------------------------------------------

    def worker_delivery(self, kind: str, url: str, site) -> dict:
        emails = self.args.emails
        log(f"  worker-delivery ({kind}): {emails} emails, keepkit worker killed 3 times")
        queued = queue_emails(url, site, emails)
        sink = SmtpSink()
        env = harness.keepkit_env(
            url,
            KEEPKIT_SMTP_HOST="127.0.0.1",
            KEEPKIT_SMTP_PORT=sink.port,
            KEEPKIT_OUTBOX_LEASE_SECONDS=4,
            KEEPKIT_RETRY_BASE_SECONDS=1,
        )
        worker = Worker(env, self.work / f"worker-{kind}.log")
        kills: list[dict] = []

        def kill(where: str) -> None:
            last = sink.ids[-1] if sink.ids else None
            worker.kill()
            kills.append({"at": time.time(), "where": where, "last_received": last})

        def in_the_window(count: int) -> None:
            # The first kill lands in the SMTP window: the server has stored the message and
            # not yet answered, so the worker never learns that it was accepted.
            if count == emails // 4:
                kill("after DATA, before 250")

        sink.on_data = in_the_window
        began = time.time()
        try:
            with harness.start_keepkit(
                url, self.work / f"gunicorn-delivery-{kind}.log", site
            ) as server:
                client = self.load(server.url, site)
                worker.start()
                for share in (0.25, 0.5, 0.75):
                    if share > 0.25:
                        harness.wait_until(lambda s=share: len(sink.ids) >= emails * s, 120, 0.005)
                        kill("at random")
                    else:
                        harness.wait_until(lambda: len(kills) == 1, 120, 0.01)
                    time.sleep(0.2)
                    worker.start()
                drained = harness.wait_until(lambda: outbox_sent(url, queued), 120, 0.5)
                took = time.time() - began
                record = client.result()
        finally:
            worker.stop()
            sink.stop()
        received = Counter(sink.ids)
        expected = {f"<outbox-{i}@localhost>" for i in queued}
        lost = sorted(expected - set(received))
        duplicated = {mid: n - 1 for mid, n in received.items() if n > 1}
        in_window = {k["last_received"] for k in kills}
        unexplained = sorted(set(duplicated) - in_window)
        result = {
            "scenario": "worker-delivery",
            "database": kind,
            "emails": len(expected),
            "received": sum(received.values()),
            "kills": kills,
            "lost": len(lost),
            "duplicated": sum(duplicated.values()),
            "duplicates_outside_smtp_window": len(unexplained),
            "all_sent_in_outbox": drained,
            "seconds": round(took, 1),
        }
        log(
            f"    {len(expected)} queued, {result['received']} received, {len(lost)} lost, "
            f"{result['duplicated']} duplicated ({len(unexplained)} outside the SMTP window), "
            f"outbox all sent: {drained}, {took:.1f} s"
        )
        if lost:
            self.fail("worker-delivery", kind, f"{len(lost)} emails never arrived: {lost[:5]}")
        if unexplained or result["duplicated"] > len(kills):
            self.fail("worker-delivery", kind, f"duplicates outside the SMTP window: {unexplained}")
        if not drained:
            self.fail("worker-delivery", kind, "the outbox was not delivered completely")
        result["integrity"] = self.integrity("worker-delivery", kind, url, site, record).as_dict()
        return result


def client_started(client: harness.Client) -> float:
    """When locust started sending (it takes a moment to start): the first time a request
    reached the server is not known here, so allow two seconds after launch."""
    return client.launched + 2.0


# --- delivery helpers ------------------------------------------------------------------------


def queue_emails(url: str, site, count: int) -> list[int]:
    """``count`` customers vote for a new item, which then moves to "in progress": one email
    each is queued. Returns the outbox ids."""
    import sqlalchemy as sa

    from widget_server.extensions import db
    from widget_server.models import OutboxMessage
    from widget_server.services import roadmap, sites
    from widget_server.services.customers import upsert_customer
    from widget_server.services.tokens import CustomerClaims

    tag = uuid.uuid4().hex[:8]
    with harness.keepkit_app(url):
        row = sites.get_site(site.key)
        item = roadmap.create_item(row, title=f"Delivery drill {tag}", status="planned")
        for number in range(count):
            claims = CustomerClaims(
                sub=f"delivery-{tag}-{number}",
                currency="USD",
                email=f"voter{number}.{tag}@example.com",
                name=f"Voter {number}",
            )
            roadmap.vote(row, item, upsert_customer(row, claims))
        roadmap.change_status(row, item, "in_progress")
        db.session.commit()
        return list(
            db.session.scalars(
                sa.select(OutboxMessage.id).where(
                    OutboxMessage.dedupe_key.startswith(f"email:{item.id}:in_progress:")
                )
            )
        )


def outbox_sent(url: str, ids: list[int]) -> bool:
    import sqlalchemy as sa

    from widget_server.models import OutboxMessage

    engine = sa.create_engine(_sa_url(url))
    try:
        with engine.connect() as conn:
            pending = conn.scalar(
                sa.select(sa.func.count()).where(
                    OutboxMessage.id.in_(ids), OutboxMessage.state != "sent"
                )
            )
    finally:
        engine.dispose()
    return pending == 0


def _sa_url(url: str) -> str:
    from widget_server.config import normalize_database_url

    return normalize_database_url(url)


class SmtpSink:
    """An SMTP server (aiosmtpd) that keeps the Message-ID of everything it accepts; each DATA
    takes a few milliseconds, like a real server's, so a kill can land mid-delivery."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.ids: list[str] = []
        self.on_data = lambda count: None
        self.port = harness.free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.ids.append(message_from_bytes(envelope.content)["Message-ID"])
        self.on_data(len(self.ids))
        await asyncio.sleep(0.01)
        return "250 Message accepted"

    def stop(self) -> None:
        self.controller.stop()


class Worker:
    """``keepkit worker`` as a process of its own."""

    def __init__(self, env: dict, log_path: Path):
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.lock, open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(  # noqa: S603 - our own CLI
                [str(BIN / "keepkit"), "worker", "--poll", "0.2"],
                cwd=ROOT,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        with self.lock:
            if self.process and self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)

    def stop(self) -> None:
        with self.lock:
            if self.process:
                harness.stop_process(self.process, 10)


# --- main ------------------------------------------------------------------------------------


def options(argv=None):
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=int(env("FAULTS_USERS", "10")))
    parser.add_argument("--seconds", type=float, default=float(env("FAULTS_SECONDS", "20")))
    parser.add_argument("--databases", default=env("FAULTS_DATABASES", "sqlite,postgresql"))
    parser.add_argument("--scenarios", default=env("FAULTS_SCENARIOS", ",".join(SCENARIOS)))
    parser.add_argument("--emails", type=int, default=int(env("FAULTS_EMAILS", "200")))
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(env("FAULTS_OUTPUT", ROOT / "instance/load/faults.json")),
    )
    args = parser.parse_args(argv)
    args.databases = [d for d in args.databases.split(",") if d]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    for name in args.scenarios:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r} ({', '.join(SCENARIOS)})")
    if args.seconds < 12:
        parser.error("FAULTS_SECONDS must be at least 12 (the faults need room)")
    if args.emails < 20:
        parser.error("FAULTS_EMAILS must be at least 20")
    return args


def markdown(results: list[dict]) -> str:
    lines = [
        "| fault | database | requests during the fault (statuses) | longest | recovery "
        "| lost / duplicated writes |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        integrity = r.get("integrity", {})
        writes = f"{integrity.get('lost', '-')} / {integrity.get('duplicated', '-')}"
        if r["scenario"] == "worker-kill":
            cut = r["in_flight_at_kills"]
            statuses = ", ".join(f"{w['requests']} in flight: {w['statuses']}" for w in cut)
            lines.append(
                f"| gunicorn worker SIGKILL x{r['kills']} ({r['workers']} workers) "
                f"| {r['database']} | {statuses} | - | workers replaced: {r['respawned']} "
                f"| {writes} ({integrity.get('acknowledged')} acked) |"
            )
        elif r["scenario"] == "pg-restart":
            o, rec = r["during_outage"], r["recovery"]
            lines.append(
                f"| PostgreSQL restarted ({r['outage_s']} s down) | {r['database']} "
                f"| {o['requests']}: {o['statuses']} | {o['max_latency_ms']:.0f} ms "
                f"| first success {rec['first_success_s']} s after it was back, last failure "
                f"{rec['last_failure_s']} s | {writes} ({integrity.get('acknowledged')} acked) |"
            )
        elif r["scenario"] == "redis-down":
            f, d = r["frozen"], r["down"]
            lines.append(
                f"| Redis frozen 3 s, then down 5 s | {r['database']} | frozen {f['requests']}: "
                f"{f['statuses']}; down {d['requests']}: {d['statuses']} "
                f"| {f['max_latency_ms']:.0f} / {d['max_latency_ms']:.0f} ms | no outage seen "
                f"by clients | {writes}, {integrity.get('error_after_commit')} answered with "
                f"an error after commit |"
            )
        else:
            lines.append(
                f"| keepkit worker SIGKILL x{len(r['kills'])} mid-delivery | {r['database']} "
                f"| {r['emails']} emails: {r['received']} received | - | all delivered in "
                f"{r['seconds']} s: {r['all_sent_in_outbox']} | emails {r['lost']} lost / "
                f"{r['duplicated']} duplicated ({r['duplicates_outside_smtp_window']} outside "
                f"the SMTP window); web writes {writes} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    args = options(argv)
    work = args.output.parent
    work.mkdir(parents=True, exist_ok=True)
    faults = Faults(args, work)
    pg = OwnPostgres() if "postgresql" in args.databases else None
    log(
        f"Faults: {args.users} users, {args.seconds:g} s per run; own PostgreSQL on port "
        f"{pg.port if pg else '-'}"
    )
    try:
        for kind in args.databases:
            if kind == "sqlite":
                url = harness.fresh_sqlite(work / "keepkit-faults.db")
            else:
                url = harness.recreate_postgres(pg.url().rsplit("/", 1)[0], "keepkit")
            site = harness.prepare_site(url)
            log(f"\n{kind}: site {site.key}")
            for scenario in args.scenarios:
                if scenario == "worker-kill":
                    faults.results.append(faults.worker_kill(kind, url, site))
                elif scenario == "pg-restart" and kind == "postgresql":
                    faults.results.append(faults.pg_restart(kind, url, site, pg))
                elif scenario == "redis-down":
                    faults.results.append(faults.redis_down(kind, url, site))
                elif scenario == "worker-delivery":
                    faults.results.append(faults.worker_delivery(kind, url, site))
    finally:
        if pg:
            pg.close()
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "users": args.users,
        "seconds": args.seconds,
        "gunicorn": harness.gunicorn_settings(),
        "results": faults.results,
        "failures": faults.failures,
    }
    args.output.write_text(json.dumps(report, indent=2))
    log("\n" + markdown(faults.results))
    log(f"\nJSON: {args.output}")
    if faults.failures:
        log("FAILED:\n  " + "\n  ".join(faults.failures))
        return 1
    log("OK: every fault was survived without a lost write or an unexpected 5xx.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
