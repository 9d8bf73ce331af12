"""Every service × every role: allowed roles succeed, others get PermissionDenied and nothing is written."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from cocm_desktop.domain.episode import TargetCondition
from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.services import (
    care_plans,
    case_review,
    chart,
    contacts,
    enrollment,
    episodes,
    measures,
    medications,
    patients,
    quality,
    referrals,
    registry,
    registry_csv,
    risk,
)
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Base

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 16, 0)
ROLE_USER = {"care_manager": "cm1", "clinician": "doc1", "psychiatrist": "psych", "clinic_lead": "lead"}
CM, CL, PSY, LEAD = "care_manager", "clinician", "psychiatrist", "clinic_lead"
ALL = (CM, CL, PSY, LEAD)


def make_world(b) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """One episode with something of everything, made by the roles allowed to make it."""
    NOW, at = b.now, b.at
    e = b.episode(TODAY - timedelta(days=40), by="cm1", baseline=15)  # consent awaits attestation
    w: dict[str, Any] = {"episode": e, "patient": b.call(chart.open_chart, "cm1", episode_id=e).patient.id}
    w["contact"] = b.contact(e, TODAY - timedelta(days=2), question="Raise sertraline?").id
    w["measure"] = b.measure(e, TODAY - timedelta(days=3), 12).id
    b.care_plan(e, relapse="Warning signs, who to call")
    w["medication"] = b.call(medications.add_medication, "cm1", e, name="sertraline", dose="50 mg",
                             started_on=TODAY - timedelta(days=30), now=NOW).id
    w["referral"] = b.call(referrals.add_referral, "cm1", e, to_whom="Psychology", reason="CBT",
                           referred_on=TODAY - timedelta(days=5), now=NOW).id
    r = b.call(risk.open_risk_event, "cm1", e, "statement", "said things", opened_at=at(TODAY - timedelta(days=1)),
               now=NOW)
    b.call(risk.record_risk_steps, "cm1", r.id, safety_assessment_done=True, clinician_notified=True)
    w["risk"] = r.id
    rs = b.call(case_review.create_review_session, "cm1", session_on=TODAY,
                consultant_id=b.actors["psych"].user_id, today=TODAY)
    w["review"] = rs.id
    w["agenda_item"] = rs.agenda[0].id
    for key, state in (("rec", None), ("rec_approved", "approved"), ("rec_told", "told")):
        rec = b.call(case_review.record_recommendation, "psych", e, kind="continue", text="Continue", now=NOW)
        if state in ("approved", "told"):
            b.call(case_review.decide_recommendation, "doc1", rec.id, "approved", now=NOW)
        if state == "told":
            b.call(case_review.tell_patient, "cm1", rec.id, how="phone", now=NOW)
        w[key] = rec.id
    b.call(episodes.request_transfer, "cm1", e, "Specialty clinic")
    w["spare_patient"] = b.patient(by="cm1", family="Other")
    return w


def _new_patient_kw(b) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return dict(mrn="NEW-1", family_name="New", given_name="Person", date_of_birth=date(1990, 1, 1), today=TODAY)


def _enroll(b, a, w):  # type: ignore[no-untyped-def]
    NOW = b.now
    pid = w["spare_patient"]
    return enrollment.enroll(
        b._s, a, patient_id=pid, enrolled_on=TODAY, target_conditions=[TargetCondition("F41.1", "GAD")],
        treating_clinician_id=b.actors["doc1"].user_id, care_manager_id=b.actors["cm1"].user_id,
        urgent_risk_ruled_out=True, risk_ruled_out_by_id=b.actors["doc1"].user_id,
        consent=enrollment.ConsentIn(True, True, True, True, TODAY), now=NOW)


def _now():  # type: ignore[no-untyped-def]
    return NOW


# (name, allowed roles, call(builder, actor, world)); b._s is the open session.
CASES: list[tuple[str, tuple[str, ...], Any]] = [
    ("add_patient", (CM, CL), lambda b, a, w: patients.add_patient(b._s, a, **_new_patient_kw(b))),
    ("update_patient", (CM, CL), lambda b, a, w: patients.update_patient(
        b._s, a, w["patient"], reason="Number changed", phone="555")),
    ("find_patients", ALL, lambda b, a, w: patients.find_patients(b._s, a, "doe")),
    ("enroll", (CM, CL), _enroll),
    ("attest_consent", (CL,), lambda b, a, w: enrollment.attest_consent(b._s, a, w["episode"], now=_now())),
    ("record_initiating_visit", (CM, CL), lambda b, a, w: enrollment.record_initiating_visit(
        b._s, a, w["episode"], TODAY - timedelta(days=41), now=_now())),
    ("update_episode_details", (CM, CL), lambda b, a, w: enrollment.update_episode_details(
        b._s, a, w["episode"], patient_goals="Back to work")),
    ("add_target_condition", (CM, CL), lambda b, a, w: enrollment.add_target_condition(
        b._s, a, w["episode"], TargetCondition("F41.1", "GAD"))),
    ("record_measure", (CM, CL), lambda b, a, w: measures.record_measure(
        b._s, a, w["episode"], "GAD-7", [1] * 7, now=_now())),
    ("record_contact", (CM, CL), lambda b, a, w: contacts.record_contact(
        b._s, a, w["episode"], contact_at=_now(), mode="phone", kind="follow_up", next_step="Call",
        next_step_on=TODAY + timedelta(days=7), now=_now())),
    ("amend_contact", (CM, CL), lambda b, a, w: contacts.amend_contact(
        b._s, a, w["contact"], reason="Typo", summary="Better", now=_now())),
    ("void_contact", (CM, CL), lambda b, a, w: contacts.void_contact(
        b._s, a, w["contact"], reason="Wrong patient", now=_now())),
    ("amend_measure", (CM, CL), lambda b, a, w: measures.amend_measure(
        b._s, a, w["measure"], reason="Item 1 misread", items=[1] + [2] * 7 + [0], now=_now())),
    ("void_measure", (CM, CL), lambda b, a, w: measures.void_measure(
        b._s, a, w["measure"], reason="Wrong patient", now=_now())),
    ("set_next_action", (CM, CL), lambda b, a, w: contacts.set_next_action(
        b._s, a, w["episode"], "Call", TODAY + timedelta(days=3))),
    ("save_care_plan", (CM, CL), lambda b, a, w: care_plans.save_care_plan(
        b._s, a, w["episode"], goals="New goals", now=_now())),
    ("sign_off_care_plan", (CL,), lambda b, a, w: care_plans.sign_off_care_plan(b._s, a, w["episode"], now=_now())),
    ("add_medication", (CM, CL), lambda b, a, w: medications.add_medication(
        b._s, a, w["episode"], name="bupropion", dose="150 mg", now=_now())),
    ("change_dose", (CL,), lambda b, a, w: medications.change_dose(
        b._s, a, w["medication"], dose="100 mg", reason="Partial response", now=_now())),
    ("stop_medication", (CL,), lambda b, a, w: medications.stop_medication(
        b._s, a, w["medication"], reason="Side effects", stopped_on=TODAY, now=_now())),
    ("add_referral", (CM, CL), lambda b, a, w: referrals.add_referral(
        b._s, a, w["episode"], to_whom="X", reason="Y", referred_on=TODAY, now=_now())),
    ("update_referral", (CM, CL), lambda b, a, w: referrals.update_referral(
        b._s, a, w["referral"], status="seen", seen_confirmed_on=TODAY, now=_now())),
    ("open_risk_event", (CM, CL), lambda b, a, w: risk.open_risk_event(
        b._s, a, w["episode"], "clinician_concern", now=_now())),
    ("record_risk_steps", (CM, CL), lambda b, a, w: risk.record_risk_steps(b._s, a, w["risk"], safety_plan_done=True)),
    ("record_risk_outcome", (CM, CL), lambda b, a, w: risk.record_risk_outcome(
        b._s, a, w["risk"], "Safe, plan in place", now=_now(),
        step_reasons={"after_hours_routing_used": "Office hours", "safety_plan_done": "Plan in the care plan"})),
    ("change_status", (CM, CL), lambda b, a, w: episodes.change_status(
        b._s, a, w["episode"], "relapse_prevention", now=_now())),
    ("request_transfer", (CM, CL), lambda b, a, w: episodes.request_transfer(b._s, a, w["episode"], "Other clinic")),
    ("confirm_transfer", (CM, CL), lambda b, a, w: episodes.confirm_transfer(b._s, a, w["episode"], TODAY,
                                                                              now=_now())),
    ("create_review_session", (CM, PSY), lambda b, a, w: case_review.create_review_session(
        b._s, a, session_on=TODAY + timedelta(days=7), consultant_id=b.actors["psych"].user_id,
        care_manager_id=b.actors["cm1"].user_id, today=TODAY)),
    ("rebuild_agenda", (CM, PSY), lambda b, a, w: case_review.rebuild_agenda(b._s, a, w["review"], today=TODAY)),
    ("add_to_agenda", (CM, PSY), lambda b, a, w: case_review.add_to_agenda(
        b._s, a, w["review"], _enroll(b, b.actors["cm1"], w).episode_id, today=TODAY)),
    ("drop_from_agenda", (CM, PSY), lambda b, a, w: case_review.drop_from_agenda(
        b._s, a, w["agenda_item"], today=TODAY)),
    ("mark_discussed", (CM, PSY), lambda b, a, w: case_review.mark_discussed(b._s, a, w["agenda_item"])),
    ("get_review_session", ALL, lambda b, a, w: case_review.get_review_session(b._s, a, w["review"])),
    ("record_recommendation", (PSY,), lambda b, a, w: case_review.record_recommendation(
        b._s, a, w["episode"], kind="psychotherapy", text="CBT", now=_now())),
    ("decide_recommendation", (CL,), lambda b, a, w: case_review.decide_recommendation(
        b._s, a, w["rec"], "approved", now=_now())),
    ("tell_patient", (CM, CL), lambda b, a, w: case_review.tell_patient(
        b._s, a, w["rec_approved"], how="phone", now=_now())),
    ("close_recommendation", (CM, CL), lambda b, a, w: case_review.close_recommendation(
        b._s, a, w["rec_told"], now=_now())),
    ("build_registry", ALL, lambda b, a, w: registry.build_registry(b._s, a, today=TODAY)),
    ("registry_csv", ALL, lambda b, a, w: registry_csv.registry_csv_text(b._s, a, today=TODAY)),
    ("open_chart", ALL, lambda b, a, w: chart.open_chart(b._s, a, episode_id=w["episode"], today=TODAY)),
    ("quality_report", (LEAD,), lambda b, a, w: quality.quality_report(b._s, a, date(2026, 11, 1), today=TODAY)),
]


@pytest.fixture(scope="module")
def world_template(template_clinic, tmp_path_factory, make_builder, copy_clinic):  # type: ignore[no-untyped-def]
    """The world is built once per module and copied for each test (each test opens a real copy)."""
    folder = tmp_path_factory.mktemp("world")
    path = copy_clinic(template_clinic, folder)
    db = Database.open(path, "lead", "demo")
    try:
        b = make_builder(db)
        w = make_world(b)
    finally:
        db.close()
    return path, w


@pytest.fixture
def world(world_template, tmp_path, make_builder, copy_clinic):  # type: ignore[no-untyped-def]
    path, w = world_template
    db = Database.open(copy_clinic(path, tmp_path), "lead", "demo")
    try:
        yield make_builder(db), dict(w)
    finally:
        db.close()


def _counts(b) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with b.db.session() as s:
        return {t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in Base.metadata.sorted_tables}


@pytest.mark.parametrize("role", ALL)
@pytest.mark.parametrize(("name", "allowed", "call"), CASES, ids=[c[0] for c in CASES])
def test_service_role(world, name: str, allowed: tuple[str, ...], call: Any, role: str) -> None:  # type: ignore[no-untyped-def]
    build, w = world
    actor = build.actors[ROLE_USER[role]]
    before = _counts(build)
    if role in allowed:
        with build.db.session() as s:
            build._s = s
            call(build, actor, w)
        return
    with pytest.raises(PermissionDenied) as exc, build.db.session() as s:
        build._s = s
        call(build, actor, w)
    assert "cannot" in str(exc.value)
    assert _counts(build) == before  # nothing written, not even an audit record


def test_denial_message_names_who_may(world) -> None:  # type: ignore[no-untyped-def]
    build, w = world
    with pytest.raises(PermissionDenied, match="care manager cannot approve.*treating clinician does"), \
            build.db.session() as s:
        case_review.decide_recommendation(s, build.actors["cm1"], w["rec"], "approved", now=_now())
