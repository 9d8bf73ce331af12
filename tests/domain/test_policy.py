from __future__ import annotations

import dataclasses

import pytest

from cocm_desktop.domain.policy import DEFAULT_POLICY, Policy, login_delay_seconds, policy_fields

SPEC_DEFAULTS = {
    "idle_lock_minutes": 10,
    "baseline_window_days": 14,
    "response_percent": 50,
    "partial_response_percent": 25,
    "remission_below": 5,
    "not_improving_weeks": 10,
    "not_improving_review_window_days": 28,
    "case_review_within_days_when_not_improving": 60,
    "new_not_reviewed_days": 14,
    "early_measure_min_days": 14,
    "early_measure_due_days": 28,
    "early_contact_days": 14,
    "stable_measure_days": 56,
    "stable_contact_days": 30,
    "relapse_prevention_contact_days": 30,
    "recommendation_waiting_days": 3,
    "registry_lag_days": 2,
    "referral_unconfirmed_days": 30,
    "disengaged_attempts": 3,
    "disengaged_days": 30,
    "stepdown_remission_gap_days": 28,
    "failed_login_free_attempts": 5,
    "initiating_visit_lookback_months": 12,
    "quality_outcome_min_weeks": 10,
    "quality_outcome_max_weeks": 24,
    "case_review_session_minutes": 60,  # ~1 hour per care manager per week
    "case_review_minutes_per_patient": 6,  # 5–8 minutes a patient
}


@pytest.mark.parametrize(("name", "value"), sorted(SPEC_DEFAULTS.items()))
def test_spec_defaults(name, value):
    assert getattr(Policy(), name) == value


def test_round_trip_through_key_value_rows():
    custom = dataclasses.replace(DEFAULT_POLICY, response_percent=60, early_contact_days=10)
    rows = {k: str(v) for k, v in custom.to_mapping().items()}  # stored as text rows
    assert Policy.from_mapping(rows) == custom
    assert Policy.from_mapping(custom.to_mapping()) == custom


def test_unknown_keys_ignored_and_missing_keys_default():
    p = Policy.from_mapping({"response_percent": 55, "some_future_setting": 7})
    assert p.response_percent == 55 and p.idle_lock_minutes == 10


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"idle_lock_minutes": 0}, "Idle lock must be between 1 and 60 minutes, got 0"),
        ({"idle_lock_minutes": "ten"}, "Idle lock must be a whole number, got 'ten'"),
        ({"idle_lock_minutes": 10.5}, "Idle lock must be a whole number"),
        ({"idle_lock_minutes": True}, "Idle lock must be a whole number"),
        ({"response_percent": 101}, "Response must be between 1 and 100"),
        ({"response_percent": 25}, "Partial response must be a smaller reduction than response"),
        ({"early_measure_min_days": 30}, "'measure from' cannot be later than 'measure due'"),
        ({"quality_outcome_min_weeks": 30}, "first week cannot be after the last week"),
    ],
)
def test_validation_messages(values, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Policy.from_mapping(values)


def test_policy_fields_list_every_setting_with_label_and_range():
    listed = policy_fields()
    assert [f.name for f in listed] == list(Policy().to_mapping())
    for f in listed:
        assert f.label and f.description and f.unit
        assert f.minimum <= f.default <= f.maximum
        assert DEFAULT_POLICY.label(f.name) == f.label
    with pytest.raises(KeyError):
        DEFAULT_POLICY.label("nope")


def test_policy_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_POLICY.idle_lock_minutes = 5  # type: ignore[misc]


# Five free attempts: after the 5th failure the 6th attempt already waits 2 s, then it doubles.
@pytest.mark.parametrize(("failures", "delay"), [(0, 0), (4, 0), (5, 2), (6, 4), (7, 8), (11, 128), (12, 256),
                                                  (13, 300), (10_000, 300)])
def test_growing_login_delay_after_five_failures(failures, delay):
    assert login_delay_seconds(failures) == delay
