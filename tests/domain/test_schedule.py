from __future__ import annotations

from datetime import date, timedelta

import pytest

from cocm_desktop.domain.policy import Policy
from cocm_desktop.domain.schedule import (
    Phase,
    cadence_phase,
    is_overdue,
    measure_window,
    next_contact_due,
    next_measure_due,
)

ENROLLED = date(2026, 9, 1)
LAST = date(2026, 11, 1)


@pytest.mark.parametrize(
    ("status", "baseline", "followups", "phase"),
    [
        ("active", 20, [], Phase.EARLY),
        ("active", 20, [10], Phase.EARLY),  # one response is not "held"
        ("active", 20, [10, 9], Phase.STABLE),  # response on two consecutive measures
        ("active", 20, [3, 4], Phase.STABLE),  # remission on two
        ("active", 20, [10, 11], Phase.EARLY),  # second one only partial
        ("active", 20, [9, 12, 10], Phase.EARLY),  # only the last two count
        ("active", 20, [12, 10, 8], Phase.STABLE),
        ("active", 6, [4, 4], Phase.STABLE),  # remission held even though < 50 %
        ("active", None, [4, 3], Phase.STABLE),  # no baseline: remission still counts
        ("active", None, [8, 7], Phase.EARLY),
        ("enrolled", 20, [10, 9], Phase.STABLE),
        ("relapse_prevention", 20, [], Phase.RELAPSE_PREVENTION),  # status decides
        ("relapse_prevention", 20, [19, 20], Phase.RELAPSE_PREVENTION),
    ],
)
def test_cadence_phase(status, baseline, followups, phase):
    assert cadence_phase(status, baseline, followups) is phase


@pytest.mark.parametrize(
    ("phase", "measure_days", "contact_days"),
    [(Phase.EARLY, 28, 14), (Phase.STABLE, 56, 30), (Phase.RELAPSE_PREVENTION, 56, 30)],
)
def test_due_dates_by_phase(phase, measure_days, contact_days):
    assert next_measure_due(phase, LAST, ENROLLED) == LAST + timedelta(days=measure_days)
    assert next_contact_due(phase, LAST, ENROLLED) == LAST + timedelta(days=contact_days)


def test_no_measure_yet_means_baseline_due_at_window_end():
    assert next_measure_due(Phase.EARLY, None, ENROLLED) == ENROLLED + timedelta(days=14)


def test_no_contact_yet_counts_from_enrollment():
    assert next_contact_due(Phase.EARLY, None, ENROLLED) == ENROLLED + timedelta(days=14)


def test_due_dates_follow_policy():
    p = Policy(early_contact_days=7, stable_measure_days=42, relapse_prevention_contact_days=60)
    assert next_contact_due(Phase.EARLY, LAST, ENROLLED, p) == LAST + timedelta(days=7)
    assert next_measure_due(Phase.STABLE, LAST, ENROLLED, p) == LAST + timedelta(days=42)
    assert next_contact_due(Phase.RELAPSE_PREVENTION, LAST, ENROLLED, p) == LAST + timedelta(days=60)


def test_early_measure_window_is_14_to_28_days():
    w = measure_window(Phase.EARLY, LAST, ENROLLED)
    assert (w.earliest, w.due) == (LAST + timedelta(days=14), LAST + timedelta(days=28))
    w = measure_window(Phase.STABLE, LAST, ENROLLED)
    assert w.earliest == w.due == LAST + timedelta(days=56)
    w = measure_window(Phase.EARLY, None, ENROLLED)
    assert (w.earliest, w.due) == (ENROLLED, ENROLLED + timedelta(days=14))


@pytest.mark.parametrize(("offset", "overdue"), [(-1, False), (0, False), (1, True)])
def test_due_date_is_inclusive(offset, overdue):
    due = date(2026, 11, 15)
    assert is_overdue(due, due + timedelta(days=offset)) is overdue
