"""More than one machine: two app processes (gunicorn with the repo's gunicorn.conf.py, two
workers each) on different ports, one database and one Redis, as behind a load balancer
(docs/deploy.md). An admin signed in on one node is signed in on the other (and signed out on
both); a burst over the widget limit split across the nodes is refused at the global
threshold; votes and completions sent to both nodes at once are counted exactly.

The database is the run's (a fresh PostgreSQL database, or a SQLite file both processes share);
Redis is KEEPKIT_TEST_MULTINODE_REDIS_URL (default database 9 of the local server, which this
test flushes, and only that one). Outside CI an unreachable Redis skips the test; in CI it fails.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.databases import committed_app
from tests.factories import ORIGIN, make_admin, make_site, make_token
from tests.ratelimits import rebind, redis_or_skip
from tests.servers import free_port, run_at_once, wait_for
from widget_server.extensions import db
from widget_server.models import CancellationSession, ReasonRollup, Vote
from widget_server.services import insights, roadmap, rollups, site_cache, sites
from widget_server.services.period import Filter, Period

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("KEEPKIT_TEST_MULTINODE_REDIS_URL", "redis://127.0.0.1:6379/9")
LIMIT = 20
PASSWORD = "correct horse battery"


class Node:
    """One app process: ``gunicorn -c gunicorn.conf.py wsgi:app`` on its own port."""

    def __init__(self, env: dict, log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        with open(log_path, "wb") as log:
            gunicorn = str(Path(sys.executable).parent / "gunicorn")
            self.process = subprocess.Popen(
                [gunicorn, "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env={**os.environ, **env, "KEEPKIT_BIND": f"127.0.0.1:{self.port}"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def request(self, method, path, body=None, headers=None, form=None):
        """(status, headers, body text) — redirects are not followed."""
        headers = dict(headers or {})
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            body = json.dumps(body)
            headers.setdefault("Content-Type", "text/plain")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.headers, response.read().decode()
        finally:
            connection.close()

    def widget(self, site_key, path, body, address):
        """A widget call from a browser at ``address`` (the proxy's X-Forwarded-For)."""
        status, _, text = self.request(
            "POST",
            f"/api/v1/widget/{site_key}{path}",
            body,
            {"Origin": ORIGIN, "X-Forwarded-For": address},
        )
        return status, (json.loads(text) if text.startswith("{") else None)

    def ready(self) -> bool:
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture(scope="module")
def cluster(app, tmp_path_factory):
    """Two nodes on one database and one Redis, with sites, an admin and roadmap items."""
    redis = redis_or_skip(REDIS_URL)
    redis.flushdb()
    tmp = tmp_path_factory.mktemp("multinode")
    with committed_app(tmp, "multinode") as (setup, url):
        with setup.app_context():
            site, _ = make_site("Nodes")
            burst, _ = make_site("Burst")
            make_admin(password=PASSWORD)
            items = [roadmap.create_item(site, title=f"Item {n}").id for n in range(2)]
            db.session.commit()
            keys = {"site": site.key, "secret": site.secret_primary, "burst": burst.key}
            db.session.remove()
        env = {
            "KEEPKIT_ENV": "production",
            "KEEPKIT_SECRET_KEY": secrets.token_urlsafe(48),  # the same on every node
            "KEEPKIT_DATABASE_URL": url,
            "KEEPKIT_REDIS_URL": REDIS_URL,
            "KEEPKIT_WIDGET_RATE_LIMIT": f"{LIMIT} per hour",
            "KEEPKIT_TRUSTED_PROXIES": "1",
            "KEEPKIT_PUBLIC_URL": "http://keepkit.test",
            "KEEPKIT_WORKERS": "2",
            "KEEPKIT_LOG_LEVEL": "warning",
        }
        nodes = [Node(env, tmp / f"node{n}.log") for n in range(2)]
        try:
            for node in nodes:
                assert wait_for(node.ready, 60), node.log_path.read_text()
            yield setup, nodes, keys, items, redis
        finally:
            for node in nodes:
                node.stop()
            redis.flushdb()
            redis.close()
    rebind(app)


def session_cookie(headers) -> str:
    """``session=…`` from the Set-Cookie headers (Secure in production: sent by hand here)."""
    for value in headers.get_all("Set-Cookie") or []:
        if value.startswith("session="):
            return value.split(";", 1)[0]
    raise AssertionError("no session cookie set")


def csrf(node, path, cookie, address):
    headers = {"X-Forwarded-For": address} | ({"Cookie": cookie} if cookie else {})
    _, headers, html = node.request("GET", path, headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    return token.group(1), (cookie or session_cookie(headers))


def test_an_admin_session_works_on_every_node(cluster):
    _, (first, second), *_ = cluster
    address = {"X-Forwarded-For": "192.0.2.10"}
    token, cookie = csrf(first, "/admin/login", None, address["X-Forwarded-For"])
    status, headers, _ = first.request(
        "POST",
        "/admin/login",
        form={"email": "pm@example.com", "password": PASSWORD, "csrf_token": token},
        headers={"Cookie": cookie, **address},
    )
    assert status == 302
    signed_in = session_cookie(headers)

    status, _, html = second.request(
        "GET", "/admin/account", headers={"Cookie": signed_in, **address}
    )
    assert status == 200 and "pm@example.com" in html

    # Signing out on the second node ends the session on the first one too.
    token, _ = csrf(second, "/admin/account", signed_in, address["X-Forwarded-For"])
    status, _, _ = second.request(
        "POST",
        "/admin/logout",
        form={"csrf_token": token},
        headers={"Cookie": signed_in, **address},
    )
    assert status == 302
    status, headers, _ = first.request(
        "GET", "/admin/account", headers={"Cookie": signed_in, **address}
    )
    assert status == 302 and "/admin/login" in headers["Location"]


def test_a_burst_split_across_nodes_is_limited_at_the_global_threshold(cluster):
    _, nodes, keys, _, redis = cluster
    statuses = []
    for number in range(LIMIT + 6):
        node = nodes[number % 2]
        status, _ = node.widget(keys["burst"], "/roadmap", {"token": None}, "203.0.113.7")
        statuses.append((number % 2, status))
    assert [s for _, s in statuses[:LIMIT]] == [200] * LIMIT
    assert [s for _, s in statuses[LIMIT:]] == [429] * 6
    assert {n for n, s in statuses if s == 429} == {0, 1}  # both nodes refuse
    # Another client address is not throttled by that one's burst.
    assert nodes[1].widget(keys["burst"], "/roadmap", {"token": None}, "203.0.113.8")[0] == 200
    assert any(keys["burst"] in key.decode() for key in redis.scan_iter("*"))


VOTERS = 24
FLOWS = 16


def test_votes_and_completions_sent_to_both_nodes_are_exact(cluster):
    setup, nodes, keys, items, _ = cluster
    site_key, secret = keys["site"], keys["secret"]
    tokens = {n: make_token(secret, f"voter-{n}", company=f"Co {n % 5}") for n in range(VOTERS)}

    def vote(number: int, item: int, value: bool, node: int):
        address = f"198.51.100.{number + 1}"
        status, body = nodes[node].widget(
            site_key,
            f"/roadmap/items/{item}/vote",
            {"token": tokens[number], "vote": value},
            address,
        )
        assert status == 200, (status, body)

    # Every voter votes for both items on both nodes at the same moment (four requests).
    calls = [(n, item, True, node) for n in range(VOTERS) for item in items for node in (0, 1)]
    assert run_at_once(vote, calls) == []
    # A third of them take their vote for the first item back, on both nodes at once.
    leaving = [n for n in range(VOTERS) if n % 3 == 0]
    assert run_at_once(vote, [(n, items[0], False, node) for n in leaving for node in (0, 1)]) == []

    flows = []
    for number in range(FLOWS):
        address = f"198.18.0.{number + 1}"
        token = make_token(secret, f"leaver-{number}", mrr=1000 + number, plan="Growth")
        status, started = nodes[number % 2].widget(site_key, "/sessions", {"token": token}, address)
        assert status == 201
        session = started["session"]
        answer = {"token": token, "reason": "switching"}
        status, _ = nodes[(number + 1) % 2].widget(
            site_key, f"/sessions/{session}/answer", answer, address
        )
        assert status == 200
        flows.append((session, token, address, "dismissed" if number % 4 == 0 else "cancelled"))

    def complete(session, token, address, outcome, node):
        body = {"token": token, "outcome": outcome}
        status, result = nodes[node].widget(
            site_key, f"/sessions/{session}/complete", body, address
        )
        assert status == 200 and result["outcome"] == outcome, (status, result)

    # Each completion is submitted to both nodes at the same moment (a double submit that a
    # load balancer spread over two machines).
    assert run_at_once(complete, [(*flow, node) for flow in flows for node in (0, 1)]) == []

    with setup.app_context():
        site = sites.get_site(site_key)
        counted = {
            item: db.session.scalar(sa.select(sa.func.count()).where(Vote.item_id == item))
            for item in items
        }
        outcomes = sorted(
            db.session.scalars(
                sa.select(CancellationSession.outcome).where(CancellationSession.site_id == site.id)
            )
        )
        rollups.fold_all()  # what the worker does with the queued completions
        db.session.commit()
        summary = insights.summary(site, Filter(Period.last_days(1)))
        t = ReasonRollup.__table__
        incremental = sorted(
            map(tuple, db.session.execute(sa.select(t).where(t.c.site_id == site.id)))
        )
        rollups.rebuild(site)
        rebuilt = sorted(map(tuple, db.session.execute(sa.select(t).where(t.c.site_id == site.id))))
        db.session.rollback()
        db.session.remove()
    assert counted == {items[0]: VOTERS - len(leaving), items[1]: VOTERS}
    cancelled = [n for n in range(FLOWS) if n % 4]
    assert outcomes == sorted(["cancelled"] * len(cancelled) + ["dismissed"] * (FLOWS // 4))
    assert (summary["cancelled"], summary["dismissed"]) == (len(cancelled), FLOWS // 4)
    assert summary["lost_mrr"] == sum(1000 + n for n in cancelled)
    assert incremental == rebuilt


def test_every_node_sees_an_admins_change_within_a_second(cluster):
    """Each process keeps a snapshot of a site (origins, reasons, offers), trusted for a
    second; a change anywhere raises the site's version, and each node reloads on its first
    request after that second."""
    setup, nodes, keys, _, _ = cluster
    token = make_token(keys["secret"], "snapshot-reader")
    for number, node in enumerate(nodes):  # both nodes hold a snapshot now
        status, body = node.widget(
            keys["site"], "/sessions", {"token": token}, f"198.51.100.{number}"
        )
        assert status == 201 and "too_expensive" in [r["id"] for r in body["reasons"]]
    with setup.app_context():
        from widget_server.services import flow_config

        site = sites.get_site(keys["site"])
        reason = next(r for r in flow_config.all_reasons(site) if r.key == "too_expensive")
        flow_config.set_archived(reason, True)
        db.session.commit()
        db.session.remove()
    time.sleep(site_cache.CHECK_SECONDS + 0.1)
    for number, node in enumerate(nodes):
        status, body = node.widget(
            keys["site"], "/sessions", {"token": token}, f"198.51.100.{number}"
        )
        assert status in (200, 201)
        assert "too_expensive" not in [r["id"] for r in body["reasons"]]
