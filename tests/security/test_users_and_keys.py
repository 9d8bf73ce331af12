"""Users and keys: removal re-keys the file, resets and own changes, the login delay, lock/unlock."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.users import (
    add_staff_user,
    change_own_password,
    change_role,
    deactivate_user,
    reactivate_user,
    reset_password,
)
from cocm_desktop.store import audit, database
from cocm_desktop.store.database import Database
from cocm_desktop.store.errors import SessionLocked, TooManyAttempts, WrongCredentials
from cocm_desktop.store.keyslots import RECOVERY_SLOT, KeyFile, RekeyRefused, keyfile_path
from cocm_desktop.store.models import AuditRecord, ClinicSetting, Patient, User

PW = "demo"


def _actions(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def _opens_with_key(path: Path, key: bytes) -> bool:
    from cocm_desktop.store.open_checks import opens_with  # the check the re-key itself relies on

    return opens_with(path, key)


# ---- removal and re-key -----------------------------------------------------------------------
def test_removing_a_user_rekeys_the_file_and_keeps_everyone_else(clinic: Database, clinic_path: Path) -> None:
    old_key = clinic.raw_key_for_backup()
    old_keyfile = keyfile_path(clinic_path).read_text()
    assert _opens_with_key(clinic_path, old_key)

    deactivate_user(clinic, clinic.actor, "cm2", reason="left the clinic")

    assert clinic.raw_key_for_backup() != old_key
    assert not _opens_with_key(clinic_path, old_key)  # the removed user's key opens nothing current
    kf = KeyFile.load(keyfile_path(clinic_path), clinic_path.name)
    assert "cm2" not in kf.slots and not kf.rekey_in_progress
    # The removed user's old slot (e.g. a copy of the old key file) still yields only the old key.
    stale = KeyFile.from_json(old_keyfile)
    assert stale.unwrap("cm2", PW) == old_key
    with pytest.raises(WrongCredentials):
        Database.open(clinic_path, "cm2", PW)
    for name in ("lead", "cm1", "psych", "doc1", "doc2"):
        with Database.open(clinic_path, name, PW) as db:
            assert db.raw_key_for_backup() == clinic.raw_key_for_backup()
    # The running session keeps working and the audit chain survives the new key.
    with clinic.session() as s:
        s.add(
            Patient(
                mrn="K-1",
                family_name="Rekey",
                given_name="Test",
                date_of_birth=__import__("datetime").date(1980, 1, 1),
            )
        )
    with clinic.session() as s:
        assert audit.verify_chain(s).ok
        user = s.scalar(select(User).where(User.username == "cm2"))
        assert user is not None and not user.active and user.deactivated_at is not None
    actions = _actions(clinic)
    assert actions.index("user.deactivate") < actions.index("key.rekey")


def test_recovery_slot_survives_a_rekey(tmp_path: Path) -> None:
    db, code = Database.create(
        tmp_path / "c.db",
        clinic_name="C",
        lead_username="boss",
        lead_display_name="B",
        lead_password="pw-1234",
    )
    with db:
        add_staff_user(
            db,
            db.actor,
            username="temp",
            display_name="Temp Worker",
            role="care_manager",
            password="temp worker pass",
        )
        deactivate_user(db, db.actor, "temp", reason="contract ended")
    with Database.open_with_recovery(tmp_path / "c.db", code, reason="drill") as db:
        assert db.actor.username == "boss"


def _on_disk(path: Path) -> KeyFile:
    return KeyFile.load(keyfile_path(path), path.name)


def test_a_planted_slot_stops_the_rekey_and_is_never_given_the_new_key(clinic: Database, clinic_path: Path) -> None:
    """Someone who can edit the key file (but holds no key) swaps in a slot of their own for an
    active user. The MAC gives it away: the re-key stops, naming that user, and changes nothing;
    once the lead has reset that user's password the re-key goes through without the intruder."""
    kf = _on_disk(clinic_path)
    attacker = KeyFile(database_id=kf.database_id, db_salt=kf.db_salt, key_epoch=kf.key_epoch)
    attacker.add_slot("doc2", "attacker-pw", secrets.token_bytes(32))  # their own key pair, garbage key
    kf.slots["doc2"] = attacker.slots["doc2"]  # an active user's name, so only the MAC can tell
    kf.slots["stranger"] = attacker.slots["doc2"]  # and a name that is no user at all
    kf.save(keyfile_path(clinic_path))
    before, old_key = keyfile_path(clinic_path).read_bytes(), clinic.raw_key_for_backup()
    with pytest.raises(RekeyRefused, match="doc2") as err:
        clinic.rekey(reason="test")
    assert err.value.slots == ["doc2"] and "Nothing was changed" in str(err.value)
    assert keyfile_path(clinic_path).read_bytes() == before
    assert _opens_with_key(clinic_path, old_key)
    clinic.add_key_slot("doc2", PW)  # the lead resets doc2's password
    dropped = clinic.rekey(reason="test")
    assert dropped == ["stranger"]
    assert "stranger" not in _on_disk(clinic_path).slots
    with pytest.raises(WrongCredentials):
        Database.open(clinic_path, "doc2", "attacker-pw")
    Database.open(clinic_path, "doc2", PW).close()


