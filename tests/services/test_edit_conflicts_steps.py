"""No lost edits beyond the correction forms (issue 17 item 3): the in-place steps a person takes
on what a pane or form showed — signing off a care plan, deciding on and telling the patient a
recommendation, moving a referral along, ticking risk steps and documenting the outcome — are
refused when someone changed the record after it was shown: the message names the other person
and what they changed, nothing of the refused step is stored, and after re-reading it goes
through. Two sessions interleaved, on both engines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from cocm_desktop.services import (
    care_plans,
    case_review,
    chart,
    episodes,
    recommendation_corrections,
    referrals,
    risk,
)
from cocm_desktop.services.common import EditConflict
from cocm_desktop.store.models import (
    AuditRecord,
    CarePlanVersion,
    Episode,
    Recommendation,
    Referral,
    RiskEvent,
)

from .conftest import TODAY, Builder

DAY = TODAY - timedelta(days=3)
TEXT = "Weekly behavioural activation"
AMENDED = "Twice-weekly activation"


@dataclass
class Step:
    """One in-place step: the record, what the pane shows, the other person's change, the step."""

    make: Callable[[Builder, int], int]  # (b, episode id) → record id
    read: Callable[[chart.Chart, int], int]  # (the chart as the second person opened it, id) → version shown
    change: Callable[[Builder, int, int], Any]  # (b, id, version) the first person's change
    step: Callable[[Builder, int, int], Any]  # (b, id, version) the second person's step
    changed: Callable[[Any, int], bool]  # (session, id): the first person's change is stored
    stepped: Callable[[Any, int], bool]  # (session, id): the second person's step is stored
    said: tuple[str, ...]  # what the message says besides who
    first: str  # who changes the record first
    second: str  # who takes the step on what they saw (refused)


def _plan_id(b: Builder, ep: int) -> int:
    b.care_plan(ep)
    with b.db.session() as s:
        return int(s.scalar(select(CarePlanVersion.id).where(CarePlanVersion.episode_id == ep)))


def _episode_of(s: Any, model: Any, rid: int) -> int:
    return int(s.get(model, rid).episode_id)


def _sign_off(b: Builder, pid: int, v: int) -> Any:
    with b.db.session() as s:
        ep = _episode_of(s, CarePlanVersion, pid)
    return b.call(care_plans.sign_off_care_plan, "doc1", ep, version=1, expected_version=v, now=b.now)


def _recommend(b: Builder, ep: int) -> int:
    return b.call(case_review.record_recommendation, "psych", ep, kind="psychotherapy", text=TEXT, now=b.now).id


def _approved(b: Builder, ep: int) -> int:
    rid = _recommend(b, ep)
    b.call(case_review.decide_recommendation, "doc1", rid, "approved", now=b.now)
    return rid


def _referral(b: Builder, ep: int) -> int:
    return b.call(referrals.add_referral, "cm1", ep, to_whom="Sleep clinic", reason="Insomnia", referred_on=DAY,
                  now=b.now).id


def _risk(b: Builder, ep: int) -> int:
    return b.call(risk.open_risk_event, "cm1", ep, "statement", "Said life is not worth living", now=b.now).id


def _risk_assessed(b: Builder, ep: int) -> int:
    rid = _risk(b, ep)
    b.call(risk.record_risk_steps, "cm1", rid, safety_assessment_done=True, clinician_notified=True, now=b.now)
    return rid


def _outcome(b: Builder, rid: int, v: int) -> Any:
    """The outcome form asks a reason for each step not done as it shows the event."""
    with b.db.session() as s:
        row = s.get(RiskEvent, rid)
        missing = [step for step in risk.WAIVABLE_STEPS if not getattr(row, step)]
    return b.call(risk.record_risk_outcome, "cm2", rid, "Safe at home with family", expected_version=v,
                  step_reasons={step: "Not needed: seen the same day" for step in missing}, now=b.now)


def _rec(c: chart.Chart, rid: int) -> int:
    return next(r for r in c.recommendations if r.id == rid).row_version


