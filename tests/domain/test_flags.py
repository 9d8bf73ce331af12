from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocm_desktop.domain.flags import (
    EpisodeFacts,
    Flag,
    FlagHit,
    compute_flags,
    compute_flags_many,
    phase_of,
    registry_lag_days,
)
from cocm_desktop.domain.policy import DEFAULT_POLICY, Policy
from cocm_desktop.domain.schedule import is_overdue, next_contact_due, next_measure_due

TODAY = date(2026, 11, 24)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


# An episode that raises no flag at all; every case below changes only what it tests.
QUIET = EpisodeFacts(
    enrolled_on=ago(23),
    status="active",
    baseline_total=20,
    baseline_on=ago(23),
    latest_total=15,
    latest_on=ago(3),
    last_phq9_item9=0,
    last_phq9_on=ago(3),
    last_contact_on=ago(2),
    next_action_on=TODAY + timedelta(days=3),
    last_case_review_on=ago(7),
    has_consent=True,
    has_care_plan=True,
    max_registry_lag_days=0,
)
# Response held on two follow-up measures → stable cadence.
STABLE = dataclasses.replace(QUIET, enrolled_on=ago(60), baseline_on=ago(60), previous_total=9, previous_on=ago(20),
                             latest_total=8)
RELAPSE = dataclasses.replace(QUIET, status="relapse_prevention")
LONG = dataclasses.replace(QUIET, enrolled_on=ago(70), baseline_on=ago(70), last_case_review_on=None)


def flags_of(facts: EpisodeFacts, policy: Policy = DEFAULT_POLICY) -> set[Flag]:
    return {hit.flag for hit in compute_flags(facts, TODAY, policy)}


def test_quiet_episode_has_no_flags():
    assert compute_flags(QUIET, TODAY) == []
    assert compute_flags(STABLE, TODAY) == []
    assert compute_flags(RELAPSE, TODAY) == []


