"""Delivering the outbox (``keepkit worker``). Views and services queue messages through
:mod:`widget_server.services.notifications`; nothing here is imported by a view except the
unsubscribe tokens.

- ``worker``: claims due messages with a lease, delivers them, retries with a backoff and
  parks what cannot be delivered; runs the periodic tasks and queued jobs between passes.
- ``emails``: composes every email (roadmap, win-back, weekly digest); its templates are in
  ``templates/email/``.
- ``transports``: sends: SMTP for emails, signed HTTP requests for webhooks.
- ``tokens``: signs and reads the unsubscribe links in the emails.
- ``errors``: why a message was not delivered (retried, or parked).
"""
