"""Crash safety: a writer process is SIGKILLed mid-transaction, mid-timer, mid-re-key and mid-backup.

After every kill the clinic must open, hold every committed row and no partial one, and pass
PRAGMA integrity_check, PRAGMA cipher_integrity_check and the audit chain.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cocm_desktop.store.backup import verify_file
from cocm_desktop.store.database import Database
from cocm_desktop.store.errors import DatabaseLocked
from cocm_desktop.store.keyslots import KeyFile, keyfile_path
from cocm_desktop.store.models import AuditRecord, Patient, RunningTimer, TimeEntry
from cocm_desktop.store.open_checks import precheck

PW = "demo"
ROWS = 150  # child rows per transaction: big enough that a kill often lands inside one


def _read_lines_until(proc: subprocess.Popen[str], count: int, timeout: float = 20.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while len(lines) < count:
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"child too slow; stderr: {proc.stderr.read() if proc.stderr else ''}")
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            pytest.fail(f"child ended early: {proc.stderr.read() if proc.stderr else ''}")
        lines.append(line.strip())
    return lines


def _kill(proc: subprocess.Popen[str], after_seconds: float) -> list[str]:
    """SIGKILL after a pause; returns the rest of what the child had printed (all committed)."""
    time.sleep(after_seconds)
    os.kill(proc.pid, signal.SIGKILL)
    # Read through the same buffered reader _read_lines_until used: lines it already pulled from
    # the pipe sit in its buffer, and communicate() would read the raw pipe past them.
    assert proc.stdout is not None and proc.stderr is not None
    rest = proc.stdout.read()
    proc.stderr.read()
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return [line.strip() for line in rest.splitlines() if line.strip()]


def _assert_sound(path: Path, db: Database) -> None:
    report = verify_file(path, db.raw_key_for_backup())
    assert report.ok, report.problems


WRITER = """
import sys
from datetime import date
from cocm_desktop.services.common import record
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Patient, TimeEntry

db = Database.open(sys.argv[1], "cm1", "demo")
actor = db.actor
i = 0
while True:
    with db.session() as s:
        p = Patient(mrn=f"CRASH-{i}", family_name="Crash", given_name=str(i), date_of_birth=date(1970, 1, 1))
        s.add(p)
        s.flush()
        for k in range(ROWS):
            s.add(TimeEntry(patient_id=p.id, staff_id=actor.user_id, local_date=date(2026, 11, 2),
                            minutes=k + 1, activity="care_coordination", source="manual",
                            created_by_id=actor.user_id))
        record(s, actor, "patient.create", patient_id=p.id, object_type="patient", object_id=p.id)
    print(i, flush=True)
    i += 1
""".replace("ROWS", str(ROWS))


@pytest.mark.parametrize("trial", range(3))
def test_kill_mid_transaction_keeps_every_commit_and_no_partial_one(
    clinic_path: Path, run_script, trial: int
) -> None:  # type: ignore[no-untyped-def]
    rnd = random.Random(trial)
    proc = run_script(WRITER, args=[str(clinic_path)])
    printed = _read_lines_until(proc, rnd.choice([1, 3, 6]))
    printed += _kill(proc, rnd.uniform(0.0, 0.03))
    committed = {int(x) for x in printed}
    with Database.open(clinic_path, "lead", PW) as db:
        _assert_sound(clinic_path, db)
        with db.session() as s:
            present = {
                int(p.given_name): p.id
                for p in s.scalars(select(Patient).where(Patient.family_name == "Crash"))
            }
            assert committed <= set(present)
            assert set(present) == set(range(len(present)))  # commits are sequential: no holes
            for pid in present.values():
                n, total = s.execute(
                    select(func.count(), func.sum(TimeEntry.minutes)).where(TimeEntry.patient_id == pid)
                ).one()
                assert (n, total) == (ROWS, ROWS * (ROWS + 1) // 2)  # all of a transaction or none
                audited = s.scalar(
                    select(func.count())
                    .select_from(AuditRecord)
                    .where(AuditRecord.action == "patient.create", AuditRecord.patient_id == pid)
                )
                assert audited == 1
            orphans = s.scalar(
                select(func.count())
                .select_from(TimeEntry)
                .where(TimeEntry.patient_id.not_in(list(present.values()) or [-1]))
            )
            assert orphans == 0


TIMER = """
import sys
from datetime import datetime, timedelta
from cocm_desktop.services.timer import heartbeat, start_timer
from cocm_desktop.store.database import Database

