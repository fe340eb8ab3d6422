"""What ``make load`` and ``make faults`` share: databases, gunicorn, the locust client, and the
checks that every acknowledged write is stored exactly once and the rollups are right.

Everything listens on 127.0.0.1 only, on free ports; every process started here is stopped
here (by its own pid).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ORIGIN = "https://app.example.com"
# High enough that the load measures the work, not the limiter's refusals (which it still
# counts, in memory per process or in KEEPKIT_REDIS_URL).
LOAD_RATE_LIMIT = "10000000 per minute"
USER_CLASSES = {"flow": "FlowUser", "vote": "VoteUser", "board": "BoardUser"}


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str, timeout: float = 2.0) -> int:
    """The status of a GET (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return 0


def wait_until(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def stop_process(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``timeout``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


# --- databases -------------------------------------------------------------------------------


def postgres_url(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"


def recreate_postgres(base: str, name: str, *, keep: bool = False) -> str:
    """A database ``name`` on the server at ``base`` (dropped first unless ``keep``)."""
    import sqlalchemy as sa

    from widget_server.config import normalize_database_url

    admin = sa.create_engine(normalize_database_url(postgres_url(base, "postgres")))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists and not keep:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        if not exists or not keep:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return postgres_url(base, name)


def drop_postgres(base: str, name: str) -> None:
    import sqlalchemy as sa

    from widget_server.config import normalize_database_url

    admin = sa.create_engine(normalize_database_url(postgres_url(base, "postgres")))
    with admin.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def fresh_sqlite(path: Path, *, keep: bool = False) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


@contextlib.contextmanager
def keepkit_app(url: str):
    """An app on ``url`` for setting up and checking (development settings: seeding is allowed).
    Its connections are closed on the way out, so nothing here holds the database."""
    from widget_server import create_app
    from widget_server.extensions import db

    app = create_app({"ENV": "development", "SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            yield app
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()


@dataclass
class Site:
    key: str
    secret: str
    items: list[int]
    sessions: int = 0


def prepare_site(url: str, seed: int = 0, name: str = "Load") -> Site:
    """Migrate the database to head, create the site (allowed origin ``ORIGIN``) with its
    roadmap items once, and top it up to ``seed`` seeded sessions (``keepkit seed``)."""
    import sqlalchemy as sa

    from widget_server.extensions import db
    from widget_server.models import CancellationSession, RoadmapItem
    from widget_server.models import Site as SiteRow
    from widget_server.services import seed as seeding
    from widget_server.services import sites

    upgraded = subprocess.run(  # noqa: S603 - our own CLI, as an operator runs it
        [str(BIN / "keepkit"), "db", "upgrade"],
        env={**os.environ, "KEEPKIT_ENV": "development", "KEEPKIT_DATABASE_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if upgraded.returncode:
        raise RuntimeError(f"keepkit db upgrade failed:\n{upgraded.stderr}")
    with keepkit_app(url):
        site = db.session.scalar(sa.select(SiteRow).where(SiteRow.name == name))
        if site is None:
            site, _ = sites.create_site(name, [ORIGIN])
            seeding.seed_roadmap(site, voters=0)
            db.session.commit()
        if seed:
            began = time.monotonic()

            def progress(done, todo):
                db.session.commit()
                print(f"\r  seeding {done:,}/{todo:,} sessions", end="", flush=True)

            added = seeding.seed_sessions(site, seed, progress=progress)
            db.session.commit()
            if added:
                seeding.analyze()
                db.session.commit()
                log(f"\n  seeded {added:,} sessions in {time.monotonic() - began:.0f} s")
        items = db.session.scalars(
            sa.select(RoadmapItem.id).where(
                RoadmapItem.site_id == site.id,
                RoadmapItem.public.is_(True),
                RoadmapItem.status.in_(("under_consideration", "planned", "in_progress")),
            )
        ).all()
        count = db.session.scalar(
            sa.select(sa.func.count()).where(CancellationSession.site_id == site.id)
        )
        return Site(site.key, site.secret_primary, list(items), count)


# --- gunicorn --------------------------------------------------------------------------------


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py <app>`` on a free port of 127.0.0.1."""

    def __init__(self, app: str, env: dict, log_path: Path, *, pythonpath: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        command = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
        if pythonpath:
            command += ["--pythonpath", str(pythonpath)]
        environ = {**os.environ, **env, "KEEPKIT_BIND": f"127.0.0.1:{self.port}"}
        self.log_file = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - our own gunicorn
            [*command, app],
            cwd=ROOT,
            env=environ,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Until every worker answers ``/healthz`` (the master answers once one is up; a few
        more tries catch the others)."""
        if not wait_until(lambda: http_status(f"{self.url}/healthz") == 200, timeout, 0.2):
            self.stop()
            raise RuntimeError(f"gunicorn did not start; see {self.log_path}")
        for _ in range(20):
            http_status(f"{self.url}/healthz")

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the master)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def stop(self) -> None:
        stop_process(self.process)
        self.log_file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def keepkit_env(url: str, **extra) -> dict:
    """The environment of Keepkit under load: production settings, a random secret key."""
    env = {
        "KEEPKIT_ENV": "production",
        "KEEPKIT_SECRET_KEY": secrets.token_urlsafe(48),
        "KEEPKIT_DATABASE_URL": url,
        "KEEPKIT_PUBLIC_URL": "http://127.0.0.1",
        "KEEPKIT_WIDGET_RATE_LIMIT": LOAD_RATE_LIMIT,
        "KEEPKIT_LOG_LEVEL": "warning",
    }
    env.update(extra)
    return {k: str(v) for k, v in env.items() if v is not None}


def start_keepkit(url: str, log_path: Path, site: Site | None = None, **extra) -> Gunicorn:
    server = Gunicorn("wsgi:app", keepkit_env(url, **extra), log_path)
    server.wait_ready()
    if site is not None:
        warm_up(server, site)
    return server


class Worker:
    """``keepkit worker`` beside gunicorn, as in production: it folds queued completions into
    the rollups (and would deliver mail and webhooks) while the load runs."""

    def __init__(self, url: str, log_path: Path, **extra):
        env = {**os.environ, **keepkit_env(url, **extra)}
        self.log = log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own worker
            [str(BIN / "keepkit"), "worker", "--poll", "1"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        stop_process(self.process)
        self.log.close()


def start_noop(log_path: Path, site: Site | None = None) -> Gunicorn:
    server = Gunicorn("noop:app", {"KEEPKIT_LOG_LEVEL": "warning"}, log_path, pythonpath=HERE)
    server.wait_ready()
    if site is not None:
        warm_up(server, site)
    return server


def widget_post(base: str, site: Site, path: str, body: dict, timeout: float = 30.0):
    """POST to the widget API as the browser does; returns (status, JSON or None)."""
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/api/v1/widget/{site.key}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "text/plain", "Origin": ORIGIN},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


def token(site: Site, sub: str, **claims) -> str:
    import jwt

    now = int(time.time())
    payload = {"sub": sub, "exp": now + 3600, "iat": now, "plan": "Growth", "mrr": 9900}
    return jwt.encode({**payload, **claims}, site.secret, algorithm="HS256")


def warm_up(server: Gunicorn, site: Site, rounds: int = 40) -> None:
    """A few requests of each kind before measuring, so every worker has loaded its code and
    opened its database connection (customers ``warmup-…``, never completed: not counted)."""
    for number in range(rounds):
        sub = f"warmup-{uuid.uuid4().hex[:12]}"
        widget_post(server.url, site, "/roadmap", {"token": None})
        widget_post(server.url, site, "/sessions", {"token": token(site, sub)})
        if number == 0:
            widget_post(server.url, site, "/roadmap", {"token": token(site, sub)})


def gunicorn_settings() -> dict:
    """The worker settings gunicorn.conf.py picks from this environment."""
    namespace: dict = {"__file__": str(ROOT / "gunicorn.conf.py")}
    exec((ROOT / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102 - our own config
    return {
        "workers": namespace["workers"],
        "threads": namespace["threads"],
        "worker_class": namespace.get("worker_class")
        or ("gthread" if namespace["threads"] > 1 else "sync"),
    }


# --- the client ------------------------------------------------------------------------------


@dataclass
class Client:
    """One locust run in the background (headless); ``result()`` waits and reads its record."""

    scenarios: list[str]
    host: str
    site: Site
    users: int
    seconds: float
    record_path: Path
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    process: subprocess.Popen | None = None
    launched: float = 0.0

    def start(self) -> Client:
        env = {
            **os.environ,
            "LOAD_SITE_KEY": self.site.key,
            "LOAD_SITE_SECRET": self.site.secret,
            "LOAD_ORIGIN": ORIGIN,
            "LOAD_ITEMS": ",".join(map(str, self.site.items)),
            "LOAD_RUN": self.run,
            "LOAD_RECORD": str(self.record_path),
        }
        command = [
            str(BIN / "locust"),
            "-f", str(HERE / "locustfile.py"),
            "--headless", "--only-summary", "--skip-log-setup",
            "--users", str(self.users), "--spawn-rate", str(self.users),
            "--run-time", f"{max(1, round(self.seconds))}s",
            "--stop-timeout", "15",
            "--exit-code-on-error", "0",
            "--host", self.host,
            *(USER_CLASSES[s] for s in self.scenarios),
        ]  # fmt: skip
        self.record_path.unlink(missing_ok=True)
        self.launched = time.time()
        self.process = subprocess.Popen(  # noqa: S603 - our own locust
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        return self

    def result(self) -> dict:
        _, stderr = self.process.communicate(timeout=self.seconds + 120)
        if self.process.returncode != 0 or not self.record_path.exists():
            raise RuntimeError(f"locust failed ({self.process.returncode}): {stderr.decode()}")
        return json.loads(self.record_path.read_text())


def drive(scenarios, host, site, users, seconds, record_path) -> dict:
    return Client(scenarios, host, site, users, seconds, record_path).start().result()


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def summarize(record: dict, seconds: float) -> dict:
    """Throughput over the run's window, latencies, errors by kind, per request name too."""
    requests = record["requests"]
    began = record["started"] or (min(r[0] for r in requests) if requests else 0)
    window_end = began + seconds

    def stats(rows):
        durations = [r[1] for r in rows]
        done = [r for r in rows if r[0] + r[1] / 1000 <= window_end]
        statuses = Counter(r[3] for r in rows)
        return {
            "requests": len(rows),
            "rps": round(len(done) / seconds, 1) if seconds else None,
            "p50_ms": _round(percentile(durations, 0.50)),
            "p99_ms": _round(percentile(durations, 0.99)),
            "max_ms": _round(max(durations) if durations else None),
            "errors": sum(n for s, n in statuses.items() if not 200 <= s < 300),
            "5xx": sum(n for s, n in statuses.items() if 500 <= s < 600),
            "no_answer": statuses.get(0, 0),
            "statuses": {str(s): n for s, n in sorted(statuses.items())},
        }

    by_name = defaultdict(list)
    for row in requests:
        by_name[row[2]].append(row)
    return {**stats(requests), "steps": {name: stats(rows) for name, rows in by_name.items()}}


def _round(value):
    return None if value is None else round(value, 1)


# --- checks ----------------------------------------------------------------------------------


@dataclass
class Check:
    """What the checks found. ``problems`` lists the first few as sentences."""

    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    uncertain: int = 0  # sent, never answered: either state is right
    error_after_commit: int = 0  # answered with an error, yet committed
    rollups: str = "not checked"
    # Completions the worker had not yet counted in the rollups when the load stopped.
    pending_at_end: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.duplicated or self.error_after_commit or self.rollups == "differ"
        )

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "acknowledged": self.acknowledged,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "uncertain": self.uncertain,
            "error_after_commit": self.error_after_commit,
            "rollups": self.rollups,
            "pending_at_end": self.pending_at_end,
            "problems": self.problems,
        }

    def label(self) -> str:
        if self.ok:
            rollups = "" if self.rollups == "not checked" else f", rollups {self.rollups}"
            return f"ok ({self.acknowledged} acked writes{rollups})"
        return (
            f"FAILED: {self.lost} lost, {self.duplicated} duplicated, "
            f"{self.error_after_commit} errors after commit, rollups {self.rollups}"
        )


def answered(status) -> bool:
    return status is not None and status != 0


def acked(status) -> bool:
    return status is not None and 200 <= status < 300


def check(url: str, site: Site, records: list[dict], *, rollups: bool = True) -> Check:
    """Every acknowledged write of ``records`` (locust records of one or more runs) is in the
    database exactly once, nothing answered with an error was committed, and (``rollups``)
    the rollups equal a rebuild from the sessions."""
    import sqlalchemy as sa

    from widget_server.extensions import db
    from widget_server.models import CancellationSession, Customer, Offer, Vote
    from widget_server.models import Site as SiteRow

    result = Check()
    flows = [f for r in records for f in r["flows"]]
    votes = [v for r in records for v in r["votes"]]
    readers = [s for r in records for s in r["readers"]]
    prefixes = sorted({f"load-{r['run']}-" for r in records})
    with keepkit_app(url):
        row = db.session.scalar(sa.select(SiteRow).where(SiteRow.key == site.key))
        mine = sa.or_(*(Customer.external_id.startswith(p) for p in prefixes))
        stored = defaultdict(list)
        for sub, public_id, outcome, offer in db.session.execute(
            sa.select(
                Customer.external_id,
                CancellationSession.public_id,
                CancellationSession.outcome,
                Offer.key,
            )
            .join(Customer, Customer.id == CancellationSession.customer_id)
            .outerjoin(Offer, Offer.id == CancellationSession.offer_id)
            .where(CancellationSession.site_id == row.id, mine)
        ):
            stored[sub].append((public_id, outcome, offer))
        _check_flows(result, flows, stored)
        _check_votes(result, votes, db, mine, Customer, Vote)
        _check_customers(result, readers, db, row, Customer)
        if rollups:
            result.rollups = _check_rollups(row, result)
        db.session.rollback()
    return result


def _check_flows(result: Check, flows: list[dict], stored: dict) -> None:
    for flow in flows:
        rows = stored.get(flow["sub"], [])
        if len(rows) > 1:
            result.duplicated += len(rows) - 1
            result.problem(f"{flow['sub']}: {len(rows)} sessions for one start")
        start = flow.get("start")
        if acked(start):
            result.acknowledged += 1
        if not rows:
            if acked(start):
                result.lost += 1
                result.problem(f"session {flow['session']}: started (acknowledged), not stored")
            continue
        if not answered(start):
            result.uncertain += 1
        elif not acked(start):
            result.error_after_commit += 1
            result.problem(f"session {flow['session']}: start answered HTTP {start}, yet stored")
        public_id, outcome, offer = rows[0]
        if public_id != flow["session"]:
            result.lost += 1
            result.problem(f"{flow['sub']}: stored session {public_id}, sent {flow['session']}")
        if "complete" not in flow:
            continue
        complete = flow["complete"]
        if acked(complete):
            result.acknowledged += 1
            if (outcome, offer) != (flow["outcome"], flow["offer"]):
                result.lost += 1
                result.problem(
                    f"session {flow['session']}: completed as {flow['outcome']}/{flow['offer']} "
                    f"(acknowledged), stored {outcome}/{offer}"
                )
        elif not answered(complete):
            result.uncertain += 1
        elif outcome is not None:
            result.error_after_commit += 1
            result.problem(
                f"session {flow['session']}: completion answered HTTP {complete}, yet stored "
                f"as {outcome}"
            )


def _check_votes(result: Check, votes: list[dict], db, mine, Customer, Vote) -> None:
    """Per customer and item, the state after the requests in the order they were sent: an
    acknowledged one sets it (as answered), one without an answer makes it unknown, one
    answered with an error leaves it as it was. The stored votes must match."""
    import sqlalchemy as sa

    expected: dict[tuple, bool | None] = {}
    refused_last: dict[tuple, int | None] = {}
    for vote in votes:  # each customer's requests, in the order they were sent
        pair = (vote["sub"], vote["item"])
        state = expected.get(pair, False)  # a new customer has no votes
        if acked(vote["status"]):
            result.acknowledged += 1
            state, refused_last[pair] = bool(vote.get("voted")), None
        elif not answered(vote["status"]):
            state = None
        else:
            refused_last[pair] = vote["status"]
        expected[pair] = state
    stored = Counter(
        (sub, item)
        for sub, item in db.session.execute(
            sa.select(Customer.external_id, Vote.item_id)
            .join(Customer, Customer.id == Vote.customer_id)
            .where(mine)
        )
    )
    for pair, count in stored.items():
        if count > 1:
            result.duplicated += count - 1
            result.problem(f"{pair}: {count} votes")
    for pair, state in expected.items():
        if state is None:
            result.uncertain += 1
            continue
        if (stored.get(pair, 0) > 0) == state:
            continue
        if refused_last.get(pair):
            result.error_after_commit += 1
            result.problem(f"{pair}: answered HTTP {refused_last[pair]}, yet changed")
        else:
            result.lost += 1
            result.problem(
                f"{pair}: last acknowledged state voted={state}, stored {stored.get(pair, 0)}"
            )


def _check_customers(result: Check, readers: list[dict], db, site_row, Customer) -> None:
    """A signed-in reader whose board read was answered is one customer row (the token's
    profile is stored as the board is read)."""
    import sqlalchemy as sa

    if not readers:
        return
    counts = Counter(
        db.session.scalars(
            sa.select(Customer.external_id).where(
                Customer.site_id == site_row.id,
                Customer.external_id.in_([r["sub"] for r in readers]),
            )
        )
    )
    for reader in readers:
        count = counts.get(reader["sub"], 0)
        if reader["acked"]:
            result.acknowledged += 1
            if not count:
                result.lost += 1
                result.problem(f"customer {reader['sub']}: board read answered, no customer row")
        if count > 1:
            result.duplicated += count - 1
            result.problem(f"customer {reader['sub']}: {count} rows")


def _check_rollups(site_row, result: Check) -> str:
    """The site's rollup rows equal a rebuild from its sessions (rebuilt inside a transaction
    that is rolled back), and the day rows count every completed session once."""
    import sqlalchemy as sa

    from widget_server.extensions import db
    from widget_server.models import CancellationSession, ReasonRollup
    from widget_server.services import rollups

    # What the worker has not folded yet when the load stops, it folds a moment later.
    result.pending_at_end = db.session.scalar(
        sa.select(sa.func.count()).where(rollups.RollupPending.site_id == site_row.id)
    )
    rollups.fold_all()
    db.session.commit()

    def rows():
        found = {}
        for table in rollups.TABLES:
            t = table.__table__
            found[t.name] = sorted(
                tuple(r) for r in db.session.execute(sa.select(t).where(t.c.site_id == site_row.id))
            )
        return found

    t = ReasonRollup.__table__
    counted = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(t.c.sessions), 0)).where(
            t.c.site_id == site_row.id, t.c.grain == "day", t.c.attribute == rollups.ALL
        )
    )
    completed = db.session.scalar(
        sa.select(sa.func.count()).where(
            CancellationSession.site_id == site_row.id, CancellationSession.outcome.is_not(None)
        )
    )
    before = rows()
    rollups.rebuild(site_row)
    after = rows()
    db.session.rollback()
    differ = [name for name in before if before[name] != after[name]]
    if differ or counted != completed:
        result.problem(
            f"rollups differ from a rebuild in {differ or 'no table'}; day rows count "
            f"{counted} sessions, {completed} are completed"
        )
        return "differ"
    return "equal"
