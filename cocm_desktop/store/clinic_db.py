"""Either engine behind one name: what services, the demo generator and the app hold open."""

from __future__ import annotations

from typing import TypeAlias

from .database import Database
from .server_database import ServerDatabase

ClinicDatabase: TypeAlias = Database | ServerDatabase


def is_server(db: ClinicDatabase) -> bool:
    return isinstance(db, ServerDatabase)


def describe_engine(db: ClinicDatabase) -> str:
    """One line for `info` and the About box: which engine, which version, how it is protected."""
    from sqlalchemy import text

    with db.session() as s:
        if is_server(db):
            version = s.execute(text("SHOW server_version")).scalar()
            tls = s.execute(text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).first()
            over = f"TLS ({tls[1]})" if tls and tls[0] else "no TLS"
            return f"PostgreSQL {version} clinic server at {db.profile.label}, {over}"
        version = s.execute(text("PRAGMA cipher_version")).scalar()
        return f"SQLCipher {version} (encrypted file)"
