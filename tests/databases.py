"""Throw-away databases for tests that need one of their own (migrations, live servers)."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from tests.servers import free_port
from widget_server.config import normalize_database_url


@contextmanager
def empty_database(tmp_dir: Path, prefix: str):
    """Yield the URL of a new, empty database of the kind under test, dropped afterwards.

    SQLite: a file in ``tmp_dir``. PostgreSQL (``KEEPKIT_TEST_DATABASE_URL``): a fresh
    database on the same server.
    """
    base = os.environ.get("KEEPKIT_TEST_DATABASE_URL")
    if not base or base.startswith("sqlite"):
        yield f"sqlite:///{tmp_dir}/{prefix}.db"
        return
    base = normalize_database_url(base)
    name = f"keepkit_{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def committed_app(tmp_dir: Path, prefix: str):
    """An app on its own empty database with the tables created, for tests whose work must
    really commit (other processes, other threads)."""
    from widget_server import create_app
    from widget_server.extensions import db

    with empty_database(tmp_dir, prefix) as url:
        app = create_app({"ENV": "testing", "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            db.create_all()
        try:
            yield app, url
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def unreachable_database(tmp_path) -> str:
    """A URL of the kind under test that nothing answers."""
    url = os.environ.get("KEEPKIT_TEST_DATABASE_URL", "")
    if url and not url.startswith("sqlite"):
        base = normalize_database_url(url).rsplit("@", 1)[0]
        return f"{base}@127.0.0.1:{free_port()}/keepkit"
    (tmp_path / "a-file").write_text("not a directory")
    return f"sqlite:///{tmp_path}/a-file/keepkit.db"
