"""Real ``keepkit worker`` processes on a committed database: killed mid-delivery and
restarted, and several at once (each message is delivered exactly once)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.databases import committed_app
from tests.factories import make_site, make_token
from tests.servers import SmtpServer, wait_for
from widget_server.extensions import db
from widget_server.models import OutboxMessage, Site, utcnow
from widget_server.services import roadmap
from widget_server.services.customers import upsert_customer
from widget_server.services.tokens import verify_customer_token

KEEPKIT = str(Path(sys.executable).parent / "keepkit")
# Long enough that a worker started on a busy machine still finds the lease held.
LEASE_SECONDS = 8


@pytest.fixture
def committed(tmp_path):
    with committed_app(tmp_path, "workers") as (app, url):
        yield app, url


def queue_emails(app, count: int) -> None:
    with app.app_context():
        site, _ = make_site("Workers")
        item = roadmap.create_item(site, title="Reports")
        for i in range(count):
            claims = verify_customer_token(site, make_token(site, f"v{i}", email=f"v{i}@ex.com"))
            roadmap.vote(site, item, upsert_customer(site, claims))
        roadmap.change_status(site, item, "in_progress")
        db.session.commit()


def states(app) -> dict:
    with app.app_context():
        rows = db.session.execute(
            sa.select(OutboxMessage.state, sa.func.count()).group_by(OutboxMessage.state)
        )
        result = dict(rows.all())
        db.session.remove()
        return result


def worker(url: str, smtp_port: int, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPKIT_")}
    env |= {
        "KEEPKIT_ENV": "testing",
        "KEEPKIT_DATABASE_URL": url,
        "KEEPKIT_SMTP_HOST": "127.0.0.1",
        "KEEPKIT_SMTP_PORT": str(smtp_port),
        "KEEPKIT_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    return subprocess.Popen(
        [KEEPKIT, "worker", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def lease_ends(app) -> None:
    with app.app_context():
        until = db.session.scalar(sa.select(sa.func.max(OutboxMessage.locked_until)))
        db.session.remove()
    time.sleep(max(0.0, (until - utcnow()).total_seconds()) + 0.2)


def test_worker_killed_mid_delivery_and_restarted(committed):
    app, url = committed
    queue_emails(app, 1)
    smtp = SmtpServer().start()
    try:
        smtp.sink.stall = 5  # the server stops answering in the middle of the transaction
        first = worker(url, smtp.port, "--poll", "0.2")
        assert wait_for(smtp.sink.rcpt_seen.is_set), "worker never reached the SMTP server"
        first.kill()
        first.communicate(timeout=10)
        assert states(app) == {"sending": 1}
        smtp.sink.stall = 0
        early = worker(url, smtp.port, "--once")
        early.communicate(timeout=30)
        assert smtp.sink.messages == []  # the lease still protects the message
        lease_ends(app)  # the lease runs out
        again = worker(url, smtp.port, "--once")
        output = again.communicate(timeout=60)[0].decode()
        assert again.returncode == 0, output
        assert len(smtp.sink.messages) == 1
        assert states(app) == {"sent": 1}
    finally:
        smtp.stop()


def test_several_workers_deliver_each_message_once(committed):
    app, url = committed
    queue_emails(app, 60)
    smtp = SmtpServer().start()
    try:
        workers = [worker(url, smtp.port, "--once") for _ in range(3)]
        outputs = [w.communicate(timeout=120)[0].decode() for w in workers]
        assert all(w.returncode == 0 for w in workers), outputs
        ids = [m["Message-ID"] for m in smtp.sink.messages]
        assert len(ids) == 60 and len(set(ids)) == 60
        assert sorted(m["To"] for m in smtp.sink.messages) == sorted(
            f"v{i}@ex.com" for i in range(60)
        )
        assert states(app) == {"sent": 60}
    finally:
        smtp.stop()


def test_worker_once_reports_and_survives_a_poison_message(committed):
    from widget_server.services import notifications

    app, url = committed
    queue_emails(app, 20)
    with app.app_context():
        notifications.enqueue_emails(
            db.session.scalar(sa.select(Site)),
            "roadmap.in_progress",
            [{"dedupe_key": "poison", "to": "p@ex.com", "payload": {"template": "status"}}],
        )
        db.session.commit()
        db.session.remove()
    smtp = SmtpServer().start()
    try:
        run = worker(url, smtp.port, "--once")
        output = run.communicate(timeout=120)[0].decode()
        assert run.returncode == 0, output
        assert "Sent 20, retried 0, failed 1" in output
        assert len(smtp.sink.messages) == 20
        assert states(app) == {"sent": 20, "failed": 1}
    finally:
        smtp.stop()
