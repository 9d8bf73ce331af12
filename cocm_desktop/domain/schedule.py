"""Measurement and contact cadence: which phase an episode is in and when the next of each is due.

Phases: early (until response), stable (response or remission held on the last two follow-up
measures), relapse prevention (decided by the episode status, after step-down).
Due dates are inclusive: a contact due on day 14 is on time on day 14 and overdue on day 15.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from cocm_desktop.domain.outcomes import at_target
from cocm_desktop.domain.policy import DEFAULT_POLICY, Policy


class Phase(StrEnum):
    EARLY = "early"
    STABLE = "stable"
    RELAPSE_PREVENTION = "relapse_prevention"

    @property
    def label(self) -> str:
        return {"early": "Early", "stable": "Stable", "relapse_prevention": "Relapse prevention"}[self.value]


def cadence_phase(
    status: str,
    baseline: int | None,
    followup_totals: Sequence[int],
    policy: Policy = DEFAULT_POLICY,
) -> Phase:
    """Phase from the episode status and the primary-scale totals taken after the baseline.

    `followup_totals` is chronological (oldest first) and must not include the baseline itself:
    only the last two are looked at, and both must show response or remission.
    """
    if status == "relapse_prevention":
        return Phase.RELAPSE_PREVENTION
    if len(followup_totals) >= 2 and all(at_target(baseline, t, policy) for t in followup_totals[-2:]):
        return Phase.STABLE
    return Phase.EARLY


def measure_interval_days(phase: Phase, policy: Policy = DEFAULT_POLICY) -> int:
    if phase is Phase.EARLY:
        return policy.early_measure_due_days
    if phase is Phase.STABLE:
        return policy.stable_measure_days
    return policy.relapse_prevention_measure_days


def contact_interval_days(phase: Phase, policy: Policy = DEFAULT_POLICY) -> int:
    if phase is Phase.EARLY:
        return policy.early_contact_days
    if phase is Phase.STABLE:
        return policy.stable_contact_days
    return policy.relapse_prevention_contact_days


def next_measure_due(
    phase: Phase, last_measure_on: date | None, enrolled_on: date, policy: Policy = DEFAULT_POLICY
) -> date:
    """Last primary-scale measure + the phase's interval; with no measure yet, the baseline is due
    by the end of the baseline window."""
    if last_measure_on is None:
        return enrolled_on + timedelta(days=policy.baseline_window_days)
    return last_measure_on + timedelta(days=measure_interval_days(phase, policy))


def next_contact_due(
    phase: Phase, last_contact_on: date | None, enrolled_on: date, policy: Policy = DEFAULT_POLICY
) -> date:
    """Last successful contact (or the enrollment date when none yet) + the phase's interval."""
    since = last_contact_on if last_contact_on is not None else enrolled_on
    return since + timedelta(days=contact_interval_days(phase, policy))


@dataclass(frozen=True, slots=True)
class MeasureWindow:
    earliest: date  # a repeat measure is useful from here (early phase: 14 days)
    due: date  # overdue after this date


def measure_window(
    phase: Phase, last_measure_on: date | None, enrolled_on: date, policy: Policy = DEFAULT_POLICY
) -> MeasureWindow:
    due = next_measure_due(phase, last_measure_on, enrolled_on, policy)
    if last_measure_on is None:
        return MeasureWindow(earliest=enrolled_on, due=due)
    if phase is Phase.EARLY:
        return MeasureWindow(
            earliest=last_measure_on + timedelta(days=policy.early_measure_min_days), due=due
        )
    return MeasureWindow(earliest=due, due=due)


def is_overdue(due: date, today: date) -> bool:
    return today > due
