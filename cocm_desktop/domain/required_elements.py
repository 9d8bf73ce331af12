"""Required elements of a billable patient-month: each check is ok, warns, or blocks, with a reason.

A "block" means the month's codes must not go on the billing packet until it is fixed; a "warn"
is printed next to the codes for the billing office and the care team.

Pure: no Qt, no SQL, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from cocm_desktop.domain.episode_months import Month

__all__ = [
    "CASE_REVIEW_WINDOW_DAYS",
    "INITIATING_VISIT_LOOKBACK_MONTHS",
    "Check",
    "CheckName",
    "MonthFacts",
    "Status",
    "blocked",
    "check_month",
    "initiating_visit_required",
    "reasons",
]

# Defaults; the clinic's values live in policy (case_review_within_days_when_not_improving,
# initiating_visit_lookback_months) and are passed in by the service.
CASE_REVIEW_WINDOW_DAYS = 60
INITIATING_VISIT_LOOKBACK_MONTHS = 12


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    BLOCK = "block"


class CheckName(StrEnum):
    CONSENT = "consent"
    INITIATING_VISIT = "initiating_visit"
    CARE_PLAN = "care_plan"
    CONTACT = "contact"
    VALIDATED_SCALE = "validated_scale"
    CASE_REVIEW = "case_review"


@dataclass(frozen=True)
class Check:
    name: CheckName
    status: Status
    reason: str


@dataclass(frozen=True)
class MonthFacts:
    """What the checks need about one patient-month; the service gathers it from the store.

    `first_counted_date`: local date of the month's first counted minute (MonthCount.first_counted_date).
    `case_review_dates`: dates this patient was discussed at a case review in the current episode.
    `as_of`: the day the check is made for; defaults to the month's last day (use today's date for a
    month still in progress so "last 60 days" is measured from today).
    """

    month: Month
    program: str
    consent_date: date | None
    first_counted_date: date | None
    initiating_visit_required: bool
    initiating_visit_date: date | None
    care_plan_on_file: bool
    contacts_this_month: int
    scales_this_month: int  # PHQ-9 / GAD-7 recorded in the month
    case_review_dates: tuple[date, ...] = field(default=())
    not_improving: bool = False
    as_of: date | None = None


def initiating_visit_required(
    enrolled_on: date, last_seen_before: date | None, lookback_months: int = INITIATING_VISIT_LOOKBACK_MONTHS
) -> bool:
    """New patient (never seen) or not seen by the billing practitioner in the prior N months.

    "Prior 12 months" is calendar months back from enrollment: enrolled 2026-11-24, a visit on
    2025-11-24 still counts. A day that does not exist (Feb 29/30/31) is clamped to the month's end.
    """
    if last_seen_before is None:
        return True
    back = Month.of(enrolled_on) + -lookback_months
    cutoff = date(back.year, back.month, min(enrolled_on.day, back.last_day.day))
    return last_seen_before < cutoff


def _consent(f: MonthFacts) -> Check:
    if f.consent_date is None:
        return Check(CheckName.CONSENT, Status.BLOCK, "No consent documented.")
    if f.first_counted_date is not None and f.consent_date > f.first_counted_date:
        return Check(
            CheckName.CONSENT,
            Status.BLOCK,
            f"Consent dated {f.consent_date.isoformat()} is after the first counted minute "
            f"({f.first_counted_date.isoformat()}).",
        )
    return Check(CheckName.CONSENT, Status.OK, f"Consent documented on {f.consent_date.isoformat()}.")


def _initiating_visit(f: MonthFacts) -> Check:
    if not f.initiating_visit_required:
        return Check(
            CheckName.INITIATING_VISIT, Status.OK, "Not required: patient seen in the prior 12 months."
        )
    if f.initiating_visit_date is None:
        return Check(
            CheckName.INITIATING_VISIT,
            Status.BLOCK,
            "Initiating visit required (new patient or not seen in the prior 12 months) but not recorded.",
        )
    if f.first_counted_date is not None and f.initiating_visit_date > f.first_counted_date:
        return Check(
            CheckName.INITIATING_VISIT,
            Status.BLOCK,
            f"Initiating visit on {f.initiating_visit_date.isoformat()} is after the first counted minute "
            f"({f.first_counted_date.isoformat()}); services start after that visit.",
        )
    return Check(
        CheckName.INITIATING_VISIT, Status.OK, f"Initiating visit on {f.initiating_visit_date.isoformat()}."
    )


def _care_plan(f: MonthFacts) -> Check:
    if f.care_plan_on_file:
        return Check(CheckName.CARE_PLAN, Status.OK, "Care plan on file.")
    return Check(CheckName.CARE_PLAN, Status.WARN, "No care plan on file.")


def _contact(f: MonthFacts) -> Check:
    if f.contacts_this_month > 0:
        return Check(CheckName.CONTACT, Status.OK, f"{f.contacts_this_month} contact(s) recorded this month.")
    return Check(CheckName.CONTACT, Status.WARN, "No contact recorded this month.")


def _scale(f: MonthFacts) -> Check:
    if f.scales_this_month > 0:
        return Check(CheckName.VALIDATED_SCALE, Status.OK, "PHQ-9/GAD-7 recorded this month.")
    return Check(CheckName.VALIDATED_SCALE, Status.WARN, "No PHQ-9 or GAD-7 recorded this month.")


def _case_review(f: MonthFacts, as_of: date, window_days: int) -> Check:
    if f.program != "cocm":
        # General BHI (99484) has no psychiatric consultant requirement.
        return Check(CheckName.CASE_REVIEW, Status.OK, "Not required for general BHI.")
    reviews = [d for d in f.case_review_dates if d <= as_of]
    if not reviews:
        return Check(
            CheckName.CASE_REVIEW, Status.WARN, "Not yet discussed at a psychiatric case review this episode."
        )
    last = max(reviews)
    if f.not_improving and last < as_of - timedelta(days=window_days):
        return Check(
            CheckName.CASE_REVIEW,
            Status.WARN,
            f"Not improving and last case review was {last.isoformat()}, more than {window_days} days ago.",
        )
    return Check(CheckName.CASE_REVIEW, Status.OK, f"Last case review {last.isoformat()}.")


def check_month(facts: MonthFacts, *, case_review_window_days: int = CASE_REVIEW_WINDOW_DAYS) -> list[Check]:
    """All required-element checks for one patient-month, in a fixed order (blocks first).

    `case_review_window_days`: pass policy.case_review_within_days_when_not_improving.
    """
    as_of = facts.as_of or facts.month.last_day
    return [
        _consent(facts),
        _initiating_visit(facts),
        _care_plan(facts),
        _contact(facts),
        _scale(facts),
        _case_review(facts, as_of, case_review_window_days),
    ]


def blocked(checks: Iterable[Check]) -> bool:
    """True when any check blocks billing for the month."""
    return any(c.status == Status.BLOCK for c in checks)


def reasons(checks: Iterable[Check], status: Status) -> list[str]:
    """The reasons of the checks with a given status, e.g. everything that blocks."""
    return [c.reason for c in checks if c.status == status]
