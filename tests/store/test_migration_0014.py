"""Migration 0014: a clinic from before keeps every medication row as it was (name, dose, start,
stop, note), each line gains the new columns empty, a line stopped through the old service gets
who stopped it and when from its audit record, and the schema matches the models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from cocm_desktop.store import audit, migrate
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Base, Medication, User

_OLD = "SELECT id, episode_id, name, dose, started_on, stopped_on, note, recorded_by_id FROM medication ORDER BY id"


def test_an_older_clinic_keeps_its_medications_and_learns_who_stopped_them(demo_path: Path) -> None:
    stopped_at = datetime(2026, 11, 20, 15, 30)  # UTC, as the audit keeps it
    with Database.open(demo_path, "lead", "demo") as db:
        # A stop made by the old service (the row's date, the audit's who), written while the
        # audit log still has every later column; then the schema goes back to before 0014.
        with db.session() as s:
            line_id = s.execute(text("SELECT min(id) FROM medication WHERE stopped_on IS NULL")).scalar()
            s.execute(text("UPDATE medication SET stopped_on = :d, note = 'Side effects' WHERE id = :i"),
                      {"d": date(2026, 11, 20), "i": line_id})
            doc_id = s.scalar(select(User.id).where(User.username == "doc1"))  # the 0013 schema: columns only
            audit.append(s, user_id=doc_id, username="doc1", action="medication.stop", object_type="medication",
                         object_id=line_id, summary="Medication stopped", at_utc=stopped_at)
        with db.engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "0013_safety_and_duplicates")
            tables = inspect(conn)
            assert "medication_proposal" not in tables.get_table_names()
            assert "schedule" not in {c["name"] for c in tables.get_columns("medication")}
        with db.engine.connect() as conn:
            before = [tuple(r) for r in conn.execute(text(_OLD))]
    assert len(before) > 60
    with Database.open(demo_path, "cm1", "demo") as db:  # opening upgrades (after a backup)
        with db.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            assert [tuple(r) for r in conn.execute(text(_OLD))] == before  # nothing lost or rewritten
            assert conn.execute(text("SELECT count(*) FROM medication WHERE voided_at IS NOT NULL "
                                     "OR supersedes_id IS NOT NULL OR schedule IS NOT NULL")).scalar() == 0
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        with db.session() as s:
            line = s.get(Medication, line_id)
            assert (line.stopped_by_id, line.note) == (doc_id, "Side effects")
            assert line.stop_recorded_at == stopped_at.replace(tzinfo=UTC).astimezone().replace(tzinfo=None)
            # other lines stopped in the demo without an audit record: stopped, nobody named
            others = s.scalars(select(Medication).where(Medication.stopped_on.is_not(None),
                                                        Medication.id != line_id)).all()
            assert others and all(m.stopped_by_id is None for m in others)
