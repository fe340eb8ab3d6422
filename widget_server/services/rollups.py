"""Rollups: completed sessions summed per UTC day and per month, so the dashboard and the PDF
read a few thousand rows instead of every session of the period.

Writes: completing a session only appends it to ``rollup_pending`` (``add_session``): no row
is shared between completions, so they never wait for each other. ``fold_pending`` counts the
queued sessions in bulk: the worker does it every poll, and the dashboard, reports and insight
endpoints do it for their site before reading, so figures are current when read. ``rebuild``
recomputes a site's rows from its counted sessions (after a bulk load, a hand edit, or an
exchange rate change for the MRR bands). All are the same ``INSERT … SELECT … GROUP BY … ON
CONFLICT DO UPDATE``, so folded and rebuilt rows cannot disagree. Folds and rebuilds take one
lock (``FOLD_LOCK``); completions take none.

Reads: ``source`` returns the rows behind a filter with one ``sessions`` count and one ``mrr``
sum per row. Whole months inside the period come from the month rows and the days at either
end from the day rows. Rows are kept for every session and for each custom attribute value,
so a filter on an attribute reads rollups as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from widget_server.extensions import db
from widget_server.i18n import N_
from widget_server.models import (
    CancellationSession,
    OfferShownRollup,
    ReasonRollup,
    RollupPending,
    SegmentRollup,
    Site,
)
from widget_server.models.rollup import GRAINS
from widget_server.services.money import converted, minor_digits

TABLES = (ReasonRollup, SegmentRollup, OfferShownRollup)
# Segment names are stored in the rollups and returned by the data API as they are (stable
# English keys); the admin's pages translate the ones marked here (insights.SEGMENT_NAMES).
TENURE_BANDS = ((30, N_("under 1 month")), (90, N_("1-3 months")), (365, N_("3-12 months")))
LAST_TENURE_BAND = N_("over 1 year")
MRR_BANDS = ((50, N_("under 50")), (200, "50-200"), (1000, "200-1,000"))  # major units
LAST_MRR_BAND = N_("1,000 and more")
UNKNOWN_BAND = N_("unknown")


def mrr_bands(currency: str) -> tuple:
    """:data:`MRR_BANDS` in minor units of ``currency`` (JPY has none, KWD three digits)."""
    scale = 10 ** minor_digits(currency)
    return tuple((limit * scale, label) for limit, label in MRR_BANDS)


def band(column, bands, last: str):
    return sa.case(
        (column.is_(None), UNKNOWN_BAND),
        *((column < limit, label) for limit, label in bands),
        else_=last,
    )


def utc(column, dialect: str):
    # SQLite keeps UTC without an offset; PostgreSQL's timestamptz needs the zone named, or
    # days would follow the connection's time zone.
    return column if dialect == "sqlite" else sa.func.timezone("UTC", column)


def utc_day(column, dialect: str):
    if dialect == "sqlite":
        return sa.func.date(column)
    return sa.cast(utc(column, dialect), sa.Date)


def utc_month_start(column, dialect: str):
    if dialect == "sqlite":
        return sa.func.date(column, "start of month")
    return sa.cast(sa.func.date_trunc("month", utc(column, dialect)), sa.Date)


def month_key(column, dialect: str):
    """``YYYY-MM`` of a date, or of a timestamp already in UTC (see ``utc``)."""
    if dialect == "sqlite":
        return sa.func.strftime("%Y-%m", column)
    return sa.func.to_char(column, "YYYY-MM")


ALL = ""  # the attribute and value of the rows that count every session


def _dimensions(site, table, dialect: str, by_attribute: bool) -> dict:
    """The rollup's key columns after site, grain and bucket, as expressions over sessions
    (joined with their attributes when ``by_attribute``)."""
    s = CancellationSession
    if by_attribute:
        each = _ATTRIBUTES[dialect]
        value = _as_text(each.c.value, each.c.type) if dialect == "sqlite" else each.c.value
        keys = {"attribute": each.c.key, "value": sa.func.substr(value, 1, 64)}
    else:
        keys = {"attribute": sa.literal(ALL, sa.String), "value": sa.literal(ALL, sa.String)}
    keys["plan"] = sa.func.coalesce(s.plan, "")
    if table is ReasonRollup:
        return keys | {
            "reason_id": sa.func.coalesce(s.reason_id, 0), "outcome": s.outcome,
            "offer_id": sa.func.coalesce(s.offer_id, 0), "currency": s.currency,
        }  # fmt: skip
    if table is SegmentRollup:
        return keys | {
            "tenure": band(s.tenure_days, TENURE_BANDS, LAST_TENURE_BAND),
            "mrr_band": band(
                converted(site, s.mrr, s.currency), mrr_bands(site.currency), LAST_MRR_BAND
            ),
            "outcome": s.outcome, "currency": s.currency,
        }  # fmt: skip
    return keys | {"offer_key": _SHOWN[dialect].c.value}


def _as_text(value, json_type):
    """A JSON scalar from SQLite as PostgreSQL's ``->>`` writes it (booleans as words)."""
    return sa.case(
        (json_type == "true", "true"), (json_type == "false", "false"),
        else_=sa.cast(value, sa.Text),
    )  # fmt: skip


