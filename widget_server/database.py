"""How requests use the database: one unit of work per request, and reads never take
SQLite's write lock.

**Where a request commits: here, in** :func:`end_unit_of_work`. A view (and the services it
calls) only changes the session; when the view returns a success (status below 400), its
changes are committed, once, before the response leaves. When it answers with an error, or
raises (a domain error, a bad input, an outage), everything it changed is rolled back before
any error handler renders, so an error page never sees, and never stores, half a change.
Domain errors are mapped to answers in one place per door: the API's envelope
(``api/errors.py``), the admin's form errors (``admin/common.py``), the hosted page's
messages in the customer's language (``customer/hosted.py``). A few writes must stand
whatever the answer (a failed sign-in's audit record): :func:`write_now` commits them at
once. The CLI and the worker commit their own units of work.

SQLite has one writer at a time. A transaction that reads and then writes must hold the write
lock from its start (``BEGIN IMMEDIATE``): upgrading a read lock later can fail at once when
another connection wrote meanwhile, which busy waiting cannot cure. But a read that takes the
write lock makes every writer wait for it: a long report would stall customers' completions.

So a request starts in one of two modes: GET and HEAD requests read (``BEGIN``, deferred: no
write lock); everything else writes (``BEGIN IMMEDIATE``). A read that finds it must write
after all calls :func:`start_writing` first, which ends its read transaction. Long reads page
through short transactions of their own (the CSV export). PostgreSQL needs none of this
(MVCC), but the discipline is the same there, and the tests hold every request to it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

import sqlalchemy as sa
from flask import Flask, Response, g, request

from widget_server.extensions import db

T = TypeVar("T")
_reading: ContextVar[bool] = ContextVar("keepkit_reading", default=False)
# A public read (the widget's board): on PostgreSQL its statements run without a transaction
# of their own (autocommit), saving the BEGIN and COMMIT round trips; each statement still
# sees committed data only.
_public_read: ContextVar[bool] = ContextVar("keepkit_public_read", default=False)


def reading() -> bool:
    """Whether the current work only reads (its transactions begin without a write lock)."""
    return _reading.get()


def begin_statement() -> str:
    return "BEGIN" if _reading.get() else "BEGIN IMMEDIATE"


def start_writing() -> None:
    """The current read-only work is about to write: end its read transaction (flushing
    nothing) so that the next one begins with the write lock."""
    if _reading.get():
        db.session.commit()
        _reading.set(False)
        _public_read.set(False)


def end_unit_of_work(response: Response) -> None:
    """The view returned: commit what it changed if it answered with a success, then run
    what waited for the commit (:func:`after_commit`); else roll it back (a form shown again
    with its error changes nothing)."""
    if response.status_code >= 400:
        abandon_unit_of_work()
        return
    session = db.session()
    # Nothing began and nothing is pending (a board read from memory): no commit. A change to
    # an object after a commit mid-request (write_now) is pending without a transaction.
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        session.commit()
    for action in g.pop("keepkit_after_commit", []):
        action()


def after_commit(action: Callable[[], object]) -> None:
    """Run ``action`` once the request's changes are committed: a "saved" message or a new
    sign-in cookie must not outlive a commit that failed."""
    g.setdefault("keepkit_after_commit", []).append(action)


def abandon_unit_of_work() -> None:
    """The view raised or answered with an error (or its commit failed): roll back what it
    changed before any error handler runs. The
    connection may be gone already (an outage); the session is discarded at teardown then."""
    with contextlib.suppress(sa.exc.SQLAlchemyError):
        db.session.rollback()


def write_now(work: Callable[[], T]) -> T:
    """Run ``work`` (it writes) and commit it at once, whatever the request answers and even
    in a request that reads: e.g. counting queued completions before figures are shown, or a
    failed sign-in's audit record. Returns what ``work`` returned. In a request that writes,
    the commit also stores what the view changed before: call it before any other change."""
    start_writing()
    result = work()
    db.session.commit()
    return result


@contextmanager
def read_only():
    """Work outside a request that only reads (a report, an export)."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


def reads(view):
    """Mark a public view that reads although its method is not GET (the widget's board is a
    POST so browsers skip the CORS preflight): it starts in the reading mode too, and on
    PostgreSQL its reads run in autocommit (it needs no snapshot across its statements)."""
    view.keepkit_reads = True
    return view


def ping_when_idle(engine: sa.Engine, idle_seconds: float) -> None:
    """Test a pooled connection before use when it sat idle longer than ``idle_seconds``.

    SQLAlchemy's ``pool_pre_ping`` tests every checkout: one more round trip per request. A
    connection used a moment ago is as good as tested, and one that died since (the database
    restarted under load) fails its statement as a disconnect, which makes SQLAlchemy drop
    the whole pool: that request gets the outage's 503 and the next ones new connections.
    """

    @sa.event.listens_for(engine, "checkin")
    def _used(dbapi_connection, record):
        record.info["keepkit_used"] = time.monotonic()
        if record.info.pop("keepkit_autocommit", False):
            dbapi_connection.autocommit = False

    @sa.event.listens_for(engine, "checkout")
    def _test_if_idle(dbapi_connection, record, _proxy):
        if time.monotonic() - record.info.get("keepkit_used", 0.0) <= idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool throws this connection away and takes (or opens) another.
            raise sa.exc.DisconnectionError(str(exc)) from exc


def public_reads_in_autocommit(engine: sa.Engine) -> None:
    """PostgreSQL: the statements of a public read (see :func:`reads`) run in autocommit; the
    connection is back to transactions when it returns to the pool (``ping_when_idle``'s
    check-in hook) or when the request starts writing (:func:`start_writing` ends the read)."""

    @sa.event.listens_for(engine, "begin")
    def _no_transaction(conn):
        if _public_read.get():
            conn.connection.dbapi_connection.autocommit = True
            conn.connection.info["keepkit_autocommit"] = True  # the pool record's info


def init_app(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            ping_when_idle(db.engine, app.config["KEEPKIT_DATABASE_PING_IDLE"])
            public_reads_in_autocommit(db.engine)

    # A URL value preprocessor of the app runs before every other request hook, the
    # blueprints' (which may already read: the site of a key) included.
    @app.url_value_preprocessor
    def _mode(endpoint, _values):
        view = app.view_functions.get(endpoint)
        public_read = getattr(view, "keepkit_reads", False)
        _reading.set(request.method in ("GET", "HEAD") or public_read)
        _public_read.set(public_read)

    @app.teardown_request
    def _reset(_exc):
        _reading.set(False)
        _public_read.set(False)
