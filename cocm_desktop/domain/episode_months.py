"""Which billing month of an episode a calendar month is: initial (99492) or subsequent (99493).

Decisions (the billing packet and the registry rely on them):
- The *billing* episode starts in the first calendar month with CoCM services, i.e. counted CoCM
  minutes > 0 (even below any threshold: services were furnished, just not billable). That month
  is "initial"; later months are "subsequent" and numbered by calendar months since the start.
- A new billing episode (99492 again) starts when the previous CoCM service month is followed by
  `GAP_MONTHS_NEW_EPISODE` (6) or more consecutive calendar months without CoCM services, or when
  the earlier clinical episode was closed because goals were met ("completed") or the patient was
  referred on ("transferred"). Re-enrolling after a "disengaged" closure within 6 months continues
  the billing episode: CMS ends an episode on goals met, referral, or the 6-month lapse only.
- Program `bhi` months are never CoCM months and do not count as CoCM services.
- CoCM codes and 99484 are never billed for one patient in one month. When a month has counted time
  under both programs, the program of the episode open at month end (the latest enrolled episode
  with time that month) decides; the other program's minutes are set aside and a conflict is
  reported in plain words so the billing office can see it.

Pure: no Qt, no SQL, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "CLOSE_REASONS_ENDING_BILLING_EPISODE",
    "GAP_MONTHS_NEW_EPISODE",
    "Episode",
    "EpisodeMinutes",
    "Month",
    "MonthLabel",
    "label_month",
    "label_months",
]

GAP_MONTHS_NEW_EPISODE = 6
CLOSE_REASONS_ENDING_BILLING_EPISODE = frozenset({"completed", "transferred"})
PROGRAM_COCM = "cocm"
PROGRAM_BHI = "bhi"
PROGRAMS = (PROGRAM_COCM, PROGRAM_BHI)


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month (the clinic's local calendar)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")
        if not 1 <= self.year <= 9999:
            raise ValueError(f"year out of range: {self.year}")

    @classmethod
    def of(cls, value: date | Month) -> Month:
        """The month of a date (datetime works too), or the month itself."""
        if isinstance(value, Month):
            return value
        return cls(value.year, value.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        """From "YYYY-MM"."""
        try:
            year, month = text.split("-")
            return cls(int(year), int(month))
        except ValueError as exc:
            raise ValueError(f"not a month (YYYY-MM): {text!r}") from exc

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return (self + 1).first_day - timedelta(days=1)

    def contains(self, day: date) -> bool:
        return day.year == self.year and day.month == self.month

    def __add__(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def __sub__(self, other: Month) -> int:
        """Whole calendar months from `other` to self (Nov − Sep = 2)."""
        return (self.year - other.year) * 12 + self.month - other.month

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __hash__(self) -> int:  # cheaper than the generated tuple hash; equal months hash equal
        return self.year * 12 + self.month


@dataclass(frozen=True)
class Episode:
    """A clinical episode (one enrollment) as far as billing months care."""

    episode_id: int | str
    program: str  # "cocm" | "bhi"
    enrolled_on: date
    closed_on: date | None = None
    close_reason: str | None = None

    def __post_init__(self) -> None:
        if self.program not in PROGRAMS:
            raise ValueError(f"unknown program {self.program!r}")

    def open_in(self, month: Month) -> bool:
        return self.enrolled_on <= month.last_day and (
            self.closed_on is None or self.closed_on >= month.first_day
        )


@dataclass(frozen=True)
class EpisodeMinutes:
    """Counted minutes of one episode in one month (from timelog.MonthCount.counted_by_episode)."""

    month: Month
    episode_id: int | str
    minutes: int


@dataclass(frozen=True)
class MonthLabel:
    month: Month
    episode_id: int | str  # the episode whose program decides the month
    program: str
    minutes: int  # counted minutes billed under `program` (all same-program episodes that month)
    initial: bool  # True only for the first month of a CoCM billing episode
    episode_month: int | None  # 1 = initial; calendar months since the billing-episode start; None for bhi
    billing_episode_start: Month | None  # None for bhi
    set_aside_minutes: int = 0  # other program's minutes this month, not billed
    conflict: str | None = None  # plain words when both programs had time

    @property
    def kind(self) -> str:
        """ "initial", "subsequent" or "bhi" — what the billing packet prints."""
        if self.program != PROGRAM_COCM:
            return self.program
        return "initial" if self.initial else "subsequent"


@dataclass
class _CocmState:
    last_month: Month | None = None
    last_episode: Episode | None = None
    start: Month | None = None


def _starts_new_episode(state: _CocmState, month: Month, episode: Episode) -> bool:
    if state.last_month is None or state.last_episode is None:
        return True
    if month - state.last_month - 1 >= GAP_MONTHS_NEW_EPISODE:
        return True
    prev = state.last_episode
    return (
        prev.episode_id != episode.episode_id
        and prev.close_reason in CLOSE_REASONS_ENDING_BILLING_EPISODE
        and prev.closed_on is not None
        and prev.closed_on <= month.last_day
    )


def _by_month(minutes: Iterable[EpisodeMinutes]) -> dict[Month, dict[int | str, int]]:
    table: dict[Month, dict[int | str, int]] = defaultdict(lambda: defaultdict(int))
    for row in minutes:
        if row.minutes < 0:
            raise ValueError(f"negative minutes for episode {row.episode_id} in {row.month}")
        if row.minutes:
            table[row.month][row.episode_id] += row.minutes
    return table


def _decider(month: Month, per_episode: dict[int | str, int], episodes: dict[int | str, Episode]) -> Episode:
    """The episode whose program decides the month: the latest enrollment with time (open at
    month end); ties keep input order (stable max)."""
    for episode_id in per_episode:
        if episode_id not in episodes:
            raise ValueError(f"minutes in {month} for unknown episode {episode_id!r}")
    if len(per_episode) == 1:
        return episodes[next(iter(per_episode))]
    return max((episodes[e] for e in per_episode), key=lambda e: e.enrolled_on)


def _decide(
    month: Month, per_episode: dict[int | str, int], episodes: dict[int | str, Episode]
) -> tuple[Episode, int, int, str | None]:
    """The deciding episode, its program's minutes, set-aside minutes, and a conflict text."""
    decider = _decider(month, per_episode, episodes)
    same = sum(m for e, m in per_episode.items() if episodes[e].program == decider.program)
    other = sum(m for e, m in per_episode.items() if episodes[e].program != decider.program)
    conflict = None
    if other:
        other_program = PROGRAM_BHI if decider.program == PROGRAM_COCM else PROGRAM_COCM
        conflict = (
            f"Time under both programs in {month}: {decider.program} {same} min and {other_program} "
            f"{other} min. CoCM codes and 99484 are never billed in the same month; billed under "
            f"{decider.program} (episode {decider.episode_id}, open at month end), "
            f"{other} min of {other_program} set aside."
        )
    return decider, same, other, conflict