def attribute_text(key: str, dialect: str):
    """A session's custom attribute ``key`` as text, the way the rollups store it."""
    s = CancellationSession
    if dialect != "sqlite":
        return sa.func.substr(s.attributes[key].as_string(), 1, 64)
    if '"' in key:  # not addressable in a SQLite JSON path; such keys match nothing here
        return sa.null()
    path = f'$."{key}"'
    value = sa.func.json_extract(s.attributes, path)
    return sa.func.substr(_as_text(value, sa.func.json_type(s.attributes, path)), 1, 64)


# Table-valued functions that turn a session's JSON into rows (joined laterally).
_f, _s = sa.func, CancellationSession
_SHOWN = {  # one row per offer key shown
    "sqlite": _f.json_each(_s.offers_shown).table_valued("value").alias("shown"),
    "postgresql": _f.json_array_elements_text(_s.offers_shown).table_valued("value").alias("shown"),
}
_ATTRIBUTES = {  # one row per custom attribute
    "sqlite": _f.json_each(_s.attributes).table_valued("key", "value", "type").alias("attr"),
    "postgresql": _f.json_each_text(_s.attributes).table_valued("key", "value").alias("attr"),
}


def _from_sessions(site, table, dialect: str, select: sa.Select, by_attribute: bool):
    s = CancellationSession
    select = select.select_from(s).where(s.site_id == site.id, s.outcome.is_not(None))
    if table is OfferShownRollup:
        shown = _SHOWN[dialect]
        select = select.join(shown, sa.true()).where(shown.c.value.is_not(None))
        if dialect == "postgresql":  # a JSON null is not an array: skipped, not an error
            select = select.where(sa.func.json_typeof(s.offers_shown) == "array")
    if by_attribute:
        each = _ATTRIBUTES[dialect]
        select = select.join(each, sa.true()).where(
            each.c.value.is_not(None), sa.func.length(each.c.key).between(1, 64)
        )
        if dialect == "postgresql":
            select = select.where(sa.func.json_typeof(s.attributes) == "object")
        else:
            select = select.where(each.c.type.in_(("text", "integer", "real", "true", "false")))
    return select


def _measures(table) -> list[str]:
    return ["sessions"] if table is OfferShownRollup else ["sessions", "mrr"]


def _accumulate(
    connection, site, table, grain: str, where: list, by_attribute: bool, sign: int = 1
) -> None:
    """Add (``sign`` -1: subtract) the completed sessions matching ``where`` to ``table``'s
    ``grain`` rows."""
    s = CancellationSession
    dialect = connection.dialect.name
    bucket = (utc_day if grain == "day" else utc_month_start)(s.completed_at, dialect)
    dimensions = {"bucket": bucket} | _dimensions(site, table, dialect, by_attribute)
    # Labels differ from the session's column names: PostgreSQL would resolve GROUP BY plan
    # to the raw column, not to the COALESCE.
    keys = {name: expression.label(f"k_{name}") for name, expression in dimensions.items()}
    count: sa.ColumnElement[int] = sa.func.count()
    total: sa.ColumnElement[int] = sa.func.sum(s.mrr)
    if sign < 0:
        count, total = -count, -total
    measures = [count.label("m_sessions")]
    if "mrr" in _measures(table):
        measures.append(total.label("m_mrr"))
    select = sa.select(s.site_id, sa.literal(grain, sa.String), *keys.values(), *measures)
    grouped = [k for name, k in keys.items() if by_attribute or name not in ("attribute", "value")]
    select = _from_sessions(site, table, dialect, select.where(*where), by_attribute)
    select = select.group_by(s.site_id, *grouped)
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    insert = insert.from_select(["site_id", "grain", *keys, *_measures(table)], select)
    insert = insert.on_conflict_do_update(
        index_elements=[c.name for c in table.__table__.primary_key],
        set_={m: table.__table__.c[m] + insert.excluded[m] for m in _measures(table)},
    )
    connection.execute(insert)


