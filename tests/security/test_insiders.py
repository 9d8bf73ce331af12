"""A valid password is no licence to rewrite history: each attack staged with only a care
manager's password and the files on disk, each caught by `audit verify` and at the lead's next
sign-in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from cocm_desktop.services.users import add_staff_user, change_role
from cocm_desktop.store import audit
from cocm_desktop.store.database import Database
from cocm_desktop.store.engine import raw_connect
from cocm_desktop.store.keyslots import KeyFile, keyfile_path
from cocm_desktop.store.models import AuditRecord

REPO = Path(__file__).resolve().parents[2]
LEAD_PW, CM_PW = "insider-lead-password", "insider-cm1-password"


@pytest.fixture
def clinic(tmp_path: Path) -> Path:
    db, _code = Database.create(tmp_path / "clinic.db", clinic_name="Insider clinic", lead_username="lead",
                                lead_display_name="Lead", lead_password=LEAD_PW)
    with db:
        add_staff_user(db, db.actor, username="cm1", display_name="Care Manager", role="care_manager",
                       password=CM_PW)
        add_staff_user(db, db.actor, username="doc1", display_name="Doctor", role="clinician",
                       password="insider-doc1-password")
    Database.open(db.path, "lead", LEAD_PW).close()  # the lead's slot remembers the newest record
    return db.path


def _as_cm1_with_sql(path: Path, *statements: str) -> None:
    """What cm1 can do with their own password: unwrap the key, then any SQL they like."""
    key = KeyFile.load(keyfile_path(path), path.name).unwrap("cm1", CM_PW)
    conn = raw_connect(path, key)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _verify(path: Path) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COCM_PASSWORD=LEAD_PW)
    proc = subprocess.run([sys.executable, "-m", "cocm_desktop", "audit", "verify", "--db", str(path),
                           "--user", "lead"], env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def _lead_alarms(path: Path) -> list[str]:
    with Database.open(path, "lead", LEAD_PW) as db:
        return db.integrity_alarms


def test_an_honest_clinic_verifies_and_raises_no_alarm(clinic: Path) -> None:
    code, out = _verify(clinic)
    assert code == 0, out
    assert _lead_alarms(clinic) == []


def test_a_role_raised_in_the_user_table_is_named(clinic: Path) -> None:
    """Found: UPDATE "user" SET role = 'clinic_lead' went unnoticed; cm1 then ran backups and billing."""
    _as_cm1_with_sql(clinic, "UPDATE \"user\" SET role = 'clinic_lead' WHERE username = 'cm1'")
    alarms = _lead_alarms(clinic)
    assert any("cm1 is clinic_lead in the user table" in a and "grants say care_manager" in a for a in alarms)
    code, out = _verify(clinic)
    assert code == 1 and "cm1 is clinic_lead in the user table" in out


def test_a_raised_role_used_through_the_app_is_not_a_valid_grant(clinic: Path) -> None:
    """cm1, made lead in the table, promotes doc1 through the app: the grant is cm1's, not a lead's."""
    _as_cm1_with_sql(clinic, "UPDATE \"user\" SET role = 'clinic_lead' WHERE username = 'cm1'")
    with Database.open(clinic, "cm1", CM_PW) as db:
        change_role(db, db.actor, "doc1", role="clinic_lead")
    code, out = _verify(clinic)
    assert code == 1 and "cm1 changed who may do what without being a clinic lead" in out


def test_an_edited_record_cannot_be_re_signed_with_the_database_key(clinic: Path) -> None:
    """Found: with audit_chain_key from clinic_setting anyone could re-sign the whole chain after
    an edit. Now there is no such key: cm1 recomputes every chain value after the edit and signs
    every record as themself, and is still caught."""
    key = KeyFile.load(keyfile_path(clinic), clinic.name).unwrap("cm1", CM_PW)
    seed = KeyFile.load(keyfile_path(clinic), clinic.name).open_slot("cm1", CM_PW)[1]
    assert seed is not None
    conn = raw_connect(clinic, key)
    try:
        assert conn.execute("SELECT count(*) FROM clinic_setting WHERE key = 'audit_chain_key'").fetchone()[0] == 0
        conn.execute("UPDATE audit_log SET summary = 'nothing happened' WHERE action = 'user.create' "
                     "AND summary LIKE '%doc1%'")
        conn.commit()
    finally:
        conn.close()
    _resign_everything_as_cm1(clinic, key, seed)
    code, out = _verify(clinic)  # the bindings and grants cm1 had to re-sign are not a lead's
    assert code == 1 and "cm1 bound a signing key for doc1 without being a clinic lead" in out


def _resign_everything_as_cm1(path: Path, key: bytes, seed: bytes) -> None:
    from sqlalchemy.orm import Session

    from cocm_desktop.store.engine import make_engine
    from cocm_desktop.store.models import ClinicSetting

    engine = make_engine(path, key)
    try:
        with Session(engine) as s:
            prev = audit.GENESIS
            signer = audit.Signer("cm1", seed)
            for rec in s.scalars(select(AuditRecord).order_by(AuditRecord.seq)):
                rec.signer = "cm1"
                rec.hmac = audit._chain_value(prev, rec)
                rec.sig = signer.sign(rec.hmac)
                prev = rec.hmac
            head = s.get(ClinicSetting, audit.HEAD_SETTING)
            assert head is not None
            head.value = {"seq": rec.seq, "hmac": prev}
            s.commit()
    finally:
        engine.dispose()


def test_deleting_the_newest_records_and_rewriting_the_head_is_caught(clinic: Path) -> None:
    """Found: deleting the newest records and rewriting `audit_head` with an older record's seq and
    value needed no key at all, and verify said intact. Now the lead's key slot remembers, signed,
    the newest record they saw."""
    with Database.open(clinic, "lead", LEAD_PW) as db, db.session() as s:
        newest = s.scalar(select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1))
    cut = newest - 3
    key = KeyFile.load(keyfile_path(clinic), clinic.name).unwrap("cm1", CM_PW)
    conn = raw_connect(clinic, key)
    try:
        chain = conn.execute("SELECT hmac FROM audit_log WHERE seq = ?", (cut,)).fetchone()[0]
        conn.execute("DELETE FROM audit_log WHERE seq > ?", (cut,))
        conn.execute("UPDATE clinic_setting SET value = json_object('seq', ?, 'hmac', ?) WHERE key = 'audit_head'",
                     (cut, chain))
        conn.commit()
    finally:
        conn.close()
    alarms = _lead_alarms(clinic)
    assert any(f"lead has seen audit record {newest}" in a and "gone" in a for a in alarms), alarms
    code, out = _verify(clinic)
    assert code == 1 and "ALARM: lead has seen audit record" in out


def test_an_older_copy_of_the_database_put_back_is_caught(clinic: Path, tmp_path: Path) -> None:
    """Replacing the database with an older copy (beside the current key file) is noticed at the
    lead's next sign-in: the lead has seen records the copy does not hold."""
    old = tmp_path / "older.db"
    shutil.copy2(clinic, old)
    with Database.open(clinic, "lead", LEAD_PW) as db:  # history goes on after the copy
        add_staff_user(db, db.actor, username="cm2", display_name="Another", role="care_manager",
                       password="insider-cm2-password")
    for suffix in ("-wal", "-shm"):
        Path(f"{clinic}{suffix}").unlink(missing_ok=True)
    shutil.copy2(old, clinic)
    alarms = _lead_alarms(clinic)
    assert any("lead has seen audit record" in a and "older copy" in a for a in alarms), alarms


