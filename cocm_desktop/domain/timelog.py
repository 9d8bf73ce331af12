"""Time entries: splitting at local midnight and counting a patient's CoCM minutes for a month.

Decisions:
- All times are the clinic's local, naive datetimes; a piece belongs to the local calendar day
  (and so month) it falls in. A timer across midnight or month end is split per day.
- Minutes are whole minutes and never rounded up: a timed entry logs floor(duration) minutes
  (a billing threshold is only reached by time actually spent), or the stored `minutes` when the
  caller gives them (a paused timer logs less than its clock span). Day pieces get shares of the
  logged minutes by cumulative floor of the elapsed share, so pieces always sum to the entry.
- Whose time counts: the care manager's always; the treating clinician's only when the entry is
  flagged `counts_as_care_management`; the psychiatric consultant's never (logged, reported as
  excluded). Any other role (e.g. clinic lead) does not count.
- Overlap: one person cannot spend the same minute twice. Among one staff member's timed entries,
  the earlier start keeps its time (ties: the lower entry id); a later entry loses the share of its
  minutes that falls inside earlier entries' clock spans, reported as "overlap". Every timed entry
  of that person takes part (even one excluded for another reason, e.g. psychotherapy billed
  elsewhere: that time was still spent on something else). Manual entries without clock times
  cannot be overlap-checked and are counted as given.
- Each excluded minute has exactly one reason, taken in this order: consultant, role not counted,
  billed elsewhere, clinician not doing care-manager work, no consent / before consent, overlap.

Pure: no Qt, no SQL, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
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
    "TimeLine",
    "count_month",
    "normalize_role",
    "split_at_midnight",
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


# entry id → {day piece start → (seconds covered by earlier entries, their ids)}
_Coverage = dict[int | str, dict[datetime, tuple[timedelta, tuple[int | str, ...]]]]


def _span(entry: TimeEntryIn) -> tuple[datetime, datetime]:
    assert entry.start is not None and entry.end is not None
    return entry.start, entry.end


def _overlaps(entries: Iterable[TimeEntryIn]) -> _Coverage:
    """For each timed entry, how much of each of its day pieces earlier entries of that person cover."""
    by_staff: dict[int, list[TimeEntryIn]] = defaultdict(list)
    for entry in entries:
        if entry.timed:
            by_staff[entry.staff_user_id].append(entry)
    result: _Coverage = {}
    for staff_entries in by_staff.values():
        staff_entries.sort(key=_order_key)
        for i, entry in enumerate(staff_entries):
            start, end = _span(entry)
            earlier = [(*_span(e), e.entry_id) for e in staff_entries[:i] if _span(e)[1] > start]
            if not earlier:
                continue
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
            result[entry.entry_id] = per_piece
    return result


def _whole_entry_reason(
    entry: TimeEntryIn, day: date, consent_date: date | None
) -> tuple[ExclusionReason, str] | None:
    role = entry.role
    if role == ROLE_CONSULTANT:
        return (
            ExclusionReason.CONSULTANT,
            "Psychiatric consultant time is logged but never counts toward CoCM minutes.",
        )
    if role not in COUNTED_ROLES:
        return (
            ExclusionReason.ROLE_NOT_COUNTED,
            f"Time logged by role {entry.staff_role!r} does not count toward CoCM minutes.",
        )
    if entry.billed_elsewhere:
        what = entry.billed_elsewhere if isinstance(entry.billed_elsewhere, str) else "another service"
        return (
            ExclusionReason.BILLED_ELSEWHERE,
            f"Already billed as {what}; the same time is not counted twice.",
        )
    if role == ROLE_CLINICIAN and not entry.counts_as_care_management:
        return (
            ExclusionReason.NOT_CARE_MANAGEMENT,
            "Treating clinician time counts only when marked as care-manager work.",
        )
    if consent_date is None:
        return ExclusionReason.NO_CONSENT, "No consent documented; time cannot count until it is."
    if day < consent_date:
        return (
            ExclusionReason.BEFORE_CONSENT,
            f"Before the consent date {consent_date.isoformat()}; time counts from that day on.",
        )
    return None


def count_month(
    entries: Sequence[TimeEntryIn],
    month: Month | date,
    consent_date: date | None,
    *,
    other_patient_entries: Iterable[TimeEntryIn] = (),
) -> MonthCount:
    """Counted and excluded minutes of one patient in one calendar month.

    `entries`: the patient's entries touching the month (include the day before the month so a
    timer running into the 1st is seen). `other_patient_entries`: optionally, the same staff
    members' entries for other patients — used only to find overlap (one person, two patients at
    once), never counted here. Invariant: counted + excluded == logged.
    """
    month = Month.of(month)
    patients = {e.patient_id for e in entries}
    if len(patients) > 1:
        raise ValueError(f"count_month is per patient; got patients {sorted(patients)}")
    for other in other_patient_entries:
        if other.patient_id in patients:
            raise ValueError(f"entry {other.entry_id} belongs to this patient; pass it in entries")
    cover = _overlaps([*entries, *other_patient_entries])

    lines: list[TimeLine] = []
    exclusions: list[Exclusion] = []
    for entry in entries:
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
            counted = piece.minutes
            whole = _whole_entry_reason(entry, piece.local_date, consent_date)
            if whole is not None:
                counted = 0
                if piece.minutes:
                    exclusions.append(
                        Exclusion(
                            entry.entry_id, piece.local_date, entry.staff_user_id, piece.minutes, *whole
                        )
                    )
            elif piece.start in cover.get(entry.entry_id, {}):
                seconds, ids = cover[entry.entry_id][piece.start]
                span = piece.end - piece.start
                # The uncovered share of the piece's minutes, rounded down like all minutes here.
                counted = (piece.minutes * (span - seconds)) // span
                lost = piece.minutes - counted
                if lost:
                    others = ", ".join(str(i) for i in ids)
                    exclusions.append(
                        Exclusion(
                            entry.entry_id,
                            piece.local_date,
                            entry.staff_user_id,
                            lost,
                            ExclusionReason.OVERLAP,
                            f"Overlaps earlier entry {others} by the same staff member; "
                            f"the overlapping {lost} min count once, on the earlier entry.",
                        )
                    )
            lines.append(
                TimeLine(
                    entry_id=entry.entry_id,
                    local_date=piece.local_date,
                    staff_user_id=entry.staff_user_id,
                    staff_role=entry.role,
                    activity=entry.activity,
                    source=entry.source,
                    episode_id=entry.episode_id,
                    logged_minutes=piece.minutes,
                    counted_minutes=counted,
                    start=piece.start if entry.timed else None,
                    end=piece.end if entry.timed else None,
                )
            )
    lines.sort(key=lambda line: (line.local_date, line.start or datetime.min, str(line.entry_id)))
    exclusions.sort(key=lambda e: (e.local_date, str(e.entry_id)))
    return MonthCount(month, next(iter(patients), None), tuple(lines), tuple(exclusions))