STEPS = {
    "care plan sign-off": Step(
        make=_plan_id,
        read=lambda c, pid: c.care_plans[0].row_version,
        change=lambda b, pid, v: b.call(care_plans.amend_care_plan_version, "cm1", pid, reason="Goal misheard",
                                        goals="Sleep better, swim daily", expected_version=v, now=b.now),
        step=_sign_off,
        changed=lambda s, pid: s.get(CarePlanVersion, pid).goals == "Sleep better, swim daily",
        stepped=lambda s, pid: s.get(CarePlanVersion, pid).signed_off_on is not None,
        said=("changed this care-plan version", "goals Sleep better, walk daily → Sleep better, swim daily"),
        first="cm1", second="doc1",
    ),
    "recommendation decision": Step(
        make=_recommend,
        read=_rec,
        change=lambda b, rid, v: b.call(recommendation_corrections.amend_recommendation_text, "psych", rid,
                                        reason="Meant twice weekly", text=AMENDED, expected_version=v, now=b.now),
        step=lambda b, rid, v: b.call(case_review.decide_recommendation, "doc1", rid, "approved",
                                      expected_version=v, now=b.now),
        changed=lambda s, rid: s.get(Recommendation, rid).text == AMENDED,
        stepped=lambda s, rid: s.get(Recommendation, rid).state == "approved",
        said=("changed this recommendation", f"text {TEXT} → {AMENDED}"),
        first="psych", second="doc1",
    ),
    "recommendation told": Step(
        make=_approved,
        read=_rec,
        change=lambda b, rid, v: b.call(recommendation_corrections.amend_recommendation_state, "doc1", rid,
                                        reason="Clicked the wrong button", state="declined", note="Not now",
                                        expected_version=v, now=b.now),
        step=lambda b, rid, v: b.call(case_review.tell_patient, "cm1", rid, how="phone", expected_version=v,
                                      now=b.now),
        changed=lambda s, rid: s.get(Recommendation, rid).decision == "declined",
        stepped=lambda s, rid: s.get(Recommendation, rid).told_at is not None,
        said=("changed this recommendation", "approved → declined"),
        first="doc1", second="cm1",
    ),
    "referral update": Step(
        make=_referral,
        read=lambda c, rid: next(r for r in c.referrals if r.id == rid).row_version,
        change=lambda b, rid, v: b.call(referrals.update_referral, "cm1", rid, status="scheduled",
                                        expected_version=v, now=b.now),
        step=lambda b, rid, v: b.call(referrals.update_referral, "cm2", rid, status="declined",
                                      note="Patient declined", expected_version=v, now=b.now),
        changed=lambda s, rid: s.get(Referral, rid).status in ("scheduled", "declined"),
        stepped=lambda s, rid: s.get(Referral, rid).note == "Patient declined",
        said=("changed this referral", "Referral sent → scheduled"),
        first="cm1", second="cm2",
    ),
    "risk steps": Step(
        make=_risk,
        read=lambda c, rid: next(r for r in c.open_risk if r.id == rid).row_version,
        change=lambda b, rid, v: b.call(risk.record_risk_steps, "cm1", rid, safety_assessment_done=True,
                                        expected_version=v, now=b.now),
        # the form sends every tick as it showed them: safety assessment unticked
        step=lambda b, rid, v: b.call(risk.record_risk_steps, "cm2", rid, safety_assessment_done=v > 1,
                                      safety_plan_done=True, expected_version=v, now=b.now),
        changed=lambda s, rid: s.get(RiskEvent, rid).safety_assessment_done is True,
        stepped=lambda s, rid: s.get(RiskEvent, rid).safety_plan_done is True,
        said=("changed this risk event", "safety assessment done = yes"),
        first="cm1", second="cm2",
    ),
    "risk outcome": Step(
        make=_risk_assessed,
        read=lambda c, rid: next(r for r in c.open_risk if r.id == rid).row_version,
        change=lambda b, rid, v: b.call(risk.record_risk_steps, "cm1", rid, safety_plan_done=True,
                                        expected_version=v, now=b.now),
        step=_outcome,
        changed=lambda s, rid: s.get(RiskEvent, rid).safety_plan_done is True,
        stepped=lambda s, rid: s.get(RiskEvent, rid).outcome is not None,
        said=("changed this risk event", "safety plan done = yes"),
        first="cm1", second="cm2",
    ),
}


def _audits(b: Builder) -> int:
    with b.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(AuditRecord)) or 0)