CASES = [
    # (flag, base, changes, expected)
    (Flag.SAFETY, QUIET, {"last_phq9_item9": 1}, True),
    (Flag.SAFETY, QUIET, {"last_phq9_item9": 0}, False),
    (Flag.SAFETY, QUIET, {"last_phq9_item9": None}, False),
    (Flag.SAFETY, QUIET, {"open_risk_since": ago(40)}, True),
    # contact overdue: early every 14 days, stable and relapse prevention every 30
    (Flag.CONTACT_OVERDUE, QUIET, {"last_contact_on": ago(14)}, False),
    (Flag.CONTACT_OVERDUE, QUIET, {"last_contact_on": ago(15)}, True),
    (Flag.CONTACT_OVERDUE, STABLE, {"last_contact_on": ago(30)}, False),
    (Flag.CONTACT_OVERDUE, STABLE, {"last_contact_on": ago(31)}, True),
    (Flag.CONTACT_OVERDUE, RELAPSE, {"last_contact_on": ago(30)}, False),
    (Flag.CONTACT_OVERDUE, RELAPSE, {"last_contact_on": ago(31)}, True),
    (Flag.CONTACT_OVERDUE, QUIET, {"last_contact_on": None, "enrolled_on": ago(14)}, False),
    (Flag.CONTACT_OVERDUE, QUIET, {"last_contact_on": None, "enrolled_on": ago(15)}, True),
    # previous measure that *is* the baseline does not make the phase stable
    (Flag.CONTACT_OVERDUE, QUIET, {"latest_total": 8, "previous_total": 9, "previous_on": ago(23),
                                   "last_contact_on": ago(20)}, True),
    # measure due: early 28, stable 56, relapse prevention 56; no measure → baseline window 14
    (Flag.MEASURE_DUE, QUIET, {"latest_on": ago(28)}, False),
    (Flag.MEASURE_DUE, QUIET, {"latest_on": ago(29)}, True),
    (Flag.MEASURE_DUE, STABLE, {"latest_on": ago(56), "previous_on": ago(58)}, False),
    (Flag.MEASURE_DUE, STABLE, {"latest_on": ago(57), "previous_on": ago(58)}, True),
    (Flag.MEASURE_DUE, RELAPSE, {"latest_on": ago(56)}, False),
    (Flag.MEASURE_DUE, RELAPSE, {"latest_on": ago(57)}, True),
    (Flag.MEASURE_DUE, QUIET, {"latest_on": None, "latest_total": None, "enrolled_on": ago(14)}, False),
    (Flag.MEASURE_DUE, QUIET, {"latest_on": None, "latest_total": None, "enrolled_on": ago(15)}, True),
    # not improving: ≥ 10 weeks, no response, not reviewed in the last 28 days
    (Flag.NOT_IMPROVING, LONG, {"enrolled_on": ago(69)}, False),  # 9 weeks 6 days
    (Flag.NOT_IMPROVING, LONG, {}, True),  # 10 weeks
    (Flag.NOT_IMPROVING, LONG, {"latest_total": 10}, False),  # exactly 50 %: response
    (Flag.NOT_IMPROVING, LONG, {"latest_total": 11}, True),  # 45 %
    (Flag.NOT_IMPROVING, LONG, {"latest_total": 4}, False),  # remission
    (Flag.NOT_IMPROVING, LONG, {"last_case_review_on": ago(28)}, False),
    (Flag.NOT_IMPROVING, LONG, {"last_case_review_on": ago(29)}, True),
    (Flag.NOT_IMPROVING, LONG, {"baseline_total": None, "baseline_on": None}, True),
    # new, not reviewed: enrolled more than 14 days ago, never reviewed, CoCM only
    (Flag.NEW_NOT_REVIEWED, QUIET, {"last_case_review_on": None, "enrolled_on": ago(14)}, False),
    (Flag.NEW_NOT_REVIEWED, QUIET, {"last_case_review_on": None, "enrolled_on": ago(15)}, True),
    (Flag.NEW_NOT_REVIEWED, QUIET, {"last_case_review_on": ago(1), "enrolled_on": ago(15)}, False),
    (Flag.NEW_NOT_REVIEWED, QUIET, {"last_case_review_on": None, "enrolled_on": ago(40), "program": "bhi"}, False),
    # recommendation waiting: more than 3 days
    (Flag.RECOMMENDATION_WAITING, QUIET, {"awaiting_approval_since": ago(3)}, False),
    (Flag.RECOMMENDATION_WAITING, QUIET, {"awaiting_approval_since": ago(4)}, True),
    (Flag.RECOMMENDATION_WAITING, QUIET, {"approved_not_told_since": ago(3)}, False),
    (Flag.RECOMMENDATION_WAITING, QUIET, {"approved_not_told_since": ago(4)}, True),
    # next action overdue: its date has passed
    (Flag.NEXT_ACTION_OVERDUE, QUIET, {"next_action_on": TODAY}, False),
    (Flag.NEXT_ACTION_OVERDUE, QUIET, {"next_action_on": ago(1)}, True),
    (Flag.NEXT_ACTION_OVERDUE, QUIET, {"next_action_on": None}, False),
    # missing element
    (Flag.MISSING_ELEMENT, QUIET, {"has_consent": False}, True),
    (Flag.MISSING_ELEMENT, QUIET, {"has_care_plan": False}, True),
    (Flag.MISSING_ELEMENT, QUIET, {"baseline_total": None, "baseline_on": None}, True),
    # registry lag: more than 2 days
    (Flag.REGISTRY_LAG, QUIET, {"max_registry_lag_days": 2}, False),
    (Flag.REGISTRY_LAG, QUIET, {"max_registry_lag_days": 3}, True),
    (Flag.REGISTRY_LAG, QUIET, {"max_registry_lag_days": None}, False),
    # referral unconfirmed: older than 30 days
    (Flag.REFERRAL_UNCONFIRMED, QUIET, {"oldest_unconfirmed_referral_on": ago(30)}, False),
    (Flag.REFERRAL_UNCONFIRMED, QUIET, {"oldest_unconfirmed_referral_on": ago(31)}, True),
    # disengaged: ≥ 3 failed attempts and no successful contact in 30 days
    (Flag.DISENGAGED, QUIET, {"failed_attempts_since_contact": 3, "last_contact_on": ago(30)}, False),
    (Flag.DISENGAGED, QUIET, {"failed_attempts_since_contact": 3, "last_contact_on": ago(31)}, True),
    (Flag.DISENGAGED, QUIET, {"failed_attempts_since_contact": 2, "last_contact_on": ago(60)}, False),
    (Flag.DISENGAGED, QUIET, {"failed_attempts_since_contact": 4, "last_contact_on": None,
                              "enrolled_on": ago(31)}, True),
    # step-down candidate: remission on two measures ≥ 28 days apart
    (Flag.STEPDOWN_CANDIDATE, STABLE, {"latest_total": 3, "latest_on": ago(1), "previous_total": 4,
                                       "previous_on": ago(29)}, True),
    (Flag.STEPDOWN_CANDIDATE, STABLE, {"latest_total": 3, "latest_on": ago(1), "previous_total": 4,
                                       "previous_on": ago(28)}, False),
    (Flag.STEPDOWN_CANDIDATE, STABLE, {"latest_total": 3, "latest_on": ago(1), "previous_total": 5,
                                       "previous_on": ago(40)}, False),
    (Flag.STEPDOWN_CANDIDATE, STABLE, {"latest_total": 3, "latest_on": ago(1), "previous_total": 2,
                                       "previous_on": ago(10), "remission_since": ago(29)}, True),
    (Flag.STEPDOWN_CANDIDATE, RELAPSE, {"latest_total": 3, "latest_on": ago(1), "previous_total": 2,
                                        "previous_on": ago(40)}, False),
]