def test_a_slot_planted_for_a_user_cannot_sign_as_them(clinic: Path) -> None:
    """cm1 gives doc1 a new slot of their own making (cm1 holds the database key, so its MAC is
    right) and signs records as doc1: the log never bound that signing key to doc1."""
    key = KeyFile.load(keyfile_path(clinic), clinic.name).unwrap("cm1", CM_PW)
    kf = KeyFile.load(keyfile_path(clinic), clinic.name)
    kf.add_slot("doc1", "cm1-knows-this-one", key)
    kf.save(keyfile_path(clinic))
    with Database.open(clinic, "doc1", "cm1-knows-this-one"):
        pass  # the app lets the slot in (it holds the key) ...
    code, out = _verify(clinic)  # ... but its records are not doc1's
    assert code == 1 and "doc1" in out


# ---- clinical rows changed directly in SQL (store.row_seals) ---------------------------------
DEMO_PW = "demo"  # the demo clinic's logins; cm1 is a care manager


def _sql_as_demo_cm1(path: Path, *statements: str) -> None:
    key = KeyFile.load(keyfile_path(path), path.name).unwrap("cm1", DEMO_PW)
    conn = raw_connect(path, key)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _verify_demo(path: Path) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COCM_PASSWORD=DEMO_PW)
    proc = subprocess.run([sys.executable, "-m", "cocm_desktop", "audit", "verify", "--db", str(path),
                           "--user", "lead"], env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def _lead_full_check(path: Path) -> tuple[str, ...]:
    """What the clinic lead's sign-in finds (the GUI runs this walk in the background)."""
    with Database.open(path, "lead", DEMO_PW) as db:
        return db.full_check().findings()


def _first_id(path: Path, table: str) -> int:
    key = KeyFile.load(keyfile_path(path), path.name).unwrap("cm1", DEMO_PW)
    conn = raw_connect(path, key)
    try:
        return int(conn.execute(f"SELECT min(id) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_a_demo_clinic_and_honest_work_through_the_app_verify_clean(demo_path: Path) -> None:
    """Bulk-loaded rows (the demo generator) and rows written through the services are sealed:
    nothing is reported on an honest clinic, also after contacts, measures and corrections."""
    from datetime import date, datetime

    from cocm_desktop.services.contacts import amend_contact, record_contact, void_contact
    from cocm_desktop.services.measures import record_measure
    from cocm_desktop.store.models import Episode

    with Database.open(demo_path, "cm1", DEMO_PW) as db:
        cm = db.actor
        with db.session() as s:
            episode = s.scalar(select(Episode.id).where(Episode.care_manager_id == cm.user_id,
                                                        Episode.status == "active").limit(1))
        with db.session() as s:
            first = record_contact(s, cm, episode, contact_at=datetime(2026, 11, 20, 10), mode="phone",
                                   kind="follow_up", next_step="Call again", next_step_on=date(2026, 11, 30),
                                   minutes=12, now=datetime(2026, 11, 24, 9))
        with db.session() as s:
            second = record_contact(s, cm, episode, contact_at=datetime(2026, 11, 21, 10), mode="phone",
                                    kind="follow_up", next_step="Call again", next_step_on=date(2026, 12, 1),
                                    minutes=5, now=datetime(2026, 11, 24, 9))
        with db.session() as s:
            record_measure(s, cm, episode, "PHQ-9", [1, 1, 1, 1, 1, 1, 1, 1, 0],
                           taken_at=datetime(2026, 11, 21, 10, 20), now=datetime(2026, 11, 24, 9))
        with db.session() as s:
            amend_contact(s, cm, first.id, reason="wrong step", next_step="Visit",
                          now=datetime(2026, 11, 24, 9, 5))
        with db.session() as s:
            void_contact(s, cm, second.id, reason="duplicate entry", now=datetime(2026, 11, 24, 9, 6))
    assert _lead_full_check(demo_path) == ()
    code, out = _verify_demo(demo_path)
    assert code == 0, out


def test_a_clinical_row_changed_in_sql_is_named(demo_path: Path) -> None:
    """Found: clinical rows changed directly in SQL left no audit record and nothing noticed.
    cm1 lowers a PHQ-9 total with their own password: verify and the lead's check name the row
    (table and id), never a value."""
    mid = _first_id(demo_path, "measure")
    _sql_as_demo_cm1(demo_path, f"UPDATE measure SET total = 2 WHERE id = {mid}")
    found = _lead_full_check(demo_path)
    assert any(f"measure row {mid} changed outside CoCM Desktop" in a for a in found), found
    code, out = _verify_demo(demo_path)
    assert code == 1, out
    assert f"ALARM: measure row {mid} changed outside CoCM Desktop" in out
    assert "total" not in out  # the alarm names the row, not what it holds


def test_a_row_saved_through_the_app_then_edited_in_sql_is_named(demo_path: Path) -> None:
    from datetime import date, datetime

    from cocm_desktop.services.contacts import record_contact
    from cocm_desktop.store.models import Episode

    with Database.open(demo_path, "cm1", DEMO_PW) as db, db.session() as s:
        episode = s.scalar(select(Episode.id).where(Episode.care_manager_id == db.actor.user_id,
                                                    Episode.status == "active").limit(1))
        saved = record_contact(s, db.actor, episode, contact_at=datetime(2026, 11, 20, 10), mode="phone",
                               kind="follow_up", next_step="Call again", next_step_on=date(2026, 11, 30),
                               minutes=30, now=datetime(2026, 11, 24, 9))
    assert saved.time_entry_id is not None
    _sql_as_demo_cm1(demo_path, f"UPDATE time_entry SET minutes = 45 WHERE id = {saved.time_entry_id}")
    code, out = _verify_demo(demo_path)
    assert code == 1 and f"time_entry row {saved.time_entry_id} changed outside" in out, out


def test_a_row_added_or_deleted_in_sql_is_named(demo_path: Path) -> None:
    cid = _first_id(demo_path, "diagnosis")
    _sql_as_demo_cm1(
        demo_path,
        f"DELETE FROM diagnosis WHERE id = {cid}",
        "INSERT INTO risk_event (episode_id, measure_id, trigger, opened_at, opened_by_id, "
        "safety_assessment_done, clinician_notified, after_hours_routing_used, safety_plan_done) SELECT "
        "episode_id, measure_id, trigger, opened_at, opened_by_id, 0, 0, 0, 0 FROM risk_event LIMIT 1",
    )
    found = "\n".join(_lead_full_check(demo_path))
    assert f"diagnosis row {cid} deleted outside CoCM Desktop" in found
    assert "risk_event row" in found and "added outside CoCM Desktop" in found


# ---- the database and its key file put back together (store.account_memory) -------------------
def _put_back(path: Path, old: Path) -> None:
    """cm1 replaces the database AND its key file with an older pair (their own password opens
    both: no key needed at all)."""
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy2(old, path)
    shutil.copy2(keyfile_path(old), keyfile_path(path))


def _copy_pair(path: Path, dest: Path) -> Path:
    with Database.open(path, "cm1", CM_PW):
        pass  # a clean checkpoint: the copy is whole without its -wal
    shutil.copy2(path, dest)
    shutil.copy2(keyfile_path(path), keyfile_path(dest))
    return dest


def test_the_database_and_its_key_file_rolled_back_together_are_caught(clinic: Path, tmp_path: Path) -> None:
    """Found: replacing the database and its key file with an older copy was not noticed (every
    key slot's memory went back with them). The lead's computer account remembers more."""
    old = _copy_pair(clinic, tmp_path / "older.db")
    with Database.open(clinic, "lead", LEAD_PW) as db:  # history goes on after the copy
        add_staff_user(db, db.actor, username="cm2", display_name="Another", role="care_manager",
                       password="insider-cm2-password")
    _put_back(clinic, old)
    alarms = _lead_alarms(clinic)
    assert any("this computer account remembers that lead saw audit record" in a and "older copy" in a
               for a in alarms), alarms
    code, out = _verify(clinic)
    assert code == 1 and "ALARM: this computer account remembers" in out


def test_a_rollback_found_by_a_care_manager_reaches_the_lead(
    clinic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each person has their own computer account: doc1's remembers the newer log, the lead's
    does not (the lead last signed in before the copy). doc1's sign-in writes what it found into
    the signed log, and the lead is told at their next sign-in."""
    lead_account, doc_account = tmp_path / "lead-account", tmp_path / "doc1-account"
    monkeypatch.setenv("COCM_DESKTOP_ACCOUNT_DIR", str(lead_account))
    Database.open(clinic, "lead", LEAD_PW).close()
    old = _copy_pair(clinic, tmp_path / "older.db")
    monkeypatch.setenv("COCM_DESKTOP_ACCOUNT_DIR", str(doc_account))
    Database.open(clinic, "doc1", "insider-doc1-password").close()  # doc1 works on after the copy
    _put_back(clinic, old)
    with Database.open(clinic, "doc1", "insider-doc1-password") as db:
        assert any("doc1 saw audit record" in a for a in db.integrity_alarms)
    monkeypatch.setenv("COCM_DESKTOP_ACCOUNT_DIR", str(lead_account))
    alarms = _lead_alarms(clinic)
    assert any(a.startswith("doc1's sign-in found: this computer account remembers") for a in alarms), alarms


def test_a_restore_by_the_lead_is_not_an_alarm(clinic: Path, tmp_path: Path) -> None:
    """Putting a backup back on purpose (restore) is signed by the clinic lead: what everyone's
    computer account remembers of the replaced log is explained by it, not an alarm."""
    from cocm_desktop.store.backup import make_backup, restore

    with Database.open(clinic, "lead", LEAD_PW) as db:
        make_backup(db, tmp_path / "backup.db")
    Database.open(clinic, "cm1", CM_PW).close()
    with Database.open(clinic, "lead", LEAD_PW) as db:
        add_staff_user(db, db.actor, username="cm2", display_name="Another", role="care_manager",
                       password="insider-cm2-password")
    restore(clinic, tmp_path / "backup.db", "lead", LEAD_PW)
    assert _lead_alarms(clinic) == []
    with Database.open(clinic, "cm1", CM_PW) as db:
        assert db.integrity_alarms == []
    code, out = _verify(clinic)
    assert code == 0, out
