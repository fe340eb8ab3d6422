"""Real servers on 127.0.0.1 (SMTP, a webhook receiver) and the small clients that talk to
live servers: plain helpers, shared by the tests that need them."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class Sink:
    """Keeps every message; ``stall`` makes RCPT hang (a server that stops answering)."""

    def __init__(self):
        self.messages = []
        self.raw = []  # the bytes as received, to check headers as mail clients read them
        self.rcpt_seen = threading.Event()
        self.stall = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        import asyncio

        self.rcpt_seen.set()
        if self.stall:
            await asyncio.sleep(self.stall)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.content)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


class SmtpServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.sink = Sink()
        self.controller = None

    def start(self):
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None


class Receiver:
    """Records webhook POSTs; answers with the statuses queued in ``replies`` (else 200); a
    reply may be ``(status, {header: value})``, e.g. a redirect with its Location."""

    def __init__(self, tls=None):
        self.requests = []
        self.replies = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                reply = receiver.replies.pop(0) if receiver.replies else 200
                status, headers = reply if isinstance(reply, tuple) else (reply, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:  # an ssl.SSLContext with the server's certificate
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


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
