"""Migration 0016: a clinic from 0015 keeps every row as it was, each record edited in place starts
at version 1, the schema matches the models, and the signed row seals made before still hold
(`audit verify` is clean) while a version changed in SQL afterwards is named like any other edit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from cocm_desktop.domain.actor import Actor
from cocm_desktop.services import contacts
from cocm_desktop.store import migrate, row_seals
from cocm_desktop.store.database import Database
from cocm_desktop.store.engine import raw_connect
from cocm_desktop.store.keyslots import KeyFile, keyfile_path
from cocm_desktop.store.models import Base, Contact, User, Versioned

REPO = Path(__file__).resolve().parents[2]
VERSIONED = sorted(m.class_.__tablename__ for m in Base.registry.mappers if issubclass(m.class_, Versioned))


def _verify(path: Path) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COCM_PASSWORD="demo")
    proc = subprocess.run([sys.executable, "-m", "cocm_desktop", "audit", "verify", "--db", str(path),
                           "--user", "lead"], env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def _rows(conn, table: str) -> list[tuple]:  # type: ignore[no-untyped-def, type-arg]
    cols = [c["name"] for c in inspect(conn).get_columns(table) if c["name"] != "row_version"]
    quoted = ", ".join(f'"{c}"' for c in cols)
    rows = [tuple(r) for r in conn.execute(text(f'SELECT {quoted} FROM "{table}" ORDER BY 1'))]
    return [r for r in rows if r[0] != "audit_head"]  # the audit chain's head moves on at every sign-in


def test_a_0015_clinic_upgrades_keeps_every_row_and_verifies_clean(
    demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COCM_DESKTOP_ACCOUNT_DIR", str(tmp_path / "account"))
    with Database.open(demo_path, "lead", "demo") as db:
        with db.engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "0015_row_seals")
            assert all("row_version" not in {c["name"] for c in inspect(conn).get_columns(t)} for t in VERSIONED)
        with db.engine.connect() as conn:
            before = {t: _rows(conn, t) for t in VERSIONED}
    assert len(before["contact"]) > 100 and len(before["patient"]) > 20
    with Database.open(demo_path, "cm1", "demo") as db:  # the first sign-in upgrades (after a backup)
        assert db.integrity_alarms == []
        with db.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            assert {t: _rows(conn, t) for t in VERSIONED} == before  # nothing lost or rewritten
            for table in VERSIONED:  # every record starts at 1 (the audit head has moved on since: sign-in)
                but = " WHERE key != 'audit_head'" if table == "clinic_setting" else ""
                assert conn.execute(text(f'SELECT DISTINCT row_version FROM "{table}"{but}')).scalars().all() in ([1], [])
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    with Database.open(demo_path, "lead", "demo") as db:
        assert db.integrity_alarms == []
        assert db.full_check().ok
        # an edit through the app moves the version on and is sealed with it
        with db.session() as s:
            row = s.scalars(select(Contact).where(Contact.voided_at.is_(None), Contact.minutes > 0)
                            .order_by(Contact.id)).first()
            cid, minutes, staff = row.id, row.minutes, s.get(User, row.staff_id)
            who = Actor(staff.id, staff.username, staff.display_name, staff.role)
        with db.session() as s:
            contacts.amend_contact(s, who, cid, reason="Call was longer", minutes=minutes + 5, expected_version=1)
        with db.session() as s:
            assert s.get(Contact, cid).row_version == 2
    code, out = _verify(demo_path)
    assert code == 0, out

    # the version is part of the sealed row: setting it back in SQL (to slip past a form's check) is named
    key = KeyFile.load(keyfile_path(demo_path), demo_path.name).unwrap("lead", "demo")
    conn = raw_connect(demo_path, key)
    try:
        conn.execute(f"UPDATE contact SET row_version = 1 WHERE id = {cid}")
        conn.commit()
    finally:
        conn.close()
    code, out = _verify(demo_path)
    assert code == 1 and f"contact row {cid} changed outside CoCM Desktop" in out, out


def test_every_sealed_versioned_table_leaves_version_one_out_of_its_digest() -> None:
    """Otherwise every row sealed before 0016 would alarm as changed after the upgrade."""
    sealed = {t.name for t in row_seals.sealed_tables()}
    for table in VERSIONED:
        if table in sealed:
            assert row_seals.ADDED_WITH_DEFAULT.get(table) == {"row_version": 1}, table
