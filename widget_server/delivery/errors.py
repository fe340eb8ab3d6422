"""Why a message was not delivered: the worker retries, parks or parks at once."""

from __future__ import annotations

from widget_server.extensions import db
from widget_server.models import OutboxMessage, Site


class DeliveryError(Exception):
    """A delivery failed for a reason that may pass (server down, HTTP 5xx): retried."""


class ComposeError(Exception):
    """A message cannot be built at all (bad data): retrying cannot help, it is parked."""


class Undeliverable(DeliveryError):
    """Retrying cannot help: the message is parked as failed at once (and can be resent)."""


def message_site(message: OutboxMessage) -> Site:
    """The message's site, or :class:`ComposeError` when it is gone (a deleted site's messages
    go with it, ON DELETE CASCADE, so only a message read just before can miss it)."""
    site = db.session.get(Site, message.site_id)
    if site is None:
        raise ComposeError("The site no longer exists")
    return site
