"""Medications (workflow-and-rules.md, "Medications"): a list per episode — add, change the dose,
stop — by the roles allowed; an approved (or modified) medication recommendation changes it at
approval or, per clinic policy, once the patient is told; every change is a new line or a stop with
who and why, nothing is deleted, a wrong entry is voided or amended with a reason; all audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.services import case_review, chart, medications
from cocm_desktop.services.case_review_packet import packet_data
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.enrollment import MedicationIn
from cocm_desktop.services.policy import update_policy
from cocm_desktop.services.worklists import Target, WorkKind, worklist
from cocm_desktop.store.models import AuditRecord, Correction, Medication, MedicationProposal

from .conftest import NOW, TODAY

LATER = NOW + timedelta(minutes=5)


def _episode_on_sertraline(b, *, schedule: str | None = "daily"):  # type: ignore[no-untyped-def]
    e = b.episode(TODAY - timedelta(weeks=12), baseline=17)
    line = b.call(medications.add_medication, "cm1", e, name="Sertraline", dose="50 mg", schedule=schedule,
                  started_on=TODAY - timedelta(weeks=12), now=NOW)
    return e, line


def _regimen(b, e, user: str = "psych"):  # type: ignore[no-untyped-def]
    c = b.call(chart.open_chart, user, episode_id=e, today=TODAY)
    return [(m.name, m.dose, m.schedule) for m in c.medications], c.medication_list


def _actions(b) -> list[str]:  # type: ignore[no-untyped-def]
    with b.db.session() as s:
        return list(s.scalars(select(AuditRecord.action).where(AuditRecord.action.like("medication.%"))
                              .order_by(AuditRecord.seq)))


def _recommend(b, e, kind: str = "medication_change", drug: str | None = "sertraline",  # type: ignore[no-untyped-def]
               dose: str | None = "100 mg"):
    return b.call(case_review.record_recommendation, "psych", e, kind=kind, drug=drug, dose=dose,
                  text="Partial response at 12 weeks: increase sertraline to 100 mg.", now=NOW)


# --- add, change the dose, stop ---------------------------------------------------------------

def test_add_change_dose_and_stop_keep_every_line_with_who_and_why(build) -> None:  # type: ignore[no-untyped-def]
    e, line = _episode_on_sertraline(build)
    changed = build.call(medications.change_dose, "doc1", line.id, dose="100 mg", reason="Partial response",
                         changed_on=TODAY - timedelta(days=3), now=NOW)
    assert (changed.name, changed.regimen, changed.started_on) == ("Sertraline", "100 mg daily",
                                                                   TODAY - timedelta(days=3))
    build.call(medications.add_medication, "doc1", e, name="Trazodone", dose="50 mg", schedule="at night",
               reason="Insomnia", now=NOW)
    regimen, lst = _regimen(build, e)
    assert regimen == [("Sertraline", "100 mg", "daily"), ("Trazodone", "50 mg", "at night")]
    build.call(medications.stop_medication, "doc1", lst.current[1].id, reason="Sleeping well", now=LATER)
    regimen, lst = _regimen(build, e)
    assert regimen == [("Sertraline", "100 mg", "daily")]
    # nothing deleted: three lines, the old dose stopped on the day of the change, with who and why
    assert len(lst.lines) == 3
    old = next(m for m in lst.lines if m.id == line.id)
    assert (old.stopped_on, old.stopped_by) == (TODAY - timedelta(days=3), "Dr. Daniel Okafor")
    assert old.stop_reason == "Dose changed to 100 mg: Partial response"
    events = [(c.what, c.name, c.detail, c.why) for c in lst.changes]
    assert events == [
        ("Stopped", "Trazodone", "50 mg at night", "Sleeping well"),
        ("Started", "Trazodone", "50 mg at night", "Insomnia"),
        ("Dose changed", "Sertraline", "50 mg daily \u2192 100 mg daily", "Partial response"),
        ("Recorded", "Sertraline", "50 mg daily", None),
    ]
    assert _actions(build) == ["medication.create", "medication.change", "medication.create", "medication.stop"]


def test_refusals_say_why_and_write_nothing(build) -> None:  # type: ignore[no-untyped-def]
    e, line = _episode_on_sertraline(build)
    before = build.audit_count()
    # the treating clinician owns the medical plan: a care manager records, never changes or stops
    with pytest.raises(PermissionDenied, match="care manager cannot change a medication's dose or stop it; "
                                               "the treating clinician does"):
        build.call(medications.change_dose, "cm1", line.id, dose="100 mg", reason="x", now=NOW)
    with pytest.raises(PermissionDenied):
        build.call(medications.stop_medication, "cm1", line.id, reason="x", now=NOW)
    with pytest.raises(PermissionDenied, match="consultant cannot record a medication"):
        build.call(medications.add_medication, "psych", e, name="Bupropion XL", dose="150 mg", now=NOW)
    with pytest.raises(PermissionDenied):
        build.call(medications.add_medication, "lead", e, name="Bupropion XL", dose="150 mg", now=NOW)
    with pytest.raises(ValidationError, match="already on the current medications; change its dose"):
        build.call(medications.add_medication, "cm1", e, name=" sertraline ", dose="25 mg", now=NOW)
    with pytest.raises(ValidationError, match="Reason: say why"):
        build.call(medications.change_dose, "doc1", line.id, dose="100 mg", reason="  ", now=NOW)
    with pytest.raises(ValidationError, match="nothing changed"):
        build.call(medications.change_dose, "doc1", line.id, dose="50 mg", reason="Same", now=NOW)
    with pytest.raises(ValidationError, match="cannot change or stop before it started"):
        build.call(medications.stop_medication, "doc1", line.id, reason="x",
                   stopped_on=TODAY - timedelta(weeks=20), now=NOW)
    with pytest.raises(ValidationError, match="future"):
        build.call(medications.stop_medication, "doc1", line.id, reason="x", stopped_on=TODAY + timedelta(days=2),
                   now=NOW)
    with pytest.raises(ValidationError, match="Dose is required"):
        build.call(medications.add_medication, "cm1", e, name="Bupropion XL", dose=" ", now=NOW)
    assert build.audit_count() == before
    assert _regimen(build, e)[0] == [("Sertraline", "50 mg", "daily")]


def test_enrollment_medications_become_lines_with_their_schedule(build) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.domain.episode import TargetCondition
    from cocm_desktop.services.enrollment import ConsentIn, enroll

    pid = build.patient()
    with build.db.session() as s:
        res = enroll(s, build.actors["cm1"], patient_id=pid, enrolled_on=TODAY, program="cocm",
                     primary_scale="PHQ-9", target_conditions=[TargetCondition("F32.1", "MDD")],
                     treating_clinician_id=build.actors["doc1"].user_id,
                     care_manager_id=build.actors["cm1"].user_id, urgent_risk_ruled_out=True,
                     risk_ruled_out_by_id=build.actors["doc1"].user_id,
                     consent=ConsentIn(True, True, True, True, TODAY),
                     medications=[MedicationIn("Escitalopram", "10 mg", TODAY - timedelta(days=60), "from PCP",
                                               "daily")], now=NOW)
    regimen, lst = _regimen(build, res.episode_id)
    assert regimen == [("Escitalopram", "10 mg", "daily")]
    assert lst.current[0].note == "from PCP" and lst.changes[0].what == "Recorded"


# --- the recommendation loop --------------------------------------------------------------------

def test_approving_a_medication_change_applies_it_at_once(build) -> None:  # type: ignore[no-untyped-def]
    e, _line = _episode_on_sertraline(build)
    rec = _recommend(build, e)
    assert _regimen(build, e)[0] == [("Sertraline", "50 mg", "daily")]  # recommended only: unchanged
    build.call(case_review.decide_recommendation, "doc1", rec.id, "approved", now=LATER)
    regimen, lst = _regimen(build, e)
    assert regimen == [("Sertraline", "100 mg", "daily")]  # the schedule stays, the dose changes
    assert lst.proposals == ()
    change = lst.changes[0]
    assert (change.what, change.on, change.by) == ("Dose changed", LATER.date(), "Dr. Daniel Okafor")
    assert change.why == ("Case-review recommendation approved by Dr. Daniel Okafor: Partial response at 12 "
                          "weeks: increase sertraline to 100 mg.")
    with build.db.session() as s:
        new = s.scalar(select(Medication).where(Medication.recommendation_id == rec.id))
        assert new is not None and new.dose == "100 mg"
        p = s.scalar(select(MedicationProposal).where(MedicationProposal.recommendation_id == rec.id))
        assert (p.state, p.medication_id) == ("applied", new.id)
    assert _actions(build)[-2:] == ["medication.proposal", "medication.change"]


def test_a_modified_recommendation_applies_the_clinicians_dose(build) -> None:  # type: ignore[no-untyped-def]
    e, _line = _episode_on_sertraline(build)
    rec = _recommend(build, e)
    with pytest.raises(ValidationError, match="choose Modify"):
        build.call(case_review.decide_recommendation, "doc1", rec.id, "approved", dose="75 mg", now=LATER)
    build.call(case_review.decide_recommendation, "doc1", rec.id, "modified", now=LATER,
               modified_text="Increase to 75 mg first; 100 mg in two weeks if tolerated.", dose="75 mg")
    regimen, lst = _regimen(build, e)
    assert regimen == [("Sertraline", "75 mg", "daily")]
    assert "Increase to 75 mg first" in lst.changes[0].why


def test_declined_and_non_medication_recommendations_change_nothing(build) -> None:  # type: ignore[no-untyped-def]
    e, _line = _episode_on_sertraline(build)
    declined = _recommend(build, e)
    build.call(case_review.decide_recommendation, "doc1", declined.id, "declined", note="Prefers to wait", now=LATER)
    other = _recommend(build, e, kind="psychotherapy", drug=None, dose=None)
    build.call(case_review.decide_recommendation, "doc1", other.id, "approved", now=LATER)
    assert _regimen(build, e)[0] == [("Sertraline", "50 mg", "daily")]
    with build.db.session() as s:
        assert s.scalar(select(MedicationProposal.id)) is None


def test_start_and_stop_recommendations(build) -> None:  # type: ignore[no-untyped-def]
    e, _line = _episode_on_sertraline(build)
    start = _recommend(build, e, kind="medication_start", drug="Bupropion XL", dose="150 mg")
    build.call(case_review.decide_recommendation, "doc1", start.id, "approved", now=LATER)
    stop = _recommend(build, e, kind="medication_stop", drug="SERTRALINE", dose=None)
    build.call(case_review.decide_recommendation, "doc1", stop.id, "approved", now=LATER)
    regimen, lst = _regimen(build, e)
    assert regimen == [("Bupropion XL", "150 mg", None)]
    assert sorted((c.what, c.name) for c in lst.changes if c.on == LATER.date()) == [
        ("Started", "Bupropion XL"), ("Stopped", "Sertraline")]


def test_policy_applies_the_change_only_when_the_patient_is_told(build) -> None:  # type: ignore[no-untyped-def]
    build.call(update_policy, "lead", {"medication_change_when_told": 1})
    e, _line = _episode_on_sertraline(build)
    rec = _recommend(build, e)
    build.call(case_review.decide_recommendation, "doc1", rec.id, "approved", now=LATER)
    regimen, lst = _regimen(build, e)
    assert regimen == [("Sertraline", "50 mg", "daily")]  # approved, not told: not yet the regimen
    assert [(p.description, p.state_label) for p in lst.proposals] == [
        ("Change sertraline to 100 mg", "Applies when the patient is told")]
    told_at = LATER + timedelta(days=1)
    build.call(case_review.tell_patient, "cm1", rec.id, how="phone", told_at=told_at, now=told_at)
    regimen, lst = _regimen(build, e)
    assert regimen == [("Sertraline", "100 mg", "daily")]
    assert lst.proposals == () and lst.changes[0].on == told_at.date()


def test_a_change_that_matches_no_line_waits_for_the_clinician(build) -> None:  # type: ignore[no-untyped-def]
    e, line = _episode_on_sertraline(build)
    rec = _recommend(build, e, drug="Zoloft")  # brand name: not the line's name
    build.call(case_review.decide_recommendation, "doc1", rec.id, "approved", now=LATER)
    regimen, lst = _regimen(build, e)
    assert regimen == [("Sertraline", "50 mg", "daily")]
    (p,) = lst.proposals
    assert p.state == "needs_review" and "Zoloft is not on the current medications" in p.note
    # the treating clinician's worklist says so until it is applied (or withdrawn)
    (item,) = [i for i in build.call(worklist, "doc1").items if i.kind is WorkKind.MEDICATION_REVIEW]
    assert (item.episode_id, item.ref_id, item.target) == (e, rec.id, Target.CHART)
    assert item.what.startswith("Apply by hand or withdraw: Change dose Zoloft 100 mg — ")
    assert "Zoloft is not on the current medications" in item.what
    with pytest.raises(PermissionDenied):
        build.call(medications.apply_proposal, "cm1", p.id, line_id=line.id, now=LATER)
    build.call(medications.apply_proposal, "doc1", p.id, line_id=line.id, now=LATER)
    regimen, lst = _regimen(build, e)
    assert regimen == [("Sertraline", "100 mg", "daily")] and lst.proposals == ()
    assert not [i for i in build.call(worklist, "doc1").items if i.kind is WorkKind.MEDICATION_REVIEW]


# --- corrections ----------------------------------------------------------------------------------

def test_void_a_dose_change_entered_in_error_reopens_the_old_dose(build) -> None:  # type: ignore[no-untyped-def]
    e, line = _episode_on_sertraline(build)
    changed = build.call(medications.change_dose, "doc1", line.id, dose="100 mg", reason="Partial response",
                         now=NOW)
    with pytest.raises(ValidationError, match="A later dose change continues this line"):
        build.call(medications.void_medication, "doc1", line.id, reason="x", now=LATER)
    with pytest.raises(ValidationError, match="Only the person who entered it or the treating clinician"):
        build.call(medications.void_medication, "cm2", changed.id, reason="Wrong chart", now=LATER)
    build.call(medications.void_medication, "doc1", changed.id, reason="Wrong chart", now=LATER)
    regimen, lst = _regimen(build, e)
    assert regimen == [("Sertraline", "50 mg", "daily")]
    voided = next(m for m in lst.lines if m.id == changed.id)
    assert voided.voided and voided.void_reason == "Wrong chart"
    assert [c.what for c in lst.changes] == ["Recorded"]  # a voided line counts nowhere
    with build.db.session() as s:
        hist = list(s.scalars(select(Correction).where(Correction.object_type == "medication")
                              .order_by(Correction.id)))
        assert [(h.object_id, h.action) for h in hist] == [(changed.id, "void"), (line.id, "amend")]
        assert hist[1].changes["stopped_on"][1] is None
        assert s.get(Medication, changed.id) is not None  # still there


def test_amend_a_wrong_value_keeps_the_old_one_in_the_history(build) -> None:  # type: ignore[no-untyped-def]
    e, line = _episode_on_sertraline(build)
    build.call(medications.amend_medication, "cm1", line.id, reason="Typo: it is 25 mg", dose="25 mg", now=LATER)
    assert _regimen(build, e)[0] == [("Sertraline", "25 mg", "daily")]
    with build.db.session() as s:
        h = s.scalar(select(Correction).where(Correction.object_type == "medication"))
        assert (h.action, h.reason, h.changes) == ("amend", "Typo: it is 25 mg", {"dose": ["50 mg", "25 mg"]})
    with pytest.raises(ValidationError, match="use Stop"):
        build.call(medications.amend_medication, "doc1", line.id, reason="x", stopped_on=TODAY, now=LATER)
    with pytest.raises(ValidationError, match="Reason: say why the value is wrong"):
        build.call(medications.amend_medication, "doc1", line.id, reason="", dose="30 mg", now=LATER)
    # a stop entered in error is undone by amending the stop date away
    build.call(medications.stop_medication, "doc1", line.id, reason="Meant the other patient", now=LATER)
    assert _regimen(build, e)[0] == []
    build.call(medications.amend_medication, "doc1", line.id, reason="Stopped on the wrong chart",
               stopped_on=None, now=LATER + timedelta(minutes=1))
    regimen, lst = _regimen(build, e)
    assert regimen == [("Sertraline", "25 mg", "daily")] and lst.current[0].stop_reason is None
    assert "medication.amend" in _actions(build)


def test_packet_shows_the_current_regimen_and_recent_changes(build) -> None:  # type: ignore[no-untyped-def]
    e, line = _episode_on_sertraline(build)
    rec = _recommend(build, e)
    build.call(case_review.decide_recommendation, "doc1", rec.id, "approved", now=LATER)
    rs = build.call(case_review.create_review_session, "cm1", session_on=TODAY + timedelta(days=2),
                    consultant_id=build.actors["psych"].user_id, today=TODAY)
    packet = build.call(packet_data, "psych", session_id=rs.id, today=TODAY)
    p = next(p for p in packet.patients if p.episode_id == e)
    assert [(m.name, m.dose, m.schedule) for m in p.medications] == [("Sertraline", "100 mg", "daily")]
    assert [(c.what, c.detail) for c in p.medication_changes][:1] == [
        ("Dose changed", "50 mg daily \u2192 100 mg daily")]


def test_a_late_approval_on_a_closed_episode_is_kept_for_the_clinician(build) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services import episodes

    e, _line = _episode_on_sertraline(build)
    rec = _recommend(build, e)
    build.call(episodes.change_status, "cm1", e, "closed", reason="moved", note="Moved away", now=NOW)
    view = build.call(case_review.decide_recommendation, "doc1", rec.id, "approved", now=LATER)
    assert view.state == "approved"  # the decision is recorded; the closed list is not changed
    with build.db.session() as s:
        p = s.scalar(select(MedicationProposal).where(MedicationProposal.recommendation_id == rec.id))
        assert (p.state, p.note) == ("needs_review", "the episode of care is closed")
        assert [m.dose for m in s.scalars(select(Medication).where(Medication.episode_id == e))] == ["50 mg"]


def test_a_dose_change_or_stop_on_a_line_amended_since_it_was_shown_is_refused(build) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.common import EditConflict

    e, line = _episode_on_sertraline(build)
    shown = line.row_version  # the clinician's chart shows the line…
    build.call(medications.amend_medication, "cm1", line.id, reason="Schedule typed wrong",  # …the care manager amends it
               schedule="every morning", now=NOW)
    for step in (lambda v: build.call(medications.change_dose, "doc1", line.id, dose="100 mg", reason="Partial response",
                                      expected_version=v, now=LATER),
                 lambda v: build.call(medications.stop_medication, "doc1", line.id, reason="Side effects",
                                      expected_version=v, now=LATER)):
        with pytest.raises(EditConflict, match="changed this medication") as refused:
            step(shown)
        assert "every morning" in str(refused.value) and "Casey Morgan" in str(refused.value)
    regimen, _ = _regimen(build, e)
    assert regimen == [("Sertraline", "50 mg", "every morning")]  # nothing of either step stored
    build.call(medications.change_dose, "doc1", line.id, dose="100 mg", reason="Partial response",
               expected_version=shown + 1, now=LATER)  # on what is there now, it goes through
    assert _regimen(build, e)[0] == [("Sertraline", "100 mg", "every morning")]
