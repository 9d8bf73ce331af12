"""Time entries: splitting at local midnight and counting a patient's CoCM minutes for a month.

Decisions:
- All times are the clinic's local, naive datetimes; a piece belongs to the local calendar day
  (and so month) it falls in. A timer across midnight or month end is split per day.
- Minutes are never rounded up: a threshold is only reached by time actually spent. A timer's
  piece keeps its exact running time (seconds: `TimeEntryIn.exact`); every other entry is whole
  minutes (a manual entry, or a paused/partial span's stored `minutes`). A month adds the exact
  durations and rounds its totals down to whole minutes (billing.md): the lines get their whole
  minutes by cumulative floor, so they add up to the month and a whole-minute line keeps its
  minutes. Day pieces of an entry that is not exact get shares of its minutes by cumulative floor
  of the elapsed share, so pieces always sum to the entry.
- Whose time counts: the care manager's always; the treating clinician's only when the entry is
  flagged `counts_as_care_management`; the psychiatric consultant's never (logged, reported as
  excluded). Any other role (e.g. clinic lead) does not count.
- Overlap: one person cannot spend the same minute twice. Among one staff member's timed entries,
  the earlier start keeps its time (ties: the lower entry id); a later entry loses the share of its
  minutes that falls inside earlier entries' clock spans, reported as "overlap". Every timed entry
  of that person takes part (even one excluded for another reason, e.g. psychotherapy billed
  elsewhere: that time was still spent on something else). Manual entries without clock times
  cannot be overlap-checked and are counted as given.
- Time before the enrollment date, or on a day no episode covers, is logged but not counted
  ("before enrollment"): the month is billed for an episode, and its first counted minute (which
  the consent and initiating-visit checks compare with) is an episode minute. `count_month` applies
  it when given the episodes' enrollment dates.
- Each excluded minute has exactly one reason, taken in this order: consultant, role not counted,
  billed elsewhere, clinician not doing care-manager work, no consent / before consent, before
  enrollment, overlap.

Pure: no Qt, no SQL, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from cocm_desktop.domain.episode_months import Month

__all__ = [
    "COUNTED_ROLES",
    "ROLE_CARE_MANAGER",
    "ROLE_CLINICIAN",
    "ROLE_CONSULTANT",
    "DayPiece",
    "Exclusion",
    "ExclusionReason",
    "MonthCount",
    "TimeEntryIn",
    "Coverage",
    "TimeLine",
    "count_month",
    "normalize_role",
    "overlap_cover",
    "split_at_midnight",
    "whole_entry_exclusion",
]

ROLE_CARE_MANAGER = "care_manager"
ROLE_CLINICIAN = "clinician"
ROLE_CONSULTANT = "psychiatrist"  # the psychiatric consultant; values match domain.roles.Role
COUNTED_ROLES = frozenset({ROLE_CARE_MANAGER, ROLE_CLINICIAN})
# Spellings other modules may use for the same roles.
_ROLE_ALIASES = {
    "treating_clinician": ROLE_CLINICIAN,
    "psychiatric_consultant": ROLE_CONSULTANT,
    "consultant": ROLE_CONSULTANT,
    "bhcm": ROLE_CARE_MANAGER,
}

_MINUTE = timedelta(minutes=1)
_SECOND = timedelta(seconds=1)


def normalize_role(role: str) -> str:
    role = role.strip().lower().replace(" ", "_").replace("-", "_")
    return _ROLE_ALIASES.get(role, role)


class ExclusionReason(StrEnum):
    CONSULTANT = "consultant_time"
    ROLE_NOT_COUNTED = "role_not_counted"
    BILLED_ELSEWHERE = "billed_elsewhere"
    NOT_CARE_MANAGEMENT = "clinician_not_care_management"
    NO_CONSENT = "no_consent"
    BEFORE_CONSENT = "before_consent"
    BEFORE_ENROLLMENT = "before_enrollment"
    OVERLAP = "overlap"


@dataclass(frozen=True)
class TimeEntryIn:
    """One time entry as the rules see it.

    Give either `start` and `end` (a timer, or manual entry with clock times) or `local_date` and
    `minutes` (manual minutes without clock times — these cannot be overlap-checked). With clock
    times, `minutes` may also be given (e.g. a paused timer) and must not exceed the clock span.
    `billed_elsewhere` is truthy when the time was billed as another service; a text names it.
    """

    entry_id: int | str
    staff_user_id: int
    staff_role: str
    patient_id: int
    activity: str
    start: datetime | None = None
    end: datetime | None = None
    local_date: date | None = None
    minutes: int | None = None
    billed_elsewhere: bool | str | None = None
    counts_as_care_management: bool = False
    source: str = "manual"
    episode_id: int | str | None = None

    def __post_init__(self) -> None:
        if (self.start is None) != (self.end is None):
            raise ValueError(f"entry {self.entry_id}: give both start and end, or neither")
        if self.minutes is not None and (isinstance(self.minutes, bool) or self.minutes < 0):
            raise ValueError(f"entry {self.entry_id}: minutes must be a whole number ≥ 0")
        if self.start is None:
            if self.local_date is None or self.minutes is None:
                raise ValueError(f"entry {self.entry_id}: without clock times, give local_date and minutes")
            return
        assert self.end is not None
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError(f"entry {self.entry_id}: times must be local naive datetimes")
        if self.end < self.start:
            raise ValueError(f"entry {self.entry_id}: ends before it starts")
        if self.local_date is not None and self.local_date != self.start.date():
            raise ValueError(f"entry {self.entry_id}: local_date differs from the start's date")
        if self.minutes is not None and self.minutes * _MINUTE > self.end - self.start:
            raise ValueError(f"entry {self.entry_id}: {self.minutes} min is longer than its clock span")

    @property
    def timed(self) -> bool:
        return self.start is not None

    @property
    def role(self) -> str:
        return normalize_role(self.staff_role)

    @property
    def exact(self) -> bool:
        """A timer's piece whose clock span is its running time: the month adds its exact seconds."""
        if self.start is None or self.end is None or self.source != "timer":
            return False
        return self.minutes is None or self.minutes == (self.end - self.start) // _MINUTE

    def logged_minutes(self) -> int:
        if self.minutes is not None:
            return self.minutes
        assert self.start is not None and self.end is not None
        return (self.end - self.start) // _MINUTE