def _add(connection, site, tables, where: list) -> None:
    for table in tables:
        for grain in GRAINS:
            for by_attribute in (False, True):
                _accumulate(connection, site, table, grain, where, by_attribute)


# PostgreSQL advisory lock taken by whatever writes the rollups (folding, rebuilding), never by
# completions: they only append to rollup_pending. SQLite write transactions are exclusive.
FOLD_LOCK = 0x6B6B_0001


def _writing_lock(connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(FOLD_LOCK)))


def _not_pending():
    """Sessions whose completion is counted already (not waiting in rollup_pending)."""
    p = RollupPending
    return ~sa.exists().where(p.session_id == CancellationSession.id)


def add_session(site: Site, session: CancellationSession) -> None:
    """Queue a just-completed session for the rollups: one INSERT in the transaction that
    completes it, touching no row another completion touches."""
    db.session.connection().execute(_QUEUE, {"site_id": site.id, "session_id": session.id})


_QUEUE = sa.insert(cast(sa.Table, RollupPending.__table__)).inline()  # Core, no RETURNING


def fold_pending(site: Site | None = None, limit: int = 5000) -> int:
    """Count up to ``limit`` queued completions (of ``site``, or of every site) in the rollups
    and take them off the queue, in the caller's transaction. Returns how many."""
    connection = db.session.connection()
    _writing_lock(connection)
    p = RollupPending
    query = sa.select(p.id, p.site_id, p.session_id).order_by(p.id).limit(limit)
    if site is not None:
        query = query.where(p.site_id == site.id)
    rows = connection.execute(query).all()
    sessions_by_site: dict[int, list[int]] = {}
    for row in rows:
        sessions_by_site.setdefault(row.site_id, []).append(row.session_id)
    for site_id, session_ids in sessions_by_site.items():
        owner = site if site is not None else db.session.get(Site, site_id)
        _add(connection, owner, TABLES, [CancellationSession.id.in_(session_ids)])
    if rows:
        connection.execute(sa.delete(p).where(p.id.in_([row.id for row in rows])))
    return len(rows)


def fold_all(site: Site | None = None) -> int:
    """Fold every queued completion (of ``site``, or all), in the caller's transaction."""
    total = 0
    while folded := fold_pending(site):
        total += folded
    return total


def pending(site: Site) -> int:
    """How many of the site's completions wait to be counted."""
    return db.session.execute(
        sa.select(sa.func.count())
        .select_from(RollupPending)
        .where(RollupPending.site_id == site.id)
    ).scalar_one()


def remove_attributes(site: Site, session_ids: list[int]) -> None:
    """Take these completed sessions' custom attribute values out of the rollups (before the
    sessions lose them: a customer's erasure). The rows counting every session keep them."""
    if not session_ids:
        return
    while fold_pending(site):  # subtract only what is counted
        pass
    connection = db.session.connection()
    where = [CancellationSession.id.in_(session_ids), _not_pending()]
    for table in TABLES:
        for grain in GRAINS:
            _accumulate(connection, site, table, grain, where, by_attribute=True, sign=-1)
        t = cast(sa.Table, table.__table__)  # a declarative model's __table__ is its Table
        connection.execute(
            sa.delete(t).where(t.c.site_id == site.id, t.c.attribute != ALL, t.c.sessions <= 0)
        )


