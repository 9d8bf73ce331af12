"""Keeps `time_overlap_day` current: the staff days on which one person's live timed entries overlap.

Overlapping minutes are counted once across patients, so the month-end billing history works
out the overlap from the entries of these days and recounts, entry by entry, the months of the
entries it trims. Finding the days from scratch is a pass over every earlier time entry in start
order; this table answers it from a few rows.

Installed on the store's sessionmaker beside store.invalidation, so no writer can forget it:
- after each flush, every staff day a flushed time entry belongs to (before and after an edit
  that moves it) is worked out again, in the write's own transaction;
- bulk ORM statements on time entries (the demo generator's insert) are followed by the same
  for the days they touched, or by a rebuild of the whole table when they touch many.
Writes that bypass the ORM session (raw connection SQL) must call `refresh` themselves.

On the clinic server two writers of one staff day would each see only their own entry; there the
days are gathered over the unit of work and worked out at commit under the staff members'
advisory locks (`settle`; store.write_locks explains why).

A day is listed when, in start order (ties by id), an entry starts before the one before it
ended: with ends never before starts, that happens exactly when some two entries overlap.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Connection, Select, delete, event, func, insert, inspect, select, tuple_
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from . import write_locks
from .models import TimeEntry, TimeOverlapDay

StaffDay = tuple[date, int]  # (local day, staff member)
# Beyond this many days one rebuild is cheaper than a long IN list (bulk imports).
_MAX_DAYS = 500
_KEYS = ("local_date", "staff_id")
_PENDING = "cocm_pending_overlap_days"  # session.info: the server's days until commit (None: all)
_ALL_DAYS = "all"


def install(factory: sessionmaker[Session]) -> None:
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "do_orm_execute", _around_bulk_statement)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_commit", _forget)
    event.listen(factory, "after_rollback", _forget)


def settle(session: Session) -> None:
    """The server's commit: the staff days this unit of work touched, worked out under their
    staff members' locks (so every entry another writer committed on those days is seen)."""
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    conn = session.connection()
    if pending == _ALL_DAYS:
        write_locks.lock_staff(conn, (), everyone=True)
        refresh(conn, None)
        return
    write_locks.lock_staff(conn, {s for _d, s in pending if s is not None})
    refresh(conn, pending)


def _changed(session: Session, days: set[StaffDay] | None) -> None:
    """These days changed: worked out now on the file engine, at commit on the server."""
    if not write_locks.on_server(session):
        refresh(session.connection(), days)
        return
    held = session.info.get(_PENDING)
    if days is None or held == _ALL_DAYS or (held is not None and len(held) + len(days) > _MAX_DAYS):
        session.info[_PENDING] = _ALL_DAYS
    else:
        session.info[_PENDING] = (held or set()) | days


def _before_commit(session: Session) -> None:
    if _PENDING in session.info:
        session.flush()
        settle(session)


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def refresh(conn: Connection, days: Iterable[StaffDay] | None = None) -> None:
    """Work out these staff days again from the time entries (all days when `days` is None)."""
    keys = None if days is None else sorted({d for d in days if None not in d})
    if keys is not None and len(keys) > _MAX_DAYS:
        keys = None
    if keys == []:
        return
    t = TimeEntry
    clear = delete(TimeOverlapDay)
    scope = []
    if keys is not None:
        clear = clear.where(tuple_(TimeOverlapDay.local_date, TimeOverlapDay.staff_id).in_(keys))
        scope.append(tuple_(t.local_date, t.staff_id).in_(keys))
    conn.execute(clear)
    conn.execute(insert(TimeOverlapDay).from_select(list(_KEYS), _overlapping(scope)))


def _overlapping(scope: list[Any]) -> Select[Any]:
    """The (day, staff) pairs within `scope` on which two live timed entries overlap."""
    t = TimeEntry
    previous_end = func.lag(t.ended_at).over(
        partition_by=(t.local_date, t.staff_id), order_by=(t.started_at, t.id)
    )
    timed = (
        select(t.local_date, t.staff_id, t.started_at, previous_end.label("previous_end"))
        .where(t.deleted_at.is_(None), t.started_at.is_not(None), t.ended_at.is_not(None), *scope)
        .subquery()
    )
    return (
        select(timed.c.local_date, timed.c.staff_id)
        .where(timed.c.previous_end > timed.c.started_at)
        .distinct()
    )


def differences(conn: Connection) -> tuple[set[StaffDay], set[StaffDay]]:
    """(days missing from the table, days listed that should not be), against a fresh pass over
    every time entry: both empty when the table is exact."""
    fresh = {(d, s) for d, s in conn.execute(_overlapping([]))}
    stored = {(d, s) for d, s in conn.execute(select(TimeOverlapDay.local_date, TimeOverlapDay.staff_id))}
    return fresh - stored, stored - fresh


def _days_of(obj: TimeEntry) -> set[StaffDay]:
    """The entry's staff day, and the one before this flush when an edit moved it."""
    state = inspect(obj)
    now = (obj.local_date, obj.staff_id)
    before = tuple(
        hist.deleted[0] if hist.deleted else value
        for value, hist in ((now[0], state.attrs.local_date.history), (now[1], state.attrs.staff_id.history))
    )
    return {now, before}  # type: ignore[arg-type]


def _after_flush(session: Session, _flush_context: Any) -> None:
    days: set[StaffDay] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, TimeEntry):
            days |= _days_of(obj)
    if days:
        _changed(session, days)


def _around_bulk_statement(state: ORMExecuteState) -> Any:
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, TimeEntry):
        return None
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    days: set[StaffDay] | None = set()
    if state.is_insert:
        params = state.parameters
        rows = params if isinstance(params, list) else [params] if params else []
        for row in rows:
            if all(k in row for k in _KEYS):
                days.add((row["local_date"], row["staff_id"]))  # type: ignore[union-attr]
            else:
                days = None  # values we cannot see: rebuild after
                break
        if not rows:
            days = None
    else:
        stmt = state.statement
        values = getattr(stmt, "_values", None) or {}
        if any(getattr(k, "key", k) in _KEYS for k in values):
            days = None  # entries move between days or staff in bulk: rebuild after
        else:
            q = select(TimeEntry.local_date, TimeEntry.staff_id)
            where = stmt.whereclause  # type: ignore[attr-defined]
            if where is not None:
                q = q.where(where)
            days = {(d, s) for d, s in state.session.connection().execute(q.distinct())}
    result = state.invoke_statement()
    _changed(state.session, days)
    return result
