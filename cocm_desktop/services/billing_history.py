"""Earlier months of the month-end billing computation: which episodes had counted CoCM minutes
in which calendar month before the billed one (that decides initial/subsequent and the 6-month gap).

`_history_fast` answers from grouped SQL (a list of days per patient for the common patient with
one episode and only plainly counting entries; per episode and month for the others) plus an exact
recount (`count_month`) of the patient-months an overlap could change; `_history_exact` counts
every earlier patient-month with `count_month` and is the reference the fast path is tested
against (tests/billing/test_billing_month_fast.py). `label_one_episode` labels a one-episode
patient's month as `domain.episode_months.label_month` does, from that history.

Also the row helpers the billing-month modules share: `plain_rows` (big results as DB-API
tuples), `day_reader`, and the conversion of stored time entries (Core rows) into
`domain.timelog.TimeEntryIn`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import String, and_, case, cast, func, or_, select, text, tuple_
from sqlalchemy.exc import DBAPIError

from cocm_desktop.domain.episode_months import (
    GAP_MONTHS_NEW_EPISODE,
    PROGRAM_COCM,
    PROGRAMS,
    Month,
    MonthLabel,
)
from cocm_desktop.domain.timelog import (
    Coverage,
    ExclusionReason,
    TimeEntryIn,
    count_month,
    overlap_cover,
    whole_entry_exclusion,
)
from cocm_desktop.store.models import TimeEntry, TimeOverlapDay
from cocm_desktop.store.models.time_log import UNUSUAL_ENTRY_SQL

from ._sql import raw, to_day


def plain_rows(conn, statement) -> list[tuple]:  # type: ignore[no-untyped-def,type-arg]
    """Every row of a Core statement as the DB-API driver returns it (plain tuples).

    The billing month reads a few hundred thousand rows; building SQLAlchemy Row objects for them
    costs about a microsecond each. Only for columns that need no result conversion: ints, text,
    and dates/datetimes selected with `raw` (read back with `to_day`/`_moment`). Driver errors
    while fetching are raised as SQLAlchemy's DBAPIError, as from `execute`, so the store's
    session translates them the same way.
    """
    result = conn.execute(statement)
    dbapi = conn.dialect.loaded_dbapi
    try:
        return result.cursor.fetchall()  # type: ignore[no-any-return]
    except dbapi.Error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi.Error, dialect=conn.dialect) from exc
    finally:
        result.close()


def day_reader():  # type: ignore[no-untyped-def]
    """A `to_day` that parses each distinct stored value once (dates repeat across many rows)."""
    seen: dict[object, date | None] = {None: None}

    def day(value: object) -> date | None:
        hit = seen.get(value, _MISSING)
        if hit is _MISSING:
            hit = seen[value] = to_day(value)
        return hit  # type: ignore[return-value]

    return day


_MISSING = object()


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


class History(dict):  # type: ignore[type-arg]
    """Which episodes had counted minutes in which earlier month, per patient: `single[patient]`
    = (episode, month indices (year × 12 + month − 1)) when all of the patient's earlier counted
    time is under one episode (what `label_one_episode_at` needs); otherwise
    `self[patient]` = {month: {episode: counted minutes}} (what `label_month` needs). A patient
    in neither had no counted time before."""

    def __init__(self) -> None:
        super().__init__()
        self.single: dict[int, tuple[int, list[int]]] = {}


def _history_exact(conn, first, episodes, roles, consent_for, wanted=None) -> History:  # type: ignore[no-untyped-def]
    """Every earlier patient-month of the `wanted` patients (default: all with episodes) counted by
    `count_month`, overlap measured against every timed entry of the same staff member (the
    reference for `_history_fast`)."""
    rows = conn.execute(
        select(*_ENTRY_COLUMNS[:10]).where(TimeEntry.deleted_at.is_(None), TimeEntry.local_date < first)
    ).all()
    wanted = set(episodes) if wanted is None else wanted
    ins: dict[int, dict[Month, list[TimeEntryIn]]] = defaultdict(lambda: defaultdict(list))
    timed: list[TimeEntryIn] = []
    for r in rows:
        pid = r[1]
        entry = _row_in(r, roles.get(r[3], "unknown"), r[2] or _episode_for_day(episodes, pid, _date(r[4])))
        if pid in wanted:
            ins[pid][Month.of(_date(r[4]))].append(entry)
        if entry.timed:
            timed.append(entry)
    cover = overlap_cover(timed)
    out = History()  # no `single`: the reference labels every patient with label_month
    for pid, months in ins.items():
        for m, mine in months.items():
            mc = count_month(mine, m, consent_for(pid, m), cover=cover)
            counted = {e: n for e, n in mc.counted_by_episode().items() if e is not None and n}
            if counted:
                out.setdefault(pid, {})[m] = counted  # type: ignore[assignment]
    return out


def _episode_for_day(episodes, pid: int, day: date) -> int | None:  # type: ignore[no-untyped-def]
    eps = episodes.get(pid)
    return episode_for_day(eps, day) if eps else None


def _staff_whose_time_counts(roles: dict[int, str]) -> tuple[list[int], list[int]]:
    """(always, only when marked care-manager work): the staff whose entries can count."""
    probe = date(2000, 1, 1)
    always = sorted(
        uid for uid, role in roles.items() if whole_entry_exclusion(role, None, False, probe, probe) is None
    )
    if_cm_work = sorted(
        uid
        for uid, role in roles.items()
        if whole_entry_exclusion(role, None, False, probe, probe) is ExclusionReason.NOT_CARE_MANAGEMENT
        and whole_entry_exclusion(role, None, True, probe, probe) is None
    )
    return always, if_cm_work


def _history_fast(conn, first, episodes, roles, consent_for, wanted=None, consents=None) -> History:  # type: ignore[no-untyped-def]
    """Which episodes had counted minutes in which earlier month, with `count_month` only where an
    overlap or an unusual entry could change the answer.

    Without overlap an entry counts in full or not at all (`whole_entry_exclusion`), so for a
    patient with one episode whose earlier entries all pass the whole-entry rules (by staff whose
    time counts, minutes > 0, not billed elsewhere, an episode set, not deleted), a month has
    counted minutes exactly when its latest day with time is on or after the consent covering
    that month. Those days come from one grouped statement over the (patient, day) index, a list
    of days per patient. `_unusual` finds, from indexes and `time_overlap_day`, the patients with
    another kind of entry and the entries an earlier overlapping entry of the same person trims.
    Patients with several episodes or an unusual entry are grouped per episode and month in SQL
    (`_grouped`); the patient-months with a trimmed entry, or with counted time under two
    episodes (their order decides ties in `label_month`), are recounted by `count_month`.
    """
    always, if_cm_work = _staff_whose_time_counts(roles)
    if not always and not if_cm_work:
        return History()
    wanted = set(episodes) if wanted is None else wanted
    t = TimeEntry
    months: dict[object, Month] = {}

    def month_of(text: str) -> Month:
        m = months.get(text)
        if m is None:
            m = months[text] = Month.parse(text)
        return m

    unusual, recount, cover = _unusual(conn, first, roles, always, if_cm_work, month_of)
    recount = {(pid, m) for pid, m in recount if pid in wanted}
    simple = {pid for pid in wanted if pid not in unusual and len(episodes.get(pid, ())) == 1}
    out = History()
    # The one episode's span and consent as ISO text ("YYYY-MM-DD"; its first 7 characters are the
    # month): `consent_covering` for one episode, compared with the listed days as text.
    spans: dict[int, tuple[str, str | None, str | None]] = {}
    for pid in simple:
        e = episodes[pid][0]
        on = consents.get(e.id) if consents is not None else None
        spans[pid] = (
            e.enrolled_on.isoformat()[:7],
            e.closed_on.isoformat()[:7] if e.closed_on else None,
            on.isoformat() if on else None,
        )
    indices_of: dict[str, int] = {}
    for pid, listed in plain_rows(
        conn,
        select(t.patient_id, func.aggregate_strings(cast(t.local_date, String), ","))
        .where(t.local_date < first)
        .group_by(t.patient_id),
    ):
        span = spans.get(pid)
        if span is None:
            continue
        latest: dict[str, str] = {}
        for day in listed.split(","):
            key = day[:7]
            if day > latest.get(key, ""):
                latest[key] = day
        enrolled, closed, consent_on = span
        indices = []
        for key, day in latest.items():
            if consents is not None:
                counted = (
                    consent_on is not None
                    and day >= consent_on
                    and enrolled <= key
                    and (closed is None or closed >= key)
                )
            else:
                consent = consent_for(pid, month_of(key))
                counted = consent is not None and date.fromisoformat(day) >= consent
            if not counted or (recount and (pid, month_of(key)) in recount):
                continue
            i = indices_of.get(key)
            if i is None:
                i = indices_of[key] = int(key[:4]) * 12 + int(key[5:7]) - 1
            indices.append(i)
        if indices:
            out.single[pid] = (episodes[pid][0].id, indices)
    rest = wanted - simple
    if rest:
        _grouped(conn, first, episodes, consent_for, always, if_cm_work, rest, month_of, recount, out)
    if recount:
        for pid, m in recount:
            one = out.single.pop(pid, None)
            if one is not None:  # back to {month: {episode: minutes}} around the recounted month
                out[pid] = {Month(i // 12, i % 12 + 1): {one[0]: 1} for i in one[1]}
            out.get(pid, {}).pop(m, None)
        _recount(conn, first, episodes, roles, consent_for, recount, cover, out)
    return out


def _counts(always: list[int], if_cm_work: list[int]):  # type: ignore[no-untyped-def]
    """The whole-entry rules an entry must pass to count (consent aside), as a SQL condition."""
    t = TimeEntry
    return and_(
        t.minutes > 0,
        or_(t.billed_elsewhere.is_(None), t.billed_elsewhere == ""),
        or_(t.staff_id.in_(always), and_(t.staff_id.in_(if_cm_work), t.counts_as_care_management.is_(True))),
    )


def _grouped(
    conn, first, episodes, consent_for, always, if_cm_work, patients, month_of, recount, out
) -> None:  # type: ignore[no-untyped-def]
    """The earlier months of these patients from one grouped statement: per episode and month
    (per day for entries without an episode, which the episode open that day takes), the latest
    day with an entry that passes the whole-entry rules; it counts when on or after the consent."""
    t = TimeEntry
    month_text = func.substr(cast(t.local_date, String), 1, 7)
    q = (
        select(t.patient_id, t.episode_id, month_text, raw(func.max(t.local_date)))
        .where(t.deleted_at.is_(None), t.local_date < first, _counts(always, if_cm_work))
        .group_by(month_text, t.patient_id, t.episode_id, case((t.episode_id.is_(None), t.local_date)))
    )
    if len(patients) <= 2000:  # a few: along the patient index; many: one pass over all
        q = q.where(t.patient_id.in_(sorted(patients)))
    days: dict[object, date] = {}
    found: dict[int, list[tuple[int, Month, int]]] = defaultdict(
        list
    )  # patient → (month index, month, episode)
    for pid, eid, mtext, latest in plain_rows(conn, q):
        if pid not in patients:
            continue
        m = month_of(mtext)
        if recount and (pid, m) in recount:
            continue
        day = days.get(latest)
        if day is None:
            day = days[latest] = _date(latest)
        consent = consent_for(pid, m)
        if consent is None or day < consent:
            continue
        if eid is None:
            eid = _episode_for_day(episodes, pid, day)
            if eid is None:
                continue
        found[pid].append((m.year * 12 + m.month - 1, m, eid))
    for pid, items in found.items():
        eid = items[0][2]
        if all(item[2] == eid for item in items):
            out.single[pid] = (eid, [item[0] for item in items])
            continue
        mine = out[pid] = {}
        for _, m, eid in items:
            per = mine.get(m)
            if per is None:
                mine[m] = {eid: 1}  # > 0 is what decides; the month itself is counted exactly
            elif eid not in per:
                recount.add((pid, m))  # two episodes: count_month's line order decides their order


def _unusual(
    conn, first, roles, always, if_cm_work, month_of
) -> tuple[set[int], set[tuple[int, Month]], Coverage]:  # type: ignore[no-untyped-def]
    """Before `first`: (patients with an entry that does not pass the whole-entry rules, is deleted
    or has no episode; patient-months with an entry that an earlier entry of the same person
    overlaps; that overlap, `domain.timelog.overlap_cover` of every earlier timed entry).

    Each from rows that an index or a small table lists, never a pass over every entry: unusual
    entries from a partial index (`UNUSUAL_ENTRY_SQL`), the entries of staff whose time counts
    only as care-manager work or not at all from the staff index, and the overlap from the
    entries on the staff days in `time_overlap_day` (store.overlap_days keeps it current on every
    write). Stored rows are one local day each (services.time_log splits a span at midnight, and
    the month's own rows and the reference count group by that day too), so an entry on any
    other day overlaps nothing. Only the later of two overlapping entries loses minutes, so only
    its month can change.
    """
    t = TimeEntry
    before = t.local_date < first
    # every user is in exactly one of: always counted, counted as care-manager work, never counted
    never = sorted(set(roles) - set(always) - set(if_cm_work))
    # no DISTINCT: SQLite would rather walk the patient index in order than read the few rows
    queries = [select(t.patient_id).where(before, text(f"({UNUSUAL_ENTRY_SQL})"))]
    if never:
        queries.append(select(t.patient_id).where(t.staff_id.in_(never), before))
    if if_cm_work:
        queries.append(
            select(t.patient_id).where(
                t.staff_id.in_(if_cm_work), t.counts_as_care_management.is_not(True), before
            )
        )
    unusual: set[int] = set()
    for q in queries:
        unusual.update(pid for (pid,) in plain_rows(conn, q))
    # one person's entries on the days they overlap: the cover of every earlier entry (an entry on
    # any other day overlaps nothing), and the patient-months of the entries it trims
    days = TimeOverlapDay
    listed = conn.execute(
        select(days.local_date, days.staff_id).where(days.local_date < first)
    ).all()  # looked up day by day (as a join, SQLite walks every earlier entry instead)
    on_those_days: list[tuple] = []  # type: ignore[type-arg]
    for i in range(0, len(listed), 2000):
        on_those_days += plain_rows(
            conn,
            select(*_ENTRY_COLUMNS[:10]).where(
                tuple_(t.local_date, t.staff_id).in_([tuple(d) for d in listed[i : i + 2000]]),
                t.deleted_at.is_(None),
            ),
        )
    cover = overlap_cover(_row_in(r, roles.get(r[3], "unknown"), None) for r in on_those_days)
    recount = {
        (r[1], month_of(r[4][:7]) if isinstance(r[4], str) else Month.of(_date(r[4])))
        for r in on_those_days
        if r[0] in cover
    }
    return unusual, recount, cover


def _recount(conn, first, episodes, roles, consent_for, months, cover: Coverage, out: _History) -> None:  # type: ignore[no-untyped-def]
    """These patient-months by `count_month`, with `cover` (from `_unusual`: the overlap of every
    timed entry before `first`)."""
    pids = sorted({pid for pid, _ in months})
    mine: dict[tuple[int, Month], list] = defaultdict(list)  # type: ignore[type-arg]
    for chunk in _chunks(pids):
        for r in conn.execute(
            select(*_ENTRY_COLUMNS[:10]).where(
                TimeEntry.deleted_at.is_(None), TimeEntry.local_date < first, TimeEntry.patient_id.in_(chunk)
            )
        ):
            key = (r[1], Month.of(_date(r[4])))
            if key in months:
                mine[key].append(r)
    for (pid, m), rows in mine.items():
        ins = [
            _row_in(r, roles.get(r[3], "unknown"), r[2] or _episode_for_day(episodes, pid, _date(r[4])))
            for r in rows
        ]
        mc = count_month(ins, m, consent_for(pid, m), cover=cover)
        counted = {e: n for e, n in mc.counted_by_episode().items() if e is not None and n}
        if counted:
            out.setdefault(pid, {})[m] = counted  # type: ignore[assignment]


def _chunks(ids: list[int], size: int = 5000) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]


def label_one_episode(ep, months: Iterable[Month], month: Month, minutes: int) -> MonthLabel | None:  # type: ignore[no-untyped-def]
    """`domain.episode_months.label_month` for a patient with one episode (`ep`: id, program,
    enrolled_on, closed_on), without building its inputs: `months` are the earlier months with
    counted minutes, `minutes` this month's.

    With one episode every month's decider is that episode and no closure ends a billing episode
    between two of its own months, so only the 6-month gap starts a new one. Tested against
    `label_month` on random histories (tests/billing/test_billing_labels.py)."""
    return label_one_episode_at(ep, [m.year * 12 + m.month - 1 for m in months], month, minutes)


def label_one_episode_at(ep, months: list[int], month: Month, minutes: int) -> MonthLabel | None:  # type: ignore[no-untyped-def]
    """`label_one_episode` with the earlier months as indices (year × 12 + month − 1)."""
    if ep.program not in PROGRAMS:
        raise ValueError(f"unknown program {ep.program!r}")
    if minutes < 0:
        raise ValueError(f"negative minutes for episode {ep.id} in {month}")
    here = month.year * 12 + month.month - 1
    if not minutes and not (
        ep.enrolled_on <= month.last_day and (ep.closed_on is None or ep.closed_on >= month.first_day)
    ):
        return None
    if ep.program != PROGRAM_COCM:
        return MonthLabel(month, ep.id, ep.program, minutes, False, None, None)
    start = last = None
    for i in sorted(months):
        if i >= here:
            break
        if last is None or i - last - 1 >= GAP_MONTHS_NEW_EPISODE:
            start = i
        last = i
    if last is None or here - last - 1 >= GAP_MONTHS_NEW_EPISODE:
        start = here
    assert start is not None
    begins = month if start == here else Month(start // 12, start % 12 + 1)
    return MonthLabel(month, ep.id, ep.program, minutes, start == here, here - start + 1, begins)
