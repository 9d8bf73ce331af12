"""Portable SQL constructs and the store's fast row reads, per dialect.

Services never write dialect SQL: what SQLAlchemy has no portable form for compiles here for the
encrypted file (SQLite/SQLCipher) and for the PostgreSQL clinic server.

- `day_diff(later, earlier)`: whole calendar days between two date/datetime columns.
- `month_key(column)`: a date column's "YYYY-MM" as text (to group by month).
- `raw(column)` + `fetch_plain`: a big read without SQLAlchemy's per-value result processing (the
  registry and the billing month read tens of thousands of rows); the read functions in
  `store.reads` turn the values into Python types (`to_day`, `to_moment`, `day_cache`) before
  anything above `store` sees them. On SQLite dates come back as ISO text; psycopg already gives
  `date`/`datetime`, which the converters pass through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Integer, String, type_coerce
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

__all__ = ["day_cache", "day_diff", "fetch_plain", "month_key", "raw", "to_day", "to_moment"]


class day_diff(FunctionElement):  # noqa: N801 - reads like a SQL function
    """(date(later) − date(earlier)) in whole days; NULL when either side is NULL."""

    type = Integer()
    inherit_cache = True
    name = "day_diff"

    def __init__(self, later: ColumnElement, earlier: ColumnElement) -> None:  # type: ignore[type-arg]
        super().__init__(later, earlier)


@compiles(day_diff)
def _day_diff_default(element: day_diff, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    later, earlier = list(element.clauses)
    return f"(CAST({compiler.process(later, **kw)} AS DATE) - CAST({compiler.process(earlier, **kw)} AS DATE))"


@compiles(day_diff, "postgresql")
def _day_diff_postgresql(element: day_diff, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    # date − date is an integer number of days in PostgreSQL
    later, earlier = list(element.clauses)
    return f"(CAST({compiler.process(later, **kw)} AS DATE) - CAST({compiler.process(earlier, **kw)} AS DATE))"


@compiles(day_diff, "sqlite")
def _day_diff_sqlite(element: day_diff, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    later, earlier = list(element.clauses)
    return (
        f"CAST(julianday(date({compiler.process(later, **kw)})) - "
        f"julianday(date({compiler.process(earlier, **kw)})) AS INTEGER)"
    )


class month_key(FunctionElement):  # noqa: N801 - reads like a SQL function
    """A date column's month as "YYYY-MM" text."""

    type = String()
    inherit_cache = True
    name = "month_key"

    def __init__(self, column: ColumnElement) -> None:  # type: ignore[type-arg]
        super().__init__(column)


@compiles(month_key)
def _month_key_default(element: month_key, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    (column,) = list(element.clauses)
    return f"to_char({compiler.process(column, **kw)}, 'YYYY-MM')"


@compiles(month_key, "sqlite")
def _month_key_sqlite(element: month_key, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    (column,) = list(element.clauses)  # stored as ISO text: its first 7 characters
    return f"substr({compiler.process(column, **kw)}, 1, 7)"


def raw(column: ColumnElement) -> ColumnElement:  # type: ignore[type-arg]
    """Select a date/datetime column without SQLAlchemy's per-value parsing; the read function
    converts it (`to_day`, `to_moment`, `day_cache`)."""
    return type_coerce(column, String)


def to_day(value: object) -> date | None:
    """A date from what `raw` returns: ISO text (SQLite) or a date/datetime (psycopg)."""
    if value is None:
        return None
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return value.date()
    return value  # type: ignore[return-value]


def to_moment(value: object) -> datetime | None:
    """A datetime from what `raw` returns: ISO text (SQLite) or a datetime (psycopg)."""
    if value is None:
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def day_cache() -> Callable[[object], date | None]:
    """A `to_day` that parses each distinct stored value once (days repeat across many rows).
    A closure, not an object with __call__: it runs once per value of 10k-row reads."""
    seen: dict[object, date | None] = {None: None}
    get = seen.get

    def day(value: object) -> date | None:
        hit = get(value, _MISSING)
        if hit is _MISSING:
            hit = seen[value] = to_day(value)
        return hit  # type: ignore[return-value]

    return day


_MISSING = object()


def fetch_plain(conn: Connection, statement: Any) -> Sequence[tuple[Any, ...]]:
    """Every row of a Core statement as the DB-API driver returns it (plain tuples), for the read
    functions of `store.reads` only: they convert each value before returning.

    Building SQLAlchemy Row objects costs about a microsecond each, which the billing month's few
    hundred thousand rows feel. Only for columns that need no result conversion: ints, text, and
    dates/datetimes selected with `raw`. Driver errors while fetching are raised as SQLAlchemy's
    DBAPIError, as from `execute`, so the store's session translates them the same way.
    """
    result = conn.execute(statement)
    dbapi = conn.dialect.loaded_dbapi
    try:
        return result.cursor.fetchall()  # type: ignore[union-attr,no-any-return]
    except dbapi.Error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi.Error, dialect=conn.dialect) from exc
    finally:
        result.close()