@pytest.mark.parametrize(("flag", "base", "changes", "expected"), CASES,
                         ids=[f"{c[0].value}-{n}" for n, c in enumerate(CASES)])
def test_flag_thresholds(flag, base, changes, expected):
    assert (flag in flags_of(dataclasses.replace(base, **changes))) is expected


def test_every_flag_has_a_boundary_case():
    assert {c[0] for c in CASES if c[3]} == set(Flag)


def test_thresholds_follow_policy():
    p = Policy(registry_lag_days=5, referral_unconfirmed_days=60, early_contact_days=7)
    f = dataclasses.replace(QUIET, max_registry_lag_days=4, oldest_unconfirmed_referral_on=ago(45), last_contact_on=ago(8))
    assert flags_of(f, p) == {Flag.CONTACT_OVERDUE}


@pytest.mark.parametrize(
    ("changes", "flag", "reason"),
    [
        ({"last_phq9_item9": 2, "last_phq9_on": date(2026, 11, 2)}, Flag.SAFETY, "Last PHQ-9 item 9 = 2 on 2026-11-02"),
        ({"last_phq9_item9": 1, "last_phq9_on": date(2026, 11, 2), "open_risk_since": date(2026, 11, 2)}, Flag.SAFETY,
         "Last PHQ-9 item 9 = 1 on 2026-11-02; Risk event of 2026-11-02 has no documented outcome"),
        ({"last_contact_on": date(2026, 11, 1)}, Flag.CONTACT_OVERDUE,
         "No successful contact since 2026-11-01; early cadence is every 14 days"),
        ({"has_consent": False, "baseline_total": None}, Flag.MISSING_ELEMENT, "Missing: consent, baseline PHQ-9"),
        ({"next_action_on": date(2026, 11, 20)}, Flag.NEXT_ACTION_OVERDUE, "Next action was due 2026-11-20"),
        ({"max_registry_lag_days": 5, "lagged_contact_on": date(2026, 11, 10)}, Flag.REGISTRY_LAG,
         "A contact on 2026-11-10 was entered 5 days after it happened"),
        ({"oldest_unconfirmed_referral_on": date(2026, 10, 1)}, Flag.REFERRAL_UNCONFIRMED,
         "Referral of 2026-10-01 not confirmed seen after 54 days"),
        ({"awaiting_approval_since": date(2026, 11, 17)}, Flag.RECOMMENDATION_WAITING,
         "Recommendation awaiting clinician approval since 2026-11-17"),
    ],
)
def test_reasons_are_plain_sentences(changes, flag, reason):
    hits = {h.flag: h for h in compute_flags(dataclasses.replace(QUIET, **changes), TODAY)}
    assert hits[flag].reason == reason


