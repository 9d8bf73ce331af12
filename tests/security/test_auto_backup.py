"""Automatic backups that really run: `backup --auto`, every 24 h, 7 kept, a second folder, one
at a time across processes, leftovers of killed runs removed, an altered audit log not a stop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from cocm_desktop.cli import main
from cocm_desktop.services.backups import run_auto_backup, set_second_folder
from cocm_desktop.store.backup import auto_backup, list_auto_backups, make_backup, verify_file
from cocm_desktop.store.database import Database
from cocm_desktop.store.errors import StoreError
from cocm_desktop.store.keyslots import keyfile_path
from cocm_desktop.store.models import AuditRecord

PW = "demo"
REPO = Path(__file__).resolve().parents[2]


def _auto_files(folder: Path) -> list[str]:
    """Backups and their key files (not hidden temp copies, not the empty lock files that opening
    a backup leaves beside it)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and not p.name.endswith(".lock"))


def _audit_count(db: Database, action: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).where(AuditRecord.action == action)) or 0)


def test_backup_auto_command_makes_a_verified_backup_and_exits_0_when_none_is_due(
    clinic_path: Path, monkeypatch, capsys  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("COCM_PASSWORD", PW)
    folder = clinic_path.parent / "backups"
    assert main(["backup", "--auto", "--db", str(clinic_path), "--user", "cm1"]) == 0  # any role
    assert "Automatic backup made" in capsys.readouterr().err
    name = f"clinic-auto-{date.today().isoformat()}.db"
    assert _auto_files(folder) == [name, name + ".keys"]
    assert (folder / name).stat().st_mode & 0o777 == 0o600
    with Database.open(folder / name, "lead", PW) as copy:  # it opens, and passes every check
        assert verify_file(copy.path, copy.raw_key_for_backup()).ok
    assert main(["backup", "--auto", "--db", str(clinic_path), "--user", "doc1"]) == 0
    assert "No automatic backup due" in capsys.readouterr().err
    assert _auto_files(folder) == [name, name + ".keys"]
    # The lead's own backup to a file keeps working.
    out = clinic_path.parent / "mine.db"
    assert main(["backup", "--out", str(out), "--db", str(clinic_path), "--user", "lead"]) == 0
    assert out.exists() and keyfile_path(out).exists()


def test_a_backup_is_due_every_24_hours_and_seven_are_kept(clinic: Database, actors) -> None:  # type: ignore[no-untyped-def]
    clinic.actor = actors["cm2"]
    now = datetime.now()
    first = run_auto_backup(clinic, now=now)
    assert first.made is not None and first.made.verification.ok
    assert run_auto_backup(clinic, now=now + timedelta(hours=23)).made is None  # not yet
    for day in range(1, 10):  # the file times are real; "now" moves a day at a time
        run = run_auto_backup(clinic, now=now + timedelta(days=day, hours=1))
        assert run.made is not None, day
    found = list_auto_backups(first.folder, "clinic", ".db")
    assert len(found) == 7 and len(_auto_files(first.folder)) == 14
    assert found[0].day == (now + timedelta(days=9, hours=1)).date()
    assert _audit_count(clinic, "backup.auto") == 10


def _alter_audit(db: Database, seq: int = 3) -> None:
    with db.session() as s:  # someone with the key in hand edits the log
        s.execute(text(f"UPDATE audit_log SET summary = 'nothing to see' WHERE seq = {seq}"))


def test_an_altered_audit_log_never_stops_backups(clinic: Database, clinic_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    _alter_audit(clinic)
    run = run_auto_backup(clinic)
    assert run.made is not None
    assert run.made.path.name == f"clinic-auto-{date.today().isoformat()}-audit-altered.db"
    assert run.made.audit_broken_at == 3 and keyfile_path(run.made.path).exists()
    assert run.last is not None and run.last.audit_altered
    with clinic.session() as s:
        rec = s.scalars(select(AuditRecord).where(AuditRecord.action == "backup.auto")).one()
        assert rec.detail["audit_broken_at"] == 3 and "altered at record 3" in rec.summary
    # The next day's backup is made too (no "Backup not made" from then on).
    assert run_auto_backup(clinic, now=datetime.now() + timedelta(days=1, hours=1)).made is not None
    # The lead's own backup: made, and the lead is told what happened and what to do.
    clinic.close()
    monkeypatch.setenv("COCM_PASSWORD", PW)
    assert main(["backup", "--out", str(clinic_path.parent / "x.db"), "--db", str(clinic_path), "--user", "lead"]) == 0
    err = capsys.readouterr().err
    assert "Backup written" in err and "altered at record 3" in err and "cocm-desktop audit verify" in err


def test_a_damaged_database_still_refuses_the_backup(clinic_path: Path) -> None:
    data = bytearray(clinic_path.read_bytes())  # a late page the sign-in does not read
    data[len(data) - 4096 * 2 + 100] ^= 0x5A
    clinic_path.write_bytes(bytes(data))
    try:
        db = Database.open(clinic_path, "cm1", PW)
    except StoreError:
        pytest.skip("this page is read at sign-in")
    with db, pytest.raises(StoreError):
        run_auto_backup(db)
    assert _auto_files(clinic_path.parent / "backups") == []
    assert not [p for p in (clinic_path.parent / "backups").iterdir() if ".partial-" in p.name]


def test_when_every_kept_backup_has_an_altered_log_the_last_intact_one_stays(clinic: Database, tmp_path: Path) -> None:
    folder = tmp_path / "auto"
    first = date(2026, 11, 1)
    auto_backup(clinic, folder, today=first)  # intact
    _alter_audit(clinic)
    for n in range(1, 10):
        auto_backup(clinic, folder, today=first + timedelta(days=n))
    found = list_auto_backups(folder, "clinic", ".db")
    assert [b.day for b in found if not b.audit_altered] == [first]
    assert len([b for b in found if b.audit_altered]) == 7


def test_leftovers_of_killed_runs_are_removed_at_the_next_backup(clinic: Database, clinic_path: Path) -> None:
    folder = clinic_path.parent / "backups"
    folder.mkdir()
    dead = [folder / ".clinic-auto-2026-01-01.db.partial-dead", folder / ".clinic-auto-2026-01-01.db.partial-dead.keys"]
    old_restore = clinic_path.parent / ".clinic.db.restoring-0001"
    live_restore = clinic_path.parent / ".clinic.db.restoring-0002"  # fresh: another process may be writing it
    for p in (*dead, old_restore, live_restore):
        p.write_bytes(b"x" * 100)
    hours_ago = time.time() - 2 * 3600
    os.utime(old_restore, (hours_ago, hours_ago))
    run = run_auto_backup(clinic)
    assert run.removed_leftovers == 3
    assert not any(p.exists() for p in (*dead, old_restore)) and live_restore.exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".") and "partial" in p.name]


