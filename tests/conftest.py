"""Fixtures: a session-wide app, a per-test transaction, clients and factories.

The database comes from ``KEEPKIT_TEST_DATABASE_URL`` (default: a SQLite file in a temporary
directory). In CI (``CI`` set) an unreachable database fails the run instead of skipping.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from flask import g, has_app_context
from flask.testing import FlaskClient

from tests.clients import login
from tests.factories import complete_session, make_admin, make_site
from widget_server import create_app, database
from widget_server.config import normalize_database_url
from widget_server.extensions import db as _db

pytest_plugins = ["tests.live", "tests.host_page"]


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("KEEPKIT_TEST_DATABASE_URL")
    if not url:
        return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")
    url = normalize_database_url(url)
    try:
        engine = sa.create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI"):
            raise RuntimeError(f"Test database {url} is unreachable in CI: {exc}") from exc
        pytest.skip(f"Test database {url} is unreachable: {exc}")
    return url


class Client(FlaskClient):
    """The test client. Its requests run inside the ``db`` fixture's app context (one session,
    one transaction), so ``g`` would outlive a request there, unlike in a real server (the
    signed-in user, the CSRF token): start each request with an empty ``g``, as a fresh app
    context would."""

    def open(self, *args, **kwargs):
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)


def _refuse_writes_while_reading(conn, cursor, statement, parameters, context, executemany):
    """GET requests only read (their SQLite transactions take no write lock): one that must
    write calls database.start_writing() first. Hold every test to it, on both databases."""
    if database.reading() and statement.lstrip().split(None, 1)[0].upper() in (
        "INSERT", "UPDATE", "DELETE",
    ):  # fmt: skip
        raise AssertionError(f"a write while reading (call start_writing first): {statement}")


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    url = _database_url(tmp_path_factory)
    app = create_app({"ENV": "testing", "SQLALCHEMY_DATABASE_URI": url})
    app.test_client_class = Client
    with app.app_context():
        sa.event.listen(_db.engine, "before_cursor_execute", _refuse_writes_while_reading)
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.drop_all()
        _db.engine.dispose()


@pytest.fixture
def db(app):
    """Each test runs in a transaction that is rolled back; app commits become savepoints."""
    with app.app_context():
        engine = _db.engines[None]
        conn = engine.connect()
        outer = conn.begin()
        _db.engines[None] = conn
        _db.session.configure(join_transaction_mode="create_savepoint")
        try:
            yield _db
        finally:
            _db.session.remove()
            outer.rollback()
            conn.close()
            _db.engines[None] = engine


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def runner(app, db):
    return app.test_cli_runner()


@pytest.fixture
def site(db):
    site, _ = make_site()
    return site


@pytest.fixture
def api_key(db, site):
    from widget_server.services.sites import create_api_key

    key = create_api_key(site)
    db.session.commit()
    return key


@pytest.fixture
def admin(db, site):
    return make_admin()


@pytest.fixture
def admin_client(client, admin):
    response = login(client)
    assert response.status_code == 302
    return client


@pytest.fixture
def book(db, site):
    """This month: 3 cancellations (2900 + 9900 + 29900 = 42700 lost), 2 saves through the
    30% discount (9900 + 4900 = 14800 gross, 10360 net), 1 dismissal. Previous 30 days: one
    cancellation of 10000. Each completion is counted in the rollups, as by the worker."""
    eu, us = {"region": "EU"}, {"region": "US"}
    for sub, reason, outcome, mrr, more in [
        ("a", "too_expensive", "cancelled", 2900, dict(plan="Starter", tenure=10, attributes=eu)),
        ("b", "switching", "cancelled", 9900, dict(tenure=200, attributes=us)),
        ("c", "missing_features", "cancelled", 29900,
         dict(plan="Business", tenure=800, attributes=eu)),
        ("d", "too_expensive", "saved", 9900, dict(tenure=50)),
        ("e", "too_expensive", "saved", 4900, dict(plan="Starter")),
        ("f", "switching", "dismissed", 50000, {}),
        ("old", "switching", "cancelled", 10000, dict(days_ago=40)),
    ]:  # fmt: skip
        complete_session(site, sub, reason, outcome, mrr=mrr, folded=True, **more)
    db.session.commit()
