"""The billed month's own time, patient by patient: every packet line, exclusion and counted minute.

`count_patients` turns the month's stored time entries (Core rows, one local day each) into a
`Tally` per patient: the appendix lines (already `LogLine`s), minutes logged, counted minutes by
episode, excluded minutes by reason and the first counted day. It gives exactly what
`domain.timelog.count_month` gives (the reference; `exact=True` uses it for every patient):

- The common case is tallied row by row: a stored entry within one local day is one piece whose
  minutes count in full or not at all (`whole_entry_exclusion`: role, billed elsewhere,
  care-manager work, consent, enrollment), in count_month's line and exclusion order.
- A patient with any entry that an earlier entry of the same staff member overlaps (one sweep per
  staff member over the month's timed entries, all patients), or with an entry that is not within
  one local day or is otherwise unusual (a timer row of minutes and seconds, whose seconds the
  month adds before rounding down), is counted by `count_month` with the staff members'
  `overlap_cover`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cocm_desktop.domain.activities import ACTIVITIES
from cocm_desktop.domain.episode_months import Month
from cocm_desktop.domain.timelog import MonthCount, count_month, overlap_cover
from cocm_desktop.domain.timelog import whole_entry_exclusion as _whole_entry_exclusion
from cocm_desktop.store.reads.time_reads import TimeEntryRow

from .billing_history import entry_in, episode_for_day
from .billing_month_model import LogLine

__all__ = ["Tally", "count_patients"]


@dataclass(frozen=True, slots=True)
class Tally:
    """What the packet needs of one patient's `MonthCount`."""

    logged_minutes: int
    first_counted_date: date | None
    counted_by_episode: dict[int | str | None, int]  # in line order, as MonthCount gives it
    excluded_by_reason: dict[str, int]  # in exclusion order, as MonthCount gives it
    time_log: tuple[LogLine, ...]


@dataclass(frozen=True, slots=True)
class _Names:
    """Staff display names, role labels and normalized roles; exclusion reason labels."""

    names: dict[int, str]
    role_labels: dict[int, str]
    roles: dict[int, str]
    reasons: dict[str, str]
    people: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # staff → (role, name, role label)


def _activity(value: str) -> str:
    return ACTIVITIES.get(value, value)


def count_patients(
    rows: Sequence[TimeEntryRow],
    month: Month,
    patients: dict[int, object] | set[int],
    episodes: dict[int, list],  # type: ignore[type-arg]
    consent_for: Callable[[int, Month], date | None],
    names: dict[int, str],
    role_labels: dict[int, str],
    roles: dict[int, str],
    labels: dict[str, str],
    *,
    exact: bool = False,
) -> dict[int, Tally]:
    """{patient: Tally} for the patients in `patients` with time in `month`.

    `rows`: every stored entry of the month (`time_reads.month_entries`, all patients: one person's
    entries for two patients can overlap). `roles`: staff id → normalized role. `labels`: exclusion
    reason → packet label.
    """
    staff = _Names(names, role_labels, roles, labels)
    entries = _parse(rows)
    by_patient: dict[int, list[_Entry]] = defaultdict(list)
    for entry in entries:
        by_patient[entry[0][1]].append(entry)
    odd, overlapping = _needs_count_month(entries, month)
    slow = set(by_patient) if exact else odd & set(by_patient)
    cover = None
    if slow:
        # an entry is covered only by entries it overlaps, so the cover of the entries in a run of
        # overlapping entries is the cover of all (the reference takes every timed entry)
        cover = overlap_cover(
            entry_in(r, roles.get(r.staff_id, "unknown"), None) for r in rows if exact or r.id in overlapping
        )
    out: dict[int, Tally] = {}
    for pid, mine in by_patient.items():
        if pid not in patients:
            continue
        eps = episodes.get(pid, [])
        consent = consent_for(pid, month)
        if pid in slow:
            ins = [
                entry_in(r, roles.get(r.staff_id, "unknown"), r.episode_id or _for_day(eps, r.local_date))
                for r, *_ in mine
            ]
            enrolled = {e.id: e.enrolled_on for e in eps}
            out[pid] = _from_count(count_month(ins, month, consent, cover=cover, enrolled=enrolled), staff)
        else:
            out[pid] = _tally(mine, eps, consent, staff)
    return out


# a stored row with the day of its piece: (row, start, end, day of its piece, stored day)
_Entry = tuple[TimeEntryRow, datetime | None, datetime | None, date, date]


def _parse(rows: Sequence[TimeEntryRow]) -> list[_Entry]:
    out: list[_Entry] = []
    for r in rows:
        start, end, stored = r.started_at, r.ended_at, r.local_date
        if start is not None and end is not None:
            out.append((r, start, end, start.date(), stored))
        else:
            out.append((r, None, None, stored, stored))
    return out


def _for_day(eps: list, day: date) -> int | None:  # type: ignore[type-arg]
    return episode_for_day(eps, day) if eps else None


_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)
_MIN = datetime.min
_MIDNIGHT = datetime.min.time()


