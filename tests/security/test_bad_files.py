"""Bad files: each gets its own plain message, the file stays as it was, and nothing new appears.

(tests/store/test_database.py covers the basic open refusals; this adds damage deep in the file,
disk full, read-only places, transplanted slots and newer key files, and checks the folder.)
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from cocm_desktop.store.backup import make_backup, verify_file
from cocm_desktop.store.database import Database
from cocm_desktop.store.errors import (
    BackupFailed,
    DatabaseDamaged,
    NotACocmDatabase,
    ReadOnlyLocation,
    StoreError,
    WrongCredentials,
)
from cocm_desktop.store.keyslots import KeyFile, keyfile_path
from cocm_desktop.store.models import Patient

PW = "demo"
PAGE = 4096


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _fill(path: Path, n: int = 120) -> None:
    """Patients with long notes at the end of the file, then close (checkpoint into the main file)."""
    with Database.open(path, "cm1", PW) as db, db.session() as s:
        for i in range(n):
            s.add(
                Patient(
                    mrn=f"F-{i}",
                    family_name="Filler",
                    given_name=str(i),
                    date_of_birth=date(1960, 1, 1),
                    notes=f"note {i} " + "x" * 3000,
                )
            )


def _make_plain(path: Path) -> None:
    import sqlite3  # someone else's tool made it; we never open our files with the stdlib module

    conn = sqlite3.connect(path)
    conn.execute("create table t(x)")
    conn.commit()
    conn.close()


BAD_FILES = {
    "plain sqlite": (_make_plain, NotACocmDatabase, "unencrypted"),
    "random bytes": (
        lambda p: p.write_bytes(random.Random(3).randbytes(PAGE * 3)),
        NotACocmDatabase,
        "not a CoCM",
    ),
    "zero length": (lambda p: p.write_bytes(b""), NotACocmDatabase, "empty file"),
    "a folder": (lambda p: p.mkdir(), NotACocmDatabase, "folder"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_foreign_files_are_refused_and_never_replaced(tmp_path: Path, kind: str) -> None:
    make, error, words = BAD_FILES[kind]
    path = tmp_path / "clinic.db"
    make(path)
    before = _listing(tmp_path)
    with pytest.raises(error, match=words):
        Database.open(path, "lead", PW)
    with pytest.raises(StoreError, match="never overwrites"):
        Database.create(path, clinic_name="X", lead_username="lead", lead_display_name="L", lead_password=PW)
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("cut_pages", [1, 5])
def test_truncated_by_whole_pages_is_damaged_not_replaced(clinic_path: Path, cut_pages: int) -> None:
    _fill(clinic_path, 60)
    data = clinic_path.read_bytes()
    clinic_path.write_bytes(data[: len(data) - PAGE * cut_pages])
    before = _listing(clinic_path.parent)
    with pytest.raises(DatabaseDamaged, match="damaged"):
        Database.open(clinic_path, "lead", PW)
    assert _listing(clinic_path.parent) == before


def test_flipped_byte_in_a_later_page_is_caught_by_checks_backup_and_queries(
    clinic_path: Path, tmp_path: Path
) -> None:
    _fill(clinic_path)
    pages = clinic_path.stat().st_size // PAGE
    data = bytearray(clinic_path.read_bytes())
    # one bit, deep in the patients' pages (the newest pages hold the audit record sealing them)
    data[(pages - 8) * PAGE + 1000] ^= 0x01
    clinic_path.write_bytes(bytes(data))
    db = Database.open(clinic_path, "lead", PW)  # page 1 is fine: the damage is found when touched
    try:
        report = verify_file(clinic_path, db.raw_key_for_backup())
        assert not report.ok and any("encrypted page check" in p or "integrity" in p for p in report.problems)
        out = tmp_path / "b.db"
        with pytest.raises(BackupFailed, match="failed its checks"):
            make_backup(db, out)
        assert not out.exists() and not keyfile_path(out).exists()
        assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
        with pytest.raises(DatabaseDamaged, match="damaged. Nothing has been changed"), db.session() as s:
            s.execute(select(Patient.notes)).all()
    finally:
        db.close()


def test_slot_transplanted_from_another_database_is_a_wrong_password(
    clinic_path: Path, tmp_path: Path
) -> None:
    other, _ = Database.create(
        tmp_path / "o.db",
        clinic_name="O",
        lead_username="cm1",
        lead_display_name="X",
        lead_password="their-pw",
    )
    other.close()
    kf = json.loads(keyfile_path(clinic_path).read_text())
    kf["slots"]["cm1"] = json.loads(keyfile_path(tmp_path / "o.db").read_text())["slots"]["cm1"]
    keyfile_path(clinic_path).write_text(json.dumps(kf))
    before = clinic_path.read_bytes()
    for pw in ("their-pw", PW):
        with pytest.raises(WrongCredentials):
            Database.open(clinic_path, "cm1", pw)
    assert clinic_path.read_bytes() == before
    Database.open(clinic_path, "cm2", PW).close()  # nobody else is affected


@pytest.mark.parametrize(
    "damage,words",
    [
        (lambda kf: kf.update(format_version=99), "newer version"),
        (lambda kf: kf.update(format="something-else"), "damaged or is not"),
        (lambda kf: kf["slots"]["lead"].update(wrapped="!!!"), "damaged or is not"),
    ],
)
def test_damaged_or_newer_key_file_is_named(clinic_path: Path, damage, words: str) -> None:  # type: ignore[no-untyped-def]
    kf = json.loads(keyfile_path(clinic_path).read_text())
    damage(kf)
    keyfile_path(clinic_path).write_text(json.dumps(kf))
    before = _listing(clinic_path.parent)
    with pytest.raises((NotACocmDatabase, WrongCredentials)) as err:
        Database.open(clinic_path, "lead", PW)
    if words != "damaged or is not" or isinstance(err.value, NotACocmDatabase):
        assert words in str(err.value)
    assert _listing(clinic_path.parent)[clinic_path.name] == before[clinic_path.name]


DISK_FULL = """
import resource, signal, sys
from datetime import date
from cocm_desktop.store.database import Database
from cocm_desktop.store.errors import StoreError
from cocm_desktop.store.models import Patient

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing us
db = Database.open(sys.argv[1], "cm1", "demo")
with db.session() as s:
    s.add(Patient(mrn="SMALL-1", family_name="Small", given_name="One", date_of_birth=date(1970, 1, 1)))
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    with db.session() as s:
        for i in range(400):
            s.add(Patient(mrn=f"BIG-{i}", family_name="Big", given_name=str(i), date_of_birth=date(1970, 1, 1),
                          notes="y" * 3900))
    print("SAVED")
