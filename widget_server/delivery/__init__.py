"""Delivering the outbox (``keepkit worker``).

``worker`` claims due messages with a lease, delivers them, retries with a backoff and parks
what cannot be delivered. ``transports`` sends: SMTP for emails, signed HTTP requests for
webhooks. ``tokens`` signs and reads the unsubscribe links in the emails. ``errors`` says
why a message was not delivered.
"""
