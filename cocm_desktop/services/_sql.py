"""Portable SQL pieces the clinical services need beyond plain SQLAlchemy core.

`day_diff(later, earlier)` = whole calendar days between two date/datetime columns. SQLAlchemy has
no portable date arithmetic, so the construct compiles per dialect (SQLite/SQLCipher today,
PostgreSQL later); services never write dialect SQL themselves.
"""

from __future__ import annotations

from sqlalchemy import Integer
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