def test_every_mac_flipped_stops_a_removal_and_loses_no_one(clinic: Database, clinic_path: Path, actors) -> None:  # type: ignore[no-untyped-def]
    """Found: one hex digit flipped in every slot's MAC, then `users remove` dropped every slot,
    re-keyed the file to a key no slot held and said it had worked."""
    kf = _on_disk(clinic_path)
    for slot in kf.slots.values():
        assert slot.mac is not None
        slot.mac = ("0" if slot.mac[0] != "0" else "1") + slot.mac[1:]
    kf.save(keyfile_path(clinic_path))
    with pytest.raises(RekeyRefused) as err:
        deactivate_user(clinic, actors["lead"], "cm2", reason="left")
    assert "lead" in str(err.value) and "cm1" in str(err.value)
    for user in ("lead", "cm1", "psych", "doc1"):
        Database.open(clinic_path, user, PW).close()


def test_interrupted_rekey_before_the_file_changed_is_redone_at_next_sign_in(
    clinic: Database, clinic_path: Path
) -> None:
    old_key = clinic.raw_key_for_backup()
    kf = _on_disk(clinic_path)
    kf.begin_rekey(
        old_key, secrets.token_bytes(32), {"lead", "cm1", "cm2", "psych", "doc1", "doc2", RECOVERY_SLOT}
    )
    kf.save(keyfile_path(clinic_path))  # step 1 done, then "power loss"
    clinic.close()
    with Database.open(clinic_path, "cm1", PW) as db:
        new_key = db.raw_key_for_backup()
    assert new_key != old_key and not _opens_with_key(clinic_path, old_key)
    assert not _on_disk(clinic_path).rekey_in_progress
    with Database.open(clinic_path, "doc1", PW) as db, db.session() as s:
        assert db.raw_key_for_backup() == new_key
        assert audit.verify_chain(s).ok


def test_interrupted_rekey_after_the_file_changed_is_finished_at_next_sign_in(
    clinic: Database, clinic_path: Path
) -> None:
    old_key = clinic.raw_key_for_backup()
    new_key = secrets.token_bytes(32)
    kf = _on_disk(clinic_path)
    kf.begin_rekey(old_key, new_key, {"lead", "cm1", "cm2", "psych", "doc1", "doc2", RECOVERY_SLOT})
    kf.save(keyfile_path(clinic_path))
    clinic._apply_rekey(new_key, kf)  # step 2 done, key file not finished: "power loss"
    clinic.close()
    with Database.open(clinic_path, "psych", PW) as db:
        assert db.raw_key_for_backup() == new_key
    assert not _on_disk(clinic_path).rekey_in_progress
    with Database.open(clinic_path, "lead", PW) as db, db.session() as s:
        assert audit.verify_chain(s).ok


@pytest.mark.parametrize(
    "who,target,message",
    [
        ("lead", "lead", "yourself"),
        ("lead", "nobody", "no user"),
    ],
)
def test_removal_refusals(clinic: Database, actors, who: str, target: str, message: str) -> None:  # type: ignore[no-untyped-def]
    before = keyfile_path(clinic.path).read_bytes()
    with pytest.raises(Exception, match=message):
        deactivate_user(clinic, actors[who], target, reason="x")
    assert keyfile_path(clinic.path).read_bytes() == before


def test_last_clinic_lead_cannot_be_removed_or_demoted(clinic: Database, actors) -> None:  # type: ignore[no-untyped-def]
    add_staff_user(
        clinic,
        actors["lead"],
        username="lead2",
        display_name="Second Lead",
        role="clinic_lead",
        password="second lead pw",
    )
    lead2 = clinic.actor.__class__(clinic.actor.user_id + 100, "lead2", "Second Lead", "clinic_lead")
    with clinic.session() as s:
        lead2 = lead2.__class__(
            s.scalar(select(User.id).where(User.username == "lead2")), "lead2", "Second Lead", "clinic_lead"
        )
    deactivate_user(clinic, lead2, "lead", reason="handover")  # two leads: allowed
    with pytest.raises(ValidationError, match="last clinic lead"):
        change_role(clinic, lead2, "lead2", role="care_manager")


