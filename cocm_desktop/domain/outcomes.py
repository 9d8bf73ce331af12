"""Outcomes on the episode's primary scale: change from baseline, response, remission, treat-to-target.

Arithmetic is exact (ints and Fractions): a 49.99 % reduction is partial response, never rounded up
to response.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from fractions import Fraction
from typing import Protocol, TypeVar

from cocm_desktop.domain.policy import DEFAULT_POLICY, Policy


class Response(StrEnum):
    RESPONSE = "response"
    PARTIAL = "partial"
    NONE = "none"

    @property
    def label(self) -> str:
        return {"response": "Response", "partial": "Partial response", "none": "No response"}[self.value]


class MeasureLike(Protocol):
    """Anything with a date and a total (a store row, a dataclass); `instrument` is optional."""

    @property
    def taken_on(self) -> date: ...

    @property
    def total(self) -> int: ...


M = TypeVar("M", bound=MeasureLike)


@dataclass(frozen=True, slots=True)
class Measurement:
    """Minimal MeasureLike for callers that have no row object of their own."""

    instrument: str
    taken_on: date
    total: int


def change_from_baseline(baseline: int | None, latest: int | None) -> Fraction | None:
    """(baseline − latest) / baseline as an exact fraction; positive = better.

    None when either is missing or the baseline is 0 (no reduction is possible from 0).
    """
    if baseline is None or latest is None or baseline == 0:
        return None
    return Fraction(baseline - latest, baseline)


def classify_response(
    baseline: int | None, latest: int | None, policy: Policy = DEFAULT_POLICY
) -> Response | None:
    """Response (≥ 50 % reduction), partial (25–49.99… %), none; None when not assessable."""
    if baseline is None or latest is None or baseline == 0:
        return None
    # Integer cross-multiplication: 100·(b − l) ≥ pct·b  ⇔  (b − l)/b ≥ pct/100, exactly.
    reduction = 100 * (baseline - latest)
    if reduction >= policy.response_percent * baseline:
        return Response.RESPONSE
    if reduction >= policy.partial_response_percent * baseline:
        return Response.PARTIAL
    return Response.NONE


def is_response(baseline: int | None, latest: int | None, policy: Policy = DEFAULT_POLICY) -> bool:
    if baseline is None or latest is None or baseline == 0:
        return False
    return 100 * (baseline - latest) >= policy.response_percent * baseline


def is_remission(latest: int | None, policy: Policy = DEFAULT_POLICY) -> bool:
    """Remission: the latest primary-scale total is below the threshold (default < 5)."""
    return latest is not None and latest < policy.remission_below


def at_target(baseline: int | None, latest: int | None, policy: Policy = DEFAULT_POLICY) -> bool:
    """Response or remission: what "held on two measures" means for the stable phase."""
    return is_remission(latest, policy) or is_response(baseline, latest, policy)


def weeks_in_treatment(enrolled_on: date, today: date) -> int:
    """Whole weeks since enrollment (day 69 → 9, day 70 → 10); 0 before the enrollment date."""
    return max(0, (_day(today) - _day(enrolled_on)).days // 7)


def is_not_improving(
    enrolled_on: date,
    today: date,
    baseline: int | None,
    latest: int | None,
    policy: Policy = DEFAULT_POLICY,
) -> bool:
    """Treat to target: ≥ 10 weeks in treatment and no response.

    Decisions: a patient in remission is at target and is not "not improving" even when the
    reduction is under 50 % (this only matters for low baselines); a patient with no baseline or no
    follow-up score has no documented response and *is* not improving (they need review too).
    """
    if weeks_in_treatment(enrolled_on, today) < policy.not_improving_weeks:
        return False
    return not at_target(baseline, latest, policy)


def _day(value: date) -> date:
    # datetime is a date subclass; clinical dates are the clinic's local calendar day.
    return value.date() if isinstance(value, datetime) else value


def _moment(value: date) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time.min)


def pick_baseline(
    enrolled_on: date,
    measures: Iterable[M],
    *,
    instrument: str | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> M | None:
    """The first primary-scale measure taken on or after enrollment, within the baseline window.

    Pre-enrollment screening scores never count. `instrument` filters measures that carry an
    `instrument` attribute (pass the episode's primary scale when the list mixes scales). Day 14
    after enrollment is inside the default window, day 15 is not. Ties on the same moment keep the
    input order.
    """
    start = _day(enrolled_on)
    best: M | None = None
    best_key: tuple[date, datetime] | None = None
    for m in measures:
        if instrument is not None and getattr(m, "instrument", instrument) != instrument:
            continue
        day = _day(m.taken_on)
        if day < start or (day - start).days > policy.baseline_window_days:
            continue
        key = (day, _moment(m.taken_on).replace(tzinfo=None))
        if best_key is None or key < best_key:
            best, best_key = m, key
    return best


def remission_run_start(measures: Iterable[M], policy: Policy = DEFAULT_POLICY) -> date | None:
    """Date of the first measure in the current unbroken run of remission scores (newest included).

    None when the newest measure is not in remission. Feed it one scale's measures of one episode
    (after the baseline); used for the step-down candidate flag.
    """
    ordered = sorted(measures, key=lambda m: _moment(m.taken_on).replace(tzinfo=None))
    start: date | None = None
    for m in reversed(ordered):
        if m.total >= policy.remission_below:
            break
        start = _day(m.taken_on)
    return start


def format_change(change: Fraction | None) -> str:
    """Registry "% change" text: score change as a signed whole percent, truncated toward zero.

    A 52 % reduction reads "−52 %"; truncation keeps 49.99 % at "−49 %" so the text never claims
    a response the rules do not see.
    """
    if change is None:
        return "\u2014"
    percent = int(change * 100)  # int() truncates toward zero
    if percent == 0:
        return "0 %"
    return f"\u2212{percent} %" if percent > 0 else f"+{-percent} %"


@dataclass(frozen=True, slots=True)
class Outcome:
    weeks: int
    change: Fraction | None
    response: Response | None
    remission: bool
    not_improving: bool


def assess(
    enrolled_on: date,
    today: date,
    baseline: int | None,
    latest: int | None,
    policy: Policy = DEFAULT_POLICY,
) -> Outcome:
    """All outcome facts for one episode in one call (chart header, quality report)."""
    return Outcome(
        weeks=weeks_in_treatment(enrolled_on, today),
        change=change_from_baseline(baseline, latest),
        response=classify_response(baseline, latest, policy),
        remission=is_remission(latest, policy),
        not_improving=is_not_improving(enrolled_on, today, baseline, latest, policy),
    )
