"""Why a message was not delivered: the worker retries, parks or parks at once."""

from __future__ import annotations


class DeliveryError(Exception):
    """A delivery failed for a reason that may pass (server down, HTTP 5xx): retried."""


class ComposeError(Exception):
    """A message cannot be built at all (bad data): retrying cannot help, it is parked."""


class Undeliverable(DeliveryError):
    """Retrying cannot help: the message is parked as failed at once (and can be resent)."""