def test_only_the_clinic_lead_manages_users(clinic: Database, actors) -> None:  # type: ignore[no-untyped-def]
    for call in (
        lambda: deactivate_user(clinic, actors["cm1"], "cm2", reason="x"),
        lambda: reset_password(clinic, actors["doc1"], "cm2", new_password="new pass for cm2"),
        lambda: change_role(clinic, actors["psych"], "cm2", role="clinic_lead"),
        lambda: add_staff_user(
            clinic, actors["cm1"], username="x1", display_name="X", role="clinician", password="pw-12345-long"
        ),
    ):
        with pytest.raises(PermissionDenied):
            call()
    with Database.open(clinic.path, "cm2", PW):
        pass


def test_reset_and_own_password_change(clinic: Database, clinic_path: Path, actors) -> None:  # type: ignore[no-untyped-def]
    reset_password(clinic, actors["lead"], "cm1", new_password="fresh start now")
    with pytest.raises(WrongCredentials):
        Database.open(clinic_path, "cm1", PW)
    with Database.open(clinic_path, "cm1", "fresh start now") as db:
        before = keyfile_path(clinic_path).read_bytes()
        with pytest.raises(ValidationError, match="current password"):
            change_own_password(db, db.actor, current_password="wrong", new_password="another one please")
        assert keyfile_path(clinic_path).read_bytes() == before
        change_own_password(db, db.actor, current_password="fresh start now", new_password="another one please")
    with Database.open(clinic_path, "cm1", "another one please") as db:
        actions = _actions(db)
    assert "user.password_reset" in actions and "user.password_change" in actions


def test_reactivated_user_signs_in_with_the_new_password(clinic: Database, clinic_path: Path, actors) -> None:  # type: ignore[no-untyped-def]
    deactivate_user(clinic, actors["lead"], "doc2", reason="leave")
    reactivate_user(clinic, actors["lead"], "doc2", password="back again at work")
    with Database.open(clinic_path, "doc2", "back again at work") as db:
        assert db.actor.role == "clinician"


def test_role_change_is_audited_with_before_and_after(clinic: Database, actors) -> None:  # type: ignore[no-untyped-def]
    change_role(clinic, actors["lead"], "doc1", role="psychiatrist")
    with clinic.session() as s:
        rec = s.scalars(select(AuditRecord).where(AuditRecord.action == "user.role_change")).one()
        assert rec.detail == {"from": "clinician", "to": "psychiatrist"}


# ---- weak or old slots are upgraded at sign-in --------------------------------------------------
def test_weak_kdf_slot_is_strengthened_at_sign_in(clinic: Database, clinic_path: Path) -> None:
    clinic.add_key_slot("doc1", PW, kdf={"t": 1, "m": 65536, "p": 1})
    assert _on_disk(clinic_path).needs_upgrade("doc1")
    with Database.open(clinic_path, "doc1", PW):
        pass
    slot = KeyFile.load(keyfile_path(clinic_path), clinic_path.name).slots["doc1"]
    assert slot.kdf["m"] >= 65536 and slot.kdf["t"] >= 3


def test_format_1_slot_still_opens_and_is_converted(clinic: Database, clinic_path: Path) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from cocm_desktop.store.keyslots import KeySlot, _associated_data, _derive

    kf, key = _on_disk(clinic_path), clinic.raw_key_for_backup()
    salt, nonce, kdf = secrets.token_bytes(16), secrets.token_bytes(12), {"t": 3, "m": 65536, "p": 2}
    wrapped = AESGCM(_derive(PW, salt, kdf)).encrypt(nonce, key, _associated_data(kf.database_id, "doc2", 1))
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    kf.slots["doc2"] = KeySlot(b64(salt), b64(nonce), b64(wrapped), 1, kdf)
    kf.save(keyfile_path(clinic_path))
    assert "public" not in json.loads(keyfile_path(clinic_path).read_text())["slots"]["doc2"]
    with Database.open(clinic_path, "doc2", PW) as db:
        assert db.actor.username == "doc2"
    assert not KeyFile.load(keyfile_path(clinic_path), clinic_path.name).slots["doc2"].legacy


