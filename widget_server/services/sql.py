"""SQL both databases speak the same way through their own dialect's constructs."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from widget_server.extensions import db


def insert_or_ignore(model, conflict: list[str]):
    """``INSERT … ON CONFLICT (conflict) DO NOTHING`` for the current database: with
    ``.returning(...)`` it yields only the rows it inserted. One statement, so a race with a
    concurrent insert of the same key needs no savepoint."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing(index_elements=conflict)


def upsert(model):
    """``INSERT`` of the current database's dialect, for ``.on_conflict_do_update``."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)
