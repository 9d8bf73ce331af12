"""Migration 0008: every user gets `password_must_change` (false), and a demo clinic made by an
older version is marked as demo, so its logins keep "demo" without being asked to change it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect, select, text

from cocm_desktop.services.common import is_demo_clinic
from cocm_desktop.services.users import password_change_due
from cocm_desktop.store import migrate
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import User


def _as_made_by_0007(path: Path, username: str, password: str) -> None:
    """Take the file back to 0007 as an older app left it: no column, no demo setting."""
    with Database.open(path, username, password) as db, db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0007_measure_episode_cover")
        conn.execute(text("DELETE FROM clinic_setting WHERE key = 'demo'"))
        assert "password_must_change" not in {c["name"] for c in inspect(conn).get_columns("user")}


def test_an_older_demo_clinic_is_marked_and_keeps_demo(demo_path: Path) -> None:
    _as_made_by_0007(demo_path, "lead", "demo")
    with Database.open(demo_path, "cm1", "demo") as db:  # opening upgrades (after a backup)
        with db.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()  # every step after 0007
        with db.session() as s:
            assert is_demo_clinic(s)
            assert s.scalars(select(User.password_must_change)).all() == [False] * 6
        assert password_change_due(db, "demo") is None


def test_an_older_real_clinic_is_not_marked_and_a_weak_password_must_go(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Database.create(path, clinic_name="Old Clinic", lead_username="lead", lead_display_name="Lee",
                    lead_password="1234")[0].close()
    _as_made_by_0007(path, "lead", "1234")
    with Database.open(path, "lead", "1234") as db:
        with db.session() as s:
            assert not is_demo_clinic(s)
            assert s.scalars(select(User.password_must_change)).all() == [False]
        assert "at least 10 characters" in (password_change_due(db, "1234") or "")
