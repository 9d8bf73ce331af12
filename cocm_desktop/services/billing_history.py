"""Earlier months of the month-end billing computation: which episodes had counted CoCM minutes
in which calendar month before the billed one (that decides initial/subsequent and the 6-month gap).

`_history_fast` answers with one grouped SQL statement plus an exact recount (`count_month`) of
the patient-months an overlap could change; `_history_exact` counts every earlier patient-month
with `count_month` and is the reference the fast path is tested against.

Also the row helpers both this module and services.billing_month use to turn stored time entries
(Core rows) into `domain.timelog.TimeEntryIn`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import String, and_, case, cast, func, or_, select

from cocm_desktop.domain.episode_months import Month
from cocm_desktop.domain.timelog import (
    COUNTED_ROLES,
    ExclusionReason,
    TimeEntryIn,
    count_month,
    overlap_cover,
    whole_entry_exclusion,
)
from cocm_desktop.store.models import TimeEntry

from ._sql import raw, to_day


def episode_for_day(episodes: list, day: date) -> int | None:  # type: ignore[type-arg]
    """Entries logged without an episode belong to the episode open that day (latest enrollment),
    else to the latest episode enrolled by then."""
    open_ = [e for e in episodes if e.enrolled_on <= day and (e.closed_on is None or e.closed_on >= day)]
    pool = open_ or [e for e in episodes if e.enrolled_on <= day]
    if not pool:
        return None
    return max(pool, key=lambda e: (e.enrolled_on, e.id)).id


_ENTRY_COLUMNS = (
    TimeEntry.id,
    TimeEntry.patient_id,
    TimeEntry.episode_id,
    TimeEntry.staff_id,
    raw(TimeEntry.local_date),
    raw(TimeEntry.started_at),
    raw(TimeEntry.ended_at),
    TimeEntry.minutes,
    TimeEntry.billed_elsewhere,
    TimeEntry.counts_as_care_management,
    TimeEntry.activity,
    TimeEntry.source,
)


def _date(value: object) -> date:
    day = to_day(value)
    assert day is not None
    return day


def _moment(value: object) -> datetime:
    """A datetime from what `raw` returns (an ISO string on SQLite)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def _row_in(r, role: str, episode_id: int | None) -> TimeEntryIn:  # type: ignore[no-untyped-def]
    """A stored time entry (a `_ENTRY_COLUMNS` row) as domain.timelog sees it."""
    common = dict(
        entry_id=r[0],
        staff_user_id=r[3],
        staff_role=role,
        patient_id=r[1],
        activity=r[10] if len(r) > 10 else "other",
        minutes=r[7],
        billed_elsewhere=r[8],
        counts_as_care_management=bool(r[9]),
        source=r[11] if len(r) > 11 else "manual",
        episode_id=episode_id,
    )
    if r[5] is not None and r[6] is not None:
        return TimeEntryIn(start=_moment(r[5]), end=_moment(r[6]), **common)  # type: ignore[arg-type]
    return TimeEntryIn(local_date=_date(r[4]), **common)  # type: ignore[arg-type]


# Earlier months: {patient: {month: {episode: counted minutes}}}
_History = dict[int, dict[Month, dict[int, int]]]


def _history_rows(conn, first: date, roles: dict[int, str] | None):  # type: ignore[no-untyped-def]
    q = select(*_ENTRY_COLUMNS[:10]).where(TimeEntry.deleted_at.is_(None), TimeEntry.local_date < first)
    if roles is not None:
        # Only counting staff's time can count, and one person's entries overlap only each other.
        q = q.where(TimeEntry.staff_id.in_(sorted(uid for uid, r in roles.items() if r in COUNTED_ROLES)))
    return conn.execute(q).all()


def _history_exact(conn, first, episodes, roles, consent_for) -> _History:  # type: ignore[no-untyped-def]
    """Every earlier patient-month counted by `count_month`, with other patients' entries of the
    same staff on the same days for overlap (the reference for `_history_fast`)."""
    rows = _history_rows(conn, first, None)
    ins: dict[int, dict[Month, list[TimeEntryIn]]] = defaultdict(lambda: defaultdict(list))
    by_staff_day: dict[tuple[int, date], list[TimeEntryIn]] = defaultdict(list)
    for r in rows:
        pid = r[1]
        entry = _row_in(r, roles.get(r[3], "unknown"), r[2] or _episode_for_day(episodes, pid, _date(r[4])))
        ins[pid][Month.of(_date(r[4]))].append(entry)
        if entry.timed:
            by_staff_day[(r[3], _date(r[4]))].append(entry)
    out: _History = {}
    for pid in episodes:
        for m, mine in ins.get(pid, {}).items():
            seen = {e.entry_id for e in mine}
            keys = {(e.staff_user_id, e.start.date()) for e in mine if e.start is not None}
            others = [
                o.__class__(**{**o.__dict__, "episode_id": None})
                for key in keys
                for o in by_staff_day.get(key, ())
                if o.patient_id != pid and o.entry_id not in seen
            ]
            mc = count_month(mine, m, consent_for(pid, m), other_patient_entries=others)
            counted = {e: n for e, n in mc.counted_by_episode().items() if e is not None and n}
            if counted:
                out.setdefault(pid, {})[m] = counted  # type: ignore[assignment]
    return out


def _episode_for_day(episodes, pid: int, day: date) -> int | None:  # type: ignore[no-untyped-def]
    eps = episodes.get(pid)
    return episode_for_day(eps, day) if eps else None


