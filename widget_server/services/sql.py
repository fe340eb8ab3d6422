"""SQL both databases speak the same way through their own dialect's constructs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Result, Row, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

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


# Per model: its mapper, each mapped column attribute's name with its column's name, and the
# names of its primary key's attributes.
_COLUMNS: dict[type, tuple[Any, list[tuple[str, str]], list[str]]] = {}


def as_stored(model: type[T], row: Row[Any], *, prefix: str = "") -> T:
    """The object of a row that a Core statement just wrote or read whole (every column of
    ``model``'s table, each under its column's name after ``prefix``; see :func:`columns_of`),
    in the request's session as if it had been loaded: every column set and unchanged,
    relationships loaded when read. An object of that row already in the session takes the
    row's values (as a query with ``populate_existing`` would). The ORM's own
    ``INSERT … RETURNING`` or loading of the object costs several times the statement."""
    known_model = _COLUMNS.get(model)
    if known_model is None:
        mapper = inspect(model)
        columns = [(a.key, a.columns[0].name) for a in mapper.column_attrs]
        keys = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
        known_model = _COLUMNS[model] = (mapper, columns, keys)
    mapper, columns, keys = known_model
    values = row._mapping
    state = {key: values[prefix + name] for key, name in columns}
    identity = mapper.identity_key_from_primary_key([state[key] for key in keys])
    known = db.session.identity_map.get(identity)
    if known is not None:
        for key, value in state.items():
            set_committed_value(known, key, value)
        # Its loaded relationships follow the new foreign keys when next read.
        loaded = [r.key for r in mapper.relationships if r.key in known.__dict__]
        if loaded:
            db.session.expire(known, loaded)
        return cast(T, known)
    # Made as a loaded object is: its columns put in place, not set one by one through the
    # attribute events of ``model(**state)`` (which cost twice the rest).
    stored = mapper.class_manager.new_instance()
    stored.__dict__.update(state)
    make_transient_to_detached(stored)
    db.session.add(stored)
    return stored


def columns_of(model: type, prefix: str) -> list[Any]:
    """Every column of ``model``'s table labelled ``prefix`` + its name: a second table's
    columns in a Core SELECT whose rows :func:`as_stored` turns into objects."""
    table = cast(Any, model).__table__
    return [column.label(prefix + column.name) for column in table.c]
