"""Earlier months of the month-end billing computation: which episodes had counted CoCM minutes
in which calendar month before the billed one (that decides initial/subsequent and the 6-month gap).

`history_fast` answers from grouped SQL (a list of days per patient for the common patient with
one episode and only plainly counting entries; per episode and month for the others) plus an exact
recount (`count_month`) of the patient-months an overlap could change; `history_exact` counts
every earlier patient-month with `count_month` and is the reference the fast path is tested
against (tests/billing/test_billing_month_fast.py). `label_one_episode` labels a one-episode
patient's month as `domain.episode_months.label_month` does, from that history.

Also what the billing-month modules share about stored time entries: `entry_in` (a
`store.reads.time_reads.TimeEntryRow` as `domain.timelog.TimeEntryIn` sees it) and
`episode_for_day`. Every read is a typed function of `store.reads.time_reads`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

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
from cocm_desktop.store.reads import time_reads
from cocm_desktop.store.reads.time_reads import TimeEntryRow


def episode_for_day(episodes: list, day: date) -> int | None:  # type: ignore[type-arg]
    """Entries logged without an episode belong to the episode open that day (latest enrollment),
    else to the latest episode enrolled by then."""
    open_ = [e for e in episodes if e.enrolled_on <= day and (e.closed_on is None or e.closed_on >= day)]
    pool = open_ or [e for e in episodes if e.enrolled_on <= day]
    if not pool:
        return None
    return max(pool, key=lambda e: (e.enrolled_on, e.id)).id


def entry_in(r: TimeEntryRow, role: str, episode_id: int | None) -> TimeEntryIn:
    """A stored time entry as domain.timelog sees it."""
    if r.started_at is not None and r.ended_at is not None:
        return TimeEntryIn(
            r.id, r.staff_id, role, r.patient_id, r.activity, start=r.started_at, end=r.ended_at,
            minutes=r.minutes, billed_elsewhere=r.billed_elsewhere,
            counts_as_care_management=r.counts_as_care_management, source=r.source, episode_id=episode_id,
        )
    return TimeEntryIn(
        r.id, r.staff_id, role, r.patient_id, r.activity, local_date=r.local_date, minutes=r.minutes,
        billed_elsewhere=r.billed_elsewhere, counts_as_care_management=r.counts_as_care_management,
        source=r.source, episode_id=episode_id,
    )


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


def history_exact(conn, first, episodes, roles, consent_for, wanted=None) -> History:  # type: ignore[no-untyped-def]
    """Every earlier patient-month of the `wanted` patients (default: all with episodes) counted by
    `count_month`, overlap measured against every timed entry of the same staff member (the
    reference for `history_fast`)."""
    rows = time_reads.entries_before(conn, first)
    wanted = set(episodes) if wanted is None else wanted
    ins: dict[int, dict[Month, list[TimeEntryIn]]] = defaultdict(lambda: defaultdict(list))
    timed: list[TimeEntryIn] = []
    for r in rows:
        pid = r.patient_id
        entry = entry_in(r, roles.get(r.staff_id, "unknown"), r.episode_id or _episode_for_day(episodes, pid, r.local_date))
        if pid in wanted:
            ins[pid][Month.of(r.local_date)].append(entry)
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


def history_fast(conn, first, episodes, roles, consent_for, wanted=None, consents=None) -> History:  # type: ignore[no-untyped-def]
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
    unusual, recount, cover = _unusual(conn, first, roles, always, if_cm_work)
    recount = {(pid, m) for pid, m in recount if pid in wanted}
    simple = {pid for pid in wanted if pid not in unusual and len(episodes.get(pid, ())) == 1}
    out = History()
    # The one episode's span as month indices (year × 12 + month − 1) and its consent:
    # `consent_covering` for one episode.
    spans: dict[int, tuple[int, int | None, date | None]] = {}
    for pid in simple:
        e = episodes[pid][0]
        spans[pid] = (
            _index(e.enrolled_on),
            _index(e.closed_on) if e.closed_on else None,
            consents.get(e.id) if consents is not None else None,
        )
    months: dict[int, Month] = {}
    for pid, latest in time_reads.latest_day_per_month(conn, first, spans).items():
        enrolled, closed, consent_on = spans[pid]
        indices = []
        for i, day in latest.items():
            if consents is not None:
                counted = (
                    consent_on is not None
                    and day >= consent_on
                    and enrolled <= i
                    and (closed is None or closed >= i)
                )
            else:
                consent = consent_for(pid, _month(months, i))
                counted = consent is not None and day >= consent
            if not counted or (recount and (pid, _month(months, i)) in recount):
                continue
            indices.append(i)
        if indices:
            out.single[pid] = (episodes[pid][0].id, indices)
    rest = wanted - simple
    if rest:
        _grouped(conn, first, episodes, consent_for, always, if_cm_work, rest, recount, out)
    if recount:
        for pid, m in recount:
            one = out.single.pop(pid, None)
            if one is not None:  # back to {month: {episode: minutes}} around the recounted month
                out[pid] = {Month(i // 12, i % 12 + 1): {one[0]: 1} for i in one[1]}
            out.get(pid, {}).pop(m, None)
        _recount(conn, first, episodes, roles, consent_for, recount, cover, out)
    return out


def _index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month(months: dict[int, Month], i: int) -> Month:
    m = months.get(i)
    if m is None:
        m = months[i] = Month(i // 12, i % 12 + 1)
    return m


def _grouped(
    conn, first, episodes, consent_for, always, if_cm_work, patients, recount, out
) -> None:  # type: ignore[no-untyped-def]
    """The earlier months of these patients from one grouped statement: per episode and month
    (per day for entries without an episode, which the episode open that day takes), the latest
    day with an entry that passes the whole-entry rules; it counts when on or after the consent."""
    months: dict[int, Month] = {}
    found: dict[int, list[tuple[int, Month, int]]] = defaultdict(
        list
    )  # patient → (month index, month, episode)
    for pid, eid, i, day in time_reads.latest_counted_day_per_month(conn, first, always, if_cm_work, patients):
        m = _month(months, i)
        if recount and (pid, m) in recount:
            continue
        consent = consent_for(pid, m)
        if consent is None or day < consent:
            continue
        if eid is None:
            eid = _episode_for_day(episodes, pid, day)
            if eid is None:
                continue
        found[pid].append((i, m, eid))
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
    conn, first, roles, always, if_cm_work
) -> tuple[set[int], set[tuple[int, Month]], Coverage]:  # type: ignore[no-untyped-def]
    """Before `first`: (patients with an entry that does not pass the whole-entry rules, is deleted
    or has no episode; patient-months with an entry that an earlier entry of the same person
    overlaps; that overlap, `domain.timelog.overlap_cover` of every earlier timed entry).

    Each from rows that an index or a small table lists, never a pass over every entry
    (`time_reads.unusual_patients_before`, `time_reads.entries_on_overlap_days_before`: the
    entries on the staff days in `time_overlap_day`, which store.overlap_days keeps current on
    every write). Stored rows are one local day each (services.time_log splits a span at midnight,
    and the month's own rows and the reference count group by that day too), so an entry on any
    other day overlaps nothing. Only the later of two overlapping entries loses minutes, so only
    its month can change.
    """
    # every user is in exactly one of: always counted, counted as care-manager work, never counted
    never = set(roles) - set(always) - set(if_cm_work)
    unusual = time_reads.unusual_patients_before(conn, first, never, if_cm_work)
    on_those_days = time_reads.entries_on_overlap_days_before(conn, first)
    cover = overlap_cover(entry_in(r, roles.get(r.staff_id, "unknown"), None) for r in on_those_days)
    recount = {(r.patient_id, Month.of(r.local_date)) for r in on_those_days if r.id in cover}
    return unusual, recount, cover


def _recount(conn, first, episodes, roles, consent_for, months, cover: Coverage, out: _History) -> None:  # type: ignore[no-untyped-def]
    """These patient-months by `count_month`, with `cover` (from `_unusual`: the overlap of every
    timed entry before `first`)."""
    mine: dict[tuple[int, Month], list[TimeEntryRow]] = defaultdict(list)
    for r in time_reads.entries_before(conn, first, patient_ids={pid for pid, _ in months}):
        key = (r.patient_id, Month.of(r.local_date))
        if key in months:
            mine[key].append(r)
    for (pid, m), rows in mine.items():
        ins = [
            entry_in(r, roles.get(r.staff_id, "unknown"), r.episode_id or _episode_for_day(episodes, pid, r.local_date))
            for r in rows
        ]
        mc = count_month(ins, m, consent_for(pid, m), cover=cover)
        counted = {e: n for e, n in mc.counted_by_episode().items() if e is not None and n}
        if counted:
            out.setdefault(pid, {})[m] = counted  # type: ignore[assignment]


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