def rebuild(site, *, connection=None, tables=TABLES, currency: str | None = None) -> None:
    """Recompute the site's rows of ``tables`` from its sessions (only those in ``currency``,
    if given). ``site`` needs ``id`` and ``currency``: a Site, or a row in a migration."""
    connection = connection or db.session.connection()
    _writing_lock(connection)
    # Queued completions stay queued: the fold counts them (whenever it commits).
    where = [_not_pending()]
    if currency is not None:
        where.append(CancellationSession.currency == currency)
    for table in tables:
        t = table.__table__
        delete = sa.delete(t).where(t.c.site_id == site.id)
        if currency is not None:
            delete = delete.where(t.c.currency == currency)
        connection.execute(delete)
    _add(connection, site, tables, where)


def rebuild_mrr_bands(site: Site, currency: str | None = None) -> None:
    """After an exchange rate (for ``currency``) or the site's own currency changed: the MRR
    bands are amounts in the site's currency."""
    rebuild(site, tables=(SegmentRollup,), currency=currency)


def rebuild_in_steps(site: Site, *, tables=TABLES, currency: str | None = None):
    """:func:`rebuild`, as short transactions the caller commits after each step (yields
    ``(done, total)``): no lock is held for long, so completions never wait for a rebuild.

    First the site's rows go; then each day with completed sessions is recomputed from its
    sessions, and each month from its days. A completion committed before a day's step is
    counted by the step; one after it adds itself as usual. Every step is idempotent.
    """
    s = CancellationSession
    connection = db.session.connection()
    dialect = connection.dialect.name
    scope = [s.site_id == site.id, s.outcome.is_not(None)]
    if currency is not None:
        scope.append(s.currency == currency)
    day = utc_day(s.completed_at, dialect)
    found: Iterable[date | str] = db.session.scalars(sa.select(day).where(*scope).distinct())
    days = sorted(_as_date(d) for d in found)  # SQLite answers with ISO strings
    months = sorted({d.replace(day=1) for d in days})
    total, done = 1 + len(days) + len(months), 0
    _writing_lock(connection)
    _delete_rows(connection, site, tables, currency, [])
    done += 1
    yield done, total
    for first in days:
        connection = db.session.connection()
        _writing_lock(connection)
        _delete_rows(connection, site, tables, currency, [("day", first)])
        lower = datetime.combine(first, time.min, tzinfo=UTC)
        where = [s.completed_at >= lower, s.completed_at < lower + timedelta(days=1)]
        where.append(_not_pending())
        if currency is not None:
            where.append(s.currency == currency)
        for table in tables:
            for by_attribute in (False, True):
                _accumulate(connection, site, table, "day", where, by_attribute)
        done += 1
        yield done, total
    for first in months:
        connection = db.session.connection()
        _writing_lock(connection)
        _delete_rows(connection, site, tables, currency, [("month", first)])
        for table in tables:
            _month_from_days(connection, site, table, first, currency)
        done += 1
        yield done, total


def rebuild_mrr_bands_in_steps(site: Site, currency: str | None = None):
    """:func:`rebuild_mrr_bands` in steps (see :func:`rebuild_in_steps`)."""
    yield from rebuild_in_steps(site, tables=(SegmentRollup,), currency=currency)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _delete_rows(connection, site, tables, currency, buckets: list[tuple[str, date]]) -> None:
    """The site's rows of ``tables`` (in ``currency``; in these (grain, bucket)s, or all)."""
    for table in tables:
        t = table.__table__
        delete = sa.delete(t).where(t.c.site_id == site.id)
        if currency is not None:
            delete = delete.where(t.c.currency == currency)
        if buckets:
            delete = delete.where(
                sa.or_(*(sa.and_(t.c.grain == g, t.c.bucket == b) for g, b in buckets))
            )
        connection.execute(delete)


def _month_from_days(connection, site, table, first: date, currency: str | None) -> None:
    """A month's rows as the sum of its day rows."""
    t = table.__table__
    keys = [c for c in t.primary_key.columns if c.name not in ("site_id", "grain", "bucket")]
    measures = _measures(table)
    select = sa.select(
        t.c.site_id, sa.literal("month", sa.String), sa.literal(first, sa.Date), *keys,
        *(sa.func.sum(t.c[m]) for m in measures),
    ).where(
        t.c.site_id == site.id, t.c.grain == "day", t.c.bucket >= first,
        t.c.bucket < next_month(first),
    )  # fmt: skip
    if currency is not None:
        select = select.where(t.c.currency == currency)
    select = select.group_by(t.c.site_id, *keys)
    columns = ["site_id", "grain", "bucket", *(c.name for c in keys), *measures]
    connection.execute(sa.insert(t).from_select(columns, select))


