"""Episode of care: statuses, close reasons, allowed transitions and the enrollment checklist.

Transfer model (decision): there is no separate "pending transfer" status. While a transfer to
specialty care is arranged, the episode keeps its open status (and stays on the registry, with its
flags); the service records the transfer request on the episode. Closing with reason `transferred`
is refused until the handoff is confirmed (`TransitionFacts.handoff_confirmed`).

Re-entry (decision): a closed episode is never reopened. A returning patient is enrolled again,
which opens a new episode (new consent, new baseline, new billing episode).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from cocm_desktop.domain.instruments import INSTRUMENTS
from cocm_desktop.domain.policy import DEFAULT_POLICY, Policy


class EpisodeStatus(StrEnum):
    ENROLLED = "enrolled"
    ACTIVE = "active"
    RELAPSE_PREVENTION = "relapse_prevention"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def is_open(self) -> bool:
        return self is not EpisodeStatus.CLOSED


_STATUS_LABELS = {
    EpisodeStatus.ENROLLED: "Enrolled",
    EpisodeStatus.ACTIVE: "Active",
    EpisodeStatus.RELAPSE_PREVENTION: "Relapse prevention",
    EpisodeStatus.CLOSED: "Closed",
}

OPEN_STATUSES: frozenset[EpisodeStatus] = frozenset(s for s in EpisodeStatus if s.is_open)


class CloseReason(StrEnum):
    COMPLETED = "completed"
    TRANSFERRED = "transferred"
    DISENGAGED = "disengaged"
    DECLINED = "declined"
    MOVED = "moved"
    DIED = "died"

    @property
    def label(self) -> str:
        return _REASON_LABELS[self]


_REASON_LABELS = {
    CloseReason.COMPLETED: "Completed (goals met)",
    CloseReason.TRANSFERRED: "Transferred to specialty care",
    CloseReason.DISENGAGED: "Disengaged",
    CloseReason.DECLINED: "Declined further care",
    CloseReason.MOVED: "Moved away",
    CloseReason.DIED: "Died",
}


class Program(StrEnum):
    COCM = "cocm"
    BHI = "bhi"

    @property
    def label(self) -> str:
        return {"cocm": "Collaborative care (CoCM)", "bhi": "General BHI (99484)"}[self.value]


class TransitionError(ValueError):
    """A status change the rules do not allow; the message is shown to the user as is."""


@dataclass(frozen=True, slots=True)
class TransitionFacts:
    """What the service knows about the episode when a status change is asked for."""

    has_relapse_prevention_plan: bool = False
    handoff_confirmed: bool = False
    failed_outreach_attempts: int = 0  # documented attempts since the last successful contact
    has_reentry_path: bool = False  # close-out note says how the patient can come back


_ALLOWED: dict[EpisodeStatus, frozenset[EpisodeStatus]] = {
    EpisodeStatus.ENROLLED: frozenset({EpisodeStatus.ACTIVE, EpisodeStatus.CLOSED}),
    EpisodeStatus.ACTIVE: frozenset({EpisodeStatus.RELAPSE_PREVENTION, EpisodeStatus.CLOSED}),
    # Relapse during relapse prevention steps the patient back up to active care.
    EpisodeStatus.RELAPSE_PREVENTION: frozenset({EpisodeStatus.ACTIVE, EpisodeStatus.CLOSED}),
    EpisodeStatus.CLOSED: frozenset(),
}


def allowed_next(status: EpisodeStatus | str) -> frozenset[EpisodeStatus]:
    return _ALLOWED[_status(status)]


def _status(value: EpisodeStatus | str) -> EpisodeStatus:
    try:
        return EpisodeStatus(value)
    except ValueError:
        raise TransitionError(f"Unknown episode status {value!r}") from None


def check_transition(
    from_status: EpisodeStatus | str,
    to_status: EpisodeStatus | str,
    reason: CloseReason | str | None = None,
    facts: TransitionFacts | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> None:
    """Raise TransitionError (a ValueError) unless the change is allowed; returns None when it is.

    - enrolled → active; active → relapse_prevention (needs a relapse-prevention plan);
      relapse_prevention → active (relapse); any open status → closed with a reason.
    - closed → anything is refused: re-entry opens a new episode.
    - closed/transferred needs the handoff confirmed; closed/disengaged needs at least
      `policy.disengaged_attempts` documented failed outreach attempts and a re-entry path.
    """
    facts = facts or TransitionFacts()
    src, dst = _status(from_status), _status(to_status)
    if src is EpisodeStatus.CLOSED:
        raise TransitionError(
            "A closed episode cannot be reopened; enroll the patient again to start a new episode."
        )
    if src is dst:
        raise TransitionError(f"The episode is already {src.label.lower()}.")
    if dst not in _ALLOWED[src]:
        raise TransitionError(f"An episode cannot go from {src.label.lower()} to {dst.label.lower()}.")
    if dst is not EpisodeStatus.CLOSED:
        if reason is not None:
            raise TransitionError("A close reason is only given when closing the episode.")
        if dst is EpisodeStatus.RELAPSE_PREVENTION and not facts.has_relapse_prevention_plan:
            raise TransitionError(
                "Step-down to relapse prevention needs a relapse-prevention plan in the care plan first."
            )
        return
    if reason is None:
        raise TransitionError("Closing an episode needs a reason.")
    try:
        why = CloseReason(reason)
    except ValueError:
        known = ", ".join(r.value for r in CloseReason)
        raise TransitionError(f"Unknown close reason {reason!r}; use one of: {known}.") from None
    if why is CloseReason.TRANSFERRED and not facts.handoff_confirmed:
        raise TransitionError(
            "The transfer is not confirmed yet: the patient stays on the registry until the specialty "
            "handoff is confirmed."
        )
    if why is CloseReason.DISENGAGED:
        needed = policy.disengaged_attempts
        if facts.failed_outreach_attempts < needed:
            raise TransitionError(
                f"A disengaged close-out needs at least {needed} documented outreach attempts; "
                f"{facts.failed_outreach_attempts} recorded."
            )
        if not facts.has_reentry_path:
            raise TransitionError("A disengaged close-out note must say how the patient can re-enter care.")


# ---------------------------------------------------------------------------------------------
# Enrollment

ICD10_PATTERN = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$")


def normalize_icd10(code: str) -> str:
    """Upper-case, strip spaces, and put the dot after the category ("f321" → "F32.1")."""
    cleaned = code.strip().upper().replace(" ", "")
    if "." not in cleaned and len(cleaned) > 3:
        cleaned = f"{cleaned[:3]}.{cleaned[3:]}"
    return cleaned


def is_valid_icd10(code: str) -> bool:
    """Shape check of an ICD-10-CM code as typed by the user (after normalize_icd10)."""
    return bool(ICD10_PATTERN.fullmatch(normalize_icd10(code)))


@dataclass(frozen=True, slots=True)
class TargetCondition:
    icd10: str
    text: str


@dataclass(frozen=True, slots=True)
class Consent:
    team_care_explained: bool = False
    non_face_to_face_explained: bool = False
    cost_sharing_explained: bool = False
    patient_agrees: bool = False
    consent_on: date | None = None
    recorded_by: str | None = None


@dataclass(frozen=True)
class EnrollmentDraft:
    """What the enrollment form collects; user ids are opaque (whatever the store uses)."""

    enrolled_on: date
    program: str = Program.COCM
    primary_scale: str = "PHQ-9"
    target_conditions: Sequence[TargetCondition] = ()
    treating_clinician: object | None = None
    care_manager: object | None = None
    urgent_risk_ruled_out: bool = False
    risk_ruled_out_by: str | None = None
    last_seen_on: date | None = None  # last visit with the practice before enrollment; None = new
    initiating_visit_on: date | None = None
    consent: Consent = field(default_factory=Consent)
    has_open_episode: bool = False


@dataclass(frozen=True, slots=True)
class EnrollmentProblem:
    field: str  # which form field to highlight
    message: str

    def __str__(self) -> str:
        return self.message


def _months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for d in (day.day, 30, 29, 28):  # clamp 31 March − 1 month to 28/29 February
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def initiating_visit_required(
    last_seen_on: date | None, enrolled_on: date, policy: Policy = DEFAULT_POLICY
) -> bool:
    """New patient, or not seen by the practice in the prior 12 months (look-back is policy)."""
    if last_seen_on is None:
        return True
    return last_seen_on < _months_before(enrolled_on, policy.initiating_visit_lookback_months)


def enrollment_problems(draft: EnrollmentDraft, policy: Policy = DEFAULT_POLICY) -> list[EnrollmentProblem]:
    """Everything missing or wrong before an enrollment can be saved; empty list = complete."""
    problems: list[EnrollmentProblem] = []

    def add(field_name: str, message: str) -> None:
        problems.append(EnrollmentProblem(field_name, message))

    if draft.has_open_episode:
        add("patient", "The patient already has an open episode; close it before enrolling again.")
    if draft.program not in tuple(Program):
        add("program", f"Program must be CoCM or BHI, got {draft.program!r}.")
    if draft.primary_scale not in INSTRUMENTS:
        add("primary_scale", f"Primary scale must be one of {', '.join(INSTRUMENTS)}.")
    if not draft.target_conditions:
        add("target_conditions", "Add at least one target condition (ICD-10 code and description).")
    for n, condition in enumerate(draft.target_conditions, start=1):
        if not is_valid_icd10(condition.icd10 or ""):
            add("target_conditions", f"Target condition {n}: {condition.icd10!r} is not a valid ICD-10 code.")
        if not (condition.text or "").strip():
            add("target_conditions", f"Target condition {n}: add a description.")
    if draft.treating_clinician is None:
        add("treating_clinician", "Choose the treating clinician.")
    if draft.care_manager is None:
        add("care_manager", "Choose the care manager.")
    if not draft.urgent_risk_ruled_out:
        add("urgent_risk", "Urgent risk must be ruled out before enrollment.")
    elif not (draft.risk_ruled_out_by or "").strip():
        add("urgent_risk", "Record who ruled out urgent risk.")
    if initiating_visit_required(draft.last_seen_on, draft.enrolled_on, policy):
        if draft.initiating_visit_on is None:
            add(
                "initiating_visit",
                "An initiating visit date is needed: the patient is new or not seen in the prior "
                f"{policy.initiating_visit_lookback_months} months.",
            )
        elif draft.initiating_visit_on > draft.enrolled_on:
            add("initiating_visit", "The initiating visit must be on or before the enrollment date.")
    c = draft.consent
    for ok, what in (
        (c.team_care_explained, "team-based care was explained"),
        (c.non_face_to_face_explained, "non-face-to-face work may occur"),
        (c.cost_sharing_explained, "cost-sharing was explained"),
        (c.patient_agrees, "the patient agrees"),
    ):
        if not ok:
            add("consent", f"Consent: document that {what}.")
    if c.consent_on is None:
        add("consent", "Consent: record the date.")
    elif c.consent_on > draft.enrolled_on:
        add("consent", "Consent must be dated on or before the enrollment date.")
    if not (c.recorded_by or "").strip():
        add("consent", "Consent: record who documented it.")
    return problems