def _history_fast(conn, first, episodes, roles, consent_for) -> _History:  # type: ignore[no-untyped-def]
    """Which episodes had counted minutes in which earlier month: one grouped SQL statement.

    Without overlap an entry counts in full or not at all (`whole_entry_exclusion`), so a month
    has counted minutes for an episode exactly when one of its entries passes the staff, billed
    elsewhere and care-manager-work rules with minutes > 0 and is dated on or after the consent
    covering that month: the group's latest such date decides. A window over each staff member's
    timed entries (in start order) marks entries that an earlier one still runs into; those
    patient-months are recounted exactly by `count_month`. Entries without an episode are grouped
    by day (the episode open that day takes them).
    """
    probe = date(2000, 1, 1)
    counting = sorted(
        uid for uid, role in roles.items() if whole_entry_exclusion(role, None, False, probe, probe) is None
    )
    if_cm_work = sorted(
        uid
        for uid, role in roles.items()
        if whole_entry_exclusion(role, None, False, probe, probe) is ExclusionReason.NOT_CARE_MANAGEMENT
        and whole_entry_exclusion(role, None, True, probe, probe) is None
    )
    if not counting and not if_cm_work:
        return {}
    t = TimeEntry
    reach = func.max(t.ended_at).over(
        partition_by=t.staff_id,
        order_by=(t.started_at, t.id),
        rows=(None, -1),
    )
    inner = (
        select(
            t.patient_id,
            t.episode_id,
            t.local_date,
            t.minutes,
            and_(
                t.minutes > 0,
                or_(t.billed_elsewhere.is_(None), t.billed_elsewhere == ""),
                or_(
                    t.staff_id.in_(counting),
                    and_(t.staff_id.in_(if_cm_work), t.counts_as_care_management.is_(True)),
                ),
            ).label("counts"),
            case((and_(t.started_at.is_not(None), reach > t.started_at), 1), else_=0).label("overlapped"),
        )
        .where(t.deleted_at.is_(None), t.local_date < first, t.staff_id.in_(counting + if_cm_work))
        .subquery()
    )
    c = inner.c
    month_text = func.substr(cast(c.local_date, String), 1, 7)
    day_if_no_episode = case((c.episode_id.is_(None), c.local_date))
    q = select(
        c.patient_id,
        c.episode_id,
        month_text,
        raw(func.max(case((c.counts, c.local_date)))),
        func.max(c.overlapped),
    ).group_by(c.patient_id, c.episode_id, month_text, day_if_no_episode)
    months: dict[str, Month] = {}
    out: _History = {}
    overlapped: set[tuple[int, Month]] = set()
    days: dict[object, date] = {}
    for pid, eid, mtext, latest, ovl in conn.execute(q).all():
        eps = episodes.get(pid)
        if not eps:
            continue
        m = months.get(mtext)
        if m is None:
            m = months[mtext] = Month.parse(mtext)
        if ovl:
            overlapped.add((pid, m))
            continue
        if latest is None:
            continue
        day = days.get(latest)
        if day is None:
            day = days[latest] = _date(latest)
        consent = consent_for(pid, m)
        if consent is None or day < consent:
            continue
        if eid is None:
            eid = episode_for_day(eps, day)
            if eid is None:
                continue
        per = out.setdefault(pid, {}).setdefault(m, {})
        per[eid] = per.get(eid, 0) + 1  # > 0 is what decides; the month itself is counted exactly
    if overlapped:
        _recount(conn, first, episodes, roles, consent_for, overlapped, out)
    return out


def _recount(conn, first, episodes, roles, consent_for, overlapped, out: _History) -> None:  # type: ignore[no-untyped-def]
    """Patient-months with overlapping entries: `count_month` with the staff members' cover."""
    pids = sorted({pid for pid, _ in overlapped})
    mine_rows = conn.execute(
        select(*_ENTRY_COLUMNS[:10]).where(
            TimeEntry.deleted_at.is_(None), TimeEntry.local_date < first, TimeEntry.patient_id.in_(pids)
        )
    ).all()
    mine: dict[tuple[int, Month], list] = defaultdict(list)  # type: ignore[type-arg]
    for r in mine_rows:
        m = Month.of(_date(r[5] if r[5] is not None and r[6] is not None else r[4]))
        if (r[1], m) in overlapped:
            mine[(r[1], m)].append(r)
    staff = sorted({r[3] for rows in mine.values() for r in rows})
    staff_rows = conn.execute(
        select(*_ENTRY_COLUMNS[:10]).where(
            TimeEntry.deleted_at.is_(None),
            TimeEntry.local_date < first,
            TimeEntry.staff_id.in_(staff),
            TimeEntry.started_at.is_not(None),
        )
    ).all()
    cover = overlap_cover(_row_in(r, roles.get(r[3], "unknown"), None) for r in staff_rows)
    for (pid, m), rows in mine.items():
        eps = episodes[pid]
        ins = [
            _row_in(r, roles.get(r[3], "unknown"), r[2] or episode_for_day(eps, _date(r[4]))) for r in rows
        ]
        mc = count_month(ins, m, consent_for(pid, m), cover=cover)
        counted = {e: n for e, n in mc.counted_by_episode().items() if e is not None and n}
        if counted:
            out.setdefault(pid, {})[m] = counted  # type: ignore[assignment]
