"""Opening a clinic: how the GUI and the headless commands reach a clinic database.

Neither imports `store`: they open, create and describe a clinic here (backups and restores in
services.backups), and catch the store's errors under the names re-exported below. `Clinic` is the
open database handle they pass to every other service (today `store.database.Database`; the
PostgreSQL clinic server's handle has the same API).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.audit import ChainReport, verify_chain
from cocm_desktop.store.clinic_db import ClinicDatabase as Clinic
from cocm_desktop.store.database import Database
from cocm_desktop.store.reads import clinic_reads
from cocm_desktop.store.server_database import ServerDatabase
from cocm_desktop.store.server_profile import ServerProfile, is_profile_path

from .common import ValidationError, check, record
from .errors import DatabaseLocked, RestoreRefused, SessionLocked, StoreError, WrongCredentials

__all__ = [
    "ChainReport",
    "Clinic",
    "ClinicInfo",
    "DatabaseLocked",
    "RestoreRefused",
    "SessionLocked",
    "StoreError",
    "WrongCredentials",
    "ServerProfile",
    "clinic_info",
    "is_profile_path",
    "is_server",
    "load_profile",
    "open_clinic",
    "open_clinic_with_recovery",
    "open_server_clinic",
    "patient_id_by_mrn",
    "ping",
    "verify_audit_log",
]


def open_clinic(path: Path | str, username: str, password: str, *, exclusive: bool = False) -> Clinic:
    """Unlock the clinic file at `path` as `username` (`exclusive`: the app's one-instance lock).
    A connection profile (…json) opens the clinic server it names instead."""
    if is_profile_path(path):
        return open_server_clinic(path, username, password)
    return Database.open(path, username, password, exclusive=exclusive)


def open_server_clinic(profile: ServerProfile | Path | str, username: str, password: str) -> Clinic:
    """Sign in to the clinic server as `username` (their own server login)."""
    if not isinstance(profile, ServerProfile):
        profile = ServerProfile.load(profile)
    return ServerDatabase.open(profile, username, password)


def load_profile(path: Path | str) -> ServerProfile:
    """A workstation's connection profile (host, port, database, CA; never a password)."""
    return ServerProfile.load(path)


def is_server(db: Clinic) -> bool:
    return isinstance(db, ServerDatabase)


def ping(db: Clinic) -> None:
    """Is the clinic server there? A light round trip, nothing audited; ServerUnreachable (a
    StoreError) when it is not. The encrypted file on this computer is always there."""
    if isinstance(db, ServerDatabase):
        db.ping()


def open_clinic_with_recovery(path: Path | str, recovery_code: str, reason: str, *, exclusive: bool = False) -> Clinic:
    """Emergency access with the recovery code; the reason is kept in the audit log."""
    return Database.open_with_recovery(path, recovery_code, reason, exclusive=exclusive)


@dataclass(frozen=True)
class ClinicInfo:
    patients: int
    open_episodes: int
    schema_version: str | None
    storage: str  # e.g. "SQLCipher 4.6.1 community"


def clinic_info(session: Session) -> ClinicInfo:
    """What `cocm-desktop info` prints about the clinic (no PHI)."""
    conn = session.connection()
    counts = clinic_reads.clinic_counts(conn)
    return ClinicInfo(counts.patients, counts.open_episodes, counts.schema_version,
                      clinic_reads.storage_description(conn))


def patient_id_by_mrn(session: Session, mrn: str, *, what: str) -> int:
    """The id of the patient with this MRN; refused (naming `what` the caller was doing) otherwise."""
    pid = clinic_reads.patient_id_by_mrn(session.connection(), mrn.strip())
    if pid is None:
        raise ValidationError(f"{what}: no patient has the MRN {mrn!r}.")
    return pid


def verify_audit_log(session: Session, actor: Actor) -> ChainReport:
    """Walk the whole audit chain (Permission.VIEW_AUDIT); the check itself is audited."""
    check(actor, Permission.VIEW_AUDIT)
    result = verify_chain(session)
    record(
        session,
        actor,
        "audit.verify",
        summary=result.describe(),
        detail={"ok": result.ok, "records": result.records, "first_bad_seq": result.first_bad_seq,
                "row_findings": len(result.row_problems)},
    )
    return result
