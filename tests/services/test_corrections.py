"""Corrections (workflow-and-rules.md): a wrong PHQ-9, contact, time entry or patient detail is
voided or amended, with a reason, by the people the spec allows; nothing is deleted; the history
keeps the old value, who, when and why; and everything derived tells the corrected story at once —
registry row and flags, outcomes, month-end billing, the case-review packet, quality, overlap days."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cocm_desktop.domain.flags import Flag
from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.services import case_review, chart, contacts, measures, patients, quality, time_log
from cocm_desktop.services.billing_month import compute_billing_month
from cocm_desktop.services.case_review_packet import packet_data
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.corrections import corrections_for_patient
from cocm_desktop.services.registry import build_registry
from cocm_desktop.store.models import AuditRecord, Contact, Correction, Measure, TimeEntry, TimeOverlapDay

from .conftest import NOW, TODAY, at

LATER = NOW + timedelta(minutes=5)


def _row(b, episode_id: int, today: date = TODAY):  # type: ignore[no-untyped-def]
    rows = b.call(build_registry, "cm1", today=today)
    return next(r for r in rows if r.episode_id == episode_id)


def _not_improving_with_a_wrong_score(b):  # type: ignore[no-untyped-def]
    """12 weeks in, baseline 17, then 18 (no better): a PHQ-9 of 8 typed on this chart by mistake
    makes it look like a response (17 → 8, −52 %)."""
    e = b.episode(TODAY - timedelta(weeks=12), baseline=17)
    b.measure(e, TODAY - timedelta(days=9), 18)
    wrong = b.measure(e, TODAY - timedelta(days=2), 8)
    return e, wrong.id


# ---- measures ------------------------------------------------------------------------------------


def test_voided_phq9_leaves_the_registry_change_and_flags(build) -> None:  # type: ignore[no-untyped-def]
    e, wrong = _not_improving_with_a_wrong_score(build)
    before = _row(build, e)
    assert (before.phq9_last, before.phq9_change_text) == (8, "\u221252 %")
    assert not before.has(Flag.NOT_IMPROVING)

    voided = build.call(measures.void_measure, "cm1", wrong, reason="Entered on the wrong patient's chart", now=LATER)

    assert voided.open_risk_event_id is None
    after = _row(build, e)  # the cached facts were dropped by the same transaction
    assert (after.phq9_last, after.phq9_last_on, after.phq9_change_text) == (18, TODAY - timedelta(days=9), "+5 %")
    assert after.has(Flag.NOT_IMPROVING)
    with build.db.session() as s:
        m = s.get(Measure, wrong)  # nothing physically deleted
        assert m.voided_at == LATER and m.void_reason == "Entered on the wrong patient's chart"
        assert m.voided_by_id == build.actors["cm1"].user_id


def test_voided_phq9_leaves_the_chart_outcome_and_shows_struck_through_in_history(build) -> None:  # type: ignore[no-untyped-def]
    e, wrong = _not_improving_with_a_wrong_score(build)
    build.call(measures.void_measure, "doc1", wrong, reason="Duplicate of another patient's score", now=LATER)
    c = build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY)
    assert [m.total for m in c.measures] == [18, 17]
    assert (c.episode.baseline, c.episode.latest, c.episode.change_text) == (17, 18, "+5 %")
    assert c.episode.outcome.not_improving
    assert [(m.id, m.voided, m.void_reason, m.voided_by) for m in c.voided_measures] == [
        (wrong, True, "Duplicate of another patient's score", build.actors["doc1"].display_name)]
    assert [(h.object_type, h.object_id, h.action, h.corrected_by) for h in c.corrections] == [
        ("measure", wrong, "void", build.actors["doc1"].display_name)]


def test_voided_phq9_leaves_the_case_review_packet(build) -> None:  # type: ignore[no-untyped-def]
    e, wrong = _not_improving_with_a_wrong_score(build)
    review = build.call(case_review.create_review_session, "cm1", session_on=TODAY,
                        consultant_id=build.actors["psych"].user_id, today=TODAY)
    if not any(i.episode_id == e for i in review.agenda):
        build.call(case_review.add_to_agenda, "cm1", review.id, e, reason="Check the trend", today=TODAY)

    def packet_patient():  # type: ignore[no-untyped-def]
        packet = build.call(packet_data, "psych", session_id=review.id, today=TODAY, now=LATER)
        return next(p for p in packet.patients if p.episode_id == e)

    before = packet_patient().phq9
    assert (before.last, before.change_text) == (8, "\u221252 %")
    build.call(measures.void_measure, "cm1", wrong, reason="Wrong patient", now=LATER)
    after = packet_patient()
    assert (after.phq9.last, after.phq9.change_text, after.phq9.response) == (18, "+5 %", "No response")
    assert [p.total for p in after.phq9.points] == [17, 18]
    assert "Not improving" in [label for label, _ in after.flags]


def test_voided_score_leaves_the_months_quality_figures_and_billing_check(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(date(2026, 10, 1), baseline=15)
    wrong = build.measure(e, TODAY - timedelta(days=1), 9)
    with build.db.session() as s:
        measured = quality.quality_report(s, build.actors["lead"], date(2026, 11, 1), today=TODAY)
    build.call(measures.void_measure, "cm1", wrong.id, reason="Wrong patient", now=LATER)
    with build.db.session() as s:
        after = quality.quality_report(s, build.actors["lead"], date(2026, 11, 1), today=TODAY)
        month = compute_billing_month(s, "2026-11", today=TODAY)
    assert after.measurement.numerator == measured.measurement.numerator - 1
    scale = next(c for r in month.rows if r.episode_id == e for c in r.checks if c.name == "validated_scale")
    assert scale.status == "warn"


def test_amended_phq9_is_scored_again_and_its_old_answers_stay_in_the_history(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(weeks=6), baseline=16)
    m = build.measure(e, TODAY - timedelta(days=1), 9)
    old_items = list(m.items)
    new_items = [3, 3, 2, 2, 1, 1, 1, 0, 1]  # item 9 was 0, now 1
    res = build.call(measures.amend_measure, "cm1", m.id, reason="Answers typed from the wrong form",
                     items=new_items, now=LATER)
    assert (res.total, res.band, res.item9) == (14, "moderate", 1)
    assert res.risk_event_id is not None  # raising item 9 opens the risk workflow
    row = _row(build, e)
    assert row.phq9_last == 14 and row.has(Flag.SAFETY)
    history = build.call(corrections_for_patient, "doc1", row.patient_id)
    assert len(history) == 1 and history[0].action == "amend" and history[0].reason == "Answers typed from the wrong form"
    assert history[0].changes["items"] == (old_items, new_items)
    assert history[0].changes["total"] == (9, 14)
    with build.db.session() as s:
        audit = s.scalars(select(AuditRecord).where(AuditRecord.action == "measure.amend")).one()
        assert audit.detail["reason"] == "Answers typed from the wrong form"


def test_only_the_person_who_entered_it_or_the_treating_clinician_corrects_a_score(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(weeks=6), baseline=16, doc="doc1")
    m = build.measure(e, TODAY - timedelta(days=1), 9, by="cm1")
    for user in ("cm2", "doc2"):
        with pytest.raises(ValidationError, match="Only the person who entered it or the treating clinician"):
            build.call(measures.void_measure, user, m.id, reason="Wrong", now=LATER)
    for user in ("psych", "lead"):
        with pytest.raises(PermissionDenied):
            build.call(measures.void_measure, user, m.id, reason="Wrong", now=LATER)
    with pytest.raises(ValidationError, match="Reason"):
        build.call(measures.void_measure, "cm1", m.id, reason="   ", now=LATER)
    with build.db.session() as s:
        assert s.get(Measure, m.id).voided_at is None
        assert s.scalar(select(func.count()).select_from(Correction)) == 0
    build.call(measures.void_measure, "doc1", m.id, reason="Wrong patient", now=LATER)
    with pytest.raises(ValidationError, match="already voided"):
        build.call(measures.void_measure, "cm1", m.id, reason="Again", now=LATER)


# ---- time entries --------------------------------------------------------------------------------


def _subsequent_month(build):  # type: ignore[no-untyped-def]
    """Enrolled in October without time then: November is the episode's initial month (99492 from
    36 min; G2214 from 16 when 99492 is not reached)."""
    e = build.episode(date(2026, 10, 1), baseline=15)
    with build.db.session() as s:
        pid = chart.open_chart(s, build.actors["cm1"], episode_id=e, today=TODAY).patient.id
    a = build.call(time_log.add_manual_time, "cm1", patient_id=pid, activity="follow_up_contact", minutes=20,
                   local_date=date(2026, 11, 10), now=NOW)[0]
    b = build.call(time_log.add_manual_time, "cm1", patient_id=pid, activity="care_coordination", minutes=20,
                   local_date=date(2026, 11, 12), now=NOW)[0]
    return e, pid, a.id, b.id


def _month_row(build, pid: int):  # type: ignore[no-untyped-def]
    with build.db.session() as s:
        month = compute_billing_month(s, "2026-11", today=TODAY)
    return next(r for r in month.rows if r.patient_id == pid)


def test_voided_time_entry_changes_the_months_minutes_and_codes(build) -> None:  # type: ignore[no-untyped-def]
    e, pid, _a, b = _subsequent_month(build)
    before = _month_row(build, pid)
    assert (before.counted_minutes, before.codes) == (40, (("99492", 1),))
    assert _row(build, e).minutes_this_month == 40
    build.call(time_log.delete_time_entry, "cm1", b, "Logged on the wrong patient", now=LATER)
    after = _month_row(build, pid)
    assert (after.counted_minutes, after.codes) == (20, (("G2214", 1),))
    assert _row(build, e).minutes_this_month == 20
    assert [line.logged_minutes for line in after.time_log] == [20]  # the appendix lists live time only
    with build.db.session() as s:
        assert s.get(TimeEntry, b).delete_reason == "Logged on the wrong patient"  # kept, not deleted


def test_amended_minutes_change_the_month_and_keep_the_old_value(build) -> None:  # type: ignore[no-untyped-def]
    e, pid, a, _b = _subsequent_month(build)
    view = build.call(time_log.update_time_entry, "cm1", a, reason="Call lasted 45 min, not 20",
                      minutes=45, activity="assessment", now=LATER)
    assert (view.minutes, view.activity) == (45, "assessment")
    row = _month_row(build, pid)
    assert (row.counted_minutes, row.codes) == (65, (("99492", 1),))
    assert _row(build, e).minutes_this_month == 65
    history = build.call(corrections_for_patient, "lead", pid)
    assert history[-1].changes == {"minutes": (20, 45), "activity": ("follow_up_contact", "assessment")}
    assert history[-1].reason == "Call lasted 45 min, not 20"
    with build.db.session() as s:
        assert s.scalars(select(AuditRecord.action).where(AuditRecord.patient_id == pid)).all()[-1] == "time.amend"


def test_moving_time_to_another_month_moves_the_minutes(build) -> None:  # type: ignore[no-untyped-def]
    e, pid, a, _b = _subsequent_month(build)
    build.call(time_log.update_time_entry, "cm1", a, reason="The call was in October", local_date=date(2026, 10, 28),
               now=LATER)
    assert _month_row(build, pid).counted_minutes == 20
    with build.db.session() as s:
        october = compute_billing_month(s, "2026-10", today=TODAY)
    assert next(r for r in october.rows if r.patient_id == pid).counted_minutes == 20


def test_time_is_corrected_by_its_owner_or_the_clinic_lead_only(build) -> None:  # type: ignore[no-untyped-def]
    _e, pid, a, b = _subsequent_month(build)
    for user in ("cm2", "doc1", "psych"):
        with pytest.raises(ValidationError, match="Only the person who logged the time or the clinic lead"):
            build.call(time_log.update_time_entry, user, a, reason="Wrong", minutes=5, now=LATER)
    with pytest.raises(ValidationError, match="Minutes"):
        build.call(time_log.update_time_entry, "cm1", a, reason="Typo", minutes=0, now=LATER)
    with pytest.raises(ValidationError, match="Nothing to amend"):
        build.call(time_log.update_time_entry, "cm1", a, reason="Typo", minutes=20, now=LATER)
    build.call(time_log.update_time_entry, "lead", a, reason="Billing office query: 25 min", minutes=25, now=LATER)
    build.call(time_log.delete_time_entry, "lead", b, "Duplicate of the contact's minutes", now=LATER)
    assert _month_row(build, pid).counted_minutes == 25


def test_shortened_timed_entry_no_longer_overlaps(build) -> None:  # type: ignore[no-untyped-def]
    e1 = build.episode(date(2026, 10, 1), baseline=15)
    e2 = build.episode(date(2026, 10, 1), baseline=15, family="Roe")
    p1, p2 = (build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY).patient.id for e in (e1, e2))
    day = date(2026, 11, 16)
    first = build.call(time_log.add_manual_time, "cm1", patient_id=p1, activity="follow_up_contact",
                       started_at=at(day, 10), ended_at=at(day, 10) + timedelta(minutes=40), now=NOW)[0]
    build.call(time_log.add_manual_time, "cm1", patient_id=p2, activity="follow_up_contact",
               started_at=at(day, 10) + timedelta(minutes=30), ended_at=at(day, 11), now=NOW)
    with build.db.session() as s:
        assert s.scalars(select(TimeOverlapDay.local_date)).all() == [day]
    assert _month_row(build, p2).counted_minutes == 20  # 10 overlapping minutes count once
    view = build.call(time_log.update_time_entry, "cm1", first.id, reason="Timer left running", minutes=25, now=LATER)
    assert view.ended_at == at(day, 10) + timedelta(minutes=25)
    with build.db.session() as s:
        assert s.scalars(select(TimeOverlapDay.local_date)).all() == []
    assert _month_row(build, p2).counted_minutes == 30


# ---- contacts ------------------------------------------------------------------------------------


def test_voided_contact_counts_nowhere_and_takes_its_minutes_and_next_step_with_it(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(date(2026, 10, 1), baseline=15)
    good = build.contact(e, TODAY - timedelta(days=20), minutes=10, next_on=TODAY + timedelta(days=3))
    wrong = build.contact(e, TODAY - timedelta(days=1), minutes=35, next_on=TODAY + timedelta(days=10),
                          question="Raise the dose?")
    before = _row(build, e)
    assert before.last_contact_on == TODAY - timedelta(days=1) and before.minutes_this_month == 45
    build.call(contacts.void_contact, "cm1", wrong.id, reason="Call was with another patient", now=LATER)
    after = _row(build, e)
    assert after.last_contact_on == TODAY - timedelta(days=20)
    assert after.minutes_this_month == 10
    assert after.next_action_on == TODAY + timedelta(days=3)  # back to the newest live contact's step
    with build.db.session() as s:
        assert s.get(Contact, wrong.id).voided_at == LATER
        assert s.get(TimeEntry, wrong.time_entry_id).deleted_at == LATER
        assert s.get(TimeEntry, good.time_entry_id).deleted_at is None
    c = build.call(chart.open_chart, "cm1", episode_id=e, today=TODAY)
    assert [x.id for x in c.contacts] == [good.id] and [x.id for x in c.voided_contacts] == [wrong.id]


def test_amended_contact_moves_its_time_entry_and_keeps_the_old_values(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(date(2026, 10, 1), baseline=15)
    c = build.contact(e, TODAY - timedelta(days=2), minutes=20)
    res = build.call(contacts.amend_contact, "doc1", c.id, reason="Was a video visit of 40 min on Oct 30",
                     mode="video", minutes=40, contact_at=datetime(2026, 10, 30, 14, 0), now=LATER)
    assert res.time_entry_id == c.time_entry_id
    with build.db.session() as s:
        entry = s.get(TimeEntry, c.time_entry_id)
        assert (entry.minutes, entry.local_date) == (40, date(2026, 10, 30))
    assert _row(build, e).minutes_this_month == 0
    pid = _row(build, e).patient_id
    history = build.call(corrections_for_patient, "cm1", pid)
    contact_change = next(h for h in history if h.object_type == "contact")
    assert contact_change.changes["mode"] == ("phone", "video")
    assert contact_change.changes["minutes"] == (20, 40)
    assert any(h.object_type == "time_entry" and h.action == "amend" for h in history)
    with pytest.raises(ValidationError, match="Next step is required"):
        build.call(contacts.amend_contact, "cm1", c.id, reason="x", next_step="  ", now=LATER)
    with pytest.raises(ValidationError, match="Only the person who entered it or the treating clinician"):
        build.call(contacts.amend_contact, "cm2", c.id, reason="x", summary="y", now=LATER)


# ---- patient details -----------------------------------------------------------------------------


def test_patient_details_are_amended_with_a_reason_by_the_right_people(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(date(2026, 10, 1), baseline=15, doc="doc1")
    pid = _row(build, e).patient_id  # the patient was added by cm1
    with pytest.raises(ValidationError, match="Reason"):
        build.call(patients.update_patient, "doc1", pid, reason="", phone="555-0100", today=TODAY)
    with pytest.raises(ValidationError, match="Only the person who added the patient or a treating clinician"):
        build.call(patients.update_patient, "cm2", pid, reason="Typo", phone="555-0100", today=TODAY)
    with pytest.raises(PermissionDenied):
        build.call(patients.update_patient, "lead", pid, reason="Typo", phone="555-0100", today=TODAY)
    build.call(patients.update_patient, "doc1", pid, reason="Birth date typed wrong at registration",
               date_of_birth=date(1980, 7, 15), today=TODAY, now=LATER)
    assert build.call(chart.open_chart, "cm1", patient_id=pid, today=TODAY).patient.date_of_birth == date(1980, 7, 15)
    history = build.call(corrections_for_patient, "cm1", pid)
    assert history[-1].changes == {"date_of_birth": ("1980-05-17", "1980-07-15")}
    assert history[-1].reason == "Birth date typed wrong at registration"
    with build.db.session() as s:
        audit = s.scalars(select(AuditRecord).where(AuditRecord.action == "patient.amend")).one()
        assert audit.detail == {"reason": "Birth date typed wrong at registration", "fields": ["date_of_birth"]}
        assert "1980" not in (audit.summary or "")  # the audit names fields, not values
