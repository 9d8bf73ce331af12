from __future__ import annotations

from datetime import date

import pytest

from cocm_desktop.domain.case_review import (
    AgendaCandidate,
    AgendaGroup,
    LoopState,
    RecommendationError,
    RecommendationKind,
    agenda_groups_for,
    build_agenda,
    check_recommendation,
    group_agenda,
    loop_transition,
    next_loop_states,
    session_capacity,
    size_agenda,
    waiting_since_kind,
)
from cocm_desktop.domain.flags import Flag
from cocm_desktop.domain.roles import PermissionDenied, Role

G = AgendaGroup


def cand(eid, *groups, name="", since=None):
    return AgendaCandidate(eid, frozenset(groups), name, since)


def test_group_order_and_labels():
    # The spec's order: safety flags first (they came after medication questions before).
    assert [g.value for g in AgendaGroup] == ["safety", "new", "not_improving", "medication_question", "follow_up"]
    assert G.MEDICATION_QUESTION.label == "Medication questions"


@pytest.mark.parametrize(
    ("kwargs", "groups"),
    [
        ({"ever_reviewed": False}, {G.NEW}),
        ({"ever_reviewed": True}, set()),
        ({"ever_reviewed": True, "flags": [Flag.NOT_IMPROVING, Flag.MEASURE_DUE]}, {G.NOT_IMPROVING}),
        ({"ever_reviewed": True, "flags": [Flag.SAFETY]}, {G.SAFETY}),
        ({"ever_reviewed": True, "open_question": True}, {G.MEDICATION_QUESTION}),
        ({"ever_reviewed": True, "follow_up_requested": True}, {G.FOLLOW_UP}),
        ({"ever_reviewed": False, "flags": [Flag.SAFETY], "open_question": True},
         {G.NEW, G.SAFETY, G.MEDICATION_QUESTION}),
    ],
)
def test_agenda_groups_for(kwargs, groups):
    assert agenda_groups_for(**kwargs) == groups


def test_build_agenda_orders_groups_then_oldest_then_name():
    items = build_agenda([
        cand(1, G.FOLLOW_UP, name="Ann"),
        cand(2, G.SAFETY, name="Bob"),
        cand(3, G.NEW, name="Cy", since=date(2026, 11, 10)),
        cand(4, G.NEW, name="Di", since=date(2026, 11, 3)),
        cand(5, G.NOT_IMPROVING, G.SAFETY, name="Ed"),
        cand(6, G.MEDICATION_QUESTION, name="fay"),
        cand(7, G.MEDICATION_QUESTION, name="Eve"),
        cand(8, name="Nobody"),  # no reason → not on the agenda
    ])
    assert [i.episode_id for i in items] == [2, 5, 4, 3, 7, 6, 1]
    # A not-improving patient with a safety flag is presented under safety flags, first.
    ed = next(i for i in items if i.episode_id == 5)
    assert ed.group is G.SAFETY and ed.reasons == (G.SAFETY, G.NOT_IMPROVING)
    assert not any(i.manual for i in items)


def test_care_manager_adds_and_drops():
    items = build_agenda(
        [cand(1, G.NEW, name="A"), cand(2, G.SAFETY, name="B"), cand(3, G.NOT_IMPROVING, name="C")],
        added=[cand(9, name="Manual"), cand(3, G.MEDICATION_QUESTION), cand(2, G.FOLLOW_UP)],
        dropped=[1, 2],
    )
    assert [(i.episode_id, i.group, i.manual) for i in items] == [
        (3, G.NOT_IMPROVING, True),  # automatic place kept, extra reason merged
        (9, G.FOLLOW_UP, True),  # added without a reason → follow-ups
    ]
    assert items[0].reasons == (G.NOT_IMPROVING, G.MEDICATION_QUESTION) and items[0].name == "C"


def test_group_agenda_omits_empty_groups():
    grouped = group_agenda(build_agenda([cand(1, G.SAFETY), cand(2, G.NEW), cand(3, G.NEW)]))
    assert [(g, [i.episode_id for i in items]) for g, items in grouped] == [(G.SAFETY, [1]), (G.NEW, [2, 3])]


def test_carried_patients_come_after_safety_and_before_new_reasons():
    items = build_agenda(
        [cand(1, G.NEW, name="New"), cand(2, G.SAFETY, name="Safe"), cand(3, G.FOLLOW_UP, name="Carried follow"),
         cand(4, G.NOT_IMPROVING, name="Stuck"), cand(5, G.SAFETY, name="Carried safe")],
        carried=[3, 5, 99],  # 99 is not on the agenda: carrying never adds anyone
    )
    assert [(i.episode_id, i.carried) for i in items] == [
        (5, True), (2, False),  # safety is never displaced by a carried patient
        (3, True),  # carried: before every new reason, in its own group
        (1, False), (4, False)]


def test_session_capacity_from_minutes():
    assert session_capacity(60, 6) == 10
    assert session_capacity(60, 8) == 7  # a part-patient does not fit
    assert session_capacity(15, 20) == 1  # a session always has room for one


