"""Worklists per role on the real demo clinic (60 patients, 2026-11-24): every category appears
when its work arrives and leaves when the work is done, for the right person only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from cocm_desktop.domain.flags import Flag
from cocm_desktop.services.worklists import BackupState, Target, WorkKind, worklist
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Episode

from .conftest import NOW, TODAY, Builder, at

PW = "demo"


@pytest.fixture
def demo(demo_path: Path, make_builder: Callable[[Database], Builder]) -> Iterator[Builder]:
    db = Database.open(demo_path, "lead", PW)
    yield make_builder(db)
    db.close()


def items(b: Builder, user: str, kind: WorkKind, **kw: object) -> list:  # type: ignore[type-arg]
    with b.db.session() as s:
        wl = worklist(s, b.actors[user], today=TODAY, now=NOW, **kw)  # type: ignore[arg-type]
    assert wl.counts[kind] == len([i for i in wl.items if i.kind is kind])
    return [i for i in wl.items if i.kind is kind]


def patients_of(rows: list) -> set[int]:  # type: ignore[type-arg]
    return {i.patient_id for i in rows}


# ---- treating clinician ----------------------------------------------------------------------------


def test_a_new_recommendation_is_in_the_clinicians_list_at_once(demo: Builder) -> None:
    from cocm_desktop.services.case_review import decide_recommendation, record_recommendation, tell_patient
    from cocm_desktop.services.registry import build_registry

    ep = demo.episode(TODAY - timedelta(days=40), baseline=18, doc="doc1", cm="cm2", family="Quist")
    rec = demo.call(record_recommendation, "psych", ep, kind="psychotherapy", text="Start weekly CBT.", now=NOW)
    mine = [i for i in items(demo, "doc1", WorkKind.APPROVE_RECOMMENDATION) if i.ref_id == rec.id]
    assert len(mine) == 1 and "Start weekly CBT." in mine[0].what and mine[0].target is Target.CHART
    assert mine[0].episode_id == ep
    # the registry flag still waits its 3 days; the worklist does not
    with demo.db.session() as s:
        row = next(r for r in build_registry(s, demo.actors["doc1"], today=TODAY) if r.episode_id == ep)
    assert not row.has(Flag.RECOMMENDATION_WAITING)
    assert rec.id not in {i.ref_id for i in items(demo, "doc2", WorkKind.APPROVE_RECOMMENDATION)}

    demo.call(decide_recommendation, "doc1", rec.id, "modified", modified_text="Start CBT every other week.",
              now=NOW)
    assert rec.id not in {i.ref_id for i in items(demo, "doc1", WorkKind.APPROVE_RECOMMENDATION)}
    tell = [i for i in items(demo, "cm2", WorkKind.TELL_PATIENT) if i.ref_id == rec.id]
    assert len(tell) == 1 and "every other week" in tell[0].what  # the change as approved
    assert rec.id not in {i.ref_id for i in items(demo, "cm1", WorkKind.TELL_PATIENT)}
    demo.call(tell_patient, "cm2", rec.id, how="phone", now=NOW)
    assert rec.id not in {i.ref_id for i in items(demo, "cm2", WorkKind.TELL_PATIENT)}


def test_consent_recorded_by_the_care_manager_waits_for_the_clinicians_attestation(demo: Builder) -> None:
    from cocm_desktop.services.enrollment import attest_consent, attest_risk_rule_out

    ep = demo.episode(TODAY - timedelta(days=3), by="cm1", doc="doc1", family="Attwood")
    row = sorted((i for i in items(demo, "doc1", WorkKind.ATTEST) if i.episode_id == ep), key=lambda i: i.ref_text)
    assert [i.ref_text for i in row] == ["consent", "risk_rule_out"] and "Jordan" not in row[0].patient_name
    assert "Attest consent" in row[0].what and "Confirm you ruled out urgent risk" in row[1].what
    assert ep not in {i.episode_id for i in items(demo, "doc2", WorkKind.ATTEST)}
    demo.call(attest_consent, "doc1", ep, now=NOW)
    assert [i.ref_text for i in items(demo, "doc1", WorkKind.ATTEST) if i.episode_id == ep] == ["risk_rule_out"]
    demo.call(attest_risk_rule_out, "doc1", ep, now=NOW)
    assert ep not in {i.episode_id for i in items(demo, "doc1", WorkKind.ATTEST)}
    # a clinician's own enrollment is attested as it is recorded
    own = demo.episode(TODAY - timedelta(days=3), by="doc1", doc="doc1", family="Selfridge")
    assert own not in {i.episode_id for i in items(demo, "doc1", WorkKind.ATTEST)}


def test_care_plan_to_sign_off_until_the_newest_version_is_signed(demo: Builder) -> None:
    from cocm_desktop.services.care_plans import sign_off_care_plan

    ep = demo.episode(TODAY - timedelta(days=10), doc="doc2", family="Planner")
    demo.care_plan(ep, by="cm1")
    assert ep in {i.episode_id for i in items(demo, "doc2", WorkKind.SIGN_OFF_PLAN)}
    demo.call(sign_off_care_plan, "doc2", ep, now=NOW)
    assert ep not in {i.episode_id for i in items(demo, "doc2", WorkKind.SIGN_OFF_PLAN)}
    demo.care_plan(ep, by="cm1", relapse="Call at the first sign of low mood")  # a new version: a new sign-off
    rows = [i for i in items(demo, "doc2", WorkKind.SIGN_OFF_PLAN) if i.episode_id == ep]
    assert len(rows) == 1 and "version 2" in rows[0].what


def test_open_risk_events_of_the_clinicians_patients(demo: Builder) -> None:
    from cocm_desktop.services.risk import open_risk_event, record_risk_outcome, record_risk_steps

    ep = demo.episode(TODAY - timedelta(days=30), doc="doc1", family="Riskley")
    ev = demo.call(open_risk_event, "cm1", ep, "statement", "Said life is not worth it", opened_at=at(TODAY, 9),
                   now=NOW)
    rows = [i for i in items(demo, "doc1", WorkKind.RISK_EVENT) if i.ref_id == ev.id]
    assert len(rows) == 1 and rows[0].overdue and "no outcome yet" in rows[0].what
    assert ev.id not in {i.ref_id for i in items(demo, "doc2", WorkKind.RISK_EVENT)}
    with demo.db.session() as s:  # safety comes first in the clinician's list
        first = worklist(s, demo.actors["doc1"], today=TODAY, now=NOW).items[0]
    assert first.kind is WorkKind.RISK_EVENT
    demo.call(record_risk_steps, "cm1", ev.id, safety_assessment_done=True, clinician_notified=True,
              safety_plan_done=True)
    demo.call(record_risk_outcome, "cm1", ev.id, "Safety plan made; seen by Dr. Kim today",
              step_reasons={"after_hours_routing_used": "During office hours"}, now=NOW)
    assert ev.id not in {i.ref_id for i in items(demo, "doc1", WorkKind.RISK_EVENT)}


# ---- care manager ------------------------------------------------------------------------------------


def test_contacts_and_measures_due_today_or_overdue(demo: Builder) -> None:
    # enrolled 20 days ago, no contact, no baseline: the contact was due on day 14, the baseline too
    late = demo.episode(TODAY - timedelta(days=20), cm="cm1", family="Lateley")
    contacts = {i.episode_id: i for i in items(demo, "cm1", WorkKind.CONTACT_DUE)}
    measures = {i.episode_id: i for i in items(demo, "cm1", WorkKind.MEASURE_DUE)}
    assert contacts[late].overdue and contacts[late].due_on == TODAY - timedelta(days=6)
    assert measures[late].overdue and "baseline PHQ-9 missing" in measures[late].what
    # due exactly today: listed, not overdue
    today_due = demo.episode(TODAY - timedelta(days=14), cm="cm1", baseline=16, family="Todday")
    row = next(i for i in items(demo, "cm1", WorkKind.CONTACT_DUE) if i.episode_id == today_due)
    assert row.due_on == TODAY and not row.overdue
    assert today_due not in {i.episode_id for i in items(demo, "cm1", WorkKind.MEASURE_DUE)}  # due at 28 days
    # a contact today clears it; nothing of cm1's is in cm2's list
    demo.contact(today_due, TODAY, by="cm1")
    assert today_due not in {i.episode_id for i in items(demo, "cm1", WorkKind.CONTACT_DUE)}
    assert late not in {i.episode_id for i in items(demo, "cm2", WorkKind.CONTACT_DUE)}


def test_next_action_due_and_referral_to_confirm(demo: Builder) -> None:
    from cocm_desktop.services.referrals import add_referral, update_referral

    ep = demo.episode(TODAY - timedelta(days=60), cm="cm2", baseline=15, family="Nextly")
    demo.contact(ep, TODAY - timedelta(days=7), by="cm2", next_on=TODAY)  # next step due today
    rows = [i for i in items(demo, "cm2", WorkKind.NEXT_ACTION) if i.episode_id == ep]
    assert len(rows) == 1 and rows[0].what == "Call again" and rows[0].due_on == TODAY
    ref = demo.call(add_referral, "cm2", ep, to_whom="Riverside Counseling", reason="CBT",
                    referred_on=TODAY - timedelta(days=45), now=NOW)
    fresh = demo.call(add_referral, "cm2", ep, to_whom="Sleep clinic", reason="Insomnia",
                      referred_on=TODAY - timedelta(days=5), now=NOW)
    refs = {i.ref_id: i for i in items(demo, "cm2", WorkKind.REFERRAL)}
    assert ref.id in refs and "Riverside Counseling" in refs[ref.id].what
    assert fresh.id not in refs  # not yet 30 days: nothing to chase
    demo.call(update_referral, "cm2", ref.id, status="seen", seen_confirmed_on=TODAY, now=NOW)
    assert ref.id not in {i.ref_id for i in items(demo, "cm2", WorkKind.REFERRAL)}


def test_a_timer_left_running_is_listed_for_its_owner(demo: Builder) -> None:
    from cocm_desktop.services.timer import discard_timer, start_timer

    ep = demo.episode(TODAY - timedelta(days=30), cm="cm1", family="Timerson")
    with demo.db.session() as s:
        pid = s.get(Episode, ep).patient_id
    demo.call(start_timer, "cm1", patient_id=pid, activity="follow_up_contact", episode_id=ep,
              now=NOW - timedelta(hours=3))
    rows = items(demo, "cm1", WorkKind.TIMER)  # heartbeat 3 hours old: the app was closed
    assert len(rows) == 1 and rows[0].patient_id == pid and "left running" in rows[0].what
    assert items(demo, "cm2", WorkKind.TIMER) == []
    demo.call(discard_timer, "cm1", now=NOW)
    assert items(demo, "cm1", WorkKind.TIMER) == []


# ---- consultant and clinic lead ------------------------------------------------------------------------


def test_consultant_sees_this_weeks_agendas_with_their_size(demo: Builder) -> None:
    from cocm_desktop.services.case_review import (
        create_review_session,
        get_review_session,
        list_review_sessions,
    )

    with demo.db.session() as s:
        this_week = [(r.id, r.session_on) for r in list_review_sessions(s, demo.actors["psych"])
                     if TODAY - timedelta(days=TODAY.weekday()) <= r.session_on
                     <= TODAY + timedelta(days=6 - TODAY.weekday())]
    later = demo.call(create_review_session, "cm1", session_on=TODAY + timedelta(days=14),
                      consultant_id=demo.actors["psych"].user_id, today=TODAY)
    rows = {i.ref_id: i for i in items(demo, "psych", WorkKind.AGENDA)}
    assert set(rows) == {i for i, _ in this_week} and this_week
    sid = this_week[0][0]
    with demo.db.session() as s:
        n = sum(1 for a in get_review_session(s, demo.actors["psych"], sid).agenda if not a.removed)
    assert f"{n} patients on the agenda" in rows[sid].what and rows[sid].target is Target.CASE_REVIEW
    assert later.id not in rows
    with demo.db.session() as s:  # other roles' lists never hold agendas
        assert not [i for i in worklist(s, demo.actors["cm1"], today=TODAY, now=NOW).items
                    if i.kind is WorkKind.AGENDA]


def test_lead_sees_users_who_must_change_their_password_and_a_stale_backup(demo: Builder) -> None:
    from cocm_desktop.services.users import add_staff_user

    add_staff_user(demo.db, demo.actors["lead"], username="cm9", display_name="Robin Vale", role="care_manager",
                   password="Lantern-harbor-91")
    rows = items(demo, "lead", WorkKind.PASSWORD)
    assert [i.ref_text for i in rows] == ["cm9"] and rows[0].target is Target.USERS
    assert items(demo, "lead", WorkKind.BACKUP, backup=BackupState(False, "Last backup today", "")) == []
    stale = items(demo, "lead", WorkKind.BACKUP,
                  backup=BackupState(True, "⚠ No backup yet", "Make a backup now (File › Back up…)."))
    assert len(stale) == 1 and "Make a backup now" in stale[0].what
    with demo.db.session() as s:
        assert worklist(s, demo.actors["lead"], today=TODAY, now=NOW,
                        backup=BackupState(False, "Last backup today", "")).backup_text == "Last backup today"


def test_everyone_has_a_list_and_counts_cover_their_categories(demo: Builder) -> None:
    from cocm_desktop.services.worklists import KINDS

    for user in ("doc1", "doc2", "cm1", "cm2", "psych", "lead"):
        with demo.db.session() as s:
            wl = worklist(s, demo.actors[user], today=TODAY, now=NOW)
        assert set(wl.counts) == set(KINDS[wl.role])
        assert sum(wl.counts.values()) == wl.total
    with demo.db.session() as s:
        assert worklist(s, demo.actors["cm1"], today=TODAY, now=datetime(2026, 11, 24, 16)).total > 0


def test_the_care_managers_list_follows_the_registry_due_rules(demo: Builder) -> None:
    """Contacts overdue in the worklist are exactly the registry's "contact overdue" rows (the
    worklist also lists those due today)."""
    from cocm_desktop.services.registry import build_registry

    with demo.db.session() as s:
        rows = build_registry(s, demo.actors["cm1"], today=TODAY, care_manager_id=demo.actors["cm1"].user_id)
    flagged = {r.episode_id for r in rows if r.has(Flag.CONTACT_OVERDUE)}
    overdue = {i.episode_id for i in items(demo, "cm1", WorkKind.CONTACT_DUE) if i.overdue}
    assert overdue == flagged
    measure_flagged = {r.episode_id for r in rows if r.has(Flag.MEASURE_DUE)}
    assert {i.episode_id for i in items(demo, "cm1", WorkKind.MEASURE_DUE) if i.overdue} == measure_flagged
    assert date(2026, 11, 24) == TODAY
