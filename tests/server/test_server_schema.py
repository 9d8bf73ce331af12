"""The same Alembic migrations on both engines: from the baseline to the head, each engine's
schema matches the models (types, indexes — partial indexes declared for both)."""

from __future__ import annotations

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from cocm_desktop.store import migrate
from cocm_desktop.store.models import Base


@pytest.fixture
def pg_engine(pg_cluster, pg_admin_password, pg_database):  # type: ignore[no-untyped-def]
    info = psycopg.conninfo.conninfo_to_dict(pg_cluster.admin_dsn(pg_database))
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(**info, password=pg_admin_password))
    yield engine
    engine.dispose()


def test_postgresql_upgrades_from_the_baseline_to_the_models(pg_engine) -> None:  # type: ignore[no-untyped-def]
    with pg_engine.begin() as conn:
        from alembic import command

        command.upgrade(migrate.alembic_config(conn), "0001_baseline")
        assert migrate.current_revision(conn) == "0001_baseline"
        migrate.upgrade(conn)  # every step after the baseline, one by one
    with pg_engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == [], f"PostgreSQL schema differs from the models: {diff}"
        partial = {ix["name"]: ix for ix in inspect(conn).get_indexes("time_entry")}["ix_time_entry_unusual"]
        assert "postgresql_where" in partial.get("dialect_options", {})  # partial here too, not a full index


def test_postgresql_downgrades_to_the_baseline_and_back(pg_engine) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    with pg_engine.begin() as conn:
        migrate.upgrade(conn)
        command.downgrade(migrate.alembic_config(conn), "0001_baseline")
        assert migrate.current_revision(conn) == "0001_baseline"
        migrate.upgrade(conn)
        assert migrate.current_revision(conn) == migrate.head_revision()