@dataclass(frozen=True)
class DayPiece:
    local_date: date
    start: datetime
    end: datetime
    minutes: int


def split_at_midnight(start: datetime, end: datetime, minutes: int | None = None) -> list[DayPiece]:
    """Split [start, end) at each local midnight; one piece per calendar day touched.

    `minutes` (default: whole minutes of the span, rounded down) is shared out so that the minutes
    of the pieces up to any midnight are floor(minutes × elapsed share): pieces sum to `minutes`
    exactly and no day gets a minute it did not earn a share of. An entry ending exactly at
    midnight has no piece on the next day.
    """
    if end < start:
        raise ValueError("end is before start")
    total = end - start
    if minutes is None:
        minutes = total // _MINUTE
    elif minutes < 0 or minutes * _MINUTE > total:
        raise ValueError(f"{minutes} min does not fit in the span {total}")
    pieces: list[DayPiece] = []
    cursor, given = start, 0
    while True:
        midnight = datetime.combine(cursor.date() + timedelta(days=1), time())
        piece_end = min(midnight, end)
        # Cumulative floor keeps the sum exact without a "fix up the last piece" step.
        upto = (minutes * (piece_end - start)) // total if total else minutes
        pieces.append(DayPiece(cursor.date(), cursor, piece_end, upto - given))
        given = upto
        if piece_end >= end:
            return pieces
        cursor = piece_end


@dataclass(frozen=True)
class Exclusion:
    entry_id: int | str
    local_date: date
    staff_user_id: int
    minutes: int
    reason: ExclusionReason
    text: str


@dataclass(frozen=True)
class TimeLine:
    """One entry's piece on one local day in the month: the billing packet's time-log appendix row."""

    entry_id: int | str
    local_date: date
    staff_user_id: int
    staff_role: str
    activity: str
    source: str
    episode_id: int | str | None
    logged_minutes: int
    counted_minutes: int
    start: datetime | None = None
    end: datetime | None = None
    logged_seconds: int | None = None  # the piece's exact time (a timer's seconds), before rounding


