"""A real SMTP server (aiosmtpd) and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@pytest.fixture
def smtp(app, monkeypatch):
    server = SmtpServer().start()
    monkeypatch.setitem(app.config, "KEEPKIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "KEEPKIT_SMTP_PORT", server.port)
    yield server
    server.stop()


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


@pytest.fixture
def receiver(app, monkeypatch):
    """A receiver on 127.0.0.1: webhooks may go to private addresses (an intranet setup)."""
    monkeypatch.setitem(app.config, "KEEPKIT_WEBHOOK_ALLOW_PRIVATE", True)
    server = Receiver()
    yield server
    server.stop()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
