"""Migration 0013 on a clinic full of data: risk events already marked "clinician notified" name
the treating clinician (notified when opened), recommendations keep their decision, a rule-out
entered by the person it names counts as confirmed, and the schema matches the models."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from cocm_desktop.store import migrate
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Base


def test_an_older_clinic_upgrades_and_names_who_was_notified(demo_path: Path) -> None:
    with Database.open(demo_path, "lead", "demo") as db, db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0012_audit_signatures")
        assert "notified_clinician_id" not in {c["name"] for c in inspect(conn).get_columns("risk_event")}
        assert "voided_at" not in {c["name"] for c in inspect(conn).get_columns("patient")}
        conn.execute(text("UPDATE episode SET created_by_id = urgent_risk_ruled_out_by_id WHERE id = 1"))
    # opening upgrades (after a backup)
    with Database.open(demo_path, "cm1", "demo") as db, db.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        unnamed = conn.execute(text("SELECT count(*) FROM risk_event WHERE clinician_notified = 1 AND "
                                    "(notified_clinician_id IS NULL OR notified_at IS NULL)")).scalar()
        named = conn.execute(text(
            "SELECT count(*) FROM risk_event r JOIN episode e ON e.id = r.episode_id WHERE "
            "r.notified_clinician_id = e.treating_clinician_id AND r.notified_at = r.opened_at")).scalar()
        assert unnamed == 0 and named > 0
        assert conn.execute(text("SELECT risk_rule_out_attested_by_id = urgent_risk_ruled_out_by_id "
                                 "FROM episode WHERE id = 1")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM recommendation WHERE state IN "
                                 "('approved', 'modified', 'declined') AND decision IS NOT state")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM patient WHERE voided_at IS NOT NULL")).scalar() == 0
