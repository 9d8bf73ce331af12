"""Case review at network scale: a session per care manager, sized to its length, safety flags first,
the rest "not reached" and carried first into that care manager's next session."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cocm_desktop.services import case_review
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.policy import update_policy

from .conftest import TODAY, Builder


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def _session(b: Builder, on: date, *, by: str = "cm1", **kw):  # type: ignore[no-untyped-def]
    return b.call(case_review.create_review_session, by, session_on=on, consultant_id=b.actors["psych"].user_id,
                  today=on, **kw)


def test_agenda_holds_what_the_session_has_time_for_safety_first_the_rest_not_reached(build: Builder) -> None:
    new = [build.episode(ago(30 - n), baseline=15, family=f"New{n:02d}") for n in range(8)]
    safe = build.episode(ago(20), baseline=15, family="Safe")
    build.measure(safe, ago(2), 14, item9=1)  # a safety flag on a new, not-improving-yet patient
    other = build.episode(ago(25), baseline=15, cm="cm2", family="Elsewhere")
    rs = _session(build, TODAY, minutes=30, minutes_per_patient=6)  # room for 5
    assert (rs.care_manager, rs.minutes, rs.minutes_per_patient, rs.capacity) == ("Casey Morgan", 30, 6, 5)
    on = [e for e in rs.agenda if not e.removed]
    assert [e.episode_id for e in on] == [safe, *new[:4]]
    assert on[0].group == "safety" and on[0].group_label == "Safety flags"
    assert [e.episode_id for e in rs.not_reached] == new[4:]  # in agenda order, oldest enrollment first
    assert all(e.not_reached and not e.reviewed for e in rs.not_reached)
    # one care manager's caseload: cm2's patient is on neither list
    assert other not in {e.episode_id for e in (*rs.agenda, *rs.not_reached)}


def test_clinic_policy_sizes_new_sessions_and_a_session_keeps_its_own_length(build: Builder) -> None:
    for n in range(9):
        build.episode(ago(30 - n), baseline=15, family=f"P{n}")
    rs = _session(build, TODAY)
    assert (rs.minutes, rs.minutes_per_patient, rs.capacity) == (60, 6, 10)  # the shipped policy
    build.call(update_policy, "lead", {"case_review_session_minutes": 45, "case_review_minutes_per_patient": 8})
    later = _session(build, TODAY + timedelta(days=7))
    assert (later.capacity, len([e for e in later.agenda if not e.removed]), len(later.not_reached)) == (5, 5, 4)
    again = build.call(case_review.rebuild_agenda, "cm1", rs.id, today=TODAY)
    assert again.capacity == 10 and not again.not_reached  # prepared with an hour: not resized by the policy
    with pytest.raises(ValidationError, match="between 2 and 60 minutes"):
        _session(build, TODAY + timedelta(days=14), minutes_per_patient=0)
    with pytest.raises(ValidationError, match="cannot be more than the session"):
        _session(build, TODAY + timedelta(days=14), minutes=20, minutes_per_patient=30)


def test_not_reached_patients_come_first_at_the_next_session_after_safety(build: Builder) -> None:
    a, b, c, d = (build.episode(ago(60 - n), baseline=15, family=f"{x}") for n, x in enumerate("ABCD"))
    first = _session(build, ago(14), minutes=12, minutes_per_patient=6)  # room for 2
    assert [e.episode_id for e in first.agenda] == [a, b]
    assert [e.episode_id for e in first.not_reached] == [c, d]
    build.call(case_review.mark_discussed, "psych", first.agenda[0].id)  # B was not discussed: carried too
    # Enrolled (back-dated) after that session: an older enrollment than C and D, and a safety flag.
    older = build.episode(ago(90), baseline=15, family="Older")
    safe = build.episode(ago(70), baseline=15, family="Safe")
    build.measure(safe, ago(1), 12, item9=2)
    nxt = _session(build, TODAY, minutes=24, minutes_per_patient=6)  # room for 4
    on = [e for e in nxt.agenda if not e.removed]
    assert [e.episode_id for e in on] == [safe, b, c, d]  # without carrying, Older would come before B
    assert all(e.carried_from == ago(14) for e in on[1:]) and on[0].carried_from is None
    assert [e.episode_id for e in nxt.not_reached] == [older]
    assert a not in {e.episode_id for e in (*nxt.agenda, *nxt.not_reached)}  # discussed: not carried


def test_a_not_reached_patient_can_be_moved_onto_the_agenda_and_stays_there(build: Builder) -> None:
    eps = [build.episode(ago(40 - n), baseline=15, family=f"P{n}") for n in range(4)]
    rs = _session(build, TODAY, minutes=12, minutes_per_patient=6)
    assert [e.episode_id for e in rs.not_reached] == eps[2:]
    rs = build.call(case_review.add_to_agenda, "cm1", rs.id, eps[3], today=TODAY)
    assert eps[3] in {e.episode_id for e in rs.agenda if not e.removed and e.added_manually}
    rs = build.call(case_review.rebuild_agenda, "cm1", rs.id, today=TODAY)
    on = [e.episode_id for e in rs.agenda if not e.removed]
    assert on == [eps[0], eps[3]]  # added by hand: kept, and it takes one of the two places
    assert [e.episode_id for e in rs.not_reached] == [eps[1], eps[2]]
    # Discussing a not-reached patient puts them on the agenda (they were reached after all).
    item = rs.not_reached[0]
    build.call(case_review.mark_discussed, "psych", item.id)
    rs = build.call(case_review.get_review_session, "cm1", rs.id)
    assert item.episode_id in {e.episode_id for e in rs.agenda if e.reviewed}


def test_sessions_per_care_manager_and_consultant(build: Builder) -> None:
    build.episode(ago(30), baseline=15)
    build.episode(ago(30), baseline=15, cm="cm2", family="Two")
    mine = _session(build, TODAY)  # a care manager's session is their own caseload by default
    theirs = _session(build, TODAY, by="psych", care_manager_id=build.actors["cm2"].user_id)
    with pytest.raises(ValidationError, match="already has a case review"):
        _session(build, TODAY)
    with pytest.raises(ValidationError, match="Choose the care manager"):
        _session(build, TODAY + timedelta(days=7), by="psych")
    listed = build.call(case_review.list_review_sessions, "doc1")
    assert {(s.id, s.care_manager, s.on_agenda) for s in listed} == {(mine.id, "Casey Morgan", 1),
                                                                    (theirs.id, "Riley Chen", 1)}
    only = build.call(case_review.list_review_sessions, "doc1", care_manager_id=build.actors["cm2"].user_id)
    assert [s.id for s in only] == [theirs.id]
    assert build.call(case_review.list_review_sessions, "doc1", consultant_id=build.actors["cm1"].user_id) == []