@dataclass(frozen=True)
class MonthCount:
    month: Month
    patient_id: int | None
    lines: tuple[TimeLine, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()

    @property
    def logged_minutes(self) -> int:
        return sum(line.logged_minutes for line in self.lines)

    @property
    def counted_minutes(self) -> int:
        return sum(line.counted_minutes for line in self.lines)

    @property
    def excluded_minutes(self) -> int:
        return sum(e.minutes for e in self.exclusions)

    @property
    def first_counted_date(self) -> date | None:
        days = [line.local_date for line in self.lines if line.counted_minutes]
        return min(days) if days else None

    def counted_by_episode(self) -> dict[int | str | None, int]:
        totals: dict[int | str | None, int] = defaultdict(int)
        for line in self.lines:
            if line.counted_minutes:
                totals[line.episode_id] += line.counted_minutes
        return dict(totals)

    def excluded_by_reason(self) -> dict[ExclusionReason, int]:
        totals: dict[ExclusionReason, int] = defaultdict(int)
        for e in self.exclusions:
            totals[e.reason] += e.minutes
        return dict(totals)


def _order_key(entry: TimeEntryIn) -> tuple[datetime, int, int, str]:
    assert entry.start is not None
    # Ints and strings never compare with each other: the type flag comes first.
    if isinstance(entry.entry_id, int):
        return entry.start, 0, entry.entry_id, ""
    return entry.start, 1, 0, str(entry.entry_id)


# entry id → {day piece start → (time covered by earlier entries, their ids)}
Coverage = dict[int | str, dict[datetime, tuple[timedelta, tuple[int | str, ...]]]]


def _span(entry: TimeEntryIn) -> tuple[datetime, datetime]:
    assert entry.start is not None and entry.end is not None
    return entry.start, entry.end


def overlap_cover(entries: Iterable[TimeEntryIn]) -> Coverage:
    """For each timed entry, how much of each of its day pieces earlier entries of that person cover.

    One sweep per staff member in start order: the earlier entries still running at an entry's
    start are kept in a short active list (an entry that ended by then cannot reach any later
    one), so the cost is O(n log n) for the sort plus the overlaps actually found. Compute it once
    over every timed entry of the staff concerned and pass it to `count_month(cover=...)` for
    each patient.
    """
    by_staff: dict[int, list[TimeEntryIn]] = defaultdict(list)
    for entry in entries:
        if entry.start is not None:
            by_staff[entry.staff_user_id].append(entry)
    result: Coverage = {}
    for staff_entries in by_staff.values():
        staff_entries.sort(key=_order_key)
        active: list[tuple[datetime, datetime, int | str]] = []  # earlier entries, by start
        for entry in staff_entries:
            start, end = _span(entry)
            if active and any(hi <= start for _, hi, _ in active):
                active = [a for a in active if a[1] > start]
            if active:
                per_piece = _piece_cover(entry, start, end, active)
                result[entry.entry_id] = per_piece
            active.append((start, end, entry.entry_id))
    return result


def _piece_cover(
    entry: TimeEntryIn, start: datetime, end: datetime, earlier: list[tuple[datetime, datetime, int | str]]
) -> dict[datetime, tuple[timedelta, tuple[int | str, ...]]]:
    per_piece: dict[datetime, tuple[timedelta, tuple[int | str, ...]]] = {}
    for piece in split_at_midnight(start, end, entry.logged_minutes()):
        spans = sorted(
            (max(piece.start, lo), min(piece.end, hi), eid)
            for lo, hi, eid in earlier
            if lo < piece.end and hi > piece.start
        )
        covered, reach, ids = timedelta(), piece.start, []
        for lo, hi, eid in spans:  # length of the union of the sorted spans
            lo = max(lo, reach)
            if hi > lo:
                covered += hi - lo
                reach = hi
            ids.append(eid)
        if covered:
            per_piece[piece.start] = (covered, tuple(ids))
    return per_piece


def whole_entry_exclusion(
    role: str,
    billed_elsewhere: bool | str | None,
    counts_as_care_management: bool,
    day: date,
    consent_date: date | None,
    enrolled_on: date | None = date.min,
) -> ExclusionReason | None:
    """Why a whole entry's piece on `day` does not count (None: it counts, overlap aside).

    `role` must be normalized (`normalize_role`). `enrolled_on`: the enrollment date of the
    entry's episode, None when no episode covers the entry (the default, `date.min`, skips the
    check). The same rules, in the same order, as `count_month`; services that total many stored
    rows at once call this directly.
    """
    if role == ROLE_CONSULTANT:
        return ExclusionReason.CONSULTANT
    if role not in COUNTED_ROLES:
        return ExclusionReason.ROLE_NOT_COUNTED
    if billed_elsewhere:
        return ExclusionReason.BILLED_ELSEWHERE
    if role == ROLE_CLINICIAN and not counts_as_care_management:
        return ExclusionReason.NOT_CARE_MANAGEMENT
    if consent_date is None:
        return ExclusionReason.NO_CONSENT
    if day < consent_date:
        return ExclusionReason.BEFORE_CONSENT
    if enrolled_on is None or day < enrolled_on:
        return ExclusionReason.BEFORE_ENROLLMENT
    return None


def _whole_entry_reason(
    entry: TimeEntryIn, day: date, consent_date: date | None, enrolled_on: date | None = date.min
) -> tuple[ExclusionReason, str] | None:
    reason = whole_entry_exclusion(
        entry.role, entry.billed_elsewhere, entry.counts_as_care_management, day, consent_date, enrolled_on
    )
    if reason is None:
        return None
    if reason is ExclusionReason.CONSULTANT:
        return reason, "Psychiatric consultant time is logged but never counts toward CoCM minutes."
    if reason is ExclusionReason.ROLE_NOT_COUNTED:
        return reason, f"Time logged by role {entry.staff_role!r} does not count toward CoCM minutes."
    if reason is ExclusionReason.BILLED_ELSEWHERE:
        what = entry.billed_elsewhere if isinstance(entry.billed_elsewhere, str) else "another service"
        return reason, f"Already billed as {what}; the same time is not counted twice."
    if reason is ExclusionReason.NOT_CARE_MANAGEMENT:
        return reason, "Treating clinician time counts only when marked as care-manager work."
    if reason is ExclusionReason.NO_CONSENT:
        return reason, "No consent documented; time cannot count until it is."
    if reason is ExclusionReason.BEFORE_ENROLLMENT:
        if enrolled_on is None:
            return reason, "No episode of care covers this day; time counts from the enrollment date on."
        return reason, f"Before the enrollment date {enrolled_on.isoformat()}; time counts from that day on."
    assert consent_date is not None
    return (
        reason,
        f"Before the consent date {consent_date.isoformat()}; time counts from that day on.",
    )


def count_month(
    entries: Sequence[TimeEntryIn],
    month: Month | date,
    consent_date: date | None,
    *,
    other_patient_entries: Iterable[TimeEntryIn] = (),
    cover: Coverage | None = None,
    enrolled: Mapping[int | str, date] | None = None,
) -> MonthCount:
    """Counted and excluded minutes of one patient in one calendar month.

    `entries`: the patient's entries touching the month (include the day before the month so a
    timer running into the 1st is seen). `other_patient_entries`: optionally, the same staff
    members' entries for other patients — used only to find overlap (one person, two patients at
    once), never counted here. `cover`: instead of `other_patient_entries`, the result of
    `overlap_cover` over every timed entry of the staff concerned (this patient's included),
    computed once for many patients. `enrolled`: episode id → enrollment date; when given, a
    piece without an episode (`episode_id` None or unknown) or before its episode's enrollment
    date is excluded as "before enrollment". Invariant: counted + excluded == logged.
    """
    month = Month.of(month)
    patients = {e.patient_id for e in entries}
    if len(patients) > 1:
        raise ValueError(f"count_month is per patient; got patients {sorted(patients)}")
    if cover is None:
        for other in other_patient_entries:
            if other.patient_id in patients:
                raise ValueError(f"entry {other.entry_id} belongs to this patient; pass it in entries")
        cover = overlap_cover([*entries, *other_patient_entries])

    # First each piece's time in seconds (whole minutes × 60, or a timer's exact running time),
    # counted or excluded; then the month's seconds become whole minutes (below).
    raw_lines: list[tuple[tuple[date, datetime, str], TimeEntryIn, DayPiece, int, int]] = []
    raw_out: list[tuple[tuple[date, str], TimeEntryIn, DayPiece, int, ExclusionReason, str | None]] = []
    for entry in entries:
        exact = entry.exact
        if entry.timed:
            assert entry.start is not None and entry.end is not None
            pieces = split_at_midnight(entry.start, entry.end, entry.logged_minutes())
        else:
            assert entry.local_date is not None and entry.minutes is not None
            start = datetime.combine(entry.local_date, time())
            pieces = [DayPiece(entry.local_date, start, start, entry.minutes)]
        for piece in pieces:
            if not month.contains(piece.local_date):
                continue
            logged = (piece.end - piece.start) // _SECOND if exact else piece.minutes * 60
            counted = logged
            if enrolled is None:
                whole = _whole_entry_reason(entry, piece.local_date, consent_date)
            else:
                enrolled_on = enrolled.get(entry.episode_id) if entry.episode_id is not None else None
                whole = _whole_entry_reason(entry, piece.local_date, consent_date, enrolled_on)
            key = (piece.local_date, str(entry.entry_id))
            if whole is not None:
                counted = 0
                if logged:
                    raw_out.append((key, entry, piece, logged, whole[0], whole[1]))
            elif piece.start in cover.get(entry.entry_id, {}):
                covered, ids = cover[entry.entry_id][piece.start]
                span = piece.end - piece.start
                if exact:
                    counted = max(0, logged - covered // _SECOND)
                else:
                    # The uncovered share of the piece's minutes, rounded down like all minutes here.
                    counted = (piece.minutes * (span - covered)) // span * 60
                if logged - counted:
                    raw_out.append((key, entry, piece, logged - counted, ExclusionReason.OVERLAP,
                                    ", ".join(str(i) for i in ids)))
            raw_lines.append(((piece.local_date, piece.start if entry.timed else datetime.min, str(entry.entry_id)),
                              entry, piece, logged, counted))

    # The month adds exact durations and rounds down (billing.md): logged = ⌊all seconds / 60⌋,
    # counted = ⌊counted seconds / 60⌋, excluded = the rest. Minutes are handed to the lines by
    # cumulative floor over the counted seconds (line order), then to the exclusions over the
    # excluded seconds continuing from the counted ones, so lines and reasons add up to the month's
    # totals and a line of whole minutes keeps its minutes. A 40 s timer run is logged; with two
    # more it is a counted minute.
    raw_lines.sort(key=lambda r: r[0])
    raw_out.sort(key=lambda r: r[0])
    exclusions: list[Exclusion] = []
    excluded_of: dict[tuple[object, date], int] = defaultdict(int)
    total = sum(r[4] for r in raw_lines)
    given = total // 60
    for _, entry, piece, secs, reason, text in raw_out:
        total += secs
        minutes = total // 60 - given
        given += minutes
        if not minutes:
            continue
        excluded_of[(entry.entry_id, piece.local_date)] += minutes
        if reason is ExclusionReason.OVERLAP:
            text = (f"Overlaps earlier entry {text} by the same staff member; "
                    f"the overlapping {minutes} min count once, on the earlier entry.")
        exclusions.append(Exclusion(entry.entry_id, piece.local_date, entry.staff_user_id, minutes, reason,
                                    text or ""))
    lines: list[TimeLine] = []
    total = given = 0
    for _, entry, piece, _secs, counted_secs in raw_lines:
        total += counted_secs
        counted = total // 60 - given
        given += counted
        lines.append(
            TimeLine(
                entry_id=entry.entry_id,
                local_date=piece.local_date,
                staff_user_id=entry.staff_user_id,
                staff_role=entry.role,
                activity=entry.activity,
                source=entry.source,
                episode_id=entry.episode_id,
                logged_minutes=counted + excluded_of.pop((entry.entry_id, piece.local_date), 0),
                counted_minutes=counted,
                start=piece.start if entry.timed else None,
                end=piece.end if entry.timed else None,
                logged_seconds=_secs,
            )
        )
    return MonthCount(month, next(iter(patients), None), tuple(lines), tuple(exclusions))