def test_a_killed_backup_leaves_only_hidden_leftovers_that_the_next_one_removes(clinic_path: Path, run_script) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL a real `backup --auto` while it is copying or checking; the next run cleans up."""
    if sys.platform == "win32":  # pragma: no cover
        pytest.skip("SIGKILL")
    slow = """
    import sys
    from cocm_desktop.store import backup
    real = backup.verify_file
    def slow_verify(path, key):
        print("verifying", flush=True)
        import time; time.sleep(60)
        return real(path, key)
    backup.verify_file = slow_verify
    from cocm_desktop.cli import main
    sys.exit(main(["backup", "--auto", "--db", sys.argv[1], "--user", "cm1"]))
    """
    proc = run_script(slow, args=[str(clinic_path)], env={"COCM_PASSWORD": PW})
    try:
        assert proc.stdout.readline().strip() == "verifying"
    finally:
        proc.kill()
        proc.communicate()
    folder = clinic_path.parent / "backups"
    leftovers = [p.name for p in folder.iterdir() if ".partial-" in p.name]
    assert leftovers and _auto_files(folder) == []  # nothing under a real name
    with Database.open(clinic_path, "cm1", PW) as db:
        run = run_auto_backup(db)
    assert run.made is not None and run.removed_leftovers >= 2
    assert not [p for p in folder.iterdir() if ".partial-" in p.name]


def test_processes_backing_up_at_once_make_exactly_one_backup(clinic_path: Path) -> None:
    """The app and scheduled `backup --auto` runs at the same moment: one backup, all exit 0."""
    env = dict(os.environ, PYTHONPATH=str(REPO), COCM_PASSWORD=PW)
    users = ["cm1", "cm2", "doc1", "doc2", "psych", "lead"]
    procs = [
        subprocess.Popen([sys.executable, "-m", "cocm_desktop", "backup", "--auto", "--db", str(clinic_path),
                          "--user", user], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for user in users
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * len(users), outputs
    errs = [err for _out, err in outputs]
    assert sum("Automatic backup made" in e for e in errs) == 1, errs
    folder = clinic_path.parent / "backups"
    name = f"clinic-auto-{date.today().isoformat()}.db"
    assert _auto_files(folder) == [name, name + ".keys"]
    assert not [p for p in folder.iterdir() if ".partial-" in p.name]
    with Database.open(clinic_path, "lead", PW) as db:
        assert _audit_count(db, "backup.auto") == 1
        with Database.open(folder / name, "lead", PW) as copy:
            assert verify_file(copy.path, copy.raw_key_for_backup()).ok


def test_the_second_folder_gets_a_checked_copy_with_its_own_seven(clinic: Database, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    usb = tmp_path / "usb"
    usb.mkdir()
    with clinic.session() as s:
        set_second_folder(s, actors["lead"], str(usb))
    clinic.actor = actors["cm1"]
    now = datetime.now()
    run = run_auto_backup(clinic, now=now)
    assert run.made is not None and run.second_warning is None and run.second_copy is not None
    assert run.second_copy.parent.parent == usb
    assert run.second_copy.read_bytes() == run.made.path.read_bytes()
    assert keyfile_path(run.second_copy).read_bytes() == keyfile_path(run.made.path).read_bytes()
    with Database.open(run.second_copy, "doc1", PW) as copy:
        assert verify_file(copy.path, copy.raw_key_for_backup()).ok
    for day in range(1, 9):
        run_auto_backup(clinic, now=now + timedelta(days=day, hours=1))
    assert len(list_auto_backups(run.second_copy.parent, "clinic", ".db")) == 7


def test_an_unreachable_second_folder_is_a_warning_not_a_failure(clinic_path: Path, actors, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    usb = tmp_path / "usb"
    usb.mkdir()
    with Database.open(clinic_path, "lead", PW) as db, db.session() as s:
        set_second_folder(s, db.actor, str(usb))
    usb.rmdir()  # the stick is unplugged
    monkeypatch.setenv("COCM_PASSWORD", PW)
    assert main(["backup", "--auto", "--db", str(clinic_path), "--user", "cm1"]) == 0
    err = capsys.readouterr().err
    assert "Automatic backup made" in err and "WARNING" in err and "cannot be reached" in err
    assert not usb.exists()  # never created on this computer's own disk in its place
    usb.mkdir()  # plugged in again: the next run (none due) copies the newest backup over
    assert main(["backup", "--auto", "--db", str(clinic_path), "--user", "cm1"]) == 0
    assert "Copy in the second folder" in capsys.readouterr().err
    assert len(list(usb.glob("clinic-*/clinic-auto-*.db"))) == 1


def test_only_the_clinic_lead_sets_the_second_folder(clinic: Database, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.domain.roles import PermissionDenied
    from cocm_desktop.services.common import ValidationError

    with clinic.session() as s, pytest.raises(PermissionDenied):
        set_second_folder(s, actors["cm1"], str(tmp_path))
    with clinic.session() as s, pytest.raises(ValidationError, match="does not exist"):
        set_second_folder(s, actors["lead"], str(tmp_path / "nowhere"))
    with clinic.session() as s:
        set_second_folder(s, actors["lead"], str(tmp_path))
    assert _audit_count(clinic, "policy.backup_folder") == 1


def test_the_manual_backup_still_refuses_an_existing_name(clinic: Database, tmp_path: Path) -> None:
    make_backup(clinic, tmp_path / "a.db")
    with pytest.raises(StoreError, match="already exists"):
        make_backup(clinic, tmp_path / "a.db")
