"""Backups and restore on real files: verified copies, atomic replace, daily rotation, refusals."""

from __future__ import annotations

import os
import signal
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.store.backup import auto_backup, make_backup, restore, verify_file
from cocm_desktop.store.database import Database
from cocm_desktop.store.errors import BackupFailed, DatabaseLocked, RestoreRefused, WrongCredentials
from cocm_desktop.store.keyslots import keyfile_path
from cocm_desktop.store.models import AuditRecord, Patient, TimeEntry

PW = "demo"


def _add_patient(db: Database, mrn: str) -> int:
    with db.session() as s:
        p = Patient(mrn=mrn, family_name="Backup", given_name=mrn, date_of_birth=date(1975, 5, 5))
        s.add(p)
        s.flush()
        return p.id


def _mrns(path: Path, user: str = "lead") -> set[str]:
    with Database.open(path, user, PW) as db, db.session() as s:
        return set(s.scalars(select(Patient.mrn)))


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


# long enough that encrypted bytes never contain it by chance (a 3-byte MRN did, now and then)
MARKER = "BACKUP-MRN-7731-5520"


def test_backup_is_encrypted_verified_and_opens_for_every_user(clinic: Database, tmp_path: Path) -> None:
    _add_patient(clinic, MARKER)
    out = tmp_path / "out" / "clinic-backup.db"
    out.parent.mkdir()
    result = make_backup(clinic, out)
    assert result.verification.ok and result.path == out and keyfile_path(out).exists()
    assert MARKER.encode() not in out.read_bytes() and b"SQLite format 3" not in out.read_bytes()[:16]
    assert sorted(p.name for p in out.parent.iterdir()) == ["clinic-backup.db", "clinic-backup.db.keys"]
    for user in ("lead", "cm1", "doc2"):
        assert MARKER in _mrns(out, user)
    with clinic.session() as s:
        rec = s.scalars(select(AuditRecord).where(AuditRecord.action == "backup.create")).one()
        assert rec.detail["file"] == "clinic-backup.db" and rec.username == "lead"


def test_backup_refusals_leave_nothing_behind(clinic: Database, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "b.db"
    make_backup(clinic, out)
    with pytest.raises(BackupFailed, match="already exists"):
        make_backup(clinic, out)
    with pytest.raises(BackupFailed, match="cannot replace the database"):
        make_backup(clinic, clinic.path)
    with pytest.raises(BackupFailed, match="does not exist"):
        make_backup(clinic, tmp_path / "missing" / "b.db")
    clinic.actor = actors["cm1"]
    with pytest.raises(PermissionDenied, match="back up"):
        make_backup(clinic, tmp_path / "c.db")
    assert not (tmp_path / "c.db").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_backup_while_another_process_writes_is_a_consistent_snapshot(
    clinic: Database,
    clinic_path: Path,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    run_script,
) -> None:
    writer = """
    import sys
    import time
    from datetime import date
    from cocm_desktop.store.database import Database
    from cocm_desktop.store.models import Patient, TimeEntry
    db = Database.open(sys.argv[1], "cm1", "demo", exclusive=True)
    i = 0
    while True:
        with db.session() as s:
            p = Patient(mrn=f"W-{i}", family_name="W", given_name="W", date_of_birth=date(1970, 1, 1))
            s.add(p)
            s.flush()
            for k in range(50):
                s.add(TimeEntry(patient_id=p.id, staff_id=db.actor.user_id, local_date=date(2026, 11, 2),
                                minutes=1, activity="other", source="manual", created_by_id=db.actor.user_id))
        print(i, flush=True)
        i += 1
        time.sleep(0.01)  # a busy app, not a lock held forever: the backup's audit record gets a turn
    """
    proc = run_script(writer, args=[str(clinic_path)])
    try:
        assert proc.stdout.readline().strip() == "0"
        result = make_backup(clinic, tmp_path / "live.db")  # the app (the child) keeps writing meanwhile
        time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert result.verification.ok
    with Database.open(tmp_path / "live.db", "lead", PW) as db, db.session() as s:
        counts = s.execute(select(func.count(TimeEntry.id)).group_by(TimeEntry.patient_id)).scalars().all()
        assert counts and set(counts) == {50}  # whole transactions only


def test_restore_replaces_atomically_and_keeps_the_old_file(
    clinic: Database, clinic_path: Path, tmp_path: Path
) -> None:
    _add_patient(clinic, "BEFORE")
    backup = tmp_path / "b.db"
    make_backup(clinic, backup)
    _add_patient(clinic, "AFTER")  # only in the current file (and its WAL)
    clinic.close()
    result = restore(clinic_path, backup, "lead", PW, now=datetime(2026, 11, 24, 17, 30, 0))
    assert result.replaced == clinic_path.with_name("clinic.db.replaced-20261124-173000")
    assert _mrns(clinic_path) == {"BEFORE"}
    assert {"BEFORE", "AFTER"} <= _mrns(result.replaced)  # the replaced file (with its WAL) still opens
    with Database.open(clinic_path, "cm1", PW) as db, db.session() as s:
        rec = s.scalars(select(AuditRecord).where(AuditRecord.action == "backup.restore")).one()
        assert rec.detail == {"from": "b.db", "replaced": "clinic.db.replaced-20261124-173000",
                              "removed_since": [], "added_since": []}
    assert verify_file(backup, db.raw_key_for_backup()).ok  # the backup itself is untouched and reusable


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith("-shm")
    }


def test_restore_refusals_change_nothing(clinic: Database, clinic_path: Path, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backup = tmp_path / "bk" / "b.db"
    backup.parent.mkdir()
    make_backup(clinic, backup)
    clinic.close()
    live = _snapshot(clinic_path.parent)
    with pytest.raises(WrongCredentials):
        restore(clinic_path, backup, "lead", "wrong")
    with pytest.raises(PermissionDenied):
        restore(clinic_path, backup, "cm1", PW)  # only the clinic lead restores
    held = Database.open(clinic_path, "doc1", PW, exclusive=True)
    try:
        live = _snapshot(clinic_path.parent)
        with pytest.raises(DatabaseLocked):
            restore(clinic_path, backup, "lead", PW)
    finally:
        held.close()
    live = _snapshot(clinic_path.parent)
    _flip_byte(backup, backup.stat().st_size - 4096 * 2 + 100)  # damage a late page of the backup
    with pytest.raises(RestoreRefused, match="failed its checks|damaged"):
        restore(clinic_path, backup, "lead", PW)
    keyfile_path(backup).unlink()
    with pytest.raises(RestoreRefused, match="key file"):
        restore(clinic_path, backup, "lead", PW)
    assert _snapshot(clinic_path.parent) == live


def test_daily_automatic_backups_keep_the_newest_seven(clinic: Database, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "auto"
    clinic.actor = actors["cm1"]  # automatic backups run for whoever is signed in
    first = date(2026, 11, 1)
    for n in range(9):
        assert auto_backup(clinic, folder, today=first + timedelta(days=n)) is not None
    assert auto_backup(clinic, folder, today=first + timedelta(days=8)) is None  # once a day
    names = sorted(p.name for p in folder.iterdir())
    days = [f"clinic-auto-2026-11-{d:02d}.db" for d in range(3, 10)]
    assert names == sorted(days + [d + ".keys" for d in days])
    with clinic.session() as s:
        assert s.scalar(select(func.count()).where(AuditRecord.action == "backup.auto")) == 9