@pytest.mark.parametrize("name", sorted(STEPS))
def test_a_step_on_a_record_changed_after_it_was_shown_is_refused_and_saves_nothing(build, name: str) -> None:  # type: ignore[no-untyped-def]
    k = STEPS[name]
    ep = build.episode(TODAY - timedelta(weeks=6), baseline=16)
    with build.db.session() as s:
        pid = s.get(Episode, ep).patient_id
    rid = k.make(build, ep)

    def shown(who: str) -> int:
        return k.read(build.call(chart.open_chart, who, patient_id=pid, today=TODAY), rid)

    seen_first, seen_second = shown(k.first), shown(k.second)  # both have the chart open
    k.change(build, rid, seen_first)  # the first person changes the record
    audits = _audits(build)
    with pytest.raises(EditConflict) as caught:
        k.step(build, rid, seen_second)  # the second acts on what they saw
    message = str(caught.value)
    assert message.startswith(build.actors[k.first].display_name + " changed this "), message
    for part in k.said:
        assert part in message, message
    assert "after you opened it" in message and "Your change was not saved" in message
    with build.db.session() as s:
        assert k.changed(s, rid) and not k.stepped(s, rid)
    assert _audits(build) == audits  # nothing of the refused step, not even its audit line

    again = shown(k.second)  # the chart reloads with the change
    assert again > seen_second
    k.step(build, rid, again)
    with build.db.session() as s:
        assert k.changed(s, rid) and k.stepped(s, rid)


def test_the_steps_without_a_version_are_not_checked(build) -> None:  # type: ignore[no-untyped-def]
    """Commands and callers that did not show the record pass no version: as before."""
    ep = build.episode(TODAY - timedelta(weeks=6), baseline=16)
    rid = _recommend(build, ep)
    build.call(recommendation_corrections.amend_recommendation_text, "psych", rid, reason="Twice",
               text=AMENDED, now=build.now)
    build.call(case_review.decide_recommendation, "doc1", rid, "approved", now=build.now)
    build.call(case_review.tell_patient, "cm1", rid, how="phone", now=build.now)
    build.call(case_review.close_recommendation, "cm1", rid, now=build.now)
    with build.db.session() as s:
        assert s.get(Recommendation, rid).state == "closed"


def test_a_recommendation_voided_after_it_was_shown_says_so(build) -> None:  # type: ignore[no-untyped-def]
    ep = build.episode(TODAY - timedelta(weeks=6), baseline=16)
    rid = _recommend(build, ep)
    build.call(recommendation_corrections.void_recommendation, "psych", rid, reason="Wrong patient", now=build.now)
    with pytest.raises(EditConflict, match=r"voided this recommendation .*\(entered in error\)"):
        build.call(case_review.decide_recommendation, "doc1", rid, "approved", expected_version=1, now=build.now)


def test_closing_a_loop_someone_else_closed_since_it_was_shown_names_them(build) -> None:  # type: ignore[no-untyped-def]
    ep = build.episode(TODAY - timedelta(weeks=6), baseline=16)
    rid = _approved(build, ep)
    build.call(case_review.tell_patient, "cm1", rid, how="phone", now=build.now)
    with build.db.session() as s:
        seen = s.get(Recommendation, rid).row_version
    build.call(case_review.close_recommendation, "cm2", rid, expected_version=seen, now=build.now)
    name = build.actors["cm2"].display_name
    with pytest.raises(EditConflict, match=rf"^{name} changed this recommendation .*\(Recommendation loop closed\)"):
        build.call(case_review.close_recommendation, "cm1", rid, expected_version=seen, now=build.now)


# ---- the episode: its status and its transfer as the form showed them ---------------------------


def _active_episode(b: Builder) -> tuple[int, int]:
    ep = b.episode(TODAY - timedelta(weeks=10), baseline=16)
    b.contact(ep, TODAY - timedelta(weeks=9))  # the first contact makes it active
    b.care_plan(ep, relapse="Call if sleep slips for a week")
    with b.db.session() as s:
        return ep, s.get(Episode, ep).patient_id


def _episode_shown(b: Builder, who: str, pid: int) -> Any:
    return b.call(chart.open_chart, who, patient_id=pid, today=TODAY).episode


