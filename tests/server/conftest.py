"""Fixtures for the clinic server's own tests."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from cocm_desktop.store.server_database import ServerDatabase
from cocm_desktop.store.server_profile import ServerProfile


@pytest.fixture(scope="session")
def service_builders() -> ModuleType:
    """tests/services/conftest.py as a module: its Builder drives the services as each user."""
    spec = importlib.util.spec_from_file_location(
        "service_builders", Path(__file__).resolve().parents[1] / "services" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def clinic_with_patient(server_profile: ServerProfile) -> tuple[int, int]:
    """(patient id, episode id) of one enrolled patient, made through the services as cm1/doc1."""
    from cocm_desktop.domain.episode import TargetCondition
    from cocm_desktop.services.enrollment import ConsentIn, enroll
    from cocm_desktop.services.patients import add_patient

    with ServerDatabase.open(server_profile, "cm1", "demo") as cm:
        assert cm.actor is not None
        with cm.session() as s:
            pid = add_patient(s, cm.actor, mrn="SRV-1", family_name="Rivera", given_name="Ana",
                              date_of_birth=date(1970, 3, 4), last_seen_on=date(2026, 10, 1),
                              today=date(2026, 11, 24)).id
    with ServerDatabase.open(server_profile, "doc1", "demo") as doc:
        assert doc.actor is not None
        with doc.session() as s:
            from sqlalchemy import select

            from cocm_desktop.store.models import User

            cm1 = s.scalar(select(User.id).where(User.username == "cm1"))
            res = enroll(s, doc.actor, patient_id=pid, enrolled_on=date(2026, 10, 1), program="cocm",
                         primary_scale="PHQ-9",
                         target_conditions=[TargetCondition("F32.1", "Major depressive disorder")],
                         treating_clinician_id=doc.actor.user_id, care_manager_id=cm1,
                         urgent_risk_ruled_out=True, risk_ruled_out_by_id=doc.actor.user_id,
                         consent=ConsentIn(True, True, True, True, date(2026, 10, 1)),
                         baseline_items=None, baseline_taken_at=None)
            return pid, res.episode_id