def test_size_agenda_keeps_what_fits_in_order_and_pinned_items():
    items = build_agenda([cand(n, G.SAFETY if n < 3 else G.NEW, name=f"P{n:02d}") for n in range(1, 13)])
    on, not_reached = size_agenda(items, 5)
    assert [i.episode_id for i in on] == [1, 2, 3, 4, 5]
    assert [i.episode_id for i in not_reached] == [6, 7, 8, 9, 10, 11, 12]
    # Added by hand or already discussed: stays on, in its place, and takes a seat.
    on, not_reached = size_agenda(items, 5, pinned=[11])
    assert [i.episode_id for i in on] == [1, 2, 3, 4, 11]
    assert [i.episode_id for i in not_reached] == [5, 6, 7, 8, 9, 10, 12]
    # More safety flags than room: the session is full of them, the rest wait, still first.
    many = build_agenda([cand(n, G.SAFETY, name=f"S{n}") for n in range(1, 5)] + [cand(9, G.NEW, name="N")])
    on, not_reached = size_agenda(many, 3)
    assert [i.group for i in on] == [G.SAFETY] * 3 and [i.episode_id for i in not_reached] == [4, 9]


@pytest.mark.parametrize(
    ("kind", "drug", "dose", "error"),
    [
        ("medication_start", "sertraline", "50 mg daily", None),
        ("medication_start", "sertraline", None, "give the dose"),
        ("medication_start", None, "50 mg", "name the drug"),
        ("medication_change", "sertraline", " ", "give the dose"),
        ("medication_change", "sertraline", "100 mg daily", None),
        ("medication_stop", "bupropion", None, None),
        ("medication_stop", "", None, "name the drug"),
        ("psychotherapy", None, None, None),
        ("referral", None, None, None),
        ("diagnosis_clarification", None, None, None),
        ("continue", None, None, None),
        ("ect", None, None, "Unknown recommendation kind"),
    ],
)
def test_check_recommendation(kind, drug, dose, error):
    if error is None:
        assert check_recommendation(kind, drug, dose) is None
    else:
        with pytest.raises(RecommendationError, match=error):
            check_recommendation(kind, drug, dose)


def test_kinds():
    assert [k.value for k in RecommendationKind] == [
        "medication_start", "medication_change", "medication_stop", "psychotherapy", "referral",
        "diagnosis_clarification", "continue",
    ]
    assert RecommendationKind.MEDICATION_STOP.needs_drug and not RecommendationKind.MEDICATION_STOP.needs_dose


CM, CL, PSY, LEAD = Role.CARE_MANAGER, Role.CLINICIAN, Role.PSYCHIATRIST, Role.CLINIC_LEAD
S = LoopState


@pytest.mark.parametrize(
    ("src", "dst", "role", "kwargs", "outcome"),
    [
        (S.RECOMMENDED, S.APPROVED, CL, {}, S.APPROVED),
        (S.RECOMMENDED, S.MODIFIED, CL, {"note": "25 mg first week"}, S.MODIFIED),
        (S.RECOMMENDED, S.MODIFIED, CL, {}, "Say what was modified"),
        (S.RECOMMENDED, S.DECLINED, CL, {}, S.DECLINED),
        (S.RECOMMENDED, S.APPROVED, CM, {}, PermissionDenied),
        (S.RECOMMENDED, S.APPROVED, PSY, {}, PermissionDenied),
        (S.RECOMMENDED, S.TOLD_PATIENT, CM, {"told_how": "phone"}, "approve, modify or decline it first"),
        (S.APPROVED, S.TOLD_PATIENT, CM, {"told_how": "phone"}, S.TOLD_PATIENT),
        (S.MODIFIED, S.TOLD_PATIENT, CL, {"told_how": "portal"}, S.TOLD_PATIENT),
        (S.APPROVED, S.TOLD_PATIENT, CM, {}, "how the patient was told"),
        (S.APPROVED, S.TOLD_PATIENT, CM, {"told_how": "carrier pigeon"}, "how the patient was told"),
        (S.APPROVED, S.TOLD_PATIENT, LEAD, {"told_how": "phone"}, PermissionDenied),
        (S.APPROVED, S.CLOSED, CM, {}, "Tell the patient"),
        (S.DECLINED, S.CLOSED, CM, {}, S.CLOSED),  # declined closes directly…
        (S.DECLINED, S.TOLD_PATIENT, CM, {"told_how": "in_person"}, S.TOLD_PATIENT),  # …or after telling
        (S.TOLD_PATIENT, S.CLOSED, CM, {}, S.CLOSED),
        (S.TOLD_PATIENT, S.CLOSED, PSY, {}, PermissionDenied),
        (S.CLOSED, S.RECOMMENDED, PSY, {}, "is closed"),
        (S.TOLD_PATIENT, S.APPROVED, CL, {}, "cannot go from patient told to approved"),
        ("nonsense", S.CLOSED, CM, {}, RecommendationError),
    ],
)
def test_loop_transition(src, dst, role, kwargs, outcome):
    if isinstance(outcome, LoopState):
        assert loop_transition(src, dst, role, **kwargs) is outcome
    elif isinstance(outcome, type):
        with pytest.raises(outcome):
            loop_transition(src, dst, role, **kwargs)
    else:
        with pytest.raises(RecommendationError, match=outcome):
            loop_transition(src, dst, role, **kwargs)


def test_denied_loop_step_explains_who_does_it():
    with pytest.raises(PermissionDenied, match="the treating clinician does"):
        loop_transition("recommended", "approved", "care_manager")


def test_next_states_and_waiting_kinds():
    assert next_loop_states("recommended") == (S.APPROVED, S.MODIFIED, S.DECLINED)
    assert next_loop_states("declined") == (S.TOLD_PATIENT, S.CLOSED)
    assert next_loop_states("closed") == ()
    assert [waiting_since_kind(s) for s in S] == ["awaiting_approval", "not_told", "not_told", None, None, None]
