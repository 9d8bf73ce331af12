"""Clinical workflow rules through the services, on a real encrypted database with frozen dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cocm_desktop.domain.episode import TargetCondition
from cocm_desktop.services import (
    care_plans,
    case_review,
    chart,
    contacts,
    enrollment,
    episodes,
    measures,
    medications,
    quality,
    referrals,
    risk,
)
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.patients import add_patient
from cocm_desktop.store.models import AuditRecord, Episode, EpisodeStatusChange, RiskEvent, TimeEntry

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 16, 0)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def _enroll(b, pid, by="cm1", **over):  # type: ignore[no-untyped-def]
    kw = dict(patient_id=pid, enrolled_on=TODAY, target_conditions=[TargetCondition("f321", "Depression")],
              treating_clinician_id=b.actors["doc1"].user_id, care_manager_id=b.actors["cm1"].user_id,
              urgent_risk_ruled_out=True, risk_ruled_out_by_id=b.actors["doc1"].user_id,
              initiating_visit_on=None, consent=enrollment.ConsentIn(True, True, True, True, TODAY), now=NOW)
    kw.update(over)
    return b.call(enrollment.enroll, by, **kw)


# --- patients and enrollment ------------------------------------------------------------------

def test_mrn_is_unique_and_message_has_no_phi(build) -> None:  # type: ignore[no-untyped-def]
    build.call(add_patient, "cm1", mrn="X1", family_name="Roe", given_name="Ann", date_of_birth=date(1980, 1, 1),
               today=TODAY)
    with pytest.raises(ValidationError, match="MRN") as exc:
        build.call(add_patient, "doc1", mrn="X1", family_name="Poe", given_name="Bo", date_of_birth=date(1981, 1, 1),
                   today=TODAY)
    assert "X1" not in str(exc.value) and "Poe" not in str(exc.value)


@pytest.mark.parametrize(("last_seen", "visit_needed"), [
    (date(2025, 11, 24), False),  # exactly 12 months before enrollment: seen in the prior 12 months
    (date(2025, 11, 23), True),   # one day more
    (None, True),                 # new patient
])
def test_initiating_visit_required_boundary(build, last_seen, visit_needed) -> None:  # type: ignore[no-untyped-def]
    pid = build.patient(last_seen_on=last_seen)
    if visit_needed:
        with pytest.raises(enrollment.EnrollmentRefused) as exc:
            _enroll(build, pid)
        assert [p.field for p in exc.value.problems] == ["initiating_visit"]
        res = _enroll(build, pid, initiating_visit_on=ago(3))
    else:
        res = _enroll(build, pid)
    assert res.initiating_visit_required is visit_needed


@pytest.mark.parametrize(("change", "field"), [
    (dict(target_conditions=[]), "target_conditions"),
    (dict(target_conditions=[TargetCondition("XYZ", "bad")]), "target_conditions"),
    (dict(urgent_risk_ruled_out=False), "urgent_risk"),
    (dict(consent=enrollment.ConsentIn(True, True, False, True, TODAY)), "consent"),
    (dict(consent=enrollment.ConsentIn(True, True, True, False, TODAY)), "consent"),
    (dict(consent=enrollment.ConsentIn(True, True, True, True, None)), "consent"),
])
def test_enrollment_checklist_refuses_and_writes_nothing(build, change, field) -> None:  # type: ignore[no-untyped-def]
    pid = build.patient()
    before = build.audit_count()
    with pytest.raises(enrollment.EnrollmentRefused) as exc:
        _enroll(build, pid, **change)
    assert field in [p.field for p in exc.value.problems]
    assert build.audit_count() == before
    with build.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Episode)) == 0


def test_consent_by_care_manager_awaits_clinician_attestation(build) -> None:  # type: ignore[no-untyped-def]
    res = _enroll(build, build.patient(), by="cm1")
    assert res.consent_attested is False and res.status == "enrolled"
    c = build.call(chart.open_chart, "doc1", episode_id=res.episode_id, today=TODAY)
    assert c.consent.awaiting_attestation and c.consent.recorded_by == "Casey Morgan"
    assert c.episode.target_conditions == (("F32.1", "Depression"),)
    build.call(enrollment.attest_consent, "doc1", res.episode_id, now=NOW)
    c = build.call(chart.open_chart, "doc1", episode_id=res.episode_id, today=TODAY)
    assert c.consent.attested_by == "Dr. Daniel Okafor"
    with pytest.raises(ValidationError, match="already attested"):
        build.call(enrollment.attest_consent, "doc1", res.episode_id, now=NOW)


def test_second_open_episode_refused_reentry_opens_new_episode(build) -> None:  # type: ignore[no-untyped-def]
    pid = build.patient()
    first = _enroll(build, pid, by="doc1", enrolled_on=ago(100), consent=enrollment.ConsentIn(True, True, True, True, ago(100)))
    with pytest.raises(enrollment.EnrollmentRefused, match="open episode"):
        _enroll(build, pid)
    for i in range(3):
        build.contact(first.episode_id, ago(40 - i), kind="outreach", reached=False)
    build.call(episodes.change_status, "cm1", first.episode_id, "closed", reason="disengaged",
               reentry_path="Call the clinic; the care manager re-enrolls.", now=NOW)
    with pytest.raises(ValidationError, match="closed"):
        build.call(episodes.change_status, "cm1", first.episode_id, "active", now=NOW)
    second = _enroll(build, pid)
    assert second.episode_id != first.episode_id
    c = build.call(chart.open_chart, "cm1", patient_id=pid, today=TODAY)
    assert c.episode.id == second.episode_id and [e.id for e in c.episodes] == [second.episode_id, first.episode_id]


# --- measures ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("items", "message"), [
    ([1, 1, 1, 1, 4, 1, 1, 1, 0], "item 5"),
    ([1, 1, 1, 1, 1, 1, 1, 1], "item 9"),
    ([1, 1, None, 1, 1, 1, 1, 1, 0], "item 3"),
])
def test_bad_item_is_refused_naming_the_item(build, items, message) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(10))
    before = build.audit_count()
    with pytest.raises(ValidationError, match=message):
        build.call(measures.record_measure, "cm1", e, "PHQ-9", items, now=NOW)
    assert build.audit_count() == before


def test_total_and_band_are_computed(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(10))
    m = build.call(measures.record_measure, "cm1", e, "PHQ-9", [1, 2, 1, 1, 0, 0, 0, 0, 0], now=NOW)
    assert (m.total, m.band, m.risk_event_id) == (5, "mild", None)
    g = build.call(measures.record_measure, "cm1", e, "GAD-7", [3, 3, 3, 3, 3, 0, 0], now=NOW)
    assert (g.total, g.band) == (15, "severe")


def test_item9_opens_risk_event_in_the_same_transaction(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(10))
    m = build.call(measures.record_measure, "cm1", e, "PHQ-9", [0, 0, 0, 0, 0, 0, 0, 0, 1], now=NOW)
    assert m.total == 1 and m.risk_event_id is not None
    with build.db.session() as s:
        ev = s.get(RiskEvent, m.risk_event_id)
        assert (ev.trigger, ev.measure_id, ev.outcome) == ("item9", m.id, None)
    # An outcome needs the protocol steps first.
    with pytest.raises(ValidationError, match="safety assessment"):
        build.call(risk.record_risk_outcome, "cm1", m.risk_event_id, "Safe", now=NOW)
    build.call(risk.record_risk_steps, "cm1", m.risk_event_id, safety_assessment_done=True, clinician_notified=True,
               after_hours_routing_used=False, safety_plan_done=True)
    v = build.call(risk.record_risk_outcome, "doc1", m.risk_event_id, "Passive thoughts, plan in place",
                   step_reasons={"after_hours_routing_used": "During office hours"}, now=NOW)
    assert v.outcome_by == "Dr. Daniel Okafor" and not v.is_open


# --- contacts ----------------------------------------------------------------------------------

def test_contact_in_future_refused(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(10))
    with pytest.raises(ValidationError, match="future"):
        build.call(contacts.record_contact, "cm1", e, contact_at=NOW + timedelta(hours=1), mode="phone",
                   kind="follow_up", next_step="Call", next_step_on=TODAY, now=NOW)


@pytest.mark.parametrize(("step", "on"), [("", TODAY), ("   ", TODAY), ("Call", None)])
def test_next_step_and_date_are_mandatory(build, step, on) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(10))
    with pytest.raises(ValidationError, match="Next step"):
        build.call(contacts.record_contact, "cm1", e, contact_at=NOW, mode="phone", kind="follow_up",
                   next_step=step, next_step_on=on, now=NOW)


@pytest.mark.parametrize(("kind", "activity"), [
    ("assessment", "assessment"), ("follow_up", "follow_up_contact"), ("outreach", "outreach"),
    ("relapse_prevention", "relapse_prevention"), ("close_out", "follow_up_contact"),
])
def test_minutes_become_time_entry(build, kind, activity) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(10))
    res = build.contact(e, ago(1), kind=kind, minutes=17, by="doc1")
    with build.db.session() as s:
        te = s.get(TimeEntry, res.time_entry_id)
        assert (te.minutes, te.activity, te.source, te.staff_id, te.local_date, te.contact_id) == (
            17, activity, "contact", build.actors["doc1"].user_id, ago(1), res.id)


def test_next_action_follows_newest_contact_and_first_contact_activates(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(20))
    r1 = build.contact(e, ago(2), next_on=TODAY + timedelta(days=5))
    assert r1.activated and r1.next_action_updated
    r2 = build.contact(e, ago(5), next_on=TODAY + timedelta(days=1))  # entered late, older
    assert not r2.next_action_updated and not r2.activated
    c = build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY)
    assert c.episode.next_action_on == TODAY + timedelta(days=5)
    assert [h.to_status for h in c.status_history] == ["enrolled", "active"]


def test_failed_attempt_only_for_outreach(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(20))
    with pytest.raises(ValidationError, match="outreach"):
        build.contact(e, ago(1), kind="follow_up", reached=False)
    r = build.contact(e, ago(1), kind="outreach", reached=False)
    assert not r.activated


# --- status transitions ------------------------------------------------------------------------

def test_step_down_needs_relapse_prevention_plan(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(90), baseline=18)
    build.contact(e, ago(3))
    build.care_plan(e)
    with pytest.raises(ValidationError, match="relapse-prevention plan"):
        build.call(episodes.change_status, "cm1", e, "relapse_prevention", now=NOW)
    build.care_plan(e, relapse="Warning signs; keep walking; call if PHQ-9 rises")
    r = build.call(episodes.change_status, "cm1", e, "relapse_prevention", now=NOW)
    assert r.status == "relapse_prevention"
    with build.db.session() as s:
        rows = s.scalars(select(EpisodeStatusChange.to_status).where(EpisodeStatusChange.episode_id == e)
                         .order_by(EpisodeStatusChange.id)).all()
    assert rows == ["enrolled", "active", "relapse_prevention"]


@pytest.mark.parametrize(("attempts", "path", "ok"), [(3, "Call us", True), (2, "Call us", False), (3, None, False)])
def test_disengaged_close_out(build, attempts, path, ok) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(90))
    build.contact(e, ago(60))
    for i in range(attempts):
        build.contact(e, ago(30 - i), kind="outreach", reached=False)
    call = lambda: build.call(episodes.change_status, "cm1", e, "closed", reason="disengaged",  # noqa: E731
                              reentry_path=path, now=NOW)
    if ok:
        assert call().close_reason == "disengaged"
    else:
        with pytest.raises(ValidationError):
            call()


def test_transfer_closes_only_when_handoff_confirmed(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(90))
    with pytest.raises(ValidationError, match="not confirmed"):
        build.call(episodes.change_status, "cm1", e, "closed", reason="transferred", now=NOW)
    with pytest.raises(ValidationError, match="No transfer"):
        build.call(episodes.confirm_transfer, "cm1", e, TODAY, now=NOW)
    build.call(episodes.request_transfer, "cm1", e, "Specialty psychiatry")
    r = build.call(episodes.confirm_transfer, "cm1", e, TODAY, now=NOW)
    assert (r.status, r.close_reason, r.closed_on) == ("closed", "transferred", TODAY)


# --- care plan, referral -----------------------------------------------------------------------

def test_care_plan_versions_and_sign_off(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(20))
    build.care_plan(e)
    with pytest.raises(ValidationError, match="Nothing changed"):
        build.care_plan(e)
    build.call(care_plans.sign_off_care_plan, "doc1", e, now=NOW)
    build.care_plan(e, relapse="Plan B")
    plans = build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY).care_plans
    assert [(p.version, p.signed_off_by) for p in plans] == [(2, None), (1, "Dr. Daniel Okafor")]
    with pytest.raises(ValidationError, match="not the newest"):
        build.call(care_plans.sign_off_care_plan, "doc1", e, version=1, now=NOW)


def test_referral_followed_until_seen(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(20))
    r = build.call(referrals.add_referral, "cm1", e, to_whom="Psychology", reason="CBT", referred_on=ago(10), now=NOW)
    with pytest.raises(ValidationError, match="confirmed seen"):
        build.call(referrals.update_referral, "cm1", r.id, status="seen", now=NOW)
    v = build.call(referrals.update_referral, "cm1", r.id, status="seen", seen_confirmed_on=ago(1), now=NOW)
    assert not v.open
    with pytest.raises(ValidationError, match="already seen"):
        build.call(referrals.update_referral, "cm1", r.id, status="declined", now=NOW)


# --- case review -------------------------------------------------------------------------------

def test_agenda_order_edit_and_recommendation_loop(build) -> None:  # type: ignore[no-untyped-def]
    old = build.episode(ago(100), baseline=20, family="Old")       # reviewed long ago, not improving
    build.measure(old, ago(5), 18)
    new = build.episode(ago(5), baseline=14, family="New")         # never reviewed
    question = build.episode(ago(60), baseline=15, family="Quest")  # reviewed; a medication question
    safety = build.episode(ago(60), baseline=15, family="Safe")    # reviewed; item 9
    follow = build.episode(ago(60), baseline=15, family="Follow")  # reviewed; open loop
    rs0 = build.call(case_review.create_review_session, "cm1", session_on=ago(40),
                     consultant_id=build.actors["psych"].user_id, today=ago(40))
    for item in rs0.agenda:
        build.call(case_review.mark_discussed, "psych", item.id)
    build.call(case_review.record_recommendation, "psych", follow, kind="medication_start", text="Start SSRI",
               drug="sertraline", dose="50 mg", now=datetime.combine(ago(40), datetime.min.time()))
    build.contact(question, ago(2), question="Can we raise the dose?")
    build.measure(safety, ago(2), 10, item9=1)
    rs = build.call(case_review.create_review_session, "cm1", session_on=TODAY,
                    consultant_id=build.actors["psych"].user_id, today=TODAY)
    order = [(i.episode_id, i.group) for i in rs.agenda]
    assert order == [(safety, "safety"), (new, "new"), (old, "not_improving"),
                     (question, "medication_question"), (follow, "follow_up")]
    # The care manager drops one and adds it back; a rebuild keeps the drop.
    item = next(i for i in rs.agenda if i.episode_id == follow)
    rs = build.call(case_review.drop_from_agenda, "cm1", item.id, today=TODAY)
    rs = build.call(case_review.rebuild_agenda, "cm1", rs.id, today=TODAY)
    assert [i.episode_id for i in rs.agenda if not i.removed] == [safety, new, old, question]
    rs = build.call(case_review.add_to_agenda, "cm1", rs.id, follow, today=TODAY)
    assert follow in [i.episode_id for i in rs.agenda if not i.removed]
    # Loop: recommended → approved → told → closed, each dated and attributed.
    q_item = next(i for i in rs.agenda if i.episode_id == question)
    rec = build.call(case_review.record_recommendation, "psych", question, kind="medication_change",
                     text="Increase", drug="sertraline", dose="100 mg", agenda_item_id=q_item.id, now=NOW)
    with pytest.raises(ValidationError, match="approve"):
        build.call(case_review.tell_patient, "cm1", rec.id, how="phone", now=NOW)
    build.call(case_review.decide_recommendation, "doc1", rec.id, "modified", modified_text="75 mg first",
               now=NOW)
    with pytest.raises(ValidationError, match="Tell the patient"):
        build.call(case_review.close_recommendation, "cm1", rec.id, now=NOW)
    build.call(case_review.tell_patient, "cm1", rec.id, how="phone", now=NOW)
    done = build.call(case_review.close_recommendation, "cm1", rec.id, now=NOW)
    assert (done.state, done.decided_by, done.told_by, done.told_how, done.modified_text) == (
        "closed", "Dr. Daniel Okafor", "Casey Morgan", "phone", "75 mg first")
    # Discussing the item answered the question and counts as reviewed today.
    c = build.call(chart.open_chart, "cm1", episode_id=question, today=TODAY)
    assert all(x.question_answered for x in c.contacts if x.question_for_consultant)


def test_medication_recommendation_needs_drug_and_dose(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(20))
    with pytest.raises(ValidationError, match="dose"):
        build.call(case_review.record_recommendation, "psych", e, kind="medication_start", text="x",
                   drug="sertraline", now=NOW)


# --- chart and quality -------------------------------------------------------------------------

def test_chart_is_audited_and_complete(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(ago(30), baseline=16)
    build.measure(e, ago(2), 8)
    build.contact(e, ago(2), minutes=10)
    build.call(medications.add_medication, "cm1", e, name="sertraline", dose="50 mg", started_on=ago(20), now=NOW)
    before = build.audit_count()
    c = build.call(chart.open_chart, "psych", episode_id=e, today=TODAY)
    assert build.audit_count() == before + 1
    with build.db.session() as s:
        last = s.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc())).first()
        assert (last.action, last.username, last.patient_id) == ("chart.open", "psych", c.patient.id)
    h = c.episode
    assert (h.weeks, h.baseline, h.latest, h.change_text) == (4, 16, 8, "\u221250 %")
    assert h.outcome.response == "response"
    assert [m.total for m in c.measures] == [8, 16] and c.measures[1].is_baseline
    assert c.medications[0].name == "sertraline" and c.contacts[0].minutes == 10


def test_quality_figures(build) -> None:  # type: ignore[no-untyped-def]
    month = date(2026, 11, 1)
    # 12 weeks in, response; 11 weeks in, no response; 3 weeks in (outside the window), contact in month.
    a = build.episode(ago(84), baseline=20, cm="cm1")
    build.measure(a, ago(3), 8)
    build.contact(a, ago(80))  # its first follow-up was in September
    build.contact(a, ago(3))
    b = build.episode(ago(77), baseline=20, cm="cm2")
    build.measure(b, ago(40), 16)
    c = build.episode(ago(21), cm="cm2")
    build.contact(c, ago(14))  # first follow-up 7 days after enrollment, in November
    d = build.episode(ago(50))
    for i in range(3):
        build.contact(d, ago(20 - i), kind="outreach", reached=False)
    build.call(episodes.change_status, "cm1", d, "closed", reason="disengaged", reentry_path="Call", now=NOW)
    q = build.call(quality.quality_report, "lead", month, today=TODAY)
    assert q.caseload == 3
    assert (q.engagement.numerator, q.engagement.denominator) == (2, 3)
    assert (q.measurement.numerator, q.measurement.denominator) == (1, 3)
    assert (q.response.numerator, q.response.denominator) == (1, 2)
    assert (q.remission.numerator, q.remission.denominator) == (0, 2)
    assert q.case_review_coverage.numerator == 0
    assert q.median_days_to_first_follow_up == 7.0 and q.first_follow_ups == 1
    assert q.missing_baseline == 1 and q.missing_next_action == 0
    assert q.caseload_by_care_manager == (("Casey Morgan", 1), ("Riley Chen", 2))
    assert q.disengaged_closures == 1