db = Database.open(sys.argv[1], "cm1", "demo")
t0 = datetime(2026, 11, 24, 9, 0, 0)
with db.session() as s:
    start_timer(s, db.actor, patient_id=int(sys.argv[2]), activity="care_coordination", now=t0)
print("started", flush=True)
i = 1
while True:
    with db.session() as s:
        heartbeat(s, db.actor, now=t0 + timedelta(seconds=i))
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("trial", range(2))
def test_kill_mid_timer_keeps_the_running_timer(clinic_path: Path, run_script, trial: int) -> None:  # type: ignore[no-untyped-def]
    with Database.open(clinic_path, "cm1", PW) as db, db.session() as s:
        p = Patient(mrn="T-1", family_name="Timer", given_name="Test", date_of_birth=date(1980, 1, 1))
        s.add(p)
        s.flush()
        pid = p.id
    proc = run_script(TIMER, args=[str(clinic_path), str(pid)])
    printed = _read_lines_until(proc, 2 + 10 * trial)
    printed += _kill(proc, 0.01 * trial)
    last_beat = max(int(x) for x in printed if x.isdigit())
    with Database.open(clinic_path, "cm1", PW) as db:
        _assert_sound(clinic_path, db)
        with db.session() as s:
            row = s.scalars(select(RunningTimer)).one()
            assert row.patient_id == pid and row.started_at == datetime(2026, 11, 24, 9, 0, 0)
            beat = int((row.heartbeat_at - row.started_at).total_seconds())
            assert (
                last_beat <= beat <= last_beat + 1
            )  # the printed one, or one committed just before the kill


REKEYER = """
import sys
from cocm_desktop.store.database import Database

db = Database.open(sys.argv[1], "lead", "demo")
print("ready", flush=True)
while True:
    db.rekey(reason="crash test")
    print(db.keyfile.key_epoch, flush=True)
"""


@pytest.mark.parametrize("trial", range(3))
def test_kill_during_rekey_leaves_a_file_everyone_can_open(clinic_path: Path, run_script, trial: int) -> None:  # type: ignore[no-untyped-def]
    rnd = random.Random(100 + trial)
    proc = run_script(REKEYER, args=[str(clinic_path)])
    _read_lines_until(proc, 1 + rnd.choice([0, 1, 2]))
    _kill(proc, rnd.uniform(0.0, 0.05))
    with Database.open(clinic_path, "cm2", PW) as db:
        key = db.raw_key_for_backup()
        _assert_sound(clinic_path, db)
    assert not KeyFile.load(keyfile_path(clinic_path), clinic_path.name).rekey_in_progress
    for name in ("lead", "doc1"):
        with Database.open(clinic_path, name, PW) as db:
            assert db.raw_key_for_backup() == key


BACKUPS = """
import sys
from pathlib import Path
from cocm_desktop.store.backup import make_backup
from cocm_desktop.store.database import Database

db = Database.open(sys.argv[1], "lead", "demo")
folder = Path(sys.argv[2])
i = 0
while True:
    make_backup(db, folder / f"b{i}.db")
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("trial", range(2))
def test_kill_during_backup_leaves_the_original_and_only_sound_backups(
    clinic_path: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    run_script,
    trial: int,
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    before = clinic_path.read_bytes()
    proc = run_script(BACKUPS, args=[str(clinic_path), str(folder)])
    _read_lines_until(proc, 1 + trial)
    _kill(proc, random.Random(trial).uniform(0.0, 0.05))
    assert clinic_path.read_bytes()[:16] == before[:16]
    with Database.open(clinic_path, "lead", PW) as db:
        key = db.raw_key_for_backup()
        _assert_sound(clinic_path, db)
    finished = sorted(folder.glob("b*.db"))
    assert finished, "at least one backup completed before the kill"
    for backup in finished:
        precheck(backup)  # its key file is there and belongs to it
        assert verify_file(backup, key).ok


SECOND = """
import sys, time
from cocm_desktop.store.database import Database

db = Database.open(sys.argv[1], "cm1", "demo", exclusive=True)
print("ready", flush=True)
time.sleep(60)
"""


def test_second_instance_in_another_process_gets_a_clear_message(clinic_path: Path, run_script) -> None:  # type: ignore[no-untyped-def]
    proc = run_script(SECOND, args=[str(clinic_path)])
    try:
        _read_lines_until(proc, 1)
        with pytest.raises(DatabaseLocked, match="already open in another CoCM Desktop window"):
            Database.open(clinic_path, "cm2", PW, exclusive=True)
    finally:
        _kill(proc, 0)
    Database.open(clinic_path, "cm2", PW, exclusive=True).close()  # a crashed holder frees the lock
