"""Clinic policy: every tunable number of the clinical rules, with the shipped defaults.

The store persists a Policy as key/value rows (`to_mapping` / `from_mapping`); the clinic lead edits
it on a settings screen built from `policy_fields()`. All values are whole numbers so the rules can
use exact integer arithmetic (no 49.999 % surprises).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


def _f(default: int, label: str, unit: str, description: str, minimum: int, maximum: int) -> Any:
    return field(
        default=default,
        metadata={"label": label, "unit": unit, "description": description, "min": minimum, "max": maximum},
    )


@dataclass(frozen=True)
class PolicyField:
    name: str
    label: str
    unit: str
    description: str
    default: int
    minimum: int
    maximum: int


@dataclass(frozen=True)
class Policy:
    # Security
    idle_lock_minutes: int = _f(
        10, "Idle lock", "minutes", "Lock the screen after this long without input.", 1, 60
    )
    failed_login_free_attempts: int = _f(
        5,
        "Failed logins before delay",
        "attempts",
        "Failed logins allowed before each retry is delayed.",
        1,
        20,
    )
    failed_login_delay_seconds: int = _f(
        2,
        "First login delay",
        "seconds",
        "Delay after the first failure past the limit; doubles each time.",
        1,
        60,
    )
    failed_login_max_delay_seconds: int = _f(
        300, "Longest login delay", "seconds", "The growing login delay never exceeds this.", 1, 3600
    )
    # Baseline and outcomes
    baseline_window_days: int = _f(
        14,
        "Baseline window",
        "days",
        "The baseline is the first primary-scale score on or after enrollment within this many days.",
        0,
        60,
    )
    response_percent: int = _f(
        50, "Response", "% reduction", "Reduction from baseline that counts as response.", 1, 100
    )
    partial_response_percent: int = _f(
        25,
        "Partial response",
        "% reduction",
        "Reduction from baseline that counts as partial response.",
        1,
        99,
    )
    remission_below: int = _f(
        5, "Remission", "score below", "A primary-scale total below this is remission.", 1, 27
    )
    not_improving_weeks: int = _f(
        10,
        "Not improving after",
        "weeks",
        "Weeks in treatment without response before a patient is 'not improving'.",
        1,
        52,
    )
    not_improving_review_window_days: int = _f(
        28,
        "Not-improving review window",
        "days",
        "A not-improving patient reviewed at case review within this many days is not flagged.",
        1,
        180,
    )
    case_review_within_days_when_not_improving: int = _f(
        60,
        "Case review when not improving",
        "days",
        "A not-improving patient needs a case review within this many days (billing check).",
        1,
        365,
    )
    new_not_reviewed_days: int = _f(
        14, "New, not reviewed", "days", "Flag a new enrollment never reviewed after this many days.", 1, 180
    )
    # Case review (a session per care manager; the agenda holds what fits, the rest is carried over)
    case_review_session_minutes: int = _f(
        60,
        "Case-review session",
        "minutes",
        "Length of one care manager's weekly case review with the psychiatric consultant.",
        10,
        240,
    )
    case_review_minutes_per_patient: int = _f(
        6,
        "Case review per patient",
        "minutes",
        "Time planned per patient; the agenda holds what fits, the rest is carried to the next session.",
        2,
        60,
    )
    # Cadence
    early_measure_min_days: int = _f(
        14,
        "Early phase: measure from",
        "days",
        "In the early phase a repeat measure is useful from this many days after the last one.",
        1,
        90,
    )
    early_measure_due_days: int = _f(
        28,
        "Early phase: measure due",
        "days",
        "In the early phase a measure is due this many days after the last one.",
        1,
        90,
    )
    early_contact_days: int = _f(
        14, "Early phase: contact", "days", "In the early phase, contact at least this often.", 1, 90
    )
    stable_measure_days: int = _f(
        56, "Stable phase: measure", "days", "Once response is held, measure this often.", 1, 180
    )
    stable_contact_days: int = _f(
        30, "Stable phase: contact", "days", "Once response is held, contact at least this often.", 1, 180
    )
    relapse_prevention_contact_days: int = _f(
        30, "Relapse prevention: contact", "days", "After step-down, contact at least this often.", 1, 180
    )
    relapse_prevention_measure_days: int = _f(
        56, "Relapse prevention: measure", "days", "After step-down, measure this often.", 1, 365
    )
    # Registry flags
    recommendation_waiting_days: int = _f(
        3,
        "Recommendation waiting",
        "days",
        "Flag a recommendation awaiting approval, or approved but not "
        "told to the patient, after this many days.",
        1,
        60,
    )
    # Medications: an approved medication recommendation changes the list at approval (0) or
    # once the patient has been told (1).
    medication_change_when_told: int = _f(
        0,
        "Medication change when told",
        "(1 = yes)",
        "1: an approved medication change reaches the current medications once the patient has been "
        "told; 0: as soon as the clinician approves it.",
        0,
        1,
    )
    registry_lag_days: int = _f(
        2, "Registry lag", "days", "Flag a contact entered more than this many days after it happened.", 0, 30
    )
    registry_lag_lookback_days: int = _f(
        30,
        "Registry lag look-back",
        "days",
        "Only contacts from this many recent days count for the registry-lag flag.",
        1,
        365,
    )
    referral_unconfirmed_days: int = _f(
        30, "Referral unconfirmed", "days", "Flag a referral not confirmed seen after this many days.", 1, 365
    )
    disengaged_attempts: int = _f(
        3,
        "Disengaged: failed attempts",
        "attempts",
        "Failed outreach attempts (since the last successful "
        "contact) that suggest disengagement; also the minimum documented before a disengaged close-out.",
        1,
        20,
    )
    disengaged_days: int = _f(
        30,
        "Disengaged: days without contact",
        "days",
        "Days without a successful contact that, with enough failed attempts, suggest disengagement.",
        1,
        365,
    )
    stepdown_remission_gap_days: int = _f(
        28,
        "Step-down: remission held",
        "days",
        "Remission on two measures at least this many days apart makes a step-down candidate.",
        1,
        365,
    )
    initiating_visit_lookback_months: int = _f(
        12,
        "Initiating visit look-back",
        "months",
        "An initiating visit is required when the patient is new or not seen in this many months.",
        1,
        60,
    )
    quality_outcome_min_weeks: int = _f(
        10,
        "Quality outcomes from",
        "weeks",
        "Response and remission rates count patients from this many weeks in treatment.",
        1,
        104,
    )
    quality_outcome_max_weeks: int = _f(
        24, "Quality outcomes up to", "weeks", "... up to this many weeks in treatment.", 1, 104
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            label = f.metadata["label"]
            if type(value) is not int:
                raise ValueError(f"{label} must be a whole number, got {value!r}")
            low, high = f.metadata["min"], f.metadata["max"]
            if not low <= value <= high:
                raise ValueError(
                    f"{label} must be between {low} and {high} {f.metadata['unit']}, got {value}"
                )
        if self.partial_response_percent >= self.response_percent:
            raise ValueError("Partial response must be a smaller reduction than response")
        if self.early_measure_min_days > self.early_measure_due_days:
            raise ValueError("Early phase: 'measure from' cannot be later than 'measure due'")
        if self.quality_outcome_min_weeks > self.quality_outcome_max_weeks:
            raise ValueError("Quality outcomes: the first week cannot be after the last week")
        if self.case_review_minutes_per_patient > self.case_review_session_minutes:
            raise ValueError("Case review per patient cannot be longer than the case-review session")
        if self.failed_login_delay_seconds > self.failed_login_max_delay_seconds:
            raise ValueError("First login delay cannot exceed the longest login delay")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Policy:
        """Build from stored key/value rows. Unknown keys are ignored (older/newer app versions);
        missing keys take the default; values may be ints or decimal strings."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, int] = {}
        for key, raw in values.items():
            f = known.get(key)
            if f is None:
                continue
            kwargs[key] = _to_int(raw, f.metadata["label"])
        return cls(**kwargs)

    def to_mapping(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def label(self, name: str) -> str:
        return _field(name).metadata["label"]

    def describe(self, name: str) -> str:
        return _field(name).metadata["description"]


def _to_int(raw: object, label: str) -> int:
    if type(raw) is int:
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw.strip())
    raise ValueError(f"{label} must be a whole number, got {raw!r}")


def _field(name: str) -> Any:
    for f in fields(Policy):
        if f.name == name:
            return f
    raise KeyError(f"No policy setting named {name!r}")


def policy_fields() -> list[PolicyField]:
    """Every setting with label, unit, description, default and allowed range, in screen order."""
    return [
        PolicyField(
            name=f.name,
            label=f.metadata["label"],
            unit=f.metadata["unit"],
            description=f.metadata["description"],
            default=f.default,
            minimum=f.metadata["min"],
            maximum=f.metadata["max"],
        )
        for f in fields(Policy)
    ]


DEFAULT_POLICY = Policy()


def login_delay_seconds(consecutive_failures: int, policy: Policy = DEFAULT_POLICY) -> int:
    """Seconds to wait before the next login attempt after `consecutive_failures` failures.

    The free attempts may follow each other at once; the one after them already waits (5 free:
    the 6th attempt waits the base delay), and each further failure doubles it up to the cap.
    """
    over = consecutive_failures - policy.failed_login_free_attempts + 1
    if over <= 0:
        return 0
    # Cap the exponent so a huge failure count cannot build a huge integer.
    return min(
        policy.failed_login_delay_seconds * 2 ** min(over - 1, 32), policy.failed_login_max_delay_seconds
    )
