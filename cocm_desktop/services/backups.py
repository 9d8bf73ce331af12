"""Backups and restore for the GUI and the commands (they never call store.backup directly).

- `make_backup(db, dest)`: the clinic lead's backup to a file of their choice.
- `run_auto_backup(db)`: the automatic backup (at sign-in, every 24 h while the app is open,
  `backup --auto`): due when the newest is 24 h old; runs for whoever is signed in.
- `backup_status(db)`: the newest automatic backup and whether it is overdue (status bar).
- `get_second_folder` / `set_second_folder`: the optional second folder (clinic policy).
- `check_restore` / `restore_backup`: a restore that tells who was removed since the backup
  and keeps them removed.
The texts here are what the lead reads: what happened, and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.backups import backup_stale, describe_when
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store import backup as store
from cocm_desktop.store.backup import (
    AccessChanges,
    AutoRun,
    BackupResult,
    RestorePreview,
    RestoreResult,
    StoredBackup,
    Verification,
)
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import ClinicSetting

from .common import ValidationError, check, record

SECOND_FOLDER_KEY = "backup_second_folder"
AUDIT_ADVICE = (
    "Run `cocm-desktop audit verify` (or Clinic › Audit report) to see the altered record, keep the "
    "automatic backups from before that day (they hold the original log; the newest of them is never "
    "pruned), and report it to your privacy officer."
)

__all__ = [
    "AccessChanges", "AutoRun", "BackupResult", "BackupStatus", "RestorePreview", "RestoreResult",
    "StoredBackup", "Verification", "audit_altered_message", "backup_folder", "backup_status", "check_restore",
    "describe_access", "describe_auto_run", "get_second_folder", "make_backup", "restore_backup",
    "run_auto_backup", "set_second_folder", "verify_backup",
]


# ---- the second folder (clinic policy) ------------------------------------------------------------
def _second_folder(session: Session) -> str | None:
    row = session.get(ClinicSetting, SECOND_FOLDER_KEY)
    value = row.value if row is not None else None
    path = value.get("path") if isinstance(value, dict) else None
    return str(path) if path else None


def get_second_folder(session: Session, actor: Actor) -> str | None:
    """The second backup folder, or None. Everyone signed in may read it (automatic backups run
    for whoever is signed in)."""
    check(actor, Permission.READ_REGISTRY)
    return _second_folder(session)


def set_second_folder(session: Session, actor: Actor, folder: str | None) -> str | None:
    """Set (an existing folder) or clear (None or "") the second backup folder. Clinic lead only;
    audited with the old and new value."""
    check(actor, Permission.EDIT_POLICY)
    new = None
    if folder and folder.strip():
        path = Path(folder.strip()).expanduser()
        if not path.is_absolute():
            raise ValidationError("Choose the second backup folder by its full path.")
        if not path.is_dir():
            raise ValidationError(f"The folder “{path}” does not exist or cannot be reached; plug in the "
                                  "drive or connect the share, then choose it again.")
        new = str(path)
    old = _second_folder(session)
    if new == old:
        return new
    row = session.get(ClinicSetting, SECOND_FOLDER_KEY)
    if row is None:
        session.add(ClinicSetting(key=SECOND_FOLDER_KEY, value={"path": new}, updated_by_id=actor.user_id))
    else:
        row.value = {"path": new}
        row.updated_by_id = actor.user_id
    session.flush()
    record(session, actor, "policy.backup_folder", object_type="clinic_setting",
           summary=f"Second backup folder: {old or 'none'} → {new or 'none'}",
           detail={"before": old, "after": new})
    return new


def backup_folder(db: Database) -> Path:
    """Where the automatic backups of this database are kept (`backups/` beside it)."""
    return store.default_folder(db.path)


# ---- backups ------------------------------------------------------------------------------------
def make_backup(db: Database, dest: Path | str) -> BackupResult:
    """The clinic lead's backup to `dest` (and `dest.keys`), verified before it is kept."""
    return store.make_backup(db, dest)


def run_auto_backup(db: Database, *, now: datetime | None = None, wait_seconds: float = 0.0,
                    folder: Path | str | None = None) -> AutoRun:
    """The automatic backup when due (newest 24 h old or none), plus its copy in the second folder.

    `wait_seconds`: how long to wait for another process making one (the app: 0, it tries again
    later; a scheduled task: minutes, then finds it made).
    """
    with db.session() as s:
        second = _second_folder(s)
    return store.run_auto_backup(db, folder, second_folder=second, now=now, wait_seconds=wait_seconds)


@dataclass(frozen=True)
class BackupStatus:
    last: StoredBackup | None
    stale: bool  # none, or older than 2 days
    text: str  # one line for the status bar
    advice: str  # what to do (tooltip; for the lead, also told in words)


