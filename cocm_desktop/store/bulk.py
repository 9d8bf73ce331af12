"""Bulk rows written with their own ids (the demo generator, a clinic imported to the server)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session


def after_bulk_insert(session: Session | Connection, tables: Iterable[str]) -> None:
    """Move each table's id sequence past the ids just written. SQLite takes max(id) + 1 by
    itself; PostgreSQL's sequences do not see explicit ids and would hand out taken ones."""
    conn = session.connection() if isinstance(session, Session) else session
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                f"COALESCE((SELECT max(id) FROM \"{table}\"), 0) + 1, false)"
            ),
            {"t": f'"{table}"'},
        )
