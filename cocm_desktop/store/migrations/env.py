"""Alembic environment: always run on a connection the store hands over (the key never leaves it)."""

from __future__ import annotations

from alembic import context

from cocm_desktop.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline SQL generation is not supported
    raise RuntimeError("CoCM migrations run only through cocm_desktop.store.migrate")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite ALTER TABLE goes through batch mode
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
