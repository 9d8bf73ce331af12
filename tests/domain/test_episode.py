from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from cocm_desktop.domain.episode import (
    CloseReason,
    Consent,
    EnrollmentDraft,
    EpisodeStatus,
    Program,
    TargetCondition,
    TransitionError,
    TransitionFacts,
    allowed_next,
    check_transition,
    enrollment_problems,
    initiating_visit_required,
    is_valid_icd10,
    normalize_icd10,
)
from cocm_desktop.domain.policy import Policy

E, A, RP, C = "enrolled", "active", "relapse_prevention", "closed"
READY = TransitionFacts(has_relapse_prevention_plan=True, handoff_confirmed=True, failed_outreach_attempts=3,
                        has_reentry_path=True)


@pytest.mark.parametrize(
    ("src", "dst", "reason", "facts", "error"),
    [
        (E, A, None, TransitionFacts(), None),
        (A, RP, None, TransitionFacts(has_relapse_prevention_plan=True), None),
        (A, RP, None, TransitionFacts(), "needs a relapse-prevention plan"),
        (RP, A, None, TransitionFacts(), None),  # relapse: back to active care
        (E, RP, None, READY, "cannot go from enrolled to relapse prevention"),
        (A, E, None, READY, "cannot go from active to enrolled"),
        (A, A, None, READY, "already active"),
        (C, A, None, READY, "cannot be reopened"),
        (C, C, "completed", READY, "cannot be reopened"),
        (A, C, None, READY, "needs a reason"),
        (A, C, "bored", READY, "Unknown close reason"),
        (A, RP, "completed", READY, "only given when closing"),
        (A, C, "completed", TransitionFacts(), None),
        (E, C, "declined", TransitionFacts(), None),
        (RP, C, "moved", TransitionFacts(), None),
        (A, C, "died", TransitionFacts(), None),
        (A, C, "transferred", TransitionFacts(), "stays on the registry until the specialty handoff is confirmed"),
        (A, C, "transferred", TransitionFacts(handoff_confirmed=True), None),
        (A, C, "disengaged", TransitionFacts(failed_outreach_attempts=2, has_reentry_path=True),
         "at least 3 documented outreach attempts; 2 recorded"),
        (A, C, "disengaged", TransitionFacts(failed_outreach_attempts=3), "re-enter"),
        (A, C, "disengaged", TransitionFacts(failed_outreach_attempts=3, has_reentry_path=True), None),
        ("paused", A, None, READY, "Unknown episode status"),
    ],
)
def test_check_transition(src, dst, reason, facts, error):
    if error is None:
        assert check_transition(src, dst, reason, facts) is None
    else:
        with pytest.raises(TransitionError, match=error):
            check_transition(src, dst, reason, facts)


def test_transition_error_is_a_value_error_and_policy_sets_attempts():
    assert issubclass(TransitionError, ValueError)
    facts = TransitionFacts(failed_outreach_attempts=3, has_reentry_path=True)
    with pytest.raises(TransitionError, match="at least 5"):
        check_transition(A, C, CloseReason.DISENGAGED, facts, Policy(disengaged_attempts=5))


def test_allowed_next_and_enums():
    assert allowed_next(EpisodeStatus.CLOSED) == frozenset()
    assert allowed_next("active") == {EpisodeStatus.RELAPSE_PREVENTION, EpisodeStatus.CLOSED}
    assert [s.value for s in EpisodeStatus] == [E, A, RP, C]
    assert [r.value for r in CloseReason] == ["completed", "transferred", "disengaged", "declined", "moved", "died"]
    assert [p.value for p in Program] == ["cocm", "bhi"]
    assert not EpisodeStatus.CLOSED.is_open and EpisodeStatus.RELAPSE_PREVENTION.is_open


@pytest.mark.parametrize(
    ("code", "valid"),
    [("F32.1", True), ("F33.0", True), ("F41.1", True), ("F32.A", True), ("F43.10", True), ("F3", False),
     ("U07.1", False), ("F32.", False), ("F32.12345", False), ("32.1", False), ("f321", True), (" f41.1 ", True),
     ("Z13.31", True), ("", False)],
)
def test_icd10_shape(code, valid):
    assert is_valid_icd10(code) is valid


