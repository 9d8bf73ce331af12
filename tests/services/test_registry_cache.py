"""The registry's fact cache (`registry_facts`) on the demo clinic: it is used, it is filled, and
after every kind of write the cached registry equals a registry computed afresh.

Each write case changes something the registry shows for one patient; the test checks that the
write deleted that patient's cached row in its own transaction, that the row really changed, and
that the whole cached registry equals `collect(..., cached=False)`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from cocm_desktop.domain.actor import Actor
from cocm_desktop.services import (
    care_plans,
    case_review,
    contacts,
    episodes,
    measures,
    payer_rules,
    policy,
    referrals,
    risk,
    time_log,
    users,
)
from cocm_desktop.services.registry import collect
from cocm_desktop.services.registry_facts import lag_facts
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import RegistryFacts, User

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 15, 0)


@pytest.fixture
def demo(demo_path) -> Database:  # type: ignore[no-untyped-def]
    db = Database.open(demo_path, "lead", "demo")
    yield db  # type: ignore[misc]
    db.close()


def actor(db: Database, username: str) -> Actor:
    with db.session() as s:
        u = s.scalars(select(User).where(User.username == username)).one()
        return Actor(u.id, u.username, u.display_name, u.role)


def registry(db: Database, today: date = TODAY, cached: bool = True) -> dict[int, tuple]:  # type: ignore[type-arg]
    with db.session() as s:
        return {r.episode_id: (r, r.facts, x) for r, x in collect(s, today=today, cached=cached)}


def cached_episodes(db: Database) -> set[int]:
    with db.session() as s:
        return set(s.scalars(select(RegistryFacts.episode_id)))


def assert_cache_true(db: Database, today: date = TODAY) -> dict[int, tuple]:  # type: ignore[type-arg]
    cached = registry(db, today)
    fresh = registry(db, today, cached=False)
    assert list(cached) == list(fresh)
    for eid in fresh:
        assert cached[eid] == fresh[eid], f"episode {eid}: cached row differs from a fresh one"
    return cached


def test_first_read_fills_the_cache_and_later_reads_use_it(demo: Database) -> None:
    with demo.session() as s:
        s.execute(RegistryFacts.__table__.delete())
    first = registry(demo)
    assert cached_episodes(demo) == set(first)
    eid = next(e for e, (r, _f, _x) in first.items() if r.phq9_last is not None)
    # Tamper with the cache directly (the cache itself never invalidates): the read shows it.
    with demo.session() as s:
        s.execute(update(RegistryFacts).where(RegistryFacts.episode_id == eid).values(phq9_last=27))
    assert registry(demo)[eid][0].phq9_last == 27
    assert registry(demo, cached=False)[eid][0].phq9_last == first[eid][0].phq9_last


def test_signing_in_and_the_audit_trail_keep_the_cache(demo: Database, demo_path) -> None:  # type: ignore[no-untyped-def]
    before = set(registry(demo))
    demo.close()
    again = Database.open(demo_path, "cm1", "demo")  # a sign-in writes the audit trail
    try:
        assert cached_episodes(again) == before
    finally:
        again.close()


def pick(db: Database, pred: Callable[..., bool] = lambda r: True) -> tuple:  # type: ignore[type-arg]
    rows = registry(db)
    return next((r, f) for r, f, _x in rows.values() if pred(r))


def _call(db: Database, username: str, fn, *args, **kw):  # type: ignore[no-untyped-def]
    who = actor(db, username)
    with db.session() as s:
        return fn(s, who, *args, **kw)


def op_measure_item9(db, r):  # type: ignore[no-untyped-def]
    _call(db, "cm1", measures.record_measure, r.episode_id, "PHQ-9", [2, 2, 2, 2, 2, 2, 2, 2, 1],
          taken_at=NOW - timedelta(hours=2), now=NOW)


def op_contact_reached(db, r):  # type: ignore[no-untyped-def]
    _call(db, "cm1", contacts.record_contact, r.episode_id, contact_at=NOW - timedelta(hours=1), mode="phone",
          kind="follow_up", next_step="Call again", next_step_on=TODAY + timedelta(days=7),
          question_for_consultant="Raise the dose?", now=NOW)


def op_outreach_failed(db, r):  # type: ignore[no-untyped-def]
    _call(db, "cm1", contacts.record_contact, r.episode_id, contact_at=NOW - timedelta(hours=1), mode="phone",
          kind="outreach", reached=False, next_step="Try again", next_step_on=TODAY + timedelta(days=2), now=NOW)


def op_discussed_answers_questions(db, r):  # type: ignore[no-untyped-def]
    op_contact_reached(db, r)
    registry(db)  # cache the row with its open question
    rs = _call(db, "cm1", case_review.create_review_session, session_on=TODAY,
               consultant_id=actor(db, "psych").user_id, today=TODAY)
    item = next((i for i in rs.agenda if i.episode_id == r.episode_id), None)
    if item is None:
        rs = _call(db, "cm1", case_review.add_to_agenda, rs.id, r.episode_id, today=TODAY)
        item = next(i for i in rs.agenda if i.episode_id == r.episode_id)
    _call(db, "psych", case_review.mark_discussed, item.id)  # a bulk UPDATE of contacts


def op_recommendation_loop(db, r):  # type: ignore[no-untyped-def]
    rec = _call(db, "psych", case_review.record_recommendation, r.episode_id, kind="continue", text="Keep going",
                now=NOW - timedelta(hours=3))
    registry(db)
    _call(db, "doc1", case_review.decide_recommendation, rec.id, "approved", now=NOW - timedelta(hours=2))


def op_referral(db, r):  # type: ignore[no-untyped-def]
    _call(db, "cm1", referrals.add_referral, r.episode_id, to_whom="Psychotherapy clinic", reason="CBT",
          referred_on=TODAY - timedelta(days=20), now=NOW)


def op_risk_event(db, r):  # type: ignore[no-untyped-def]
    _call(db, "cm1", risk.open_risk_event, r.episode_id, "statement", "Disclosed passive thoughts",
          opened_at=NOW - timedelta(hours=1), now=NOW)


def op_care_plan(db, r):  # type: ignore[no-untyped-def]
    _call(db, "cm1", care_plans.save_care_plan, r.episode_id, goals="Walk daily",
          relapse_prevention_plan="Warning signs: poor sleep; call the care manager.", now=NOW)


def op_time_entry(db, r):  # type: ignore[no-untyped-def]
    _call(db, "cm1", time_log.add_manual_time, patient_id=r.patient_id, activity="care_coordination", minutes=25,
          local_date=TODAY - timedelta(days=1), now=NOW)


def op_close_episode(db, r):  # type: ignore[no-untyped-def]
    _call(db, "cm1", episodes.change_status, r.episode_id, "closed", reason="moved", on=TODAY, now=NOW)


def op_void_measure(db, r):  # type: ignore[no-untyped-def]
    m = _call(db, "cm1", measures.record_measure, r.episode_id, "PHQ-9", [0] * 9, taken_at=NOW - timedelta(hours=2),
              now=NOW)
    registry(db)  # cache the row with the wrong score
    _call(db, "cm1", measures.void_measure, m.id, reason="Wrong patient", now=NOW)


def op_amend_measure(db, r):  # type: ignore[no-untyped-def]
    m = _call(db, "cm1", measures.record_measure, r.episode_id, "PHQ-9", [0] * 9, taken_at=NOW - timedelta(hours=2),
              now=NOW)
    registry(db)
    _call(db, "cm1", measures.amend_measure, m.id, reason="Answers misread", items=[3] * 8 + [0], now=NOW)


def op_void_contact(db, r):  # type: ignore[no-untyped-def]
    c = _call(db, "cm1", contacts.record_contact, r.episode_id, contact_at=NOW - timedelta(hours=1), mode="phone",
              kind="follow_up", next_step="Call again", next_step_on=TODAY + timedelta(days=7), minutes=30, now=NOW)
    registry(db)
    _call(db, "cm1", contacts.void_contact, c.id, reason="Wrong patient", now=NOW)


def op_amend_time(db, r):  # type: ignore[no-untyped-def]
    views = _call(db, "cm1", time_log.add_manual_time, patient_id=r.patient_id, activity="care_coordination",
                  minutes=25, local_date=TODAY - timedelta(days=1), now=NOW)
    registry(db)
    _call(db, "cm1", time_log.update_time_entry, views[0].id, reason="Was 55 min", minutes=55, now=NOW)


def _open_mine(db: Database) -> Callable[..., bool]:
    cm1 = actor(db, "cm1").user_id
    return lambda r: r.status in ("active", "enrolled") and r.care_manager_id == cm1


def _without_plan(db: Database) -> Callable[..., bool]:
    return lambda r: r.status in ("active", "enrolled") and not r.facts.has_care_plan


# write → which episode it is tried on
WRITES = {
    "PHQ-9 with item 9": (op_measure_item9, _open_mine),
    "reached contact with a question": (op_contact_reached, _open_mine),
    "failed outreach": (op_outreach_failed, _open_mine),
    "case review answers the questions": (op_discussed_answers_questions, _open_mine),
    "recommendation recorded then approved": (op_recommendation_loop, _open_mine),
    "referral sent": (op_referral, _open_mine),
    "risk event opened": (op_risk_event, _open_mine),
    "first care plan saved": (op_care_plan, _without_plan),
    "minutes logged": (op_time_entry, _open_mine),
    "episode closed": (op_close_episode, _open_mine),
    "wrong PHQ-9 voided": (op_void_measure, _open_mine),
    "PHQ-9 answers amended": (op_amend_measure, _open_mine),
    "wrong contact voided": (op_void_contact, _open_mine),
    "minutes amended": (op_amend_time, _open_mine),
}

UNDONE = {"wrong PHQ-9 voided", "wrong contact voided"}


@pytest.mark.parametrize("name", list(WRITES))
def test_every_write_invalidates_its_patient_and_the_cache_stays_true(demo: Database, name: str) -> None:
    write, which = WRITES[name]
    r, _f = pick(demo, which(demo))
    before = registry(demo)
    try:
        write(demo, r)
    except Exception as exc:  # a case that cannot run on this episode is a broken test, say which
        pytest.fail(f"{name}: {exc}")
    after = assert_cache_true(demo)
    if name in UNDONE:  # entered then voided: the facts are what they were, the cache follows both writes
        assert after[r.episode_id][1] == before[r.episode_id][1]
    else:
        changed = r.episode_id not in after or after[r.episode_id] != before[r.episode_id]
        assert changed, f"{name} did not change what the registry shows (the case tests nothing)"
    others = [e for e in before if e in after and e != r.episode_id]
    assert others and all(after[e] == before[e] for e in others[:20])


def test_a_write_deletes_the_patients_row_in_its_own_transaction(demo: Database) -> None:
    r, _f = pick(demo, lambda r: r.status == "active")
    registry(demo)
    assert r.episode_id in cached_episodes(demo)
    op_referral(demo, r)
    cached = cached_episodes(demo)
    assert r.episode_id not in cached and len(cached) > 10  # only that patient went


def test_overlapping_time_of_another_patient_invalidates_both(demo: Database) -> None:
    cm1 = actor(demo, "cm1").user_id
    mine = [r for r, _f, _x in registry(demo).values() if r.care_manager_id == cm1 and r.status == "active"]
    a, b = mine[0], mine[1]
    day = TODAY - timedelta(days=2)
    start = datetime.combine(day, datetime.min.time()).replace(hour=10)
    _call(demo, "cm1", time_log.add_manual_time, patient_id=a.patient_id, activity="care_coordination",
          started_at=start, ended_at=start + timedelta(minutes=40), now=NOW)
    registry(demo)
    assert a.episode_id in cached_episodes(demo)
    _call(demo, "cm1", time_log.add_manual_time, patient_id=b.patient_id, activity="care_coordination",
          started_at=start + timedelta(minutes=20), ended_at=start + timedelta(minutes=60), now=NOW)
    assert a.episode_id not in cached_episodes(demo)
    assert_cache_true(demo)


def test_role_change_and_payer_rules_invalidate_everyone(demo: Database) -> None:
    registry(demo)
    users.change_role(demo, demo.actor, "cm2", role="clinician")
    assert cached_episodes(demo) == set()
    assert_cache_true(demo)
    with demo.session() as s:
        sets = payer_rules.list_rule_sets(s, demo.actor)
        copy = payer_rules.copy_rule_set(s, demo.actor, sets[0].id, "Commercial A")
    registry(demo)
    with demo.session() as s:
        payer_rules.set_default_rule_set(s, demo.actor, copy.id)
    assert cached_episodes(demo) == set()
    assert_cache_true(demo)


def test_policy_change_makes_rows_stale_without_deleting_them(demo: Database) -> None:
    before = registry(demo)
    with demo.session() as s:
        policy.update_policy(s, demo.actor, {"remission_below": 10})
    assert cached_episodes(demo) == set(before)  # kept, but computed under the old threshold
    after = assert_cache_true(demo)
    assert any(after[e][1].remission_since != before[e][1].remission_since for e in before)


def test_new_month_recomputes_billing(demo: Database) -> None:
    registry(demo)
    december = date(2026, 12, 3)
    rows = assert_cache_true(demo, december)
    with demo.session() as s:
        months = set(s.scalars(select(RegistryFacts.billing_month).distinct()))
    assert months == {date(2026, 12, 1)}
    assert all(r.minutes_this_month == 0 for r, _f, _x in rows.values())  # nothing logged in December yet


def test_a_review_dated_later_counts_from_its_day(demo: Database) -> None:
    r, _f = pick(demo, lambda r: r.status == "active")
    later = TODAY + timedelta(days=3)
    rs = _call(demo, "cm1", case_review.create_review_session, session_on=later,
               consultant_id=actor(demo, "psych").user_id, today=TODAY)
    item = next((i for i in rs.agenda if i.episode_id == r.episode_id), None)
    if item is None:
        rs = _call(demo, "cm1", case_review.add_to_agenda, rs.id, r.episode_id, today=TODAY)
        item = next(i for i in rs.agenda if i.episode_id == r.episode_id)
    _call(demo, "psych", case_review.mark_discussed, item.id)
    assert assert_cache_true(demo)[r.episode_id][0].last_case_review_on == r.last_case_review_on
    assert assert_cache_true(demo, later)[r.episode_id][0].last_case_review_on == later


def test_cache_rows_match_a_fresh_registry_after_a_random_day_of_work(demo: Database) -> None:
    rng = random.Random(11)
    rows = [r for r, _f, _x in registry(demo).values() if r.status in ("active", "enrolled")]
    safe = [op_contact_reached, op_outreach_failed, op_referral, op_time_entry, op_measure_item9, op_care_plan]
    for _ in range(12):
        r = rng.choice(rows)
        rng.choice(safe)(demo, r)
        if rng.random() < 0.5:
            registry(demo)  # sometimes read between writes, sometimes not
    rows_now = assert_cache_true(demo)
    with demo.session() as s:
        assert s.scalar(select(func.count()).select_from(RegistryFacts)) == len(rows_now)


# ---- the registry-lag answer from stored exceptions equals ranking every contact -----------

def brute_lag(contacts_: list[tuple[date, int]], cutoff: date) -> tuple[int | None, date | None]:
    """What the registry's window query answers: contacts before the cut-off rank −1."""
    if not contacts_:
        return None, None
    top = max(lag if day >= cutoff else -1 for day, lag in contacts_)
    hits = [day for day, lag in contacts_ if day >= cutoff and lag == top]
    return (top, max(hits)) if hits else (None, None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(-2, 6)), max_size=12), st.integers(0, 60))
def test_lag_facts_equal_ranking_every_contact(raw: list[tuple[int, int]], cut: int) -> None:
    base = date(2026, 9, 1)
    items = [(base + timedelta(days=d), lag) for d, lag in raw]
    cutoff = base + timedelta(days=cut)
    zero = max((d for d, lag in items if lag == 0), default=None)
    lags = tuple((d, lag) for d, lag in sorted(items) if lag != 0) or None
    first = min((d for d, _ in items), default=None)
    assert lag_facts(bool(items), first, zero, lags, cutoff) == brute_lag(items, cutoff)
