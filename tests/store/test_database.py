"""The encrypted store on real files: round trip, every open error, key slots, no plaintext PHI."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text

from cocm_desktop.store import audit, migrate
from cocm_desktop.store.database import Database
from cocm_desktop.store.errors import (
    DatabaseDamaged,
    DatabaseLocked,
    DatabaseNotFound,
    NetworkShare,
    NewerSchema,
    NotACocmDatabase,
    ReadOnlyLocation,
    WrongCredentials,
)
from cocm_desktop.store.keyslots import keyfile_path
from cocm_desktop.store.location import check_location
from cocm_desktop.store.models import Patient, User

PW = "demo"


def _add_patient(db: Database, mrn: str, family: str, given: str) -> int:
    with db.session() as s:
        p = Patient(mrn=mrn, family_name=family, given_name=given, date_of_birth=date(1970, 1, 2))
        s.add(p)
        s.flush()
        return p.id


def test_round_trip_survives_close_and_reopen(clinic_path: Path) -> None:
    db = Database.open(clinic_path, "cm1", PW)
    pid = _add_patient(db, "MRN-1001", "Quintana", "Rosalind")
    db.close()
    db = Database.open(clinic_path, "doc1", PW)
    with db.session() as s:
        p = s.get(Patient, pid)
        assert (p.mrn, p.family_name, p.given_name) == ("MRN-1001", "Quintana", "Rosalind")
        assert s.execute(text("PRAGMA cipher_version")).scalar()  # SQLCipher, not plain SQLite
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.close()


def test_every_role_can_sign_in(clinic_path: Path) -> None:
    for username, role in [("lead", "clinic_lead"), ("cm1", "care_manager"), ("cm2", "care_manager"),
                           ("psych", "psychiatrist"), ("doc1", "clinician"), ("doc2", "clinician")]:
        with Database.open(clinic_path, username, PW) as db:
            assert db.actor is not None and db.actor.role == role


@pytest.mark.parametrize("username,password", [("lead", "wrong"), ("nobody", PW), ("LEAD ", "Demo")])
def test_wrong_credentials_are_one_message_and_audited(clinic_path: Path, username: str, password: str) -> None:
    before = clinic_path.read_bytes()
    with pytest.raises(WrongCredentials) as err:
        Database.open(clinic_path, username, password)
    assert "Wrong username or password" in str(err.value)
    assert clinic_path.read_bytes() == before  # the database itself is untouched
    with Database.open(clinic_path, "lead", PW) as db, db.session() as s:
        actions = [r.action for r in s.scalars(select(audit.AuditRecord).order_by(audit.AuditRecord.seq))]
        assert "login.failure" in actions
        assert audit.verify_chain(s).ok


def test_username_is_case_insensitive(clinic_path: Path) -> None:
    with Database.open(clinic_path, " CM1 ", PW) as db:
        assert db.actor.username == "cm1"


def test_missing_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nothing.db"
    with pytest.raises(DatabaseNotFound):
        Database.open(path, "lead", PW)
    assert not path.exists()


def test_plain_sqlite_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    conn = sqlite3.connect(path)  # a file made by someone else's tool, never opened by us with sqlite3
    conn.execute("create table t(x)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(NotACocmDatabase) as err:
        Database.open(path, "lead", PW)
    assert "unencrypted" in str(err.value)
    assert path.read_bytes() == before


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "random.db"
    path.write_bytes(random.Random(1).randbytes(8192))
    with pytest.raises(NotACocmDatabase):
        Database.open(path, "lead", PW)


def test_random_bytes_with_a_key_file_are_not_a_database(clinic_path: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    other.write_bytes(random.Random(2).randbytes(8192))
    shutil.copy2(keyfile_path(clinic_path), keyfile_path(other))
    with pytest.raises(NotACocmDatabase) as err:
        Database.open(other, "lead", PW)
    assert "different database" in str(err.value)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(NotACocmDatabase) as err:
        Database.open(path, "lead", PW)
    assert "empty" in str(err.value)
    assert path.stat().st_size == 0


def test_key_file_from_another_database_is_named(clinic_path: Path, tmp_path: Path) -> None:
    other, _ = Database.create(tmp_path / "other.db", clinic_name="Other", lead_username="lead",
                               lead_display_name="L", lead_password=PW)
    other.close()
    shutil.copy2(keyfile_path(tmp_path / "other.db"), keyfile_path(clinic_path))
    with pytest.raises(NotACocmDatabase) as err:
        Database.open(clinic_path, "lead", PW)
    assert "different database" in str(err.value)


def test_missing_key_file_is_explained(clinic_path: Path) -> None:
    keyfile_path(clinic_path).unlink()
    with pytest.raises(NotACocmDatabase) as err:
        Database.open(clinic_path, "lead", PW)
    assert "key file" in str(err.value)


@pytest.mark.parametrize("cut", [100, 4096 * 3, 4096 + 1])
def test_truncated_copy_is_damaged(clinic_path: Path, tmp_path: Path, cut: int) -> None:
    data = clinic_path.read_bytes()
    assert len(data) > cut
    path = tmp_path / "cut.db"
    path.write_bytes(data[: len(data) - cut] if cut > 4096 else data[:cut])
    shutil.copy2(keyfile_path(clinic_path), keyfile_path(path))
    with pytest.raises((DatabaseDamaged, NotACocmDatabase)) as err:
        Database.open(path, "lead", PW)
    assert "damaged" in str(err.value) or "too short to be a CoCM" in str(err.value)


def test_flipped_byte_in_first_page_is_damaged(clinic_path: Path) -> None:
    data = bytearray(clinic_path.read_bytes())
    data[2000] ^= 0xFF
    clinic_path.write_bytes(bytes(data))
    with pytest.raises(DatabaseDamaged):
        Database.open(clinic_path, "lead", PW)


def test_newer_schema_is_refused_without_change(clinic_path: Path) -> None:
    with Database.open(clinic_path, "lead", PW) as db, db.session() as s:
        s.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    before = clinic_path.read_bytes()
    with pytest.raises(NewerSchema) as err:
        Database.open(clinic_path, "lead", PW)
    assert "newer version" in str(err.value)
    assert clinic_path.read_bytes() == before


def test_second_app_instance_is_refused(clinic_path: Path) -> None:
    first = Database.open(clinic_path, "cm1", PW, exclusive=True)
    try:
        with pytest.raises(DatabaseLocked) as err:
            Database.open(clinic_path, "cm2", PW, exclusive=True)
        assert "already open" in str(err.value)
    finally:
        first.close()
    Database.open(clinic_path, "cm2", PW, exclusive=True).close()  # free again once closed


def test_read_only_location_check_without_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root ignores permission bits, so also prove the check consults the folder's writability.
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    with pytest.raises(ReadOnlyLocation):
        check_location(tmp_path / "x.db")


def test_network_share_path_is_refused() -> None:
    with pytest.raises(NetworkShare):
        check_location(Path("//fileserver/clinic/cocm.db"), for_writing=False)


def test_create_never_overwrites(clinic_path: Path) -> None:
    before = clinic_path.read_bytes()
    with pytest.raises(Exception, match="never overwrites"):
        Database.create(clinic_path, clinic_name="X", lead_username="lead", lead_display_name="L",
                        lead_password=PW)
    assert clinic_path.read_bytes() == before


def test_migrations_match_models(clinic: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cocm_desktop.store.models import Base

    with clinic.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models changed without a migration: {diff}"


def test_key_slot_add_and_remove(clinic: Database, clinic_path: Path) -> None:
    from cocm_desktop.services.users import add_staff_user

    add_staff_user(clinic, clinic.actor, username="cm3", display_name="Sam Lee", role="care_manager",
                   password="s3cret-pass")
    with Database.open(clinic_path, "cm3", "s3cret-pass") as db:
        assert db.actor.role == "care_manager"
    clinic.remove_key_slot("cm3")
    with pytest.raises(WrongCredentials):
        Database.open(clinic_path, "cm3", "s3cret-pass")


def test_recovery_code_opens_and_is_audited_with_reason(tmp_path: Path) -> None:
    db, code = Database.create(tmp_path / "c.db", clinic_name="C", lead_username="boss",
                               lead_display_name="B", lead_password="pw-1234")
    db.close()
    with pytest.raises(ValueError):
        Database.open_with_recovery(tmp_path / "c.db", code, reason="  ")
    with pytest.raises(WrongCredentials):
        Database.open_with_recovery(tmp_path / "c.db", "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE", reason="test")
    with Database.open_with_recovery(tmp_path / "c.db", code.lower().replace("-", " "),
                                     reason="lead forgot password") as db, db.session() as s:
        rec = s.scalars(select(audit.AuditRecord).where(audit.AuditRecord.action == "login.recovery_code")).one()
        assert rec.detail == {"reason": "lead forgot password"}
        assert db.actor.username == "boss"


def test_audit_chain_detects_edit_delete_and_reorder(clinic: Database) -> None:
    with clinic.session() as s:
        for i in range(5):
            audit.append(s, user_id=1, username="lead", action="test.event", summary=f"event {i}")
    with clinic.session() as s:
        assert audit.verify_chain(s).ok
        s.execute(text("UPDATE audit_log SET summary = 'edited' WHERE seq = 4"))
        report = audit.verify_chain(s)
        assert not report.ok and report.first_bad_seq == 4
        s.rollback()
    with clinic.session() as s:
        s.execute(text("DELETE FROM audit_log WHERE seq = 3"))
        report = audit.verify_chain(s)
        assert not report.ok and report.first_bad_seq == 3
        s.rollback()


def test_no_plaintext_phi_on_disk(clinic_path: Path) -> None:
    """The database, its WAL and the key file never hold a patient's name or MRN in clear."""
    db = Database.open(clinic_path, "cm1", PW)
    _add_patient(db, "MRN-ZEBRA-4242", "Quillfeather", "Esmeralda")
    wal = Path(f"{clinic_path}-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the change is in the WAL right now
    files = [clinic_path, wal, keyfile_path(clinic_path)]
    for f in files:
        raw = f.read_bytes()
        for needle in (b"Quillfeather", b"Esmeralda", b"MRN-ZEBRA-4242",
                       "Quillfeather".encode("utf-16-le")):
            assert needle not in raw, f"{needle!r} found in clear in {f.name}"
    db.close()
    for f in clinic_path.parent.iterdir():
        assert b"Quillfeather" not in f.read_bytes()


def test_users_table_roles(clinic: Database) -> None:
    with clinic.session() as s:
        roles = {u.username: u.role for u in s.scalars(select(User))}
    assert roles == {"lead": "clinic_lead", "cm1": "care_manager", "cm2": "care_manager",
                     "psych": "psychiatrist", "doc1": "clinician", "doc2": "clinician"}
