"""Reads of the time log for the billing month and the registry's billing progress.

Rows are `TimeEntryRow`s: one stored entry, one local day, with `local_date` a `date` and the
clock times `datetime`s. The month and history reads are served by the covering indexes of
`time_entry` (store.models.time_log); the overlap read by `time_overlap_day`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, String, and_, case, cast, func, or_, select, text, tuple_

from ..models import TimeEntry, TimeOverlapDay
from ..models.time_log import UNUSUAL_ENTRY_SQL
from ..sql_portable import day_cache, fetch_plain, month_key, raw, to_day, to_moment

__all__ = [
    "LatestDay",
    "TimeEntryRow",
    "entries_before",
    "entries_on_overlap_days_before",
    "latest_counted_day_per_month",
    "latest_day_per_month",
    "month_entries",
    "unusual_patients_before",
]


class TimeEntryRow(NamedTuple):
    """A stored time entry as the billing computations read it."""

    id: int
    patient_id: int
    episode_id: int | None
    staff_id: int
    local_date: date
    started_at: datetime | None  # None for minutes logged on a day
    ended_at: datetime | None
    minutes: int
    billed_elsewhere: str | None
    counts_as_care_management: bool
    activity: str = "other"  # only the month read carries these two (the packet's lines)
    source: str = "manual"


class LatestDay(NamedTuple):
    """The latest day of a patient's counting entries in a month, per episode (None: entries
    without an episode, one row per day)."""

    patient_id: int
    episode_id: int | None
    month_index: int  # year × 12 + month − 1
    latest: date


_t = TimeEntry
# the columns counting needs: what ix_time_entry_staff_day carries (index-only reads)
_COUNT_COLUMNS = (
    _t.id, _t.patient_id, _t.episode_id, _t.staff_id, raw(_t.local_date), raw(_t.started_at),
    raw(_t.ended_at), _t.minutes, _t.billed_elsewhere, _t.counts_as_care_management,
)
_FULL_COLUMNS = (*_COUNT_COLUMNS, _t.activity, _t.source)
_new = tuple.__new__


def _entries(conn: Connection, statement: Any, *, full: bool) -> list[TimeEntryRow]:
    day = day_cache()
    rows = fetch_plain(conn, statement)
    out: list[TimeEntryRow] = []
    append = out.append
    if conn.dialect.name == "sqlite":  # ISO text: parsed here, in the hot loop, without a call per value
        parse = datetime.fromisoformat
        for r in rows:
            s, e = r[5], r[6]
            append(_new(TimeEntryRow, (
                r[0], r[1], r[2], r[3], day(r[4]), parse(s) if s is not None else None,
                parse(e) if e is not None else None, r[7], r[8], bool(r[9]),
                r[10] if full else "other", r[11] if full else "manual",
            )))
        return out
    for r in rows:  # psycopg: dates and datetimes already
        append(_new(TimeEntryRow, (
            r[0], r[1], r[2], r[3], to_day(r[4]), to_moment(r[5]), to_moment(r[6]), r[7], r[8], bool(r[9]),
            r[10] if full else "other", r[11] if full else "manual",
        )))
    return out


def month_entries(
    conn: Connection, first: date, last: date, *, patients: Any = None
) -> list[TimeEntryRow]:
    """Live entries dated `first`..`last` (every column), read from the month's covering index.

    `patients` (a scalar subquery or list of patient ids): only their entries, plus every timed
    entry of anyone (another patient's timed entry of the same staff member can overlap theirs)."""
    q = select(*_FULL_COLUMNS).where(_t.deleted_at.is_(None), _t.local_date >= first, _t.local_date <= last)
    if patients is not None:
        q = q.where(or_(_t.patient_id.in_(patients), _t.started_at.is_not(None)))
    return _entries(conn, q, full=True)


def entries_before(
    conn: Connection, before: date, *, patient_ids: Collection[int] | None = None
) -> list[TimeEntryRow]:
    """Live entries dated before `before` (of these patients when given; counting columns)."""
    q = select(*_COUNT_COLUMNS).where(_t.deleted_at.is_(None), _t.local_date < before)
    if patient_ids is None:
        return _entries(conn, q, full=False)
    ids = sorted(patient_ids)
    out: list[TimeEntryRow] = []
    for i in range(0, len(ids), 5000):
        out += _entries(conn, q.where(_t.patient_id.in_(ids[i : i + 5000])), full=False)
    return out


def entries_on_overlap_days_before(conn: Connection, before: date) -> list[TimeEntryRow]:
    """Live entries on the staff days before `before` on which one person's timed entries overlap
    (`time_overlap_day`, kept current by store.overlap_days)."""
    days = TimeOverlapDay
    # looked up day by day (as a join, SQLite walks every earlier entry instead)
    listed = [tuple(d) for d in conn.execute(select(days.local_date, days.staff_id).where(days.local_date < before))]
    out: list[TimeEntryRow] = []
    for i in range(0, len(listed), 2000):
        out += _entries(conn, select(*_COUNT_COLUMNS).where(
            tuple_(_t.local_date, _t.staff_id).in_(listed[i : i + 2000]), _t.deleted_at.is_(None),
        ), full=False)
    return out


def unusual_patients_before(
    conn: Connection, before: date, never: Iterable[int], if_cm_work: Iterable[int]
) -> set[int]:
    """Patients with an entry before `before` that is deleted, has no episode, no minutes or is
    billed elsewhere (the partial index `ix_time_entry_unusual`), or is by staff whose time never
    counts (`never`) or counts only as care-manager work and is not marked so (`if_cm_work`)."""
    never, if_cm_work = sorted(never), sorted(if_cm_work)
    early = _t.local_date < before
    # no DISTINCT: SQLite would rather walk the patient index in order than read the few rows;
    # the partial index is used only when the condition is its very text
    queries = [select(_t.patient_id).where(early, text(f"({UNUSUAL_ENTRY_SQL})"))]
    if never:
        queries.append(select(_t.patient_id).where(_t.staff_id.in_(never), early))
    if if_cm_work:
        queries.append(select(_t.patient_id).where(
            _t.staff_id.in_(if_cm_work), _t.counts_as_care_management.is_not(True), early))
    out: set[int] = set()
    for q in queries:
        out.update(pid for (pid,) in fetch_plain(conn, q))
    return out


class _MonthIndex(dict):  # type: ignore[type-arg]
    """"YYYY-MM" → year × 12 + month − 1, each text parsed once."""

    def __missing__(self, key: str) -> int:
        value = self[key] = int(key[:4]) * 12 + int(key[5:7]) - 1
        return value


def latest_day_per_month(
    conn: Connection, before: date, patients: Collection[int]
) -> dict[int, dict[int, date]]:
    """{patient: {month index: the latest day with an entry (any entry, deleted too)}} before
    `before`, for `patients`; one grouped statement over the (patient, day) index."""
    out: dict[int, dict[int, date]] = {}
    day = day_cache()
    if conn.dialect.name == "sqlite":
        # a list of ISO days per patient, compared as text (ISO days order as the dates do)
        index = _MonthIndex()
        for pid, listed in fetch_plain(conn, select(
            _t.patient_id, func.aggregate_strings(cast(_t.local_date, String), ",")
        ).where(_t.local_date < before).group_by(_t.patient_id)):
            if pid not in patients:
                continue
            latest: dict[str, str] = {}
            for d in listed.split(","):
                key = d[:7]
                if d > latest.get(key, ""):
                    latest[key] = d
            out[pid] = {index[k]: day(d) for k, d in latest.items()}  # type: ignore[misc]
        return out
    for pid, on in conn.execute(select(_t.patient_id, _t.local_date).where(_t.local_date < before).distinct()):
        if pid not in patients:
            continue
        mine = out.setdefault(pid, {})
        i = on.year * 12 + on.month - 1
        if on > mine.get(i, date.min):
            mine[i] = on
    return out


def latest_counted_day_per_month(
    conn: Connection, before: date, always: Iterable[int], if_cm_work: Iterable[int], patients: Collection[int]
) -> list[LatestDay]:
    """For `patients`, before `before`: per episode and month (per day for entries without an
    episode), the latest day with a live entry that passes the whole-entry rules (minutes > 0, not
    billed elsewhere, by staff whose time counts: `always`, or `if_cm_work` when marked
    care-manager work)."""
    month = month_key(_t.local_date)
    q = (
        select(_t.patient_id, _t.episode_id, month, raw(func.max(_t.local_date)))
        .where(
            _t.deleted_at.is_(None), _t.local_date < before, _t.minutes > 0,
            or_(_t.billed_elsewhere.is_(None), _t.billed_elsewhere == ""),
            or_(_t.staff_id.in_(sorted(always)),
                and_(_t.staff_id.in_(sorted(if_cm_work)), _t.counts_as_care_management.is_(True))),
        )
        .group_by(month, _t.patient_id, _t.episode_id, case((_t.episode_id.is_(None), _t.local_date)))
    )
    if len(patients) <= 2000:  # a few: along the patient index; many: one pass over all
        q = q.where(_t.patient_id.in_(sorted(patients)))
    day, index = day_cache(), _MonthIndex()
    return [
        _new(LatestDay, (pid, eid, index[mtext], day(latest)))
        for pid, eid, mtext, latest in fetch_plain(conn, q)
        if pid in patients
    ]

