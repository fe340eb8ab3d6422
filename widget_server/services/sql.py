"""SQL both databases speak the same way through their own dialect's constructs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Result, Row, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached

from widget_server.extensions import db


def _dialect_name() -> str:
    return db.session.get_bind().dialect.name


def upsert(model):
    """``INSERT`` of the current database's dialect, for ``.on_conflict_do_update``."""
    return (postgresql if _dialect_name() == "postgresql" else sqlite).insert(model)


def insert_or_ignore(model, conflict: list[str]):
    """``INSERT … ON CONFLICT (conflict) DO NOTHING`` for the current database: with
    ``.returning(...)`` it yields only the rows it inserted. One statement, so a race with a
    concurrent insert of the same key needs no savepoint."""
    return upsert(model).on_conflict_do_nothing(index_elements=conflict)


def rowcount(result: Result[Any]) -> int:
    """How many rows an ``UPDATE`` or ``DELETE`` run by ``db.session.execute`` matched. Its
    result is a ``CursorResult``; the session's ``execute`` is typed as returning any result."""
    return cast("CursorResult[Any]", result).rowcount


T = TypeVar("T")
_BUILT: dict[tuple[str, str], Any] = {}


def per_dialect(name: str, build: Callable[[], T]) -> T:
    """A statement that differs between the databases (:func:`upsert`,
    :func:`insert_or_ignore`, :mod:`impact`'s date arithmetic), built once per database kind
    by ``build()`` and kept under ``name``: building one costs more than running it. Values go
    in as parameters when it runs."""
    key = (name, _dialect_name())
    built = _BUILT.get(key)
    if built is None:
        built = _BUILT[key] = build()
    return cast(T, built)


# Per model: each mapped column attribute's name with its column.
_COLUMNS: dict[type, list[tuple[str, Any]]] = {}


def as_stored(model: type[T], row: Row[Any]) -> T:
    """The object of a row that a Core statement just wrote and returned whole (``RETURNING``
    every column of ``model``'s table), in the request's session as if it had been loaded:
    every column set and unchanged, relationships loaded when read. The ORM's own
    ``INSERT … RETURNING`` of the object costs several times the statement."""
    columns = _COLUMNS.get(model)
    if columns is None:
        columns = _COLUMNS[model] = [(a.key, a.columns[0]) for a in inspect(model).column_attrs]
    values = row._mapping
    stored = model(**{key: values[column] for key, column in columns})
    make_transient_to_detached(stored)
    db.session.add(stored)
    return stored