def test_not_improving_and_new_reasons():
    hits = {h.flag: h.reason for h in compute_flags(LONG, TODAY)}
    assert hits[Flag.NOT_IMPROVING] == "10 weeks in treatment without response (PHQ-9 20 → 15); never reviewed"
    assert hits[Flag.NEW_NOT_REVIEWED] == "Enrolled 2026-09-15 (70 days ago) and never discussed at case review"


def test_hits_come_in_flag_order_and_closed_episodes_have_none():
    everything = dataclasses.replace(
        LONG, last_phq9_item9=3, last_contact_on=ago(40), latest_on=ago(40), awaiting_approval_since=ago(9),
        next_action_on=ago(2), has_consent=False, max_registry_lag_days=9, oldest_unconfirmed_referral_on=ago(99),
        failed_attempts_since_contact=5,
    )
    hits = compute_flags(everything, TODAY)
    assert [h.flag for h in hits] == [f for f in Flag if f is not Flag.STEPDOWN_CANDIDATE]
    assert all(h.reason for h in hits)
    assert compute_flags(dataclasses.replace(everything, status="closed"), TODAY) == []


def test_flag_chip_data():
    assert len(Flag) == 12
    for f in Flag:
        assert f.label and f.description
        assert len(f.colour) == 7 and f.colour.startswith("#")
        int(f.colour[1:], 16)
    assert Flag.DISENGAGED.label == "Disengaged?"


def test_flag_hit_equality_and_repr():
    assert FlagHit(Flag.SAFETY, "x") == FlagHit(Flag.SAFETY, "x") != FlagHit(Flag.SAFETY, "y")
    assert "safety" in repr(FlagHit(Flag.SAFETY, "x"))
    with pytest.raises(ValueError):
        FlagHit(Flag.SAFETY)


@pytest.mark.parametrize(("contact", "entered", "lag"), [
    (date(2026, 11, 10), date(2026, 11, 10), 0), (date(2026, 11, 10), date(2026, 11, 13), 3),
])
def test_registry_lag_days(contact, entered, lag):
    assert registry_lag_days(contact, entered) == lag


facts_strategy = st.builds(
    EpisodeFacts,
    enrolled_on=st.integers(0, 400).map(ago),
    status=st.sampled_from(["enrolled", "active", "relapse_prevention"]),
    baseline_total=st.one_of(st.none(), st.integers(0, 27)),
    baseline_on=st.just(ago(400)),
    latest_total=st.integers(0, 27),
    latest_on=st.integers(0, 120).map(ago),
    previous_total=st.one_of(st.none(), st.integers(0, 27)),
    previous_on=st.integers(121, 200).map(ago),
    last_contact_on=st.one_of(st.none(), st.integers(0, 90).map(ago)),
)


@given(facts_strategy)
def test_property_cadence_flags_agree_with_schedule(facts):
    """The inlined cadence in compute_flags must match schedule.py's due dates."""
    phase = phase_of(facts)
    got = flags_of(facts)
    contact_due = next_contact_due(phase, facts.last_contact_on, facts.enrolled_on)
    measure_due = next_measure_due(phase, facts.latest_on, facts.enrolled_on)
    assert (Flag.CONTACT_OVERDUE in got) == is_overdue(contact_due, TODAY)
    assert (Flag.MEASURE_DUE in got) == is_overdue(measure_due, TODAY)


