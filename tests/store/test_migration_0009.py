"""Migration 0009: every entry that can be voided gets its void columns (empty), the correction
history table appears, and the month/episode indexes carry `voided_at` — on a clinic full of
data (risk events refer to scores, scores and time entries to contacts: no table is rebuilt)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from cocm_desktop.store import migrate
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Base, Contact, Measure, RiskEvent

VOIDABLE = ("measure", "contact", "referral", "risk_event", "care_plan_version", "episode_status_change",
            "recommendation")


def _counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in (Measure, Contact, RiskEvent)}


def test_an_older_clinic_upgrades_in_place_and_matches_the_models(demo_path: Path) -> None:
    with Database.open(demo_path, "lead", "demo") as db:
        before = _counts(db)
        with db.engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "0008_password_must_change")
            tables = inspect(conn)
            assert "correction" not in tables.get_table_names()
            assert all("voided_at" not in {c["name"] for c in tables.get_columns(t)} for t in VOIDABLE)
    with Database.open(demo_path, "cm1", "demo") as db:  # opening upgrades (after a backup)
        with db.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()  # 0009 and any later
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            for table in VOIDABLE:
                assert conn.execute(text(f"SELECT count(*) FROM {table} WHERE voided_at IS NOT NULL")).scalar() == 0
            month_index = [i for i in inspect(conn).get_indexes("measure") if i["name"] == "ix_measure_taken_episode"]
            assert month_index[0]["column_names"] == ["taken_at", "episode_id", "voided_at"]
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        assert _counts(db) == before and before["risk_event"] > 0