def test_normalize_icd10():
    assert normalize_icd10(" f321 ") == "F32.1"
    assert normalize_icd10("F41.1") == "F41.1"


ENROLL_ON = date(2026, 11, 24)
GOOD = EnrollmentDraft(
    enrolled_on=ENROLL_ON,
    program="cocm",
    primary_scale="PHQ-9",
    target_conditions=(TargetCondition("F32.1", "Major depressive disorder, single episode, moderate"),),
    treating_clinician=4,
    care_manager=1,
    urgent_risk_ruled_out=True,
    risk_ruled_out_by="Dr. Okafor",
    last_seen_on=date(2026, 6, 1),
    consent=Consent(True, True, True, True, ENROLL_ON, "Casey Morgan"),
)


def test_complete_enrollment_has_no_problems():
    assert enrollment_problems(GOOD) == []


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"target_conditions": ()}, "target_conditions", "at least one target condition"),
        ({"target_conditions": (TargetCondition("F3", "depression"),)}, "target_conditions", "not a valid ICD-10"),
        ({"target_conditions": (TargetCondition("F32.1", " "),)}, "target_conditions", "add a description"),
        ({"treating_clinician": None}, "treating_clinician", "treating clinician"),
        ({"care_manager": None}, "care_manager", "care manager"),
        ({"urgent_risk_ruled_out": False}, "urgent_risk", "Urgent risk must be ruled out"),
        ({"risk_ruled_out_by": ""}, "urgent_risk", "who ruled out"),
        ({"last_seen_on": None}, "initiating_visit", "patient is new or not seen in the prior 12 months"),
        ({"last_seen_on": date(2025, 11, 23)}, "initiating_visit", "initiating visit"),
        ({"last_seen_on": None, "initiating_visit_on": date(2026, 11, 25)}, "initiating_visit", "on or before"),
        ({"consent": Consent(False, True, True, True, ENROLL_ON, "x")}, "consent", "team-based care"),
        ({"consent": Consent(True, False, True, True, ENROLL_ON, "x")}, "consent", "non-face-to-face"),
        ({"consent": Consent(True, True, False, True, ENROLL_ON, "x")}, "consent", "cost-sharing"),
        ({"consent": Consent(True, True, True, False, ENROLL_ON, "x")}, "consent", "patient agrees"),
        ({"consent": Consent(True, True, True, True, None, "x")}, "consent", "record the date"),
        ({"consent": Consent(True, True, True, True, date(2026, 11, 25), "x")}, "consent", "on or before"),
        ({"consent": Consent(True, True, True, True, ENROLL_ON, None)}, "consent", "who documented"),
        ({"primary_scale": "PHQ-2"}, "primary_scale", "Primary scale"),
        ({"program": "ccm"}, "program", "CoCM or BHI"),
        ({"has_open_episode": True}, "patient", "already has an open episode"),
    ],
)
def test_each_missing_element_is_named(changes, field, text):
    problems = enrollment_problems(dataclasses.replace(GOOD, **changes))
    assert len(problems) == 1
    assert problems[0].field == field and text in str(problems[0])


def test_initiating_visit_recorded_satisfies_the_requirement():
    draft = dataclasses.replace(GOOD, last_seen_on=None, initiating_visit_on=date(2026, 11, 20))
    assert enrollment_problems(draft) == []


@pytest.mark.parametrize(
    ("last_seen", "enrolled", "required"),
    [
        (None, date(2026, 11, 24), True),
        (date(2025, 11, 24), date(2026, 11, 24), False),  # exactly 12 months: seen in the prior 12 months
        (date(2025, 11, 23), date(2026, 11, 24), True),
        (date(2025, 2, 28), date(2026, 2, 28), False),
        (date(2024, 2, 28), date(2025, 3, 31), True),
        (date(2024, 2, 29), date(2025, 2, 28), False),  # leap day: month arithmetic clamps
    ],
)
def test_initiating_visit_required(last_seen, enrolled, required):
    assert initiating_visit_required(last_seen, enrolled) is required