# ---- growing delay after failed sign-ins --------------------------------------------------------
def test_growing_delay_after_five_failures(clinic_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [database._utcnow()]
    monkeypatch.setattr(database, "_utcnow", lambda: clock[0])
    for _ in range(5):  # the free attempts
        with pytest.raises(WrongCredentials):
            Database.open(clinic_path, "cm1", "bad")
    with pytest.raises(TooManyAttempts) as err:  # the 6th already waits, even with the right password
        Database.open(clinic_path, "cm1", PW)
    assert "Too many failed sign-ins; wait 2 seconds" in str(err.value)
    with Database.open(clinic_path, "cm2", PW):  # per user: others are not held up
        pass
    clock[0] += timedelta(seconds=1)
    with pytest.raises(TooManyAttempts, match="wait 1 second"):
        Database.open(clinic_path, "cm1", PW)
    clock[0] += timedelta(seconds=1)
    with pytest.raises(WrongCredentials):  # tried after the wait: the 6th failure doubles the delay
        Database.open(clinic_path, "cm1", "bad")
    with pytest.raises(TooManyAttempts, match="wait 4 seconds"):
        Database.open(clinic_path, "cm1", PW)
    clock[0] += timedelta(seconds=4)
    with Database.open(clinic_path, "cm1", PW) as db:
        actions = _actions(db)
    assert actions.count("login.failure") == 6  # every failure audited, once
    assert actions.count("login.throttled") == 3  # and every attempt refused during the wait
    assert "cm1" not in _on_disk(clinic_path).failures
    with pytest.raises(WrongCredentials):  # counter reset by the good sign-in: free attempts again
        Database.open(clinic_path, "cm1", "bad")
    Database.open(clinic_path, "cm1", PW).close()


def test_clinic_policy_login_numbers_reach_the_key_file(clinic: Database, clinic_path: Path) -> None:
    with clinic.session() as s:
        s.add(
            ClinicSetting(
                key="policy", value={"failed_login_free_attempts": 1, "failed_login_delay_seconds": 30}
            )
        )
    Database.open(clinic_path, "cm1", PW).close()
    assert (
        KeyFile.load(keyfile_path(clinic_path), clinic_path.name).login_policy["failed_login_delay_seconds"]
        == 30
    )
    with pytest.raises(WrongCredentials):  # the one free attempt
        Database.open(clinic_path, "doc1", "bad")
    with pytest.raises(TooManyAttempts, match="wait 30 seconds"):
        Database.open(clinic_path, "doc1", PW)


def test_failures_of_unknown_usernames_cannot_grow_the_key_file_without_bound(clinic_path: Path) -> None:
    from cocm_desktop.store import keyslots

    kf = KeyFile.load(keyfile_path(clinic_path), clinic_path.name)
    for i in range(keyslots.MAX_PENDING + 50):
        kf.note_failure(f"guess{i}", f"2026-11-24T10:00:{i % 60:02d}")
    assert len(kf.pending) == keyslots.MAX_PENDING and kf.pending_dropped == 50
    assert len(kf.failures) <= keyslots.MAX_FAILURE_NAMES
    kf.save(keyfile_path(clinic_path))
    with Database.open(clinic_path, "lead", PW) as db, db.session() as s:
        n = len(s.scalars(select(AuditRecord).where(AuditRecord.action == "login.failure")).all())
        assert n == keyslots.MAX_PENDING + 1  # one summary record for the overflow
        assert audit.verify_chain(s).ok


# ---- idle lock below the GUI --------------------------------------------------------------------
def test_locked_session_refuses_everything_until_unlocked(clinic: Database) -> None:
    clinic.lock()
    assert clinic.locked
    with pytest.raises(SessionLocked, match="locked"), clinic.session():
        pass
    with pytest.raises(SessionLocked):
        clinic.rekey(reason="x")
    with pytest.raises(WrongCredentials):
        clinic.unlock("lead", "wrong")
    assert clinic.locked
    actor = clinic.unlock("LEAD", PW)
    assert actor.username == "lead" and not clinic.locked
    actions = _actions(clinic)
    tail = actions[actions.index("session.lock") :]
    assert tail == ["session.lock", "login.failure", "session.unlock"]


def test_another_user_can_take_over_a_locked_session(clinic: Database) -> None:
    clinic.lock()
    actor = clinic.unlock("cm1", PW)
    assert clinic.actor == actor and actor.role == "care_manager"
    with clinic.session() as s:
        rec = s.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).one()
        assert (rec.action, rec.username, rec.detail) == ("session.unlock", "cm1", {"previous_user": "lead"})


def test_unlock_with_a_password_from_another_database_fails(clinic: Database, tmp_path: Path) -> None:
    other, _ = Database.create(
        tmp_path / "o.db",
        clinic_name="O",
        lead_username="lead",
        lead_display_name="L",
        lead_password="other-pw",
    )
    other.close()
    shutil.copy2(keyfile_path(tmp_path / "o.db"), tmp_path / "stolen.keys")
    kf = _on_disk(clinic.path)
    kf.slots["intruder"] = KeyFile.load(tmp_path / "stolen.keys", "o.db").slots["lead"]
    kf.save(keyfile_path(clinic.path))
    clinic.lock()
    with pytest.raises(WrongCredentials):
        clinic.unlock("intruder", "other-pw")
    assert clinic.locked
