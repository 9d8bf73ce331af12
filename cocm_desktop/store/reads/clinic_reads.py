"""What `cocm-desktop info` says about an open clinic: counts, schema and storage engine."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, func, select, text

from .. import migrate
from ..models import Episode, Patient

__all__ = ["ClinicCounts", "clinic_counts", "patient_id_by_mrn", "storage_description"]


class ClinicCounts(NamedTuple):
    patients: int
    open_episodes: int
    schema_version: str | None


def clinic_counts(conn: Connection) -> ClinicCounts:
    patients = conn.scalar(select(func.count()).select_from(Patient)) or 0
    open_episodes = conn.scalar(select(func.count()).select_from(Episode).where(Episode.status != "closed")) or 0
    return ClinicCounts(patients, open_episodes, migrate.current_revision(conn))


def storage_description(conn: Connection) -> str:
    """The engine holding the clinic, e.g. "SQLCipher 4.6.1 community" or "PostgreSQL 16.4"."""
    if conn.dialect.name == "sqlite":
        return f"SQLCipher {conn.execute(text('PRAGMA cipher_version')).scalar()}"
    version = conn.execute(text("SELECT current_setting('server_version')")).scalar()
    tls = conn.execute(text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).first()
    return f"PostgreSQL {version} clinic server, {f'TLS ({tls[1]})' if tls and tls[0] else 'no TLS'}"


def patient_id_by_mrn(conn: Connection, mrn: str) -> int | None:
    pid = conn.scalar(select(Patient.id).where(Patient.mrn == mrn))
    return None if pid is None else int(pid)