def _label(
    month: Month, decider: Episode, minutes: int, other: int, conflict: str | None, state: _CocmState
) -> MonthLabel:
    if decider.program != PROGRAM_COCM:
        return MonthLabel(
            month, decider.episode_id, decider.program, minutes, False, None, None, other, conflict
        )
    if _starts_new_episode(state, month, decider):
        state.start = month
    assert state.start is not None
    initial = state.start == month
    label = MonthLabel(
        month,
        decider.episode_id,
        decider.program,
        minutes,
        initial,
        month - state.start + 1,
        state.start,
        other,
        conflict,
    )
    state.last_month, state.last_episode = month, decider
    return label


def label_months(episodes: Iterable[Episode], minutes: Iterable[EpisodeMinutes]) -> list[MonthLabel]:
    """Label every month that has counted time, in month order.

    `episodes`: all of the patient's episodes (any order); `minutes`: counted minutes per episode
    per month, all history from the first enrollment (the 6-month gap needs it). Months without
    counted time are not labelled: no services, nothing to bill.
    """
    by_id = {e.episode_id: e for e in episodes}
    state = _CocmState()
    labels: list[MonthLabel] = []
    for month, per_episode in sorted(_by_month(minutes).items()):
        decider, same, other, conflict = _decide(month, per_episode, by_id)
        labels.append(_label(month, decider, same, other, conflict, state))
    return labels


def label_month(
    episodes: Iterable[Episode], minutes: Iterable[EpisodeMinutes], month: Month
) -> MonthLabel | None:
    """Label one month as if it has (or will have) services — for the registry during the month.

    With no counted time yet, the episode open in the month (latest enrollment) decides, so the
    registry can say "16 min to G2214" for a month that has not started billing. None when the
    patient has neither time nor an open episode in that month. Earlier months are walked exactly
    as `label_months` labels them (only the billing-episode state is kept: this runs once per
    patient on every registry refresh and month-end packet).
    """
    episodes = list(episodes)
    by_id = {e.episode_id: e for e in episodes}
    table = _by_month(minutes)
    state = _CocmState()
    for earlier in sorted(m for m in table if m < month):
        decider = _decider(earlier, table[earlier], by_id)
        if decider.program == PROGRAM_COCM:
            if _starts_new_episode(state, earlier, decider):
                state.start = earlier
            state.last_month, state.last_episode = earlier, decider
    if month in table:
        decider, same, other, conflict = _decide(month, table[month], by_id)
        return _label(month, decider, same, other, conflict, state)
    open_now = [e for e in episodes if e.open_in(month)]
    if not open_now:
        return None
    decider = max(open_now, key=lambda e: e.enrolled_on)
    return _label(month, decider, 0, 0, None, state)
