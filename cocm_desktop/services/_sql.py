"""Portable SQL pieces the clinical services need beyond plain SQLAlchemy core.

`day_diff(later, earlier)` = whole calendar days between two date/datetime columns. SQLAlchemy has
no portable date arithmetic, so the construct compiles per dialect (SQLite/SQLCipher today,
PostgreSQL later); services never write dialect SQL themselves.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Integer, String, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


class day_diff(FunctionElement):  # noqa: N801 - reads like a SQL function
    """(date(later) − date(earlier)) in whole days; NULL when either side is NULL."""

    type = Integer()
    inherit_cache = True
    name = "day_diff"

    def __init__(self, later: ColumnElement, earlier: ColumnElement) -> None:
        super().__init__(later, earlier)


@compiles(day_diff)
def _day_diff_default(element: day_diff, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    later, earlier = list(element.clauses)
    return f"(CAST({compiler.process(later, **kw)} AS DATE) - CAST({compiler.process(earlier, **kw)} AS DATE))"


@compiles(day_diff, "sqlite")
def _day_diff_sqlite(element: day_diff, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    later, earlier = list(element.clauses)
    return (
        f"CAST(julianday(date({compiler.process(later, **kw)})) - "
        f"julianday(date({compiler.process(earlier, **kw)})) AS INTEGER)"
    )


def raw(column: ColumnElement) -> ColumnElement:
    """Select a date/datetime column without SQLAlchemy's per-value parsing (the registry reads
    tens of thousands); read the value back with `to_day`."""
    return type_coerce(column, String)


def to_day(value: object) -> date | None:
    """A date from what `raw` returns: an ISO string (SQLite) or a date/datetime (other drivers)."""
    if value is None:
        return None
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return value.date()
    return value  # type: ignore[return-value]
