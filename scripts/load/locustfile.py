"""The load client of ``make load`` and ``make faults``: customers using the widget API.

Run by scripts/load/run.py and scripts/load/faults.py (``locust -f … --headless FlowUser``),
never by the test suite. Settings come from the environment:

- ``LOAD_SITE_KEY``, ``LOAD_SITE_SECRET``: the site; tokens are signed with its secret as a
  host backend would; ``LOAD_ORIGIN``: an allowed origin, sent as the Origin header;
- ``LOAD_ITEMS``: comma-separated ids of votable roadmap items;
- ``LOAD_RUN``: a prefix for this run's customer ids (``load-<run>-…``), so the checks afterwards
  find exactly this run's writes;
- ``LOAD_RECORD``: where to write what happened, as JSON, when locust quits.

Three users, one per scenario: ``FlowUser`` (start, answer, complete a cancellation flow with a
fresh customer each time), ``VoteUser`` (vote for an item, then take the vote back) and
``BoardUser`` (read the roadmap board, half of them with a token). Each records every request
(start time, duration, status) and every write the server acknowledged: the session ids
completed with their outcome and offer, and each vote and unvote with the state the server
answered. A record is written *before* its request is sent, so a request cut off (locust
stopping, a killed server) is known as sent-but-unanswered.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid

import jwt
from locust import FastHttpUser, constant, events, task

SITE_KEY = os.environ.get("LOAD_SITE_KEY", "site_noop")
SECRET = os.environ.get("LOAD_SITE_SECRET", "noop-secret-noop-secret-noop-secret")
ORIGIN = os.environ.get("LOAD_ORIGIN", "https://app.example.com")
ITEMS = [int(i) for i in os.environ.get("LOAD_ITEMS", "1,2,3").split(",") if i]
RUN = os.environ.get("LOAD_RUN", uuid.uuid4().hex[:8])
RECORD = os.environ.get("LOAD_RECORD", "")
API = f"/api/v1/widget/{SITE_KEY}"
PLANS = (("Starter", 2900), ("Growth", 9900), ("Business", 29900), ("Enterprise", 99900))

# Everything this process saw; written to LOAD_RECORD when locust quits.
# [started (unix s), duration (ms), name, status (0: no answer), error code of the envelope]
REQUESTS: list[list] = []
FLOWS: list[dict] = []
VOTES: list[dict] = []
READERS: list[dict] = []  # signed-in board readers: {"sub", "acked": reads answered 2xx}
STARTED: list[float] = []
_numbers = itertools.count(1)


def customer_token(sub: str, rng: random.Random) -> str:
    plan, mrr = rng.choice(PLANS)
    now = int(time.time())
    claims = {
        "sub": sub,
        "exp": now + 6 * 3600,
        "iat": now,
        "email": f"{sub}@example.com",
        "name": f"Customer {sub}",
        "company": f"Company {rng.randrange(200)}",
        "plan": plan,
        "mrr": mrr * rng.choice((1, 1, 2, 3)),
        "currency": "USD",
        "signed_up_at": now - rng.randrange(30, 1500) * 86400,
        "attributes": {"region": rng.choice(("EU", "US", "APAC"))},
    }
    return jwt.encode(claims, SECRET, algorithm="HS256")


class WidgetUser(FastHttpUser):
    """A browser running the widget: one request after another, no think time."""

    abstract = True
    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self):
        self.rng = random.Random()

    def post(self, name: str, path: str, body: dict):
        """POST as the widget does (text/plain JSON, Origin); returns (status, JSON or None)."""
        started = time.time()
        with self.client.post(
            path,
            data=json.dumps(body),
            headers={"Content-Type": "text/plain", "Origin": ORIGIN},
            name=name,
            catch_response=True,
        ) as response:
            status = response.status_code or 0
            row = [started, (time.time() - started) * 1000, name, status, None]
            REQUESTS.append(row)
            try:
                payload = response.json() if status else None
            except ValueError:
                payload = None
            if 200 <= status < 300 and payload is not None:
                response.success()
                return status, payload
            if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
                row[4] = payload["error"].get("code")  # the envelope's code
            response.failure(f"HTTP {status} {row[4] or ''}")
            return status, None


class FlowUser(WidgetUser):
    """Customers cancelling: start, answer (a reason, sometimes a comment), complete."""

    @task
    def cancel_flow(self):
        rng = self.rng
        sub = f"load-{RUN}-flow-{next(_numbers)}"
        token = customer_token(sub, rng)
        flow = {"sub": sub, "session": str(uuid.uuid4()), "start": None}
        FLOWS.append(flow)
        status, started = self.post(
            "flow: start", f"{API}/sessions", {"token": token, "session": flow["session"]}
        )
        flow["start"] = status
        if not started:
            return
        reason = rng.choice(started["reasons"])
        answer = {"token": token, "reason": reason["id"]}
        if reason.get("requires_text") or rng.random() < 0.4:
            answer["comment"] = rng.choice(("Too pricey for us", "We need SSO", "Closing down"))
        if reason.get("missing_feature") and started.get("roadmap"):
            answer["roadmap_item"] = rng.choice(started["roadmap"])["id"]
        flow["answer"] = None
        status, answered = self.post(
            "flow: answer", f"{API}/sessions/{flow['session']}/answer", answer
        )
        flow["answer"] = status
        if not answered:
            return
        offer = answered.get("offer")
        if offer and rng.random() < 0.4:
            flow["outcome"], flow["offer"] = "saved", offer["id"]
        else:
            flow["outcome"] = rng.choice(("cancelled", "cancelled", "dismissed"))
            flow["offer"] = None
        flow["complete"] = None
        complete = {"token": token, "outcome": flow["outcome"], "offer": flow["offer"]}
        status, result = self.post(
            "flow: complete", f"{API}/sessions/{flow['session']}/complete", complete
        )
        flow["complete"] = status
        if result:
            flow["acked"] = {"outcome": result.get("outcome"), "session": result.get("session")}


class VoteUser(WidgetUser):
    """Customers voting for an item and taking the vote back, one customer per user."""

    def on_start(self):
        super().on_start()
        self.sub = f"load-{RUN}-voter-{next(_numbers)}"
        self.token = customer_token(self.sub, self.rng)

    def _vote(self, item: int, vote: bool):
        record = {"sub": self.sub, "item": item, "vote": vote, "status": None}
        VOTES.append(record)
        path = f"{API}/roadmap/items/{item}/vote"
        status, state = self.post(
            "vote" if vote else "unvote", path, {"token": self.token, "vote": vote}
        )
        record["status"] = status
        if state:
            record["voted"] = state.get("voted")

    @task
    def vote_then_unvote(self):
        item = self.rng.choice(ITEMS)
        self._vote(item, True)
        self._vote(item, False)


class BoardUser(WidgetUser):
    """Visitors reading the roadmap board; half of them signed in (a token)."""

    def on_start(self):
        super().on_start()
        self.token = self.reader = None
        if self.rng.random() < 0.5:
            self.reader = {"sub": f"load-{RUN}-reader-{next(_numbers)}", "acked": 0}
            READERS.append(self.reader)
            self.token = customer_token(self.reader["sub"], self.rng)

    @task
    def read_board(self):
        status, _ = self.post("board", f"{API}/roadmap", {"token": self.token, "locale": "en"})
        if self.reader is not None and 200 <= status < 300:
            self.reader["acked"] += 1


@events.test_start.add_listener
def _started(**_kwargs):
    STARTED.append(time.time())


@events.quitting.add_listener
def _write_record(**_kwargs):
    if not RECORD:
        return
    record = {
        "run": RUN,
        "started": STARTED[0] if STARTED else None,
        "requests": REQUESTS,
        "flows": FLOWS,
        "votes": VOTES,
        "readers": READERS,
    }
    with open(RECORD, "w") as handle:
        json.dump(record, handle)