def _needs_count_month(entries: list[_Entry], month: Month) -> tuple[set[int], set[object]]:
    """(Patients whose month the row-by-row tally cannot count: an entry overlapped by an earlier
    entry of the same staff member (start order, ties by id, as `overlap_cover`), or one that is not
    one whole piece in this month or whose minutes are not a whole number its clock span holds;
    the entries in runs of one staff member's entries that overlap one another)."""
    odd: set[int] = set()
    timed: dict[int, list[tuple[datetime, int, datetime, int]]] = defaultdict(list)
    first, last = month.first_day, month.last_day
    for r, s, e, day, _ in entries:
        minutes = r.minutes
        if minutes.__class__ is not int or minutes < 0:
            odd.add(r.patient_id)
        if s is None or e is None:
            continue  # minutes on a day: never overlap-checked, one piece on that day
        if (
            e < s
            or not first <= day <= last
            or e > datetime.combine(day + _DAY, _MIDNIGHT)
            or (minutes.__class__ is int and timedelta(minutes=minutes) > e - s)
            or (r.source == "timer" and (e - s) % _MINUTE)  # seconds: the month adds them
        ):
            odd.add(r.patient_id)
        timed[r.staff_id].append((s, r.id, e, r.patient_id))
    overlapping: set[object] = set()
    for staff_entries in timed.values():
        staff_entries.sort()
        reach = _MIN
        run: list[object] = []  # entries since the last one that started after all before it ended
        for s, entry_id, e, pid in staff_entries:
            if reach > s:
                odd.add(pid)
            else:
                if len(run) > 1:
                    overlapping.update(run)
                run = []
            run.append(entry_id)
            if e > reach:
                reach = e
        if len(run) > 1:
            overlapping.update(run)
    return odd, overlapping


def _tally(entries: list[_Entry], eps: list, consent: date | None, staff: _Names) -> Tally:  # type: ignore[type-arg]
    """count_month for entries that are each one whole piece without overlap."""
    roles, people, labels = staff.roles, staff.people, staff.reasons
    lines = []
    excluded = []
    logged = 0
    for r, start, end, day, stored in entries:
        entry_id, staff_id, minutes = r.id, r.staff_id, r.minutes
        person = people.get(staff_id)
        if person is None:
            person = people[staff_id] = (
                roles.get(staff_id, "unknown"),
                staff.names.get(staff_id, "?"),
                staff.role_labels.get(staff_id, "?"),
            )
        episode_id = r.episode_id or (episode_for_day(eps, stored) if eps else None)
        reason = _whole_entry_exclusion(person[0], r.billed_elsewhere, r.counts_as_care_management, day, consent,
                                        _enrolled_on(eps, episode_id))
        why = None
        if reason is not None:
            counted = 0
            if minutes:
                why = labels.get(reason, str(reason))
                excluded.append((day, str(entry_id), reason, minutes))
        else:
            counted = minutes
        logged += minutes
        line = LogLine(day, start, end, person[1], person[2], _activity(r.activity), r.source, minutes, counted, why)
        lines.append(((day, start or _MIN, str(entry_id)), line, episode_id))
    lines.sort(key=_first)
    by_episode: dict[int | str | None, int] = {}
    first = None
    for _, line, episode_id in lines:
        if line.counted_minutes:
            by_episode[episode_id] = by_episode.get(episode_id, 0) + line.counted_minutes
            if first is None:
                first = line.local_date
    excluded.sort(key=_first_two)
    by_reason: dict[str, int] = {}
    for _, _, reason, minutes in excluded:
        by_reason[reason] = by_reason.get(reason, 0) + minutes
    return Tally(logged, first, by_episode, by_reason, tuple(line for _, line, _ in lines))


def _enrolled_on(eps: list, episode_id: int | None) -> date | None:  # type: ignore[type-arg]
    """The enrollment date of the entry's episode; None without one (time before enrollment)."""
    if episode_id is not None:
        for e in eps:
            if e.id == episode_id:
                return e.enrolled_on  # type: ignore[no-any-return]
    return None


def _first(item: tuple) -> tuple:  # type: ignore[type-arg]
    return item[0]


def _first_two(item: tuple) -> tuple:  # type: ignore[type-arg]
    return item[0], item[1]


def _from_count(mc: MonthCount, staff: _Names) -> Tally:
    """The Tally of a `count_month` result."""
    why: dict[tuple[object, date], str] = {}
    for ex in mc.exclusions:
        why.setdefault((ex.entry_id, ex.local_date), staff.reasons.get(ex.reason, str(ex.reason)))
    log = tuple(
        LogLine(
            line.local_date,
            line.start,
            line.end,
            staff.names.get(line.staff_user_id, "?"),
            staff.role_labels.get(line.staff_user_id, "?"),
            ACTIVITIES.get(line.activity, line.activity),
            line.source,
            line.logged_minutes,
            line.counted_minutes,
            why.get((line.entry_id, line.local_date)),
        )
        for line in mc.lines
    )
    by_reason: dict[str, int] = {}
    for reason, minutes in mc.excluded_by_reason().items():
        by_reason[reason] = minutes
    return Tally(mc.logged_minutes, mc.first_counted_date, mc.counted_by_episode(), by_reason, log)
