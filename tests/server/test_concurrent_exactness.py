"""Many workstations at once on one server clinic: the derived tables and the audit chain stay exact.

Six processes, each signed in as its own demo login, do a random day of work at the same moment
(tests/server/team_day.py): contacts with minutes, PHQ-9s, timed entries overlapping on the same
staff day, corrections, and registry reads filling the facts cache. Afterwards every cached
registry row must equal facts computed afresh, the overlap-day table must equal a fresh pass over
every time entry, and the server's audit chain must verify: zero differences.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cocm_desktop.services import registry_facts
from cocm_desktop.services.common import load_policy
from cocm_desktop.store import overlap_days
from cocm_desktop.store.models import AuditRecord, TimeEntry, TimeOverlapDay
from cocm_desktop.store.server_database import ServerDatabase
from cocm_desktop.store.server_profile import ServerProfile

WORKER = Path(__file__).with_name("team_day.py")
LOGINS = ("cm1", "cm2", "doc1", "doc2", "lead", "psych")
# Refusals a worker may meet honestly: another workstation voided the entry it chose meanwhile.
# Refusals a person would see and act on, never a corruption: a record voided or corrected by
# someone else meanwhile (the optimistic-concurrency check says so plainly; nothing is overwritten).
ACCEPTED = ("voided", "deleted", "Nothing to amend", "changed this record")


def enrol(profile: ServerProfile, n: int) -> None:
    """n enrolled patients, alternately cm1's and cm2's, through the services."""
    from cocm_desktop.domain.episode import TargetCondition
    from cocm_desktop.services.enrollment import ConsentIn, enroll
    from cocm_desktop.services.patients import add_patient
    from cocm_desktop.store.models import User

    with ServerDatabase.open(profile, "doc1", "demo") as doc:
        assert doc.actor is not None
        with doc.session() as s:
            cms = list(s.scalars(select(User.id).where(User.username.in_(("cm1", "cm2"))).order_by(User.username)))
            for i in range(n):
                pid = add_patient(s, doc.actor, mrn=f"C{i:03d}", family_name=f"Family{i}", given_name="Pat",
                                  date_of_birth=date(1975, 1 + i % 12, 1 + i % 28), last_seen_on=date(2026, 10, 1),
                                  today=date(2026, 11, 24)).id
                enroll(s, doc.actor, patient_id=pid, enrolled_on=date(2026, 10, 1), program="cocm",
                       primary_scale="PHQ-9", target_conditions=[TargetCondition("F32.1", "Major depressive disorder")],
                       treating_clinician_id=doc.actor.user_id, care_manager_id=cms[i % 2],
                       urgent_risk_ruled_out=True, risk_ruled_out_by_id=doc.actor.user_id,
                       consent=ConsentIn(True, True, True, True, date(2026, 10, 1)),
                       baseline_items=None, baseline_taken_at=None)


def run_team(profile: ServerProfile, folder: Path, *, actions: int, seed: int) -> list[dict[str, object]]:
    """Start one process per login, all beginning their work at the same moment; their reports."""
    path = folder / "profile.json"
    profile.save(path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    start_at = time.time() + 6.0  # past every process's imports and sign-in
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), str(path), login, str(seed * 100 + i), str(actions),
                          repr(start_at)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for i, login in enumerate(LOGINS)
    ]
    reports = []
    for login, p in zip(LOGINS, procs, strict=True):
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, f"{login} failed:\n{err[-3000:]}"
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


@pytest.mark.parametrize("seed", [1, 2])
def test_six_workstations_at_once_leave_derived_tables_and_audit_chain_exact(
    server_profile: ServerProfile, tmp_path: Path, seed: int
) -> None:
    enrol(server_profile, 8)
    reports = run_team(server_profile, tmp_path, actions=60, seed=seed)

    errors = [e for r in reports for e in r["errors"]]  # type: ignore[attr-defined]
    unexpected = sorted({e for e in errors if not any(a in e for a in ACCEPTED)})
    assert sum(r["actions"] for r in reports) == 60 * len(LOGINS)  # type: ignore[misc]
    assert max(r["cached_seen"] for r in reports) > 0  # type: ignore[type-var]  # reads filled the cache

    with ServerDatabase.open(server_profile, "lead", "demo") as lead, lead.session() as s:
        assert s.scalar(select(func.count()).select_from(TimeEntry)) > 50
    found = {"errors": unexpected, **exactness_findings(server_profile)}
    assert found == {k: [] for k in found}


def exactness_findings(profile: ServerProfile) -> dict[str, list[object]]:
    """After a team's day (whose work overlapped): the registry rows that differ from a fresh
    computation, overlap days missing or extra, and what the audit chain's full check found —
    each empty when the derived tables and the chain stayed exact."""
    with ServerDatabase.open(profile, "lead", "demo") as lead:
        with lead.session() as s:
            assert s.scalar(select(func.count()).select_from(TimeOverlapDay)) > 0  # the work overlapped
            stale = registry_facts.cache_differences(s, load_policy(s))
            missing, extra = overlap_days.differences(s.connection())
            audited = s.scalar(select(func.count()).select_from(AuditRecord))
        report = lead.full_check()
    return {
        "stale registry rows": list(stale),
        "overlap days missing": sorted(missing),
        "overlap days extra": sorted(extra),
        "audit chain": list(report.findings()) + ([] if report.records == audited else ["records uncounted"]),
    }


def test_a_save_committing_while_a_registry_read_computes_never_leaves_a_stale_row(server_profile: ServerProfile) -> None:
    """The race itself, step by step: a read computes a patient's facts, a contact for that patient
    is saved on another workstation, then the read stores what it computed. The save waits for the
    read's commit and then deletes the row, so the cache never holds facts from before the contact;
    and a read that starts while a save is committing stores nothing for that patient."""
    import threading
    from datetime import datetime, timedelta

    from cocm_desktop.services.contacts import record_contact
    from cocm_desktop.store import write_locks
    from cocm_desktop.store.models import Episode

    enrol(server_profile, 1)
    month, day = date(2026, 11, 1), date(2026, 11, 24)
    with ServerDatabase.open(server_profile, "lead", "demo") as reader, \
            ServerDatabase.open(server_profile, "cm1", "demo") as writer:
        cm1 = writer.actor
        assert cm1 is not None

        def save_contact() -> None:
            with writer.session() as ws:
                record_contact(ws, cm1, eid, contact_at=datetime(2026, 11, 24, 9), mode="phone", kind="follow_up",
                               next_step="Call again", next_step_on=day + timedelta(days=7), minutes=20,
                               now=datetime(2026, 11, 24, 12))

        with reader.session() as rs:
            eid, pid = rs.execute(select(Episode.id, Episode.patient_id)).one()
            assert registry_facts.cacheable(rs, {pid}) == {pid}
            before = registry_facts.compute(rs, [eid], load_policy(rs), month)
            assert before[eid].has_contacts is False
            saving = threading.Thread(target=save_contact)
            saving.start()
            saving.join(1.5)
            assert saving.is_alive()  # the save waits for the read that locked the patient first
            assert registry_facts.store(rs, before)
        saving.join(30)
        assert not saving.is_alive()
        with reader.session() as rs:
            assert registry_facts.cache_differences(rs, load_policy(rs)) == []
            assert s_count(rs) == 0  # the save deleted what the read stored

        # A save at its commit (holding the patient's lock): a read now computes but stores nothing.
        with writer.session() as ws:
            write_locks.lock_patients_for_writing(ws.connection(), {pid})
            with reader.session() as rs:
                assert registry_facts.cacheable(rs, {pid}) == set()
                assert registry_facts.cacheable(rs, {pid + 1000}) == {pid + 1000}


def s_count(session: object) -> int:
    from cocm_desktop.store.models import RegistryFacts

    return int(session.scalar(select(func.count()).select_from(RegistryFacts)))  # type: ignore[attr-defined]


def test_a_cold_registry_on_the_server_fills_the_cache_a_few_patients_per_read(server_profile: ServerProfile) -> None:
    """One read locks (and caches) at most READ_PATIENT_LOCKS patients, computing the rest
    without storing them; every read shows the same rows as a computation from scratch."""
    from cocm_desktop.services import registry
    from cocm_desktop.store import write_locks

    n = write_locks.READ_PATIENT_LOCKS + 6
    enrol(server_profile, n)
    today = date(2026, 11, 24)
    with ServerDatabase.open(server_profile, "lead", "demo") as lead:
        counts = []
        for _ in range(2):
            with lead.session() as s:
                rows = registry.collect(s, today=today)
                assert rows == registry.collect(s, today=today, cached=False)
            with lead.session() as s:
                counts.append(s_count(s))
        assert counts == [write_locks.READ_PATIENT_LOCKS, n]
