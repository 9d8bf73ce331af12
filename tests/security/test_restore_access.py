"""A restore never gives access back: people removed since the backup stay removed (the restored
copy is re-keyed without them) and the lead is told who, and who was added since."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cocm_desktop.cli import main
from cocm_desktop.services.backups import check_restore, restore_backup
from cocm_desktop.services.users import add_staff_user, change_role, deactivate_user
from cocm_desktop.store.backup import make_backup
from cocm_desktop.store.database import Database
from cocm_desktop.store.errors import RestoreRefused, WrongCredentials
from cocm_desktop.store.keyslots import keyfile_path
from cocm_desktop.store.models import AuditRecord, User

PW = "demo"
NEW_PW = "a long new password 7"


def _backup_then_change_staff(clinic: Database, actors, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    backup = tmp_path / "bk" / "before.db"
    backup.parent.mkdir()
    make_backup(clinic, backup)
    deactivate_user(clinic, actors["lead"], "cm2", reason="left the clinic")
    add_staff_user(clinic, actors["lead"], username="cm3", display_name="Sam New", role="care_manager",
                   password=NEW_PW, credentials="RN")
    return backup


def test_restore_keeps_people_removed_since_the_backup_out_and_names_them(
    clinic: Database, clinic_path: Path, actors, tmp_path: Path, monkeypatch, capsys  # type: ignore[no-untyped-def]
) -> None:
    backup = _backup_then_change_staff(clinic, actors, tmp_path)
    clinic.close()
    monkeypatch.setenv("COCM_PASSWORD", PW)
    assert main(["restore", "--db", str(clinic_path), "--from", str(backup), "--user", "lead"]) == 0
    err = capsys.readouterr().err
    assert "Removed since this backup was made" in err and "cm2" in err
    assert "Added since this backup was made" in err and "cm3" in err
    with pytest.raises(WrongCredentials):  # "Wrong username or password", as for anyone unknown
        Database.open(clinic_path, "cm2", PW)
    for user in ("lead", "cm1", "doc1"):
        Database.open(clinic_path, user, PW).close()
    with Database.open(clinic_path, "lead", PW) as db, db.session() as s:
        assert "cm2" not in db.keyfile.slots
        cm2 = s.scalar(select(User).where(User.username == "cm2"))
        assert cm2 is not None and not cm2.active  # history kept, access gone
        rec = s.scalars(select(AuditRecord).where(AuditRecord.action == "user.deactivate",
                                                  AuditRecord.object_id == cm2.id)).all()[-1]
        assert rec.detail == {"reason": "removed after this backup was made"}
        restore_rec = s.scalars(select(AuditRecord).where(AuditRecord.action == "backup.restore")).one()
        assert restore_rec.detail["removed_since"] == ["cm2"] and restore_rec.detail["added_since"] == ["cm3"]
    assert not [p for p in clinic_path.parent.iterdir() if ".restoring-" in p.name]


def test_the_confirmation_names_them_before_anything_changes(clinic: Database, clinic_path: Path, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backup = _backup_then_change_staff(clinic, actors, tmp_path)
    clinic.close()
    before = {p.name: p.read_bytes() for p in clinic_path.parent.iterdir() if p.is_file() and not p.name.endswith("-shm")}
    preview = check_restore(clinic_path, backup, "lead", PW)
    assert preview.verification.ok and preview.access.known
    assert preview.access.removed == ("cm2",) and preview.access.added == ("cm3",)
    after = {p.name: p.read_bytes() for p in clinic_path.parent.iterdir() if p.is_file() and not p.name.endswith("-shm")}
    assert after == before


def test_a_lead_removed_since_the_backup_cannot_restore_it(clinic: Database, clinic_path: Path, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    change_role(clinic, actors["lead"], "cm2", role="clinic_lead")
    backup = tmp_path / "old.db"
    make_backup(clinic, backup)
    deactivate_user(clinic, actors["lead"], "cm2", reason="left the clinic")
    clinic.close()
    with pytest.raises(RestoreRefused, match="removed from this clinic"):
        restore_backup(clinic_path, backup, "cm2", PW)
    with pytest.raises(WrongCredentials):
        Database.open(clinic_path, "cm2", PW)


def test_when_todays_key_file_is_unreadable_the_lead_is_told_to_check_the_users(
    clinic: Database, clinic_path: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "b.db"
    make_backup(clinic, backup)
    clinic.close()
    keyfile_path(clinic_path).write_text("{ damaged")
    result = restore_backup(clinic_path, backup, "lead", PW)
    assert not result.access.known
    from cocm_desktop.services.backups import describe_access

    assert "Clinic › Users" in describe_access(result.access, done=True)[0]
    Database.open(clinic_path, "lead", PW).close()


def test_a_password_changed_since_the_backup_is_named(clinic: Database, clinic_path: Path, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.users import reset_password

    backup = tmp_path / "b.db"
    make_backup(clinic, backup)
    reset_password(clinic, actors["lead"], "doc1", new_password=NEW_PW)
    clinic.close()
    result = restore_backup(clinic_path, backup, "lead", PW)
    assert result.access.password_changed == ("doc1",) and result.access.removed == ()


def test_accounts_that_never_had_a_key_slot_are_not_reported_or_touched(clinic: Database, clinic_path: Path, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Staff who appear in records but never signed in (no key slot, as in the demo clinic) gave
    nobody access: a restore neither names nor deactivates them."""
    with clinic.session() as s:
        s.add(User(username="cm99", display_name="Records Only", role="care_manager", active=True))
    backup = tmp_path / "b.db"
    make_backup(clinic, backup)
    clinic.close()
    result = restore_backup(clinic_path, backup, "lead", PW)
    assert result.access.known and result.access.removed == () and result.access.added == ()
    with Database.open(clinic_path, "lead", PW) as db, db.session() as s:
        assert s.scalar(select(User.active).where(User.username == "cm99")) is True