def test_a_status_change_on_a_status_someone_else_changed_is_refused_naming_their_step(build) -> None:  # type: ignore[no-untyped-def]
    ep, pid = _active_episode(build)
    doc, cm = _episode_shown(build, "doc1", pid), _episode_shown(build, "cm1", pid)
    assert doc.status == cm.status == "active"
    build.contact(ep, TODAY - timedelta(days=1))  # a call logged meanwhile moves the row, not the status
    build.call(episodes.change_status, "doc1", ep, "relapse_prevention", on=TODAY, expected_status=doc.status,
               now=build.now)
    audits = _audits(build)
    with pytest.raises(EditConflict) as caught:  # the care manager closes out what was shown as active
        build.call(episodes.change_status, "cm1", ep, "closed", reason="completed", on=TODAY,
                   note="Goals met", expected_status=cm.status, now=build.now)
    message = str(caught.value)
    assert message.startswith(build.actors["doc1"].display_name + " changed this episode of care at "), message
    assert "Active → Relapse prevention" in message and "Your change was not saved" in message
    assert _audits(build) == audits
    with build.db.session() as s:
        assert s.get(Episode, ep).status == "relapse_prevention"

    again = _episode_shown(build, "cm1", pid)
    build.call(episodes.change_status, "cm1", ep, "closed", reason="completed", on=TODAY, note="Goals met",
               expected_status=again.status, now=build.now)
    with build.db.session() as s:
        assert s.get(Episode, ep).status == "closed"


def test_a_transfer_someone_else_requested_meanwhile_is_not_overwritten_or_confirmed_unseen(build) -> None:  # type: ignore[no-untyped-def]
    ep, pid = _active_episode(build)
    shown = _episode_shown(build, "cm1", pid).transfer_to or ""
    build.call(episodes.request_transfer, "doc1", ep, "Perinatal psychiatry", expected_transfer_to=shown)
    with pytest.raises(EditConflict, match=r"changed this episode of care .*\(Transfer to specialty care requested\)"):
        build.call(episodes.request_transfer, "cm1", ep, "Addiction service", expected_transfer_to=shown)
    with pytest.raises(EditConflict, match="changed this episode of care"):  # confirms what the form named
        build.call(episodes.confirm_transfer, "cm1", ep, TODAY, expected_transfer_to="Addiction service",
                   now=build.now)
    with build.db.session() as s:
        row = s.get(Episode, ep)
        assert (row.transfer_to, row.status) == ("Perinatal psychiatry", "active")
    named = _episode_shown(build, "cm1", pid).transfer_to
    build.call(episodes.confirm_transfer, "cm1", ep, TODAY, expected_transfer_to=named, now=build.now)
    with build.db.session() as s:
        row = s.get(Episode, ep)
        assert (row.status, row.close_reason) == ("closed", "transferred")


def test_a_discussion_someone_else_saved_meanwhile_is_not_written_over(build) -> None:  # type: ignore[no-untyped-def]
    ep = build.episode(TODAY - timedelta(weeks=2), baseline=16)  # new, never reviewed: on the agenda
    review = build.call(case_review.create_review_session, "cm1", session_on=TODAY,
                        consultant_id=build.actors["psych"].user_id, today=TODAY)
    (item,) = [e for e in review.agenda if e.episode_id == ep]
    assert not item.reviewed  # both the care manager and the consultant see it not yet discussed
    build.call(case_review.mark_discussed, "cm1", item.id, discussion="Raise sertraline",
               expected_reviewed=item.reviewed)
    build.call(case_review.rebuild_agenda, "cm1", review.id, today=TODAY)  # positions move: no conflict by itself
    with pytest.raises(EditConflict) as caught:
        build.call(case_review.mark_discussed, "psych", item.id, discussion="Add therapy",
                   expected_reviewed=item.reviewed)
    message = str(caught.value)
    assert message.startswith(build.actors["cm1"].display_name + " changed this agenda entry at "), message
    assert "Discussed at case review" in message
    entry = next(e for e in build.call(case_review.get_review_session, "psych", review.id).agenda if e.id == item.id)
    assert entry.discussion == "Raise sertraline"
    build.call(case_review.mark_discussed, "psych", item.id, discussion="Add therapy",
               expected_reviewed=entry.reviewed)  # having read it, the consultant adds theirs
