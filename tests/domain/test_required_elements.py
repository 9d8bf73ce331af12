"""Required elements per patient-month: what blocks, what warns, and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from cocm_desktop.domain.episode_months import Month
from cocm_desktop.domain.required_elements import (
    CheckName,
    MonthFacts,
    Status,
    blocked,
    check_month,
    initiating_visit_required,
    reasons,
)

NOV = Month(2026, 11)
GOOD = MonthFacts(
    month=NOV,
    program="cocm",
    consent_date=date(2026, 10, 20),
    first_counted_date=date(2026, 11, 3),
    initiating_visit_required=True,
    initiating_visit_date=date(2026, 10, 20),
    care_plan_on_file=True,
    contacts_this_month=2,
    scales_this_month=1,
    case_review_dates=(date(2026, 10, 28),),
    not_improving=False,
)


def status_of(facts: MonthFacts, name: CheckName) -> tuple[Status, str]:
    (check,) = [c for c in check_month(facts) if c.name == name]
    return check.status, check.reason


def test_complete_month_is_all_ok() -> None:
    checks = check_month(GOOD)
    assert [c.name for c in checks] == list(CheckName)
    assert all(c.status == Status.OK for c in checks)
    assert not blocked(checks)


@pytest.mark.parametrize(
    ("change", "name", "status", "words"),
    [
        ({"consent_date": None}, CheckName.CONSENT, Status.BLOCK, "No consent"),
        (
            {"consent_date": date(2026, 11, 4)},
            CheckName.CONSENT,
            Status.BLOCK,
            "after the first counted minute",
        ),
        ({"consent_date": date(2026, 11, 3)}, CheckName.CONSENT, Status.OK, "2026-11-03"),  # same day is fine
        (
            {"consent_date": date(2026, 11, 20), "first_counted_date": None},
            CheckName.CONSENT,
            Status.OK,
            "documented",
        ),
        ({"initiating_visit_date": None}, CheckName.INITIATING_VISIT, Status.BLOCK, "not recorded"),
        (
            {"initiating_visit_date": date(2026, 11, 5)},
            CheckName.INITIATING_VISIT,
            Status.BLOCK,
            "after the first counted minute",
        ),
        (
            {"initiating_visit_required": False, "initiating_visit_date": None},
            CheckName.INITIATING_VISIT,
            Status.OK,
            "Not required",
        ),
        ({"care_plan_on_file": False}, CheckName.CARE_PLAN, Status.WARN, "No care plan"),
        ({"contacts_this_month": 0}, CheckName.CONTACT, Status.WARN, "No contact"),
        ({"scales_this_month": 0}, CheckName.VALIDATED_SCALE, Status.WARN, "PHQ-9 or GAD-7"),
        ({"case_review_dates": ()}, CheckName.CASE_REVIEW, Status.WARN, "Not yet discussed"),
        # a review dated after the check date does not count yet
        (
            {"case_review_dates": (date(2026, 12, 2),)},
            CheckName.CASE_REVIEW,
            Status.WARN,
            "Not yet discussed",
        ),
        # not improving: last review must be within 60 days of the month end (Nov 30 → Oct 1)
        (
            {"not_improving": True, "case_review_dates": (date(2026, 9, 30),)},
            CheckName.CASE_REVIEW,
            Status.WARN,
            "more than 60 days",
        ),
        (
            {"not_improving": True, "case_review_dates": (date(2026, 10, 1),)},
            CheckName.CASE_REVIEW,
            Status.OK,
            "",
        ),
        # improving patients only need one review in the episode
        ({"case_review_dates": (date(2026, 3, 1),)}, CheckName.CASE_REVIEW, Status.OK, "2026-03-01"),
        # mid-month check: 60 days back from today, not from the month end
        (
            {"not_improving": True, "case_review_dates": (date(2026, 9, 20),), "as_of": date(2026, 11, 19)},
            CheckName.CASE_REVIEW,
            Status.OK,
            "",
        ),
        ({"program": "bhi", "case_review_dates": ()}, CheckName.CASE_REVIEW, Status.OK, "BHI"),
    ],
)
def test_each_check(change: dict, name: CheckName, status: Status, words: str) -> None:
    got_status, reason = status_of(replace(GOOD, **change), name)
    assert got_status == status
    assert words in reason


@pytest.mark.parametrize(
    ("change", "is_blocked"),
    [
        ({}, False),
        (
            {
                "care_plan_on_file": False,
                "contacts_this_month": 0,
                "scales_this_month": 0,
                "case_review_dates": (),
            },
            False,
        ),
        ({"consent_date": None}, True),
        ({"initiating_visit_date": None}, True),
    ],
)
def test_only_consent_and_initiating_visit_block(change: dict, is_blocked: bool) -> None:
    assert blocked(check_month(replace(GOOD, **change))) is is_blocked


def test_reasons_lists_plain_words_by_status() -> None:
    checks = check_month(replace(GOOD, consent_date=None, care_plan_on_file=False))
    assert reasons(checks, Status.BLOCK) == ["No consent documented."]
    assert reasons(checks, Status.WARN) == ["No care plan on file."]


@pytest.mark.parametrize(
    ("enrolled", "last_seen", "months", "required"),
    [
        (date(2026, 11, 24), None, 12, True),  # new patient
        (date(2026, 11, 24), date(2025, 11, 24), 12, False),  # exactly 12 months before
        (date(2026, 11, 24), date(2025, 11, 23), 12, True),
        (date(2026, 11, 24), date(2026, 6, 1), 12, False),
        (date(2026, 11, 24), date(2026, 6, 1), 3, True),  # a clinic policy of 3 months
        (date(2024, 3, 31), date(2024, 2, 29), 1, False),  # Mar 31 − 1 month clamps to Feb 29
        (date(2024, 3, 31), date(2024, 2, 28), 1, True),
    ],
)
def test_initiating_visit_required(
    enrolled: date, last_seen: date | None, months: int, required: bool
) -> None:
    assert initiating_visit_required(enrolled, last_seen, months) is required


@pytest.mark.parametrize(("window", "status"), [(60, Status.WARN), (90, Status.OK)])
def test_case_review_window_comes_from_policy(window: int, status: Status) -> None:
    facts = replace(GOOD, not_improving=True, case_review_dates=(date(2026, 9, 15),))
    (check,) = [
        c for c in check_month(facts, case_review_window_days=window) if c.name == CheckName.CASE_REVIEW
    ]
    assert check.status == status
