"""A real SMTP server (aiosmtpd) and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.servers import Receiver, SmtpServer


@pytest.fixture
def smtp(app, monkeypatch):
    server = SmtpServer().start()
    monkeypatch.setitem(app.config, "KEEPKIT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "KEEPKIT_SMTP_PORT", server.port)
    yield server
    server.stop()


@pytest.fixture
def receiver(app, monkeypatch):
    """A receiver on 127.0.0.1: webhooks may go to private addresses (an intranet setup)."""
    monkeypatch.setitem(app.config, "KEEPKIT_WEBHOOK_ALLOW_PRIVATE", True)
    server = Receiver()
    yield server
    server.stop()
