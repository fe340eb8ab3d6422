"""SQL both databases speak the same way through their own dialect's constructs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Result
from sqlalchemy.dialects import postgresql, sqlite

from widget_server.extensions import db


def insert_or_ignore(model, conflict: list[str]):
    """``INSERT … ON CONFLICT (conflict) DO NOTHING`` for the current database: with
    ``.returning(...)`` it yields only the rows it inserted. One statement, so a race with a
    concurrent insert of the same key needs no savepoint."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing(index_elements=conflict)


def rowcount(result: Result[Any]) -> int:
    """How many rows an ``UPDATE`` or ``DELETE`` run by ``db.session.execute`` matched. Its
    result is a ``CursorResult``; the session's ``execute`` is typed as returning any result."""
    return cast("CursorResult[Any]", result).rowcount


def upsert(model):
    """``INSERT`` of the current database's dialect, for ``.on_conflict_do_update``."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


T = TypeVar("T")
_BUILT: dict[tuple[str, str], Any] = {}


def per_dialect(name: str, build: Callable[[Any], T]) -> T:
    """A statement built once per database kind (building one costs more than running it),
    for statements that differ between the databases: ``build(dialect)`` gets the module of
    the current database's dialect (``sqlalchemy.dialects.postgresql`` or ``.sqlite``, for
    its ``insert``) and its result is kept under ``name``. Values go in as parameters when it
    runs."""
    dialect = db.session.get_bind().dialect.name
    built = _BUILT.get((name, dialect))
    if built is None:
        built = _BUILT[(name, dialect)] = build(postgresql if dialect == "postgresql" else sqlite)
    return cast(T, built)
