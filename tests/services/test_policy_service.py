"""Clinic policy service: clinic lead only, validated as a whole, stored as changes from the
defaults, audited with before/after, and used by the rules at once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cocm_desktop.domain.policy import DEFAULT_POLICY, policy_fields
from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.services.common import POLICY_KEY, ValidationError, load_policy
from cocm_desktop.services.policy import get_policy, update_policy
from cocm_desktop.store.audit import verify_chain
from cocm_desktop.store.models import AuditRecord, ClinicSetting


def _audit_count(db) -> int:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditRecord))


def _stored(db):  # type: ignore[no-untyped-def]
    with db.session() as s:
        row = s.get(ClinicSetting, POLICY_KEY)
        return None if row is None else dict(row.value)


def test_everyone_reads_the_defaults_of_a_new_clinic(clinic, actors) -> None:  # type: ignore[no-untyped-def]
    for name in ("lead", "cm1", "doc1", "psych"):
        with clinic.session() as s:
            assert get_policy(s, actors[name]) == DEFAULT_POLICY


def test_lead_changes_a_value_which_is_stored_audited_and_used(clinic, actors) -> None:  # type: ignore[no-untyped-def]
    before = _audit_count(clinic)
    with clinic.session() as s:
        new = update_policy(s, actors["lead"], {"idle_lock_minutes": 5, "early_contact_days": 10})
    assert new.idle_lock_minutes == 5 and new.early_contact_days == 10
    assert new.response_percent == DEFAULT_POLICY.response_percent  # untouched keep their value
    assert _stored(clinic) == {"idle_lock_minutes": 5, "early_contact_days": 10}  # only differences
    with clinic.session() as s:
        assert load_policy(s) == new  # what every rule reads
        rows = s.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).all()
        assert verify_chain(s).ok
    assert _audit_count(clinic) == before + 1
    rec = rows[0]
    assert rec.action == "policy.update" and rec.username == "lead" and rec.patient_id is None
    assert rec.detail["changed"] == {"idle_lock_minutes": {"before": 10, "after": 5},
                                     "early_contact_days": {"before": 14, "after": 10}}
    assert "Idle lock 10 → 5" in rec.summary


def test_setting_a_value_back_to_its_default_drops_it_from_storage(clinic, actors) -> None:  # type: ignore[no-untyped-def]
    with clinic.session() as s:
        update_policy(s, actors["lead"], {"idle_lock_minutes": 5, "registry_lag_days": 4})
    with clinic.session() as s:
        update_policy(s, actors["lead"], {"idle_lock_minutes": 10})
    assert _stored(clinic) == {"registry_lag_days": 4}


def test_no_change_writes_nothing(clinic, actors) -> None:  # type: ignore[no-untyped-def]
    before = _audit_count(clinic)
    with clinic.session() as s:
        assert update_policy(s, actors["lead"], {"idle_lock_minutes": 10}) == DEFAULT_POLICY
    assert _audit_count(clinic) == before and _stored(clinic) in (None, {})


@pytest.mark.parametrize("user", ["cm1", "doc1", "psych"])
def test_only_the_clinic_lead_may_change_policy(clinic, actors, user) -> None:  # type: ignore[no-untyped-def]
    before = _audit_count(clinic)
    with pytest.raises(PermissionDenied), clinic.session() as s:
        update_policy(s, actors[user], {"idle_lock_minutes": 5})
    assert _audit_count(clinic) == before and _stored(clinic) in (None, {})


FIELDS = {f.name: f for f in policy_fields()}


@pytest.mark.parametrize(("values", "message"), [
    ({"idle_lock_minutes": FIELDS["idle_lock_minutes"].minimum - 1}, "Idle lock must be between 1 and 60"),
    ({"idle_lock_minutes": FIELDS["idle_lock_minutes"].maximum + 1}, "Idle lock must be between 1 and 60"),
    ({"partial_response_percent": 50}, "Partial response must be a smaller reduction than response"),
    ({"early_measure_min_days": 29}, "'measure from' cannot be later than 'measure due'"),
    ({"quality_outcome_min_weeks": 30}, "the first week cannot be after the last week"),
    ({"idle_lock_minutes": "5"}, "Idle lock must be a whole number"),
    ({"idle_lock_minutes": 5.0}, "Idle lock must be a whole number"),
    ({"idle_lock_minutes": True}, "Idle lock must be a whole number"),
    ({"idle_lock": 5}, "Unknown policy setting: idle_lock"),
])
def test_bad_values_are_refused_with_the_setting_named_and_nothing_written(clinic, actors, values, message) -> None:  # type: ignore[no-untyped-def]
    before = _audit_count(clinic)
    with pytest.raises(ValidationError) as err, clinic.session() as s:
        update_policy(s, actors["lead"], values)
    assert message in str(err.value)
    assert _audit_count(clinic) == before and _stored(clinic) in (None, {})


@pytest.mark.parametrize("name", ["idle_lock_minutes", "registry_lag_days", "disengaged_days"])
def test_range_boundaries_are_accepted(clinic, actors, name) -> None:  # type: ignore[no-untyped-def]
    f = FIELDS[name]
    for value in (f.minimum, f.maximum):
        with clinic.session() as s:
            assert getattr(update_policy(s, actors["lead"], {name: value}), name) == value


def test_a_cross_field_change_made_together_is_accepted(clinic, actors) -> None:  # type: ignore[no-untyped-def]
    # 60 % response and 55 % partial only make sense together: one update, validated as a whole.
    with clinic.session() as s:
        new = update_policy(s, actors["lead"], {"response_percent": 60, "partial_response_percent": 55})
    assert (new.response_percent, new.partial_response_percent) == (60, 55)
