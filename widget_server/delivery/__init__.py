"""Delivering the outbox (``keepkit worker``).

``worker`` claims due messages with a lease, delivers them, retries with a backoff and parks
what cannot be delivered. ``tokens`` signs and reads the unsubscribe links in the emails.
"""