def test_batch_gives_the_same_flags_as_one_row_at_a_time():
    """The registry uses the batch call (speed is measured in tests/benchmarks, not here)."""
    rows = []
    for n in range(10_000):
        rows.append(dataclasses.replace(
            QUIET,
            enrolled_on=ago(n % 300),
            latest_total=n % 28,
            latest_on=ago(n % 60),
            previous_total=(n * 7) % 28,
            previous_on=ago(61 + n % 30),
            last_phq9_item9=n % 4 == 0 and 1 or 0,
            last_contact_on=ago(n % 45),
            failed_attempts_since_contact=n % 5,
            next_action_on=ago(n % 20 - 10),
            has_care_plan=n % 5 != 0,
            max_registry_lag_days=n % 4,
            last_case_review_on=None if n % 3 else ago(n % 50),
        ))
    result = compute_flags_many(rows, TODAY)
    assert len(result) == 10_000 and sum(map(len, result)) > 10_000
    for row, hits in zip(rows[::97], result[::97], strict=True):
        single = compute_flags(row, TODAY)
        assert [(h.flag, h.reason) for h in hits] == [(h.flag, h.reason) for h in single]


def test_waiting_reason_names_only_the_overdue_step():
    facts = dataclasses.replace(QUIET, awaiting_approval_since=ago(1), approved_not_told_since=ago(5))
    (hit,) = [h for h in compute_flags(facts, TODAY) if h.flag is Flag.RECOMMENDATION_WAITING]
    assert hit.reason == f"Approved recommendation not yet told to the patient since {ago(5)}"


def test_batch_restores_garbage_collector_state():
    import gc

    assert gc.isenabled()
    compute_flags_many([QUIET], TODAY)
    assert gc.isenabled()
    gc.disable()
    try:
        compute_flags_many([QUIET], TODAY)
        assert not gc.isenabled()
    finally:
        gc.enable()


maybe_day = st.one_of(st.none(), st.integers(-10, 500).map(ago))
maybe_total = st.one_of(st.none(), st.integers(0, 27))
any_facts = st.builds(
    EpisodeFacts,
    enrolled_on=st.integers(0, 500).map(ago),
    status=st.sampled_from(["enrolled", "active", "relapse_prevention", "closed"]),
    program=st.sampled_from(["cocm", "bhi"]),
    primary_scale=st.sampled_from(["PHQ-9", "GAD-7"]),
    baseline_total=maybe_total, baseline_on=maybe_day, latest_total=maybe_total, latest_on=maybe_day,
    previous_total=maybe_total, previous_on=maybe_day, remission_since=maybe_day,
    last_phq9_item9=st.one_of(st.none(), st.integers(0, 3)), last_phq9_on=maybe_day, open_risk_since=maybe_day,
    last_contact_on=maybe_day, failed_attempts_since_contact=st.integers(0, 9), next_action_on=maybe_day,
    last_case_review_on=maybe_day, awaiting_approval_since=maybe_day, approved_not_told_since=maybe_day,
    has_consent=st.booleans(), has_care_plan=st.booleans(), max_registry_lag_days=st.one_of(st.none(), st.integers(0, 9)),
    lagged_contact_on=maybe_day, oldest_unconfirmed_referral_on=maybe_day,
)


@given(any_facts)
def test_property_any_facts_give_ordered_flags_with_sentences(facts):
    hits = compute_flags(facts, TODAY)
    order = list(Flag)
    assert [order.index(h.flag) for h in hits] == sorted({order.index(h.flag) for h in hits})
    assert all(h.reason and "None" not in h.reason for h in hits)
    if facts.status == "closed":
        assert hits == []
