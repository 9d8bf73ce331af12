"""Registry rows and every flag, table-driven with frozen dates on a real encrypted database.

Each case starts from a "healthy" episode (no flag at all: baseline, care plan, recent contact
entered the same day, recent measure, discussed at case review) and changes one thing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from cocm_desktop.domain.flags import Flag
from cocm_desktop.services import case_review, contacts, referrals, risk
from cocm_desktop.services.registry import build_registry

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 16, 0)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def rows(build, **kw):  # type: ignore[no-untyped-def]
    with build.db.session() as s:
        return build_registry(s, build.actors["cm1"], today=TODAY, **kw)


def review(b, e: int, on: date) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.store.models import Episode

    with b.db.session() as s:  # the session of the episode's own care manager (one per caseload)
        cm = s.get(Episode, e).care_manager_id
    rs = b.call(case_review.create_review_session, "cm1", session_on=on, care_manager_id=cm,
                consultant_id=b.actors["psych"].user_id, today=on)
    item = next((i for i in rs.agenda if i.episode_id == e), None)
    if item is None:
        rs = b.call(case_review.add_to_agenda, "cm1", rs.id, e, today=on)
        item = next(i for i in rs.agenda if i.episode_id == e)
    b.call(case_review.mark_discussed, "psych", item.id)


def scenario(
    b, *, enrolled: int = 40, baseline: int | None = 16, baseline_day: int = 0,
    measures: tuple[tuple[int, int, int], ...] = ((10, 12, 0),), contact_days: int | None = 3,
    lag: int = 0, care_plan: bool = True, reviewed: int | None = 7, extra: Callable[..., Any] | None = None,
) -> int:  # type: ignore[no-untyped-def]
    e = b.episode(ago(enrolled), baseline=None)
    if baseline is not None:
        b.measure(e, ago(enrolled - baseline_day), baseline)
    for days, total, item9 in measures:
        b.measure(e, ago(days), total, item9=item9)
    if contact_days is not None:
        b.contact(e, ago(contact_days), entered=datetime.combine(ago(contact_days - lag), datetime.min.time())
                  .replace(hour=18))
    if care_plan:
        b.care_plan(e)
    if reviewed is not None:
        review(b, e, ago(reviewed))
    if extra is not None:
        extra(b, e)
    return e


def _rec(days_waiting: int, step: str | None = None):  # type: ignore[no-untyped-def]
    def go(b, e):  # type: ignore[no-untyped-def]
        when = datetime.combine(ago(days_waiting), datetime.min.time()).replace(hour=9)
        r = b.call(case_review.record_recommendation, "psych", e, kind="continue", text="Keep going",
                   now=when if step is None else when - timedelta(days=1))
        if step in ("approved", "told"):
            b.call(case_review.decide_recommendation, "doc1", r.id, "approved", now=when)
        if step == "told":
            b.call(case_review.tell_patient, "cm1", r.id, how="phone", now=NOW)
    return go


def _failed(n: int):  # type: ignore[no-untyped-def]
    def go(b, e):  # type: ignore[no-untyped-def]
        for i in range(n):
            b.contact(e, ago(20 - i), kind="outreach", reached=False,
                      entered=datetime.combine(ago(20 - i), datetime.min.time()).replace(hour=18))
    return go


def _risk(outcome: bool):  # type: ignore[no-untyped-def]
    def go(b, e):  # type: ignore[no-untyped-def]
        r = b.call(risk.open_risk_event, "cm1", e, "statement", opened_at=datetime.combine(ago(5), datetime.min.time()),
                   now=NOW)
        if outcome:
            b.call(risk.record_risk_steps, "cm1", r.id, safety_assessment_done=True, clinician_notified=True)
            b.call(risk.record_risk_outcome, "doc1", r.id, "No current risk; safety plan reviewed",
                   step_reasons={"after_hours_routing_used": "Office hours", "safety_plan_done": "No risk found"},
                   now=NOW)
    return go


def _referral(days: int, status: str | None = None):  # type: ignore[no-untyped-def]
    def go(b, e):  # type: ignore[no-untyped-def]
        r = b.call(referrals.add_referral, "cm1", e, to_whom="Psychology", reason="CBT", referred_on=ago(days), now=NOW)
        if status == "seen":
            b.call(referrals.update_referral, "cm1", r.id, status="seen", seen_confirmed_on=TODAY, now=NOW)
    return go


def _next_action(on: date):  # type: ignore[no-untyped-def]
    def go(b, e):  # type: ignore[no-untyped-def]
        b.call(contacts.set_next_action, "cm1", e, "Call back", on)
    return go


CASES = [
    # (id, scenario kwargs, flag, expected)
    ("safety: last PHQ-9 item 9 = 1", dict(measures=((10, 12, 1),)), Flag.SAFETY, True),
    ("safety: item 9 = 0 but risk event open", dict(extra=_risk(False)), Flag.SAFETY, True),
    ("safety: risk outcome documented", dict(extra=_risk(True)), Flag.SAFETY, False),
    ("safety: old item 9 > 0 superseded by a later 0, its risk closed",
     dict(measures=((20, 14, 2), (10, 12, 0)),
          extra=lambda b, e: [(b.call(risk.record_risk_steps, "cm1", r.id, safety_assessment_done=True,
                                      clinician_notified=True),
                               b.call(risk.record_risk_outcome, "doc1", r.id, "Safe", now=NOW,
                                      step_reasons={"after_hours_routing_used": "Office hours",
                                                    "safety_plan_done": "No risk found"}))
                              for r in b.call(lambda s, a: __import__("cocm_desktop.services.chart", fromlist=["x"])
                                              .open_chart(s, a, episode_id=e, today=TODAY).open_risk, "cm1")]),
     Flag.SAFETY, False),
    ("contact: last successful 14 days ago", dict(contact_days=14), Flag.CONTACT_OVERDUE, False),
    ("contact: last successful 15 days ago", dict(contact_days=15), Flag.CONTACT_OVERDUE, True),
    ("measure: last 28 days ago", dict(measures=((28, 12, 0),)), Flag.MEASURE_DUE, False),
    ("measure: last 29 days ago", dict(measures=((29, 12, 0),)), Flag.MEASURE_DUE, True),
    ("not improving: 9 weeks 6 days", dict(enrolled=69, baseline=20, measures=((5, 11, 0),), reviewed=None),
     Flag.NOT_IMPROVING, False),
    ("not improving: 10 weeks, 45 %", dict(enrolled=70, baseline=20, measures=((5, 11, 0),), reviewed=None),
     Flag.NOT_IMPROVING, True),
    ("not improving: 10 weeks, 50 % = response", dict(enrolled=70, baseline=20, measures=((5, 10, 0),),
                                                      reviewed=None), Flag.NOT_IMPROVING, False),
    ("not improving: 23 → 12 is 47.8 %", dict(enrolled=70, baseline=23, measures=((5, 12, 0),), reviewed=None),
     Flag.NOT_IMPROVING, True),
    ("not improving: 23 → 11 is 52.2 %", dict(enrolled=70, baseline=23, measures=((5, 11, 0),), reviewed=None),
     Flag.NOT_IMPROVING, False),
    ("not improving: reviewed 28 days ago", dict(enrolled=80, baseline=20, measures=((5, 11, 0),), reviewed=28),
     Flag.NOT_IMPROVING, False),
    ("not improving: reviewed 29 days ago", dict(enrolled=80, baseline=20, measures=((5, 11, 0),), reviewed=29),
     Flag.NOT_IMPROVING, True),
    ("new: enrolled 14 days ago, never reviewed", dict(enrolled=14, measures=(), reviewed=None),
     Flag.NEW_NOT_REVIEWED, False),
    ("new: enrolled 15 days ago, never reviewed", dict(enrolled=15, measures=(), reviewed=None),
     Flag.NEW_NOT_REVIEWED, True),
    ("recommendation awaiting approval 3 days", dict(extra=_rec(3)), Flag.RECOMMENDATION_WAITING, False),
    ("recommendation awaiting approval 4 days", dict(extra=_rec(4)), Flag.RECOMMENDATION_WAITING, True),
    ("approved, not told for 4 days", dict(extra=_rec(4, "approved")), Flag.RECOMMENDATION_WAITING, True),
    ("approved and told", dict(extra=_rec(4, "told")), Flag.RECOMMENDATION_WAITING, False),
    ("next action due today", dict(extra=_next_action(TODAY)), Flag.NEXT_ACTION_OVERDUE, False),
    ("next action due yesterday", dict(extra=_next_action(ago(1))), Flag.NEXT_ACTION_OVERDUE, True),
    ("missing: no care plan", dict(care_plan=False), Flag.MISSING_ELEMENT, True),
    ("missing: baseline on day 14", dict(baseline_day=14), Flag.MISSING_ELEMENT, False),
    ("missing: first score on day 15 is no baseline", dict(baseline_day=15), Flag.MISSING_ELEMENT, True),
    ("lag: entered 2 days after", dict(lag=2), Flag.REGISTRY_LAG, False),
    ("lag: entered 3 days after", dict(lag=3), Flag.REGISTRY_LAG, True),
    ("referral 30 days, not seen", dict(extra=_referral(30)), Flag.REFERRAL_UNCONFIRMED, False),
    ("referral 31 days, not seen", dict(extra=_referral(31)), Flag.REFERRAL_UNCONFIRMED, True),
    ("referral 31 days, seen", dict(extra=_referral(31, "seen")), Flag.REFERRAL_UNCONFIRMED, False),
    ("disengaged: 3 failed, last contact 31 days", dict(contact_days=31, extra=_failed(3)), Flag.DISENGAGED, True),
    ("disengaged: 2 failed, last contact 31 days", dict(contact_days=31, extra=_failed(2)), Flag.DISENGAGED, False),
    ("disengaged: 3 failed, last contact 30 days", dict(contact_days=30, extra=_failed(3)), Flag.DISENGAGED, False),
    ("step-down: PHQ-9 4 and 4, 28 days apart", dict(measures=((33, 4, 0), (5, 4, 0))), Flag.STEPDOWN_CANDIDATE, True),
    ("step-down: PHQ-9 5 then 4", dict(measures=((33, 5, 0), (5, 4, 0))), Flag.STEPDOWN_CANDIDATE, False),
    ("step-down: 27 days apart", dict(measures=((32, 4, 0), (5, 4, 0))), Flag.STEPDOWN_CANDIDATE, False),
]


def test_healthy_episode_has_no_flag(build) -> None:  # type: ignore[no-untyped-def]
    scenario(build)
    (row,) = rows(build)
    assert row.flags == ()


@pytest.mark.parametrize(("kw", "flag", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_flag(build, kw, flag: Flag, expected: bool) -> None:  # type: ignore[no-untyped-def]
    scenario(build, **kw)
    (row,) = rows(build)
    assert row.has(flag) is expected, [h.reason for h in row.flags]
    if expected:
        assert next(h for h in row.flags if h.flag is flag).reason  # a readable tooltip


def test_row_columns(build) -> None:  # type: ignore[no-untyped-def]
    e = scenario(build, enrolled=40, baseline=16, measures=((10, 7, 0),), contact_days=3)
    build.measure(e, ago(39), 12, instrument="GAD-7")
    build.measure(e, ago(9), 9, instrument="GAD-7")
    build.measure(e, ago(45), 20)  # a screening before enrollment never counts
    build.contact(e, ago(2), minutes=25, entered=NOW)
    (r,) = rows(build)
    assert (r.patient_name, r.care_manager, r.clinician) == ("Doe, Jane", "Casey Morgan", "Dr. Daniel Okafor")
    assert (r.program, r.status, r.weeks, r.primary_scale) == ("cocm", "active", 5, "PHQ-9")
    assert (r.phq9_baseline, r.phq9_baseline_on, r.phq9_last, r.phq9_last_on) == (16, ago(40), 7, ago(10))
    assert r.phq9_change_text == "\u221256 %"
    assert (r.gad7_baseline, r.gad7_last, r.gad7_change_text) == (12, 9, "\u221225 %")
    assert r.last_contact_on == ago(2)
    assert r.last_case_review_on == ago(7)
    assert r.next_action == "Call again" and r.next_action_on == TODAY + timedelta(days=7)
    assert r.minutes_this_month == 25 and r.next_code == "99492" and r.minutes_to_next_code == 11
    assert "99492" in r.billing_label


def test_filters(build) -> None:  # type: ignore[no-untyped-def]
    a = build.episode(ago(40), baseline=10, cm="cm1", family="Alpha")
    b = build.episode(ago(40), baseline=10, cm="cm2", family="Bravo")
    build.care_plan(a)
    build.contact(a, TODAY, entered=NOW)
    build.measure(a, ago(1), 9)
    review(build, a, ago(3))
    review(build, b, ago(3))
    build.care_plan(b)
    build.contact(b, TODAY, entered=NOW)
    build.measure(b, ago(1), 10, item9=1)
    assert [r.episode_id for r in rows(build)] == [a, b]
    assert [r.episode_id for r in rows(build, care_manager_id=build.actors["cm2"].user_id)] == [b]
    assert [r.episode_id for r in rows(build, flagged_only=True)] == [b]
    assert [r.episode_id for r in rows(build, text="brav")] == [b]
    assert [r.episode_id for r in rows(build, text="riley")] == [b]  # care manager's name
    assert [r.episode_id for r in rows(build, status="enrolled")] == []
    assert len(rows(build, status=["active", "enrolled"])) == 2


def test_closed_episode_leaves_registry_transfer_stays_until_confirmed(build) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services import episodes

    e = build.episode(ago(40), baseline=10)
    build.call(episodes.request_transfer, "cm1", e, "Specialty clinic")
    (r,) = rows(build)
    assert r.transfer_to == "Specialty clinic"
    build.call(episodes.confirm_transfer, "cm1", e, TODAY, now=NOW)
    assert rows(build) == []
