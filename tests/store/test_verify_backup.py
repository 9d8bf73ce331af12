"""store.backup.verify_backup: the checks a restore runs, on a real encrypted backup, read-only."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.store import migrate
from cocm_desktop.store.backup import make_backup, verify_backup
from cocm_desktop.store.database import Database
from cocm_desktop.store.errors import RestoreRefused, WrongCredentials
from cocm_desktop.store.keyslots import keyfile_path
from cocm_desktop.store.models import AuditRecord, Patient

PW = "demo"


def _folder(folder: Path) -> dict[str, bytes]:
    """Every file in the folder with its bytes: verifying must leave it exactly so."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def backup(clinic: Database, tmp_path: Path) -> Path:
    with clinic.session() as s:
        s.add(Patient(mrn="V-1", family_name="Verify", given_name="Vera", date_of_birth=date(1970, 3, 4)))
    dest = tmp_path / "backups" / "clinic-backup.db"
    dest.parent.mkdir()
    make_backup(clinic, dest)
    return dest


def test_a_good_backup_passes_every_check_and_nothing_is_written(clinic: Database, backup: Path) -> None:
    with clinic.session() as s:  # the backup holds every record before its own "backup.create"
        expected_records = int(s.scalar(select(func.count()).select_from(AuditRecord)) or 0) - 1
    before = _folder(backup.parent)
    result = verify_backup(str(backup), "lead", PW)
    assert result.ok and result.problems == ()
    assert result.audit_records == expected_records
    assert result.schema == migrate.head_revision()
    assert _folder(backup.parent) == before  # no byte changed, no -wal/-shm or other file left beside it


@pytest.mark.parametrize(
    ("username", "password", "refusal"),
    [
        ("lead", "wrong", WrongCredentials),
        ("LEAD ", PW, None),  # usernames are matched as at sign-in
        ("nobody", PW, WrongCredentials),
        ("cm1", PW, PermissionDenied),  # a care manager's password opens it, but only the lead restores
        ("doc1", PW, PermissionDenied),
        ("psych", PW, PermissionDenied),
    ],
)
def test_who_may_verify(backup: Path, username: str, password: str, refusal: type[Exception] | None) -> None:
    before = _folder(backup.parent)
    if refusal is None:
        assert verify_backup(backup, username, password).ok
    else:
        with pytest.raises(refusal):
            verify_backup(backup, username, password)
    assert _folder(backup.parent) == before


def test_a_user_removed_before_the_backup_cannot_verify_it(
    clinic: Database, actors: dict[str, Actor], tmp_path: Path
) -> None:
    from cocm_desktop.services.users import change_role, deactivate_user

    change_role(clinic, actors["lead"], "cm2", role="clinic_lead")
    deactivate_user(clinic, actors["lead"], "cm2", reason="left the clinic")
    dest = tmp_path / "after-removal.db"
    make_backup(clinic, dest)
    with pytest.raises(WrongCredentials):
        verify_backup(dest, "cm2", PW)
    assert verify_backup(dest, "lead", PW).ok


def _plain_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda b, other: b.unlink(), "There is no database"),
        (lambda b, other: keyfile_path(b).unlink(), "key file"),
        (
            lambda b, other: shutil.copyfile(keyfile_path(other), keyfile_path(b)),
            "belongs to a different database",
        ),
        (lambda b, other: b.write_bytes(b""), "empty file"),
        (lambda b, other: (b.unlink(), _plain_sqlite(b)), "unencrypted SQLite"),
        (lambda b, other: b.write_bytes(b.read_bytes()[:-100]), "damaged"),  # cut short mid-page
    ],
    ids=["no file", "no key file", "another backup's key file", "empty", "plain SQLite", "truncated"],
)
def test_a_file_that_cannot_be_opened_is_refused_with_the_reason(
    clinic: Database, backup: Path, spoil: Callable[[Path, Path], object], message: str
) -> None:
    other = backup.with_name("other.db")
    make_backup(clinic, other)
    spoil(backup, other)
    with pytest.raises(RestoreRefused, match=message):
        verify_backup(backup, "lead", PW)


def test_a_damaged_page_is_reported_not_raised(backup: Path) -> None:
    """Damage in a page the sign-in does not read is found by the integrity check and reported;
    which late pages those are depends on the schema, so try the last few in turn."""
    clean = backup.read_bytes()
    reported = 0
    for page in range(2, 12):
        data = bytearray(clean)
        data[len(data) - 4096 * page + 100] ^= 0x5A
        backup.write_bytes(bytes(data))
        try:
            result = verify_backup(backup, "lead", PW)
        except RestoreRefused as exc:  # a page read while opening: refused, with the same words
            assert "damaged" in str(exc)
            continue
        assert not result.ok and result.problems == ("the file is damaged",)
        reported += 1
    assert reported, "no late page could be damaged without failing the sign-in"


def test_an_edited_audit_record_in_the_backup_fails_the_check(backup: Path) -> None:
    with Database.open(backup, "lead", PW) as db, db.session() as s:  # someone with the key edits the copy
        s.execute(text("UPDATE audit_log SET summary = 'nothing to see' WHERE seq = 2"))
    result = verify_backup(backup, "lead", PW)
    assert not result.ok
    assert len(result.problems) == 1 and "Audit log BROKEN at record 2" in result.problems[0]
