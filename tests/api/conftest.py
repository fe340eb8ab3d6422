"""A live server on a database of its own, for tests where many clients hit it at once."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest

from tests.databases import committed_app
from tests.live import Server


@pytest.fixture
def live(tmp_path):
    """(app, base URL) of a threaded server whose requests really commit."""
    with committed_app(tmp_path, "live") as (app, _):
        server = Server(app)
        yield app, server.url
        server.stop()


def post(url: str, body: dict, **headers) -> dict:
    """POST ``body`` as JSON (text/plain, as the widget sends it) and return the JSON reply."""
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "text/plain", **headers},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        return json.load(response)


def run_at_once(target, calls: list[tuple]) -> list[str]:
    """Call ``target(*args)`` for each of ``calls``, each in its own thread, all released at
    the same moment. Returns what they raised (as reprs): empty when all went well."""
    errors: list[str] = []
    barrier = threading.Barrier(len(calls))

    def run(args):
        try:
            barrier.wait(30)
            target(*args)
        except Exception as exc:  # collected and returned
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(args,)) for args in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors
