"""Declarative base and shared column types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Integer, MetaData, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

# Stable constraint names so Alembic migrations are reproducible (and PostgreSQL-ready).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """Naive UTC: the audit log and bookkeeping columns keep UTC; clinical events keep local time."""
    return datetime.now(UTC).replace(tzinfo=None)


class Voidable:
    """Columns of an entry that can be voided ("entered in error"): it stays in the database and
    in the chart's history, and every read that counts entries skips it (`voided_at IS NULL`)."""

    voided_at: Mapped[datetime | None] = mapped_column(DateTime)  # local clinic time
    # no foreign key, like the audit log's user id: users are never deleted, and the column was
    # added in place to tables other rows refer to (migration 0009)
    voided_by_id: Mapped[int | None] = mapped_column(Integer)
    void_reason: Mapped[str | None] = mapped_column(String(300))


class Versioned:
    """A record edited in place: `row_version` counts its saves (migration 0016). SQLAlchemy raises
    it on every UPDATE and adds `WHERE row_version = <read>`, so two sessions can never both save
    over the same version (the second gets StaleDataError → store.errors.EditConflict); services
    also compare it with the version the form showed (services.versions)."""

    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default=text("1"))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - declarative directive
        return {"version_id_col": cls.__table__.c.row_version}  # type: ignore[attr-defined]