def backup_status(db: Database, *, lead: bool, now: datetime | None = None) -> BackupStatus:
    """The newest verified automatic backup on disk (a file gets its name only after it passed
    every check) and whether it is older than 2 days. Reads only the backups folder."""
    from .clinic import is_server

    if is_server(db):
        return BackupStatus(None, False, "Backups: on the clinic server",
                            "The clinic server is backed up on the server itself (cocm-desktop backup "
                            "--server, a scheduled task your IT person runs), not on this computer.")
    now = now or datetime.now()
    folder = store.default_folder(db.path)
    last = store.last_auto_backup(db.path, folder)
    stale = backup_stale(last.made_at if last else None, now)
    text = "No backup yet" if last is None else f"Last backup {describe_when(last.made_at, now)}"
    if stale:
        text = "⚠ " + text + (" — older than 2 days" if last else "")
        if lead:
            advice = (f"Make a backup now (File › Back up…) and check why the automatic one did not run: "
                      f"is there free space, and can {folder} be written? Automatic backups run at "
                      "sign-in and every 24 hours while CoCM Desktop is open.")
        else:
            advice = "Tell the clinic lead that the last backup is older than 2 days."
    else:
        advice = f"Automatic backups are kept in {folder} (the newest {store.AUTO_KEEP})."
    if last is not None and last.audit_altered:
        text += " (audit log altered)"
        advice = ("The newest backup was made from an altered audit log. " + AUDIT_ADVICE) if lead else (
            "The newest backup found an altered audit log: tell the clinic lead.")
    return BackupStatus(last, stale, text, advice)


def audit_altered_message(result: BackupResult) -> str | None:
    """What the lead reads when the backup found the audit log altered (None: intact)."""
    n = result.audit_broken_at
    if n is None:
        return None
    return (f"The audit log was altered at record {n}; the backup was made anyway "
            f"(“{result.path.name}”). {AUDIT_ADVICE}")


def describe_auto_run(run: AutoRun, now: datetime | None = None) -> list[str]:
    """Lines for the command's output (and the GUI's tooltips)."""
    now = now or datetime.now()
    lines = []
    if run.made is not None:
        lines.append(f"Automatic backup made: {run.made.path} ({run.made.size_bytes // 1024} KiB). "
                     f"{run.made.verification.describe()}")
        altered = audit_altered_message(run.made)
        if altered:
            lines.append("WARNING: " + altered)
    elif run.busy:
        lines.append("Another CoCM Desktop process is making the automatic backup right now; nothing to do.")
    elif run.last is not None:
        lines.append(f"No automatic backup due: the last one ({run.last.path.name}) was made "
                     f"{describe_when(run.last.made_at, now)}; the next is due 24 hours after it.")
    if run.second_copy is not None:
        lines.append(f"Copy in the second folder: {run.second_copy}")
    if run.second_warning:
        lines.append("WARNING: " + run.second_warning)
    if run.removed_leftovers:
        lines.append(f"Removed {run.removed_leftovers} leftover temporary file(s) of an interrupted backup or restore.")
    return lines


# ---- restore ------------------------------------------------------------------------------------
def verify_backup(path: Path | str, username: str, password: str) -> Verification:
    """Every check a restore runs on the backup, without writing to it (see store.backup)."""
    return store.verify_backup(path, username, password)


def check_restore(db_path: Path | str, source: Path | str, username: str, password: str) -> RestorePreview:
    """The backup's checks and who was removed/added since it was made; changes nothing."""
    return store.check_restore(db_path, source, username, password)


def restore_backup(db_path: Path | str, source: Path | str, username: str, password: str,
                   *, now: datetime | None = None) -> RestoreResult:
    """Replace the database with the backup; people removed since it was made stay removed."""
    return store.restore(db_path, source, username, password, now=now)


def describe_access(access: AccessChanges, *, done: bool) -> list[str]:
    """What the lead must know about access after (done) or before a restore."""
    if not access.known:
        return ["The current key file could not be read, so CoCM Desktop cannot tell who was removed "
                "since this backup was made. After the restore, check Clinic › Users and remove anyone "
                "who should no longer have access."]
    lines = []
    if access.removed:
        verb = "were kept removed (their old passwords no longer open the database)" if done else (
            "will stay removed (their old passwords will not open the restored database)")
        lines.append(f"Removed since this backup was made, {verb}: {', '.join(access.removed)}.")
    if access.added:
        lines.append(f"Added since this backup was made, not in it: {', '.join(access.added)}. "
                     "Add them again (Clinic › Users).")
    if access.password_changed:
        lines.append(f"Changed their password since this backup: {', '.join(access.password_changed)}. "
                     "Their password from the day of the backup applies again; ask them to change it.")
    return lines