except StoreError as exc:
    print(type(exc).__name__)
    print(str(exc))
"""


def test_disk_full_is_a_plain_message_and_nothing_half_saved(clinic_path: Path, run_script) -> None:  # type: ignore[no-untyped-def]
    wal = Path(f"{clinic_path}-wal")
    limit = max(clinic_path.stat().st_size, wal.stat().st_size if wal.exists() else 0) + 256 * 1024
    proc = run_script(DISK_FULL, args=[str(clinic_path), str(limit)])
    out, err = proc.communicate(timeout=60)
    lines = out.splitlines()
    assert lines and lines[0] == "DiskFull", (out, err)
    assert "disk is full" in lines[1] and "Nothing was half-saved" in lines[1]
    with Database.open(clinic_path, "lead", PW) as db:
        with db.session() as s:
            assert s.scalar(select(func.count()).where(Patient.mrn.like("BIG-%"))) == 0
            assert s.scalar(select(Patient.mrn).where(Patient.mrn == "SMALL-1")) == "SMALL-1"
        assert verify_file(clinic_path, db.raw_key_for_backup()).ok


@contextlib.contextmanager
def _read_only_mount(folder: Path):  # type: ignore[no-untyped-def]
    folder.mkdir()
    if (
        shutil.which("mount") is None
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("needs root to mount a read-only file system")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_read_only_folder_is_refused_with_a_plain_message(clinic_path: Path, tmp_path: Path) -> None:
    with _read_only_mount(tmp_path / "ro") as folder:
        shutil.copy2(clinic_path, folder / "clinic.db")
        shutil.copy2(keyfile_path(clinic_path), keyfile_path(folder / "clinic.db"))
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        before = _listing(folder)
        with pytest.raises(ReadOnlyLocation, match="read-only"):
            Database.open(folder / "clinic.db", "lead", PW)
        assert _listing(folder) == before


def test_read_only_database_file_is_refused(clinic_path: Path) -> None:
    clinic_path.chmod(0o444)
    try:
        if __import__("os").access(clinic_path, __import__("os").W_OK):
            pytest.skip("running as root: permission bits do not bind")
        with pytest.raises(ReadOnlyLocation):
            Database.open(clinic_path, "lead", PW)
    finally:
        clinic_path.chmod(0o644)


def test_disk_full_while_saving_the_key_file_keeps_the_old_one(clinic: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    before = keyfile_path(clinic.path).read_bytes()

    def full(*_a, **_k):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        clinic.add_key_slot("cm1", "new-password")
    monkeypatch.undo()
    assert keyfile_path(clinic.path).read_bytes() == before
    assert not [p for p in clinic.path.parent.iterdir() if p.name.endswith(".tmp")]
    Database.open(clinic.path, "cm1", PW).close()


def test_newer_schema_is_refused_and_key_file_says_nothing_changed(clinic_path: Path) -> None:
    with Database.open(clinic_path, "lead", PW) as db, db.session() as s:
        s.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    before = _listing(clinic_path.parent)[clinic_path.name]
    with pytest.raises(StoreError, match="newer version"):
        Database.open(clinic_path, "lead", PW)
    assert _listing(clinic_path.parent)[clinic_path.name] == before
    assert not [p for p in clinic_path.parent.iterdir() if "before-upgrade" in p.name]
    assert KeyFile.load(keyfile_path(clinic_path), "x").slots  # sidecar intact
