"""Backups and restore: encrypted → encrypted, verified before kept, replaced atomically.

A backup is two files, exactly like the live database: `NAME` (SQLCipher, same key) and
`NAME.keys` (the key slots, re-pointed at the copy's own SQLCipher salt; no failed-sign-in
state). It is taken with the SQLite backup API from a connection of the running app, so it is a
consistent snapshot even while others keep working, and is checked (PRAGMA integrity_check,
PRAGMA cipher_integrity_check, the audit chain, a known schema) before it gets its final name.

Restore checks the backup first (the user's password must open it; the same checks), copies it
next to the target, checks the copy, then moves the current database aside as
`NAME.replaced-<timestamp>` (with its -wal/-shm/.keys, never deleted) and moves the copy in with
`os.replace`. Nothing is touched until the backup has passed every check.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cocm_desktop.domain.roles import Permission, require

from . import audit, migrate
from .engine import make_engine, raw_connect, translate
from .errors import BackupFailed, DatabaseDamaged, RestoreRefused, StoreError, WrongCredentials
from .keyslots import KeyFile, keyfile_path, normalize_username
from .location import check_location
from .lockfile import InstanceLock
from .models import ClinicSetting, User

AUTO_KEEP = 7
AUTO_TAG = "auto"
_SIDE_FILES = ("-wal", "-shm")


@dataclass(frozen=True)
class Verification:
    ok: bool
    problems: tuple[str, ...]
    audit_records: int = 0
    schema: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"All checks passed (integrity, encryption, audit chain of {self.audit_records} records)."
        return "; ".join(self.problems)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    keys_path: Path
    size_bytes: int
    verification: Verification


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    replaced: Path | None  # where the previous database went (None: there was none)
    verification: Verification


# ---- low level ----------------------------------------------------------------------------------
def _salt_of(path: Path) -> str:
    with path.open("rb") as fh:
        return fh.read(16).hex()


def _fsync_dir(folder: Path) -> None:
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_quietly(*paths: Path) -> None:
    for p in paths:
        for candidate in (p, *(Path(f"{p}{s}") for s in _SIDE_FILES)):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()


def _sidecar_for_copy(keyfile: KeyFile, copy: Path) -> KeyFile:
    """The live key file's slots, pointed at the copy's salt, without sign-in counters."""
    kf = KeyFile.from_json(keyfile.to_json())
    kf.db_salt = _salt_of(copy)
    kf.failures.clear()
    kf.failure_at.clear()
    kf.pending.clear()
    kf.pending_dropped = 0
    return kf


def copy_encrypted(engine: Engine, key: bytes, keyfile: KeyFile, dest: Path) -> None:
    """Consistent encrypted copy with the SQLite backup API (same key) plus its key file."""
    with engine.connect() as conn:
        src = conn.connection.dbapi_connection
        assert src is not None
        dst = raw_connect(dest, key)
        try:
            src.backup(dst)  # one step: a single read transaction on the source, so a snapshot
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            dst.close()
    with dest.open("rb+") as fh:
        os.fsync(fh.fileno())
    _sidecar_for_copy(keyfile, dest).save(keyfile_path(dest))


@contextlib.contextmanager
def _file_session(path: Path, key: bytes) -> Iterator[tuple[Engine, Session]]:
    engine = make_engine(path, key, pool_size=1, immediate=False)
    session = Session(engine)
    try:
        yield engine, session
    finally:
        session.close()
        engine.dispose()


def verify_file(path: Path, key: bytes) -> Verification:
    """Every check a backup must pass: SQLite and SQLCipher integrity, schema, audit chain."""
    problems: list[str] = []
    records = 0
    schema = None
    try:
        with _file_session(path, key) as (engine, s):
            conn_rows = s.execute(text("PRAGMA integrity_check")).scalars().all()
            if conn_rows != ["ok"]:
                problems.append(f"SQLite integrity check failed ({len(conn_rows)} problem(s))")
            cipher_rows = s.execute(text("PRAGMA cipher_integrity_check")).all()
            if cipher_rows:
                problems.append(f"encrypted page check failed ({len(cipher_rows)} damaged page(s))")
            schema = migrate.current_revision(s.connection())
            if schema is None:
                problems.append("it holds no CoCM Desktop data")
            elif schema not in migrate.known_revisions():
                problems.append("it was made by a newer version of CoCM Desktop")
            if not problems:
                pinned = s.scalar(select(ClinicSetting.value).where(ClinicSetting.key == "audit_chain_key"))
                s.info["audit_key"] = bytes.fromhex(str(pinned)) if pinned else audit.derive_audit_key(key)
                report = audit.verify_chain(s)
                records = report.records
                if not report.ok:
                    problems.append(report.describe())
            s.rollback()
    except DBAPIError as exc:
        err = translate(exc)
        problems.append(
            "the file is damaged" if err is None or isinstance(err, DatabaseDamaged) else str(err)
        )
    return Verification(not problems, tuple(problems), records, schema)


# ---- backup -------------------------------------------------------------------------------------
def make_backup(db, dest: Path | str, *, kind: str = "manual") -> BackupResult:  # type: ignore[no-untyped-def]
    """Encrypted, verified copy of the open database (with its key file) at `dest`.

    `kind` "manual" needs the BACKUP permission (clinic lead); "auto" is the app's own daily
    backup and runs for whoever is signed in. Audited in the live database either way.
    """
    actor = db.actor
    if kind == "manual":
        if actor is None:
            raise BackupFailed("Sign in before making a backup.")
        require(actor.role, Permission.BACKUP)
    dest = Path(dest).absolute()
    if dest.resolve() == db.path.resolve():
        raise BackupFailed("A backup cannot replace the database itself; choose another file name.")
    if dest.exists() or keyfile_path(dest).exists():
        raise BackupFailed(f"“{dest.name}” already exists; choose another name (backups never overwrite).")
    if not dest.parent.is_dir():
        raise BackupFailed(f"The folder for “{dest.name}” does not exist.")
    check_location(dest)
    tmp = dest.with_name(f".{dest.name}.partial-{secrets.token_hex(4)}")
    try:
        try:
            copy_encrypted(db.engine, db.raw_key_for_backup(), db.keyfile, tmp)
        except DBAPIError as exc:
            raise (translate(exc) or BackupFailed("The backup could not be written.")) from None
        except OSError as exc:
            raise BackupFailed(f"The backup could not be written ({exc.strerror or 'file error'}).") from None
        verification = verify_file(tmp, db.raw_key_for_backup())
        if not verification.ok:
            raise BackupFailed(f"The backup failed its checks and was not kept: {verification.describe()}")
        os.replace(keyfile_path(tmp), keyfile_path(dest))
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        _remove_quietly(tmp, keyfile_path(tmp))
        raise
    size = dest.stat().st_size
    with db.session() as s:
        audit.append(
            s,
            user_id=actor.user_id if actor else None,
            username=actor.username if actor else "system",
            action=f"backup.{'auto' if kind == 'auto' else 'create'}",
            summary=f"Backup made: {dest.name}",
            detail={"file": dest.name, "bytes": size, "audit_records": verification.audit_records},
        )
    return BackupResult(dest, keyfile_path(dest), size, verification)


def auto_backup(
    db,
    folder: Path | str | None = None,
    *,
    keep: int = AUTO_KEEP,  # type: ignore[no-untyped-def]
    today: date | None = None,
) -> BackupResult | None:
    """The daily automatic backup (the GUI calls it at start-up and at close).

    One per calendar day in `folder` (default: `backups/` beside the database), named
    `<db>-auto-YYYY-MM-DD.db`; the newest `keep` are kept. None when today's already exists.
    """
    today = today or date.today()
    folder = Path(folder) if folder is not None else db.path.parent / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    stem = db.path.stem
    dest = folder / f"{stem}-{AUTO_TAG}-{today.isoformat()}{db.path.suffix}"
    result = None
    if not dest.exists():
        result = make_backup(db, dest, kind="auto")
    prune_auto_backups(folder, stem, db.path.suffix, keep)
    return result


def prune_auto_backups(folder: Path, stem: str, suffix: str, keep: int) -> list[Path]:
    """Delete automatic backups beyond the newest `keep` (by the date in their name)."""
    prefix = f"{stem}-{AUTO_TAG}-"
    found = []
    for p in folder.iterdir():
        if p.name.startswith(prefix) and p.name.endswith(suffix):
            day = p.name[len(prefix) : len(p.name) - len(suffix)]
            with contextlib.suppress(ValueError):
                found.append((date.fromisoformat(day), p))
    found.sort(reverse=True)
    removed = []
    for _day, p in found[keep:]:
        _remove_quietly(p, keyfile_path(p))
        removed.append(p)
    return removed


# ---- restore ------------------------------------------------------------------------------------
def _unlock_backup(source: Path, username: str, password: str) -> tuple[bytes, KeyFile]:
    """The key that opens `source`, checked without writing a byte to it."""
    from .open_checks import precheck

    try:
        keyfile = precheck(source)
    except StoreError as exc:
        raise RestoreRefused(f"The backup cannot be used: {exc}") from None
    keys = keyfile.unlock(normalize_username(username), password)  # WrongCredentials propagates
    for key in keys:
        conn = None
        try:
            conn = raw_connect(source, key)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return key, keyfile
        except Exception:
            continue
        finally:
            if conn is not None:
                conn.close()
    raise RestoreRefused(f"The backup “{source.name}” is damaged; nothing was changed.")


def _check_backup(source: Path, username: str, password: str) -> tuple[bytes, KeyFile, Verification]:
    """Unlock `source` with this user's key slot, run every check, and (when it passes) check that
    the user is active in the backup with the right to restore it. Reads only."""
    key, keyfile = _unlock_backup(source, username, password)
    verification = verify_file(source, key)
    if verification.ok:
        with _file_session(source, key) as (_engine, s):
            user = s.scalar(select(User).where(User.username == normalize_username(username)))
            if user is None or not user.active:
                raise WrongCredentials()
            require(user.role, Permission.BACKUP)
    return key, keyfile, verification


def verify_backup(path: Path | str, username: str, password: str) -> Verification:
    """Check a backup file before a restore, without writing a byte to it (or beside it).

    The same checks `restore` runs before it touches anything: this user's password opens the
    backup's key slots; SQLite and SQLCipher integrity, a known schema and the audit chain pass;
    and the user is active in the backup with the right to restore (the clinic lead).

    Returns the `Verification` (`.ok` False with `.problems` when the file opens but fails a
    check). Raises `WrongCredentials` (wrong password, or no such active user in the backup),
    `RestoreRefused` (no file, no or mismatched key file, not a clinic database, damaged beyond
    opening) or `PermissionDenied` (the user's role in the backup may not restore).
    """
    return _check_backup(Path(path).absolute(), username, password)[2]


def restore(
    db_path: Path | str, source: Path | str, username: str, password: str, *, now: datetime | None = None
) -> RestoreResult:
    """Replace the database at `db_path` with the backup at `source`, after checking it."""
    db_path, source = Path(db_path).absolute(), Path(source).absolute()
    if source.resolve() == db_path.resolve():
        raise RestoreRefused("The backup and the database are the same file.")
    check_location(db_path)
    key, keyfile, verification = _check_backup(source, username, password)
    if not verification.ok:
        raise RestoreRefused(f"The backup failed its checks; nothing was changed: {verification.describe()}")
    lock = InstanceLock(db_path)
    lock.acquire()  # refuse while the app has the database open
    try:
        tmp = db_path.with_name(f".{db_path.name}.restoring-{secrets.token_hex(4)}")
        try:
            shutil.copyfile(source, tmp)
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
            copied = verify_file(tmp, key)  # check what will actually be moved in
            if not copied.ok:
                raise RestoreRefused(f"The copy of the backup failed its checks: {copied.describe()}")
            _sidecar_for_copy(keyfile, tmp).save(keyfile_path(tmp))
        except BaseException:
            _remove_quietly(tmp, keyfile_path(tmp))
            raise
        replaced = None
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        if db_path.exists() or keyfile_path(db_path).exists():
            replaced = db_path.with_name(f"{db_path.name}.replaced-{stamp}")
            if replaced.exists():
                replaced = db_path.with_name(f"{db_path.name}.replaced-{stamp}-{secrets.token_hex(2)}")
            for suffix in ("", *_SIDE_FILES):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{db_path}{suffix}", f"{replaced}{suffix}")
            with contextlib.suppress(FileNotFoundError):
                os.replace(keyfile_path(db_path), keyfile_path(replaced))
        os.replace(keyfile_path(tmp), keyfile_path(db_path))
        os.replace(tmp, db_path)
        _fsync_dir(db_path.parent)
    finally:
        lock.release()
    from .database import Database

    with Database.open(db_path, username, password) as restored, restored.session() as s:
        actor = restored.actor
        assert actor is not None
        audit.append(
            s,
            user_id=actor.user_id,
            username=actor.username,
            action="backup.restore",
            summary=f"Database restored from {source.name}",
            detail={"from": source.name, "replaced": replaced.name if replaced else None},
        )
    return RestoreResult(db_path, replaced, verification)


def verify_database(db) -> Verification:  # type: ignore[no-untyped-def]
    """The same checks on the open live database (read-only)."""
    return verify_file(db.path, db.raw_key_for_backup())