def rebuild_all(connection) -> None:
    """Every site's rollups (the migration that introduces them)."""
    sites = connection.execute(sa.select(Site.id, Site.currency)).all()
    for site in sites:
        rebuild(site, connection=connection)


# --- reading --------------------------------------------------------------------------------


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def ranges(start: date, end: date) -> list[tuple[str, date, date]]:
    """The buckets covering ``start``..``end`` (inclusive): (grain, first, last) for the whole
    months inside, and for the days before and after them."""
    first_full = start if start.day == 1 else next_month(start)
    month_ends = next_month(end) - timedelta(days=1) == end
    after_full = next_month(end) if month_ends else end.replace(day=1)
    if first_full >= after_full:
        return [("day", start, end)]
    result = [("month", first_full, after_full - timedelta(days=1))]
    if start < first_full:
        result.append(("day", start, first_full - timedelta(days=1)))
    if after_full <= end:
        result.append(("day", after_full, end))
    return result


def source(site: Site, filters, table, *columns: str, match: dict | None = None):
    """A subquery of ``table``'s rows behind ``filters`` (a period.Filter): the named key
    columns (``month`` is the bucket's ``YYYY-MM``), ``sessions`` and, except for offers shown,
    ``mrr`` in the session currency (``currency``). ``match``: key column → required value;
    ``{"attribute": key}`` gives the rows of that custom attribute, one per value.

    Only a breakdown by one attribute under a filter on another reads the sessions themselves
    (attribute pairs are not rolled up), with the same columns.
    """
    dialect = db.session.get_bind().dialect.name
    match = dict(match or {})
    if filters.attribute:
        if "attribute" in match:
            return _raw_source(site, filters, table, columns, match, dialect)
        match |= {"attribute": filters.attribute, "value": (filters.value or "")[:64]}
    elif "attribute" not in match:
        match |= {"attribute": ALL, "value": ALL}
    t = table.__table__
    selected = [
        month_key(t.c.bucket, dialect).label("month") if name == "month" else t.c[name]
        for name in columns
    ] + [t.c[m] for m in _measures(table)]
    parts = []
    for grain, first, last in ranges(filters.period.start, filters.period.end):
        part = sa.select(*selected).where(
            t.c.site_id == site.id, t.c.grain == grain, t.c.bucket >= first, t.c.bucket <= last,
            *(t.c[name] == value for name, value in match.items()),
        )  # fmt: skip
        if filters.plan:
            part = part.where(t.c.plan == filters.plan)
        parts.append(part)
    return (sa.union_all(*parts) if len(parts) > 1 else parts[0]).subquery("rollup")


def _raw_source(site, filters, table, columns, match: dict, dialect: str):
    s = CancellationSession
    dimensions = _dimensions(site, table, dialect, by_attribute=True) | {
        "month": month_key(utc(s.completed_at, dialect), dialect)
    }
    selected = [dimensions[name].label(name) for name in columns]
    selected.append(sa.literal(1).label("sessions"))
    if "mrr" in _measures(table):
        selected.append(s.mrr.label("mrr"))
    select = sa.select(*selected).where(
        *session_conditions(site, filters),
        *(dimensions[name] == value for name, value in match.items()),
    )
    return _from_sessions(site, table, dialect, select, by_attribute=True).subquery("sessions")


def session_conditions(site: Site, filters) -> list:
    """The conditions on sessions for ``filters`` (a period.Filter): completed in the
    period, on the plan, with the custom attribute value."""
    s = CancellationSession
    lower, upper = filters.period.bounds
    conditions = [s.site_id == site.id, s.completed_at >= lower, s.completed_at < upper]
    if filters.plan:
        conditions.append(s.plan == filters.plan)
    if filters.attribute:
        value = attribute_text(filters.attribute, db.session.get_bind().dialect.name)
        conditions.append(value == (filters.value or "")[:64])
    return conditions
