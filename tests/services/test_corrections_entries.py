"""Corrections of referrals, risk events, care-plan versions, status changes, recommendation states
and duplicate patients (workflow-and-rules.md, "Corrections"): each is voided or amended with a
reason by the people the spec allows, nothing is deleted, the history keeps who/when/why, and the
registry row, flags, worklists, billing and quality follow in the same transaction."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from cocm_desktop.domain.flags import Flag
from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.services import (
    care_plans,
    case_review,
    chart,
    episodes,
    measures,
    patients,
    quality,
    recommendation_corrections,
    referrals,
    risk,
    time_log,
)
from cocm_desktop.services.billing_month import compute_billing_month
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.corrections import corrections_for_patient
from cocm_desktop.services.registry import build_registry
from cocm_desktop.services.worklists import WorkKind, worklist
from cocm_desktop.store.models import (
    AuditRecord,
    Correction,
    Measure,
    Patient,
    Referral,
    RiskEvent,
    TimeEntry,
)

from .conftest import NOW, TODAY, at

LATER = NOW + timedelta(minutes=5)


def _row(b, episode_id: int):  # type: ignore[no-untyped-def]
    return next((r for r in b.call(build_registry, "cm1", today=TODAY) if r.episode_id == episode_id), None)


def _work(b, user: str, kind: WorkKind) -> list:  # type: ignore[type-arg]
    with b.db.session() as s:
        return [i for i in worklist(s, b.actors[user], today=TODAY, now=NOW).items if i.kind is kind]


def _audit(b, action: str) -> list[AuditRecord]:  # type: ignore[no-untyped-def]
    with b.db.session() as s:
        return list(s.scalars(select(AuditRecord).where(AuditRecord.action == action)))


# ---- referrals -------------------------------------------------------------------------------------


def test_voided_referral_leaves_the_flag_and_the_worklist_and_stays_in_the_history(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=60), baseline=15)
    r = build.call(referrals.add_referral, "cm1", e, to_whom="Psychology", reason="CBT",
                   referred_on=TODAY - timedelta(days=40), now=NOW)
    assert _row(build, e).has(Flag.REFERRAL_UNCONFIRMED)
    assert r.id in {i.ref_id for i in _work(build, "cm1", WorkKind.REFERRAL)}
    for user in ("cm2", "doc2"):
        with pytest.raises(ValidationError, match="Only the person who entered it or the treating clinician"):
            build.call(referrals.void_referral, user, r.id, reason="Wrong patient", now=LATER)
    build.call(referrals.void_referral, "doc1", r.id, reason="Referral was for another patient", now=LATER)
    assert not _row(build, e).has(Flag.REFERRAL_UNCONFIRMED)
    assert r.id not in {i.ref_id for i in _work(build, "cm1", WorkKind.REFERRAL)}
    c = build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY)
    assert c.referrals == () and [v.id for v in c.voided_referrals] == [r.id]
    with build.db.session() as s:
        assert s.get(Referral, r.id).void_reason == "Referral was for another patient"
    with pytest.raises(ValidationError, match="voided"):
        build.call(referrals.update_referral, "cm1", r.id, status="scheduled", now=LATER)
    assert _audit(build, "referral.void")[0].detail["reason"] == "Referral was for another patient"


def test_amended_referral_status_puts_back_a_seen_set_by_mistake(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=60), baseline=15)
    r = build.call(referrals.add_referral, "cm1", e, to_whom="Psychology", reason="CBT",
                   referred_on=TODAY - timedelta(days=40), now=NOW)
    build.call(referrals.update_referral, "cm1", r.id, status="seen", seen_confirmed_on=TODAY - timedelta(days=2),
               now=NOW)
    assert not _row(build, e).has(Flag.REFERRAL_UNCONFIRMED)
    with pytest.raises(ValidationError, match="confirmed-seen date goes with status 'seen'"):
        build.call(referrals.amend_referral, "cm1", r.id, reason="Not seen yet", status="scheduled", now=LATER)
    v = build.call(referrals.amend_referral, "cm1", r.id, reason="Clicked seen on the wrong referral",
                   status="scheduled", seen_confirmed_on=None, now=LATER)
    assert (v.status, v.seen_confirmed_on) == ("scheduled", None)
    assert _row(build, e).has(Flag.REFERRAL_UNCONFIRMED)  # the flag is back at once
    kept = build.call(corrections_for_patient, "doc1", _row(build, e).patient_id)
    assert kept[-1].changes == {"status": ("seen", "scheduled"),
                                "seen_confirmed_on": ((TODAY - timedelta(days=2)).isoformat(), None)}


# ---- risk events and the safety protocol ----------------------------------------------------------


def _risk(b, e):  # type: ignore[no-untyped-def]
    return b.call(risk.open_risk_event, "cm1", e, "statement", "Said life is not worth it", opened_at=at(TODAY, 9),
                  now=NOW)


def test_risk_event_does_not_close_with_safety_plan_unticked_and_no_reason(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=30), baseline=15)
    ev = _risk(build, e)
    build.call(risk.record_risk_steps, "cm1", ev.id, safety_assessment_done=True, clinician_notified=True,
               notified_clinician_id=build.actors["doc1"].user_id, notified_at=at(TODAY, 10), now=NOW)
    with pytest.raises(ValidationError, match="'Safety plan made' is not ticked"):
        build.call(risk.record_risk_outcome, "cm1", ev.id, "Safe for now",
                   step_reasons={"after_hours_routing_used": "Office hours"}, now=NOW)
    with pytest.raises(ValidationError, match="cannot be waived"):
        build.call(risk.record_risk_outcome, "cm1", ev.id, "Safe", now=NOW,
                   step_reasons={"clinician_notified": "Busy", "after_hours_routing_used": "Office hours",
                                 "safety_plan_done": "No"})
    assert _row(build, e).has(Flag.SAFETY)  # still open
    v = build.call(risk.record_risk_outcome, "cm1", ev.id, "No intent; crisis line given", now=NOW,
                   step_reasons={"after_hours_routing_used": "During office hours",
                                 "safety_plan_done": "Patient declined; clinician reviewing tomorrow"})
    assert not v.is_open and v.step_reasons["safety_plan_done"] == "Patient declined; clinician reviewing tomorrow"
    assert (v.notified_clinician, v.notified_at) == (build.actors["doc1"].display_name, at(TODAY, 10))
    assert not _row(build, e).has(Flag.SAFETY)
    assert "safety plan made not done" in _audit(build, "risk.outcome")[0].summary


def test_the_safety_assessment_and_a_notified_clinician_are_never_waived(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=30), baseline=15)
    ev = _risk(build, e)
    with pytest.raises(ValidationError, match="'Safety assessment done' is not done.*'Clinician notified' is not"):
        build.call(risk.record_risk_outcome, "cm1", ev.id, "Safe", now=NOW)


def test_notified_clinician_is_named_with_the_time_and_sees_it_in_their_worklist(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=30), baseline=15, doc="doc1")
    ev = _risk(build, e)
    assert ev.id not in {i.ref_id for i in _work(build, "doc2", WorkKind.RISK_EVENT)}
    with pytest.raises(ValidationError, match="before the risk event was opened"):
        build.call(risk.record_risk_steps, "cm1", ev.id, clinician_notified=True,
                   notified_clinician_id=build.actors["doc2"].user_id, notified_at=at(TODAY, 8), now=NOW)
    with pytest.raises(ValidationError, match="clinician notified must be a treating clinician"):
        build.call(risk.record_risk_steps, "cm1", ev.id, clinician_notified=True,
                   notified_clinician_id=build.actors["cm2"].user_id, now=NOW)
    v = build.call(risk.record_risk_steps, "cm1", ev.id, clinician_notified=True,
                   notified_clinician_id=build.actors["doc2"].user_id, notified_at=at(TODAY, 9) + timedelta(minutes=20),
                   now=NOW)
    assert (v.notified_clinician_id, v.notified_at) == (build.actors["doc2"].user_id, at(TODAY, 9) + timedelta(minutes=20))
    covering = [i for i in _work(build, "doc2", WorkKind.RISK_EVENT) if i.ref_id == ev.id]
    assert len(covering) == 1 and "you were notified 2026-11-24 09:20" in covering[0].what
    assert "covering" in covering[0].what
    own = [i for i in _work(build, "doc1", WorkKind.RISK_EVENT) if i.ref_id == ev.id]
    assert "notified 2026-11-24 09:20" in own[0].what  # the treating clinician sees who was told
    # defaults: the treating clinician, now
    ev2 = _risk(build, e)
    v2 = build.call(risk.record_risk_steps, "cm1", ev2.id, clinician_notified=True, now=NOW)
    assert (v2.notified_clinician_id, v2.notified_at) == (build.actors["doc1"].user_id, NOW)
    assert "clinician notified: " in _audit(build, "risk.steps")[-1].summary


def test_voided_risk_event_clears_the_safety_flag_but_not_one_its_phq9_still_says(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=30), baseline=15)
    ev = _risk(build, e)
    assert _row(build, e).has(Flag.SAFETY)
    with pytest.raises(ValidationError, match="Only the person who entered it"):
        build.call(risk.void_risk_event, "cm2", ev.id, reason="Wrong chart", now=LATER)
    build.call(risk.void_risk_event, "doc1", ev.id, reason="Statement was another patient's", now=LATER)
    assert not _row(build, e).has(Flag.SAFETY)
    assert ev.id not in {i.ref_id for i in _work(build, "doc1", WorkKind.RISK_EVENT)}
    c = build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY)
    assert c.open_risk == () and [r.id for r in c.voided_risk_events] == [ev.id]
    m = build.measure(e, TODAY - timedelta(days=1), 12, item9=1)
    with pytest.raises(ValidationError, match="void or amend the score first"):
        build.call(risk.void_risk_event, "cm1", m.risk_event_id, reason="Wrong", now=LATER)


def test_amending_a_closed_risk_event_keeps_the_closing_rule(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=30), baseline=15)
    ev = _risk(build, e)
    build.call(risk.record_risk_steps, "cm1", ev.id, safety_assessment_done=True, clinician_notified=True,
               safety_plan_done=True, notified_at=at(TODAY, 10), now=NOW)
    build.call(risk.record_risk_outcome, "cm1", ev.id, "Safe", now=NOW,
               step_reasons={"after_hours_routing_used": "Office hours"})
    with pytest.raises(ValidationError, match="'Safety plan made' is not ticked"):
        build.call(risk.amend_risk_event, "cm1", ev.id, reason="Plan was not made", safety_plan_done=False, now=LATER)
    v = build.call(risk.amend_risk_event, "cm1", ev.id, reason="Plan was not made after all", safety_plan_done=False,
                   step_reasons={"after_hours_routing_used": "Office hours", "safety_plan_done": "Declined"},
                   now=LATER)
    assert not v.safety_plan_done and v.step_reasons == {"after_hours_routing_used": "Office hours",
                                                          "safety_plan_done": "Declined"}
    with build.db.session() as s:
        kept = s.scalars(select(Correction).where(Correction.object_type == "risk_event")).one()
        assert kept.changes["safety_plan_done"] == [True, False]


# ---- care plans ------------------------------------------------------------------------------------


def test_voided_care_plan_version_brings_back_the_previous_one(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=20), baseline=15)
    build.care_plan(e, by="cm1")
    wrong = build.call(care_plans.save_care_plan, "cm1", e, goals="Another patient's goals", now=NOW)
    assert wrong.version == 2
    build.call(care_plans.void_care_plan_version, "cm1", wrong.id, reason="Typed into the wrong chart", now=LATER)
    c = build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY)
    assert [p.version for p in c.care_plans] == [1] and c.care_plans[0].goals == "Sleep better, walk daily"
    assert [p.version for p in c.voided_care_plans] == [2]
    again = build.call(care_plans.save_care_plan, "cm1", e, goals="Walk every day", now=NOW)
    assert again.version == 3  # numbers are never reused


def test_voiding_the_only_care_plan_flags_it_missing(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=20), baseline=15)
    build.care_plan(e, by="cm1")
    plan = build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY).care_plans[0]
    assert not _row(build, e).has(Flag.MISSING_ELEMENT)
    build.call(care_plans.void_care_plan_version, "doc1", plan.id, reason="Wrong patient", now=LATER)
    assert _row(build, e).has(Flag.MISSING_ELEMENT)
    with build.db.session() as s:
        month = compute_billing_month(s, "2026-11", today=TODAY)
    check = next(c for r in month.rows if r.episode_id == e for c in r.checks if c.name == "care_plan")
    assert check.status != "ok"


def test_amended_signed_plan_needs_the_sign_off_again(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=20), baseline=15, doc="doc1")
    build.care_plan(e, by="cm1")
    plan = build.call(care_plans.sign_off_care_plan, "doc1", e, now=NOW)
    assert e not in {i.episode_id for i in _work(build, "doc1", WorkKind.SIGN_OFF_PLAN)}
    with pytest.raises(ValidationError, match="Only the person who entered it"):
        build.call(care_plans.amend_care_plan_version, "cm2", plan.id, reason="x", goals="y", now=LATER)
    v = build.call(care_plans.amend_care_plan_version, "cm1", plan.id, reason="Goal typed wrong",
                   goals="Sleep better, walk twice a week", now=LATER)
    assert v.goals == "Sleep better, walk twice a week" and v.signed_off_on is None
    assert e in {i.episode_id for i in _work(build, "doc1", WorkKind.SIGN_OFF_PLAN)}
    history = build.call(corrections_for_patient, "doc1", _row(build, e).patient_id)
    assert history[-1].changes["signed_off_on"] == (NOW.date().isoformat(), None)


# ---- episode status --------------------------------------------------------------------------------


def test_a_close_out_made_in_error_is_voided_and_the_episode_is_back_on_the_registry(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=60), baseline=15)
    build.contact(e, TODAY - timedelta(days=50))  # active
    build.call(episodes.change_status, "cm1", e, "closed", reason="completed", on=TODAY - timedelta(days=1), now=NOW)
    assert _row(build, e) is None
    c = build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY)
    close = c.status_history[-1]
    first = c.status_history[0]
    with pytest.raises(ValidationError, match="enrollment itself"):
        build.call(episodes.void_status_change, "doc1", first.id, reason="x", now=LATER)
    with pytest.raises(ValidationError, match="Only the newest status change"):
        build.call(episodes.void_status_change, "cm1", c.status_history[1].id, reason="x", now=LATER)
    res = build.call(episodes.void_status_change, "doc1", close.id, reason="Closed the wrong patient", now=LATER)
    assert (res.status, res.close_reason, res.closed_on) == ("active", None, None)
    assert _row(build, e) is not None  # back on the registry at once
    c = build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY)
    assert c.status_history[-1].voided and c.episode.status == "active"


def test_amended_close_reason_and_date_follow_to_the_episode_and_quality(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=60), baseline=15)
    build.contact(e, TODAY - timedelta(days=50))
    build.call(episodes.change_status, "cm1", e, "closed", reason="moved", on=TODAY - timedelta(days=1), now=NOW)
    close = build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY).status_history[-1]
    with build.db.session() as s:
        before = quality.quality_report(s, build.actors["lead"], date(2026, 11, 1), today=TODAY)
    res = build.call(episodes.amend_status_change, "cm1", close.id, reason="Patient declined, did not move",
                     close_reason="declined", changed_on=TODAY - timedelta(days=3), now=LATER)
    assert (res.close_reason, res.closed_on) == ("declined", TODAY - timedelta(days=3))
    with build.db.session() as s:
        after = quality.quality_report(s, build.actors["lead"], date(2026, 11, 1), today=TODAY)
    b, a = dict(before.closures_by_reason), dict(after.closures_by_reason)
    assert a.get("declined", 0) == b.get("declined", 0) + 1 and a.get("moved", 0) == b.get("moved", 0) - 1


# ---- recommendations -------------------------------------------------------------------------------


def _rec(b, e):  # type: ignore[no-untyped-def]
    return b.call(case_review.record_recommendation, "psych", e, kind="psychotherapy", text="Start weekly CBT.",
                  now=NOW)


def test_voided_recommendation_leaves_the_clinicians_list_and_the_registry(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=40), baseline=15)
    rec = _rec(build, e)
    assert rec.id in {i.ref_id for i in _work(build, "doc1", WorkKind.APPROVE_RECOMMENDATION)}
    with pytest.raises(ValidationError):
        build.call(recommendation_corrections.void_recommendation, "cm1", rec.id, reason="x", now=LATER)
    build.call(recommendation_corrections.void_recommendation, "psych", rec.id, reason="Meant for another patient",
               now=LATER)
    assert rec.id not in {i.ref_id for i in _work(build, "doc1", WorkKind.APPROVE_RECOMMENDATION)}
    with pytest.raises(ValidationError, match="voided"):
        build.call(case_review.decide_recommendation, "doc1", rec.id, "approved", now=LATER)
    c = build.call(chart.open_chart, "doc1", episode_id=e, today=TODAY)
    assert c.recommendations == () and [r.id for r in c.voided_recommendations] == [rec.id]


def test_a_decision_clicked_in_error_is_corrected_by_the_clinician_only(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=40), baseline=15, cm="cm1", doc="doc1")
    rec = _rec(build, e)
    build.call(case_review.decide_recommendation, "doc1", rec.id, "approved", now=NOW)
    assert rec.id in {i.ref_id for i in _work(build, "cm1", WorkKind.TELL_PATIENT)}
    with pytest.raises(ValidationError, match="treating clinician"):
        build.call(recommendation_corrections.amend_recommendation_state, "cm1", rec.id, reason="x",
                   state="declined", now=LATER)
    v = build.call(recommendation_corrections.amend_recommendation_state, "doc1", rec.id,
                   reason="Meant to decline: already tried CBT", state="declined", note="Tried before", now=LATER)
    assert (v.state, v.decision) == ("declined", "declined")
    assert rec.id not in {i.ref_id for i in _work(build, "cm1", WorkKind.TELL_PATIENT)}
    v = build.call(recommendation_corrections.amend_recommendation_state, "doc1", rec.id,
                   reason="Will decide after the visit", state="recommended", now=LATER)
    assert v.state == "recommended" and v.decided_by is None
    assert rec.id in {i.ref_id for i in _work(build, "doc1", WorkKind.APPROVE_RECOMMENDATION)}


def test_told_patient_recorded_in_error_goes_back_to_the_decision(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=40), baseline=15, cm="cm1", doc="doc1")
    rec = _rec(build, e)
    build.call(case_review.decide_recommendation, "doc1", rec.id, "modified", modified_text="CBT every other week",
               now=NOW)
    build.call(case_review.tell_patient, "cm1", rec.id, how="phone", now=NOW)
    assert rec.id not in {i.ref_id for i in _work(build, "cm1", WorkKind.TELL_PATIENT)}
    assert recommendation_corrections.correctable_states("told_patient", "modified") == ("modified",)
    v = build.call(recommendation_corrections.amend_recommendation_state, "cm1", rec.id,
                   reason="Left a voicemail only; not told yet", state="modified", now=LATER)
    assert (v.state, v.told_at, v.modified_text) == ("modified", None, "CBT every other week")
    tell = [i for i in _work(build, "cm1", WorkKind.TELL_PATIENT) if i.ref_id == rec.id]
    assert len(tell) == 1 and "every other week" in tell[0].what


# ---- a patient entered twice ---------------------------------------------------------------------


def test_voided_duplicate_patient_leaves_registry_billing_worklists_and_pickers(build) -> None:  # type: ignore[no-untyped-def]
    kept = build.episode(TODAY - timedelta(days=40), baseline=15, family="Twice", given="Tina")
    dup = build.episode(TODAY - timedelta(days=40), baseline=16, family="Twice", given="Tina")
    dup_pid = _row(build, dup).patient_id
    kept_pid = _row(build, kept).patient_id
    build.contact(dup, TODAY - timedelta(days=3), minutes=25)
    build.call(time_log.add_manual_time, "cm1", patient_id=dup_pid, activity="care_coordination", minutes=20,
               local_date=TODAY - timedelta(days=2))
    with build.db.session() as s:
        assert any(r.patient_id == dup_pid for r in compute_billing_month(s, "2026-11", today=TODAY).rows)
    for user in ("cm2", "doc2"):
        with pytest.raises(ValidationError, match="Only the person who added the patient or a treating clinician"):
            build.call(patients.void_patient, user, dup_pid, reason="Entered twice", now=LATER)
    with pytest.raises(PermissionDenied):
        build.call(patients.void_patient, "lead", dup_pid, reason="Entered twice", now=LATER)
    with pytest.raises(ValidationError, match="duplicate of itself"):
        build.call(patients.void_patient, "cm1", dup_pid, reason="Entered twice", duplicate_of=dup_pid, now=LATER)
    res = build.call(patients.void_patient, "cm1", dup_pid, reason="Entered twice at intake",
                     duplicate_of=kept_pid, now=LATER)
    assert res.voided_entries == {"measure": 1, "contact": 1, "time_entry": 2}
    assert _row(build, dup) is None and _row(build, kept) is not None
    with build.db.session() as s:
        month = compute_billing_month(s, "2026-11", today=TODAY)
        assert dup_pid not in {r.patient_id for r in month.rows}
        assert s.get(Patient, dup_pid).void_reason == "Entered twice at intake"  # nothing deleted
        assert s.scalar(select(Measure.voided_at).where(Measure.episode_id == dup)) == LATER
        assert all(t.deleted_at == LATER for t in s.scalars(select(TimeEntry).where(TimeEntry.patient_id == dup_pid)))
    assert dup_pid not in {p.id for p in build.call(patients.find_patients, "cm1", "Twice")}
    assert dup_pid not in {i.patient_id for k in WorkKind for i in _work(build, "cm1", k)}
    with build.db.session() as s:
        q = quality.quality_report(s, build.actors["lead"], date(2026, 11, 1), today=TODAY)
    c = build.call(chart.open_chart, "cm1", patient_id=dup_pid, today=TODAY)
    assert c.patient.voided and c.patient.void_reason == "Entered twice at intake"
    # no new care on the voided record
    for fn, args in ((build.contact, (dup, TODAY)), (build.measure, (dup, TODAY, 5))):
        with pytest.raises(ValidationError, match="voided"):
            fn(*args)
    with pytest.raises(ValidationError, match="voided"):
        build.call(time_log.add_manual_time, "cm1", patient_id=dup_pid, activity="care_coordination", minutes=5,
                   local_date=TODAY)
    history = build.call(corrections_for_patient, "cm1", dup_pid)
    assert history[-1].object_type == "patient" and history[-1].action == "void"
    assert history[-1].changes["duplicate_of"] == (None, kept_pid)
    assert q.caseload >= 1


def test_duplicate_with_an_open_risk_event_is_not_voided_until_its_follow_up(build) -> None:  # type: ignore[no-untyped-def]
    dup = build.episode(TODAY - timedelta(days=40), baseline=15, family="Dupe")
    pid = _row(build, dup).patient_id
    ev = _risk(build, dup)
    with pytest.raises(ValidationError, match="risk event on this record is open"):
        build.call(patients.void_patient, "cm1", pid, reason="Entered twice", now=LATER)
    with build.db.session() as s:
        assert s.get(Patient, pid).voided_at is None and s.get(RiskEvent, ev.id).voided_at is None


def test_a_patient_record_voided_in_error_is_restored_with_exactly_what_went_with_it(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=40), baseline=15, family="Notadupe", given="Nina")
    pid = _row(build, e).patient_id
    wrong = build.measure(e, TODAY - timedelta(days=4), 14)
    build.call(measures.void_measure, "cm1", wrong.id, reason="Entered on the wrong day", now=NOW)  # on its own
    build.contact(e, TODAY - timedelta(days=3), minutes=25)
    build.call(time_log.add_manual_time, "cm1", patient_id=pid, activity="care_coordination", minutes=20,
               local_date=TODAY - timedelta(days=2))
    with build.db.session() as s:
        billed = {r.patient_id: r for r in compute_billing_month(s, "2026-11", today=TODAY).rows}[pid]
    voided = build.call(patients.void_patient, "cm1", pid, reason="Thought she was entered twice", now=LATER)
    assert voided.voided_entries == {"measure": 1, "contact": 1, "time_entry": 2}
    assert pid in {p.id for p in build.call(patients.voided_patients, "doc1")}
    with pytest.raises(ValidationError, match="Only the person who added the patient or a treating clinician"):
        build.call(patients.restore_patient, "cm2", pid, reason="Not a duplicate", now=LATER)
    with pytest.raises(ValidationError, match="say why the record was voided in error"):
        build.call(patients.restore_patient, "cm1", pid, reason="  ", now=LATER)

    res = build.call(patients.restore_patient, "cm1", pid, reason="Not a duplicate: a different Nina", now=LATER)
    assert res.restored_entries == {"measure": 1, "contact": 1, "time_entry": 2}
    assert _row(build, e) is not None  # back on the registry, and in billing as before
    assert pid not in {p.id for p in build.call(patients.voided_patients, "doc1")}
    with build.db.session() as s:
        again = {r.patient_id: r for r in compute_billing_month(s, "2026-11", today=TODAY).rows}[pid]
        assert (again.counted_minutes, again.codes) == (billed.counted_minutes, billed.codes)
        assert s.get(Measure, wrong.id).void_reason == "Entered on the wrong day"  # voided on its own: stays
    c = build.call(chart.open_chart, "cm1", patient_id=pid, today=TODAY)
    assert not c.patient.voided and len(c.contacts) == 1
    build.contact(e, TODAY, minutes=5)  # care is recorded on it again
    history = build.call(corrections_for_patient, "cm1", pid)
    assert [(h.object_type, h.action) for h in history if h.object_type == "patient"] == [
        ("patient", "void"), ("patient", "amend")]
    assert history[-1].changes["voided"] == (True, False)
    assert _audit(build, "patient.restore")
    with pytest.raises(ValidationError, match="not voided"):
        build.call(patients.restore_patient, "cm1", pid, reason="Twice", now=LATER)


# ---- the urgent-risk rule-out ----------------------------------------------------------------------


def test_rule_out_is_confirmed_by_the_clinician_named_only(build) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.enrollment import attest_risk_rule_out

    e = build.episode(TODAY - timedelta(days=3), by="cm1", doc="doc1")
    with pytest.raises(PermissionDenied):
        build.call(attest_risk_rule_out, "cm1", e, now=NOW)
    with pytest.raises(ValidationError, match="Only the clinician named"):
        build.call(attest_risk_rule_out, "doc2", e, now=NOW)
    build.call(attest_risk_rule_out, "doc1", e, now=NOW)
    c = build.call(chart.open_chart, "doc1", episode_id=e, today=TODAY)
    assert c.episode.risk_rule_out_attested_by == build.actors["doc1"].display_name
    with pytest.raises(ValidationError, match="already confirmed"):
        build.call(attest_risk_rule_out, "doc1", e, now=NOW)
    assert _audit(build, "episode.risk_rule_out_attest")


def test_a_rule_out_the_clinician_did_not_make_opens_the_safety_protocol(build) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.enrollment import decline_risk_rule_out

    e = build.episode(TODAY - timedelta(days=3), by="cm1", doc="doc1")
    assert not _row(build, e).has(Flag.SAFETY)
    rid = build.call(decline_risk_rule_out, "doc1", e, reason="I never assessed this patient for risk", now=NOW)
    row = _row(build, e)
    assert row.has(Flag.SAFETY)
    c = build.call(chart.open_chart, "doc1", episode_id=e, today=TODAY)
    assert c.episode.urgent_risk_ruled_out_by is None
    assert [r.id for r in c.open_risk] == [rid] and c.open_risk[0].notified_clinician_id == build.actors["doc1"].user_id
    assert e not in {i.episode_id for i in _work(build, "doc1", WorkKind.ATTEST) if i.ref_text == "risk_rule_out"}
    assert rid in {i.ref_id for i in _work(build, "doc1", WorkKind.RISK_EVENT)}
