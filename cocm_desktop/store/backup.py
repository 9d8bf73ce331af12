"""Backups and restore: encrypted → encrypted, verified before kept, replaced atomically.

A backup is two files, exactly like the live database: `NAME` (SQLCipher, same key) and
`NAME.keys` (the key slots, re-pointed at the copy's own SQLCipher salt; no failed-sign-in
state). It is taken with the SQLite backup API from a connection of the running app, so it is a
consistent snapshot even while others keep working, and is checked (PRAGMA integrity_check,
PRAGMA cipher_integrity_check, the audit chain, a known schema) before it gets its final name.
An altered audit chain does not stop a backup (the data is whole, and refusing would leave the
clinic without any backup from then on): the copy is kept, marked, and the caller is told.

Automatic backups (`run_auto_backup`) live in `backups/` beside the database: one a day at most,
made when the newest is 24 hours old, the newest 7 kept, optionally copied to a second folder
(USB stick, network share). They run under an inter-process lock (`<db>.backup.lock`), so the app
and a scheduled `backup --auto` never both make one, and leftovers of killed runs are removed.

Restore checks the backup first (the user's password must open it; the same checks), copies it
next to the target, takes back access from everyone removed since the backup was made (their
accounts are deactivated in the copy and the copy is re-keyed, so their old passwords open
nothing), checks the copy, then moves the current database aside as `NAME.replaced-<timestamp>`
(with its -wal/-shm/.keys, never deleted) and moves the copy in with `os.replace`. Nothing is
touched until the backup has passed every check.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cocm_desktop.domain.backups import KEEP, backup_due
from cocm_desktop.domain.roles import Permission, require

from . import audit, migrate
from .engine import make_engine, raw_connect, translate
from .errors import BackupFailed, DatabaseDamaged, RestoreRefused, StoreError, WrongCredentials
from .files import fsync_dir
from .keyfile_lock import key_file_lock
from .keyfile_lock import lock_path as key_file_lock_path
from .keyslots import RECOVERY_SLOT, KeyFile, keyfile_path, normalize_username
from .location import check_location
from .lockfile import InstanceLock
from .models import ClinicSetting, User, utcnow

AUTO_KEEP = KEEP
AUTO_TAG = "auto"
ALTERED_TAG = "-audit-altered"  # in the name of an automatic backup made from an altered audit log
DEFAULT_FOLDER = "backups"
LEFTOVER_AGE = timedelta(hours=1)  # a temp copy untouched this long belongs to a killed run
REMOVED_REASON = "removed after this backup was made"
_SIDE_FILES = ("-wal", "-shm")
_TEMP_MARKERS = (".partial-", ".restoring-")


@dataclass(frozen=True)
class Verification:
    ok: bool
    problems: tuple[str, ...]
    audit_records: int = 0
    schema: str | None = None
    audit_broken_at: int | None = None  # the first altered audit record, when that is what failed

    @property
    def usable(self) -> bool:
        """The data is whole (integrity, encryption, schema); only the audit chain may be broken."""
        return self.ok or (self.audit_broken_at is not None and len(self.problems) == 1)

    def describe(self) -> str:
        if self.ok:
            return f"All checks passed (integrity, encryption, audit chain of {self.audit_records} records)."
        if self.usable:
            return f"Integrity and encryption checks passed, but the audit log was altered at record {self.audit_broken_at}."
        return "; ".join(self.problems)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    keys_path: Path
    size_bytes: int
    verification: Verification

    @property
    def audit_broken_at(self) -> int | None:
        return self.verification.audit_broken_at


@dataclass(frozen=True)
class AccessChanges:
    """Who has access today compared with the backup (by the key slots of today's key file)."""

    known: bool  # False: today's key file could not be read (or is another database's): nobody compared
    removed: tuple[str, ...] = ()  # active in the backup, no slot today: they stay removed
    added: tuple[str, ...] = ()  # a slot today but no account in the backup: to be added again
    password_changed: tuple[str, ...] = ()  # changed since: the password of the backup's day applies again


@dataclass(frozen=True)
class RestorePreview:
    verification: Verification
    access: AccessChanges


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    replaced: Path | None  # where the previous database went (None: there was none)
    verification: Verification
    access: AccessChanges = field(default_factory=lambda: AccessChanges(known=False))


# ---- low level ----------------------------------------------------------------------------------
def _salt_of(path: Path) -> str:
    with path.open("rb") as fh:
        return fh.read(16).hex()


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
    os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # owner-only before a byte is written
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
    broken_at = None
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
                    broken_at = report.first_bad_seq or records + 1
            s.rollback()
    except DBAPIError as exc:
        err = translate(exc)
        problems.append(
            "the file is damaged" if err is None or isinstance(err, DatabaseDamaged) else str(err)
        )
    return Verification(not problems, tuple(problems), records, schema, broken_at)


# ---- backup -------------------------------------------------------------------------------------
def altered_name(dest: Path) -> Path:
    """`clinic-auto-2026-11-24.db` → `clinic-auto-2026-11-24-audit-altered.db`."""
    return dest.with_name(f"{dest.stem}{ALTERED_TAG}{dest.suffix}")


def make_backup(db, dest: Path | str, *, kind: str = "manual", mark_altered: bool = False) -> BackupResult:  # type: ignore[no-untyped-def]
    """Encrypted, verified copy of the open database (with its key file) at `dest`.

    `kind` "manual" needs the BACKUP permission (clinic lead); "auto" is the app's own daily
    backup and runs for whoever is signed in. Audited in the live database either way.
    A copy whose only fault is an altered audit log is kept (and with `mark_altered` renamed
    `…-audit-altered`); `result.audit_broken_at` names the first altered record.
    """
    actor = db.actor
    if kind == "manual":
        if actor is None:
            raise BackupFailed("Sign in before making a backup.")
        require(actor.role, Permission.BACKUP)
    dest = Path(dest).absolute()
    if dest.resolve() == db.path.resolve():
        raise BackupFailed("A backup cannot replace the database itself; choose another file name.")
    _refuse_existing(dest)
    if not dest.parent.is_dir():
        raise BackupFailed(f"The folder for “{dest.name}” does not exist.")
    check_location(dest)
    remove_leftovers(dest.parent, older_than=LEFTOVER_AGE)
    tmp = dest.with_name(f".{dest.name}.partial-{secrets.token_hex(4)}")
    try:
        try:
            # The key file as it is now (read fresh: another program may have changed a slot).
            copy_encrypted(db.engine, db.raw_key_for_backup(), db.read_keyfile(), tmp)
        except DBAPIError as exc:
            raise (translate(exc) or BackupFailed("The backup could not be written.")) from None
        except OSError as exc:
            raise BackupFailed(f"The backup could not be written ({exc.strerror or 'file error'}).") from None
        verification = verify_file(tmp, db.raw_key_for_backup())
        if not verification.usable:
            raise BackupFailed(f"The backup failed its checks and was not kept: {verification.describe()}")
        if verification.audit_broken_at is not None and mark_altered:
            dest = altered_name(dest)
            _refuse_existing(dest)
        # The key file first: a backup is only ever seen (by name) once both files are in place.
        os.replace(keyfile_path(tmp), keyfile_path(dest))
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        _remove_quietly(tmp, keyfile_path(tmp))
        raise
    size = dest.stat().st_size
    broken = verification.audit_broken_at
    detail: dict[str, object] = {"file": dest.name, "bytes": size, "audit_records": verification.audit_records}
    if broken is not None:
        detail["audit_broken_at"] = broken
    with db.session() as s:
        audit.append(
            s,
            user_id=actor.user_id if actor else None,
            username=actor.username if actor else "system",
            action=f"backup.{'auto' if kind == 'auto' else 'create'}",
            summary=f"Backup made: {dest.name}"
            + (f" (the audit log was altered at record {broken}; backup made anyway)" if broken else ""),
            detail=detail,
        )
    return BackupResult(dest, keyfile_path(dest), size, verification)


def _refuse_existing(dest: Path) -> None:
    if dest.exists() or keyfile_path(dest).exists():
        raise BackupFailed(f"“{dest.name}” already exists; choose another name (backups never overwrite).")


def remove_leftovers(folder: Path, *, startswith: str = ".", older_than: timedelta | None = None) -> int:
    """Remove hidden temp copies of killed backups and restores (`.NAME.partial-*`,
    `.NAME.restoring-*`, with their .keys/-wal/-shm/.lock) in `folder`.

    `older_than` None: every such file (the caller holds the lock every writer of them takes);
    otherwise only files untouched that long (a live writer keeps its file fresh). Returns how
    many files went.
    """
    removed = 0
    limit = None if older_than is None else time.time() - older_than.total_seconds()
    with contextlib.suppress(OSError):
        for p in folder.iterdir():
            name = p.name
            if not name.startswith(startswith) or not name.startswith(".") or not any(m in name for m in _TEMP_MARKERS):
                continue
            with contextlib.suppress(OSError):
                if p.is_file() and (limit is None or p.stat().st_mtime < limit):
                    p.unlink()
                    removed += 1
    return removed


# ---- automatic backups --------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredBackup:
    """An automatic backup found on disk (its `.keys` beside it)."""

    path: Path
    day: date  # the day in its name
    made_at: datetime  # the file's modification time (local clock, naive): when it was written
    audit_altered: bool


@dataclass(frozen=True)
class AutoRun:
    """What one automatic-backup run did."""

    folder: Path
    made: BackupResult | None  # None: none was due, or another process was making it
    last: StoredBackup | None  # the newest automatic backup after the run
    busy: bool = False  # another process held the backup lock (and is making it)
    removed_leftovers: int = 0
    second_copy: Path | None = None  # the newest backup's copy in the second folder
    second_warning: str | None = None  # the second folder could not be reached or written


def default_folder(db_path: Path) -> Path:
    return db_path.parent / DEFAULT_FOLDER


def backup_lock(db_path: Path) -> FileLock:
    """The inter-process lock every automatic backup of this database runs under."""
    return FileLock(str(db_path.with_name(f"{db_path.name}.backup.lock")), mode=0o600)


def auto_name(stem: str, suffix: str, day: date) -> str:
    return f"{stem}-{AUTO_TAG}-{day.isoformat()}{suffix}"


def list_auto_backups(folder: Path, stem: str, suffix: str) -> list[StoredBackup]:
    """The automatic backups of database `<stem><suffix>` in `folder`, newest first."""
    prefix = f"{stem}-{AUTO_TAG}-"
    found = []
    with contextlib.suppress(OSError):
        for p in folder.iterdir():
            name = p.name
            if not (name.startswith(prefix) and name.endswith(suffix)) or name.endswith(".keys"):
                continue
            middle = name[len(prefix) : len(name) - len(suffix)]
            rest = middle[10:]
            if rest not in ("", ALTERED_TAG) or not keyfile_path(p).exists():
                continue
            try:
                day = date.fromisoformat(middle[:10])
                made = datetime.fromtimestamp(p.stat().st_mtime)
            except (ValueError, OSError):
                continue
            found.append(StoredBackup(p, day, made, rest == ALTERED_TAG))
    found.sort(key=lambda b: (b.day, b.made_at), reverse=True)
    return found


def last_auto_backup(db_path: Path, folder: Path | None = None) -> StoredBackup | None:
    """The newest automatic backup of this database (default folder: `backups/` beside it)."""
    found = list_auto_backups(folder or default_folder(db_path), db_path.stem, db_path.suffix)
    return found[0] if found else None


def prune_auto_backups(folder: Path, stem: str, suffix: str, keep: int) -> list[Path]:
    """Delete automatic backups beyond the newest `keep` (by the date in their name).

    When every kept one was made from an altered audit log, the newest one made before the
    alteration is kept too: it holds the original log.
    """
    found = list_auto_backups(folder, stem, suffix)
    kept = found[:keep]
    if kept and all(b.audit_altered for b in kept):
        kept += [b for b in found[keep:] if not b.audit_altered][:1]
    removed = []
    for b in found:
        if b not in kept:
            _remove_quietly(b.path, keyfile_path(b.path))
            removed.append(b.path)
    return removed


def _remove_orphan_keys(folder: Path, stem: str, suffix: str) -> None:
    """A `.keys` of an automatic backup without its database (a run killed between the renames)."""
    prefix = f"{stem}-{AUTO_TAG}-"
    with contextlib.suppress(OSError):
        for p in folder.iterdir():
            if p.name.startswith(prefix) and p.name.endswith(f"{suffix}.keys"):
                db_file = p.with_name(p.name[: -len(".keys")])
                if not db_file.exists():
                    with contextlib.suppress(OSError):
                        p.unlink()


def _make_auto(db, folder: Path, day: date, keep: int) -> BackupResult | None:  # type: ignore[no-untyped-def]
    """Today's automatic backup unless one (intact or marked) exists; then prune. Lock held."""
    dest = folder / auto_name(db.path.stem, db.path.suffix, day)
    result = None
    if not (dest.exists() or altered_name(dest).exists()):
        result = make_backup(db, dest, kind="auto", mark_altered=True)
    prune_auto_backups(folder, db.path.stem, db.path.suffix, keep)
    return result


def _prepare_folder(db, folder: Path | str | None) -> Path:  # type: ignore[no-untyped-def]
    folder = Path(folder) if folder is not None else default_folder(db.path)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise BackupFailed(f"The backup folder “{folder}” cannot be created ({exc.strerror or 'file error'}).") from None
    return folder


@contextlib.contextmanager
def _cleaned(db, folder: Path) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """Under the backup lock: leftovers of killed runs go first."""
    stem, suffix = db.path.stem, db.path.suffix
    removed = remove_leftovers(folder, startswith=f".{stem}-{AUTO_TAG}-")  # every writer of these holds the lock
    removed += remove_leftovers(db.path.parent, startswith=f".{db.path.name}.restoring-", older_than=LEFTOVER_AGE)
    _remove_orphan_keys(folder, stem, suffix)
    yield removed


def auto_backup(
    db,  # type: ignore[no-untyped-def]
    folder: Path | str | None = None,
    *,
    keep: int = AUTO_KEEP,
    today: date | None = None,
) -> BackupResult | None:
    """Today's automatic backup (one per calendar day) if it does not exist yet, under the lock.

    In `folder` (default: `backups/` beside the database), named `<db>-auto-YYYY-MM-DD.db`; the
    newest `keep` are kept. None when today's already exists. (`run_auto_backup` is what the app
    and `backup --auto` call: it also waits 24 hours between backups and fills the second folder.)
    """
    folder = _prepare_folder(db, folder)
    with backup_lock(db.path), _cleaned(db, folder):
        return _make_auto(db, folder, today or date.today(), keep)


def run_auto_backup(
    db,  # type: ignore[no-untyped-def]
    folder: Path | str | None = None,
    *,
    second_folder: Path | str | None = None,
    now: datetime | None = None,
    keep: int = AUTO_KEEP,
    wait_seconds: float = 0.0,
) -> AutoRun:
    """The automatic backup: made when the newest is 24 hours old (or there is none).

    Runs under the backup lock; when another process holds it for longer than `wait_seconds`,
    returns with `busy` (that process is making the backup). The newest backup is copied to
    `second_folder` (in a sub-folder named after the database) when it is not there yet; a
    second folder that cannot be reached is a warning, never a failure of the backup itself.
    """
    now = now or datetime.now()
    folder = _prepare_folder(db, folder)
    lock = backup_lock(db.path)
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout:
        return AutoRun(folder, None, last_auto_backup(db.path, folder), busy=True)
    try:
        with _cleaned(db, folder) as removed:
            last = last_auto_backup(db.path, folder)
            made = None
            if backup_due(last.made_at if last else None, now):
                made = _make_auto(db, folder, now.date(), keep)
                last = last_auto_backup(db.path, folder)
            copy, warning = None, None
            if second_folder and last is not None:
                copy, warning = copy_to_second_folder(db, last, Path(second_folder), keep)
            return AutoRun(folder, made, last, False, removed, copy, warning)
    finally:
        lock.release()


def second_folder_for(db, root: Path) -> Path:  # type: ignore[no-untyped-def]
    """Where this database's copies go inside the second folder (clinics sharing a USB stick or a
    share, even with the same file name, never prune each other's backups)."""
    return root / f"{db.path.stem}-{db.database_id[:8]}"


def copy_to_second_folder(db, backup: StoredBackup, root: Path, keep: int = AUTO_KEEP) -> tuple[Path | None, str | None]:  # type: ignore[no-untyped-def]
    """Copy `backup` (and its .keys) into the second folder unless it is there; prune there.

    Returns (the copy, None) or (None, a warning). The root must already exist: an unplugged
    USB stick must not turn into a folder on this computer's own disk.
    """
    where = f"The second backup folder “{root}”"
    after = f"The backup in “{backup.path.parent}” was made; the copy is made at the next backup."
    if not root.is_dir():
        return None, (f"{where} cannot be reached (is the USB drive plugged in, the network share "
                      f"connected?). {after}")
    sub = second_folder_for(db, root)
    target = sub / backup.path.name
    try:
        sub.mkdir(exist_ok=True, mode=0o700)
        remove_leftovers(sub, startswith=f".{db.path.stem}-{AUTO_TAG}-")  # we hold the backup lock
        if not (target.exists() and keyfile_path(target).exists()):
            _copy_checked(keyfile_path(backup.path), keyfile_path(target))
            _copy_checked(backup.path, target)
        prune_auto_backups(sub, db.path.stem, db.path.suffix, keep)
        _remove_orphan_keys(sub, db.path.stem, db.path.suffix)
    except OSError as exc:
        return None, f"{where} could not be written ({exc.strerror or exc}). {after}"
    except BackupFailed as exc:
        return None, f"{where}: {exc} {after}"
    return target, None


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _copy_private(source: Path, dest: Path) -> None:
    """Copy into a new owner-only file (never an existing one), flushed to disk."""
    with source.open("rb") as src, open(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def _copy_checked(source: Path, dest: Path) -> None:
    """Copy to a hidden temp name beside `dest`, fsync, compare bytes, then rename (mode 0600)."""
    tmp = dest.with_name(f".{dest.name}.partial-{secrets.token_hex(4)}")
    try:
        _copy_private(source, tmp)
        if _digest(tmp) != _digest(source):
            raise BackupFailed(f"the copy of “{dest.name}” does not match the original; it was not kept.")
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        _remove_quietly(tmp)
        raise


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


def _active_users(path: Path, key: bytes) -> set[str]:
    with _file_session(path, key) as (_engine, s):
        names = set(s.scalars(select(User.username).where(User.active.is_(True))))
        s.rollback()
    return names


def _check_backup(source: Path, username: str, password: str) -> tuple[bytes, KeyFile, Verification]:
    """Unlock `source` with this user's key slot, run every check, and (when the data is whole)
    check that the user is active in the backup with the right to restore it. Reads only."""
    key, keyfile = _unlock_backup(source, username, password)
    verification = verify_file(source, key)
    if verification.usable:
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
    check; `.usable` still True when only the audit chain is broken). Raises `WrongCredentials`
    (wrong password, or no such active user in the backup), `RestoreRefused` (no file, no or
    mismatched key file, not a clinic database, damaged beyond opening) or `PermissionDenied`
    (the user's role in the backup may not restore).
    """
    return _check_backup(Path(path).absolute(), username, password)[2]


def _todays_key_file(db_path: Path) -> KeyFile | None:
    """The key file of the database being replaced, read without any key (it may be damaged)."""
    try:
        return KeyFile.load(keyfile_path(db_path), db_path.name)
    except StoreError:
        return None


def compare_access(today: KeyFile | None, backup: KeyFile, active_in_backup: set[str]) -> AccessChanges:
    """Who was removed, added, or changed their password between the backup and today.

    A key slot is what gives a person access, so: active with a slot in the backup, without a slot
    today = removed since (accounts that never had a slot, e.g. staff who only appear in records,
    gave nobody access). Only for the same database (database id).
    """
    if today is None or today.database_id != backup.database_id:
        return AccessChanges(known=False)
    now = set(today.slots) - {RECOVERY_SLOT}
    removed = sorted((active_in_backup & set(backup.slots)) - now)
    added = sorted(now - active_in_backup)
    changed = sorted(
        n for n in active_in_backup & now
        if n in backup.slots and (today.slots[n].version, today.slots[n].salt) != (backup.slots[n].version, backup.slots[n].salt)
    )
    return AccessChanges(True, tuple(removed), tuple(added), tuple(changed))


def check_restore(db_path: Path | str, source: Path | str, username: str, password: str) -> RestorePreview:
    """Everything `restore` would check and tell, without changing anything: the backup's
    verification and who was removed/added since it was made (for the confirmation)."""
    db_path, source = Path(db_path).absolute(), Path(source).absolute()
    key, keyfile, verification = _check_backup(source, username, password)
    if not verification.usable:
        return RestorePreview(verification, AccessChanges(known=False))
    access = compare_access(_todays_key_file(db_path), keyfile, _active_users(source, key))
    _refuse_removed_restorer(access, username)
    return RestorePreview(verification, access)


def _refuse_removed_restorer(access: AccessChanges, username: str) -> None:
    if access.known and normalize_username(username) in access.removed:
        raise RestoreRefused(
            "You were removed from this clinic after this backup was made, so you cannot restore it; "
            "a clinic lead who has access today must do it. Nothing was changed."
        )


def _revoke_removed(tmp: Path, username: str, password: str, access: AccessChanges,
                    restore_detail: dict[str, object], source: Path) -> bytes:
    """In the copy about to be restored: the signed `backup.restore` record (written before the
    copy moves in, so the first sign-in after the restore already finds it: what people's
    computer accounts remember of the replaced log is explained by it, not an alarm); then
    deactivate everyone removed since the backup (audited) and re-key, so their old passwords no
    longer open it. Returns the copy's (new) key."""
    from .database import Database

    with Database.open(tmp, username, password) as db:
        with db.session() as s:
            actor = db.actor
            assert actor is not None
            audit.append(s, user_id=actor.user_id, username=actor.username, action=audit.RESTORE,
                         summary=f"Database restored from {source.name}", detail=restore_detail)
        if access.removed:
            with db.session() as s:
                actor = db.actor
                assert actor is not None
                for user in s.scalars(select(User).where(User.username.in_(access.removed), User.active.is_(True))):
                    user.active = False
                    user.deactivated_at = utcnow()
                    audit.append(s, user_id=actor.user_id, username=actor.username, action="user.deactivate",
                                 object_type="user", object_id=user.id,
                                 summary=f"User {user.username} removed (restore: {REMOVED_REASON})",
                                 detail={"reason": REMOVED_REASON})
            db.rekey(reason=f"restore: {len(access.removed)} user(s) {REMOVED_REASON}")
            left = set(db.keyfile.slots) & set(access.removed)
            if left:  # never restore a copy that still lets a removed person in
                raise RestoreRefused("Access of removed users could not be taken back; nothing was changed.")
        return db.raw_key_for_backup()


def restore(
    db_path: Path | str, source: Path | str, username: str, password: str, *, now: datetime | None = None
) -> RestoreResult:
    """Replace the database at `db_path` with the backup at `source`, after checking it.

    Everyone removed since the backup was made (active in it, without a key slot in today's key
    file) stays removed: deactivated in the restored copy, which is re-keyed before it moves in.
    """
    db_path, source = Path(db_path).absolute(), Path(source).absolute()
    if source.resolve() == db_path.resolve():
        raise RestoreRefused("The backup and the database are the same file.")
    check_location(db_path)
    key, keyfile, verification = _check_backup(source, username, password)
    if not verification.usable:
        raise RestoreRefused(f"The backup failed its checks; nothing was changed: {verification.describe()}")
    # The live key file's lock for the whole swap: no sign-in, password change or re-key of the
    # live database can read today's key file before the swap and write it back after it.
    with key_file_lock(db_path):
        access, replaced = _swap_in(db_path, source, username, password, key, keyfile, now)
    return _after_restore(db_path, source, username, password, verification, access, replaced)


def _swap_in(
    db_path: Path, source: Path, username: str, password: str, key: bytes, keyfile: KeyFile,
    now: datetime | None,
) -> tuple[AccessChanges, Path | None]:
    access = compare_access(_todays_key_file(db_path), keyfile, _active_users(source, key))
    _refuse_removed_restorer(access, username)
    lock = InstanceLock(db_path)
    lock.acquire()  # refuse while the app has the database open
    try:
        # Under the lock no other restore of this database runs: its temp copies are leftovers.
        remove_leftovers(db_path.parent, startswith=f".{db_path.name}.restoring-")
        tmp = db_path.with_name(f".{db_path.name}.restoring-{secrets.token_hex(4)}")
        temp_files = (tmp, keyfile_path(tmp), tmp.with_name(tmp.name + ".lock"), key_file_lock_path(tmp))
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        replaced: Path | None = None
        if db_path.exists() or keyfile_path(db_path).exists():
            replaced = db_path.with_name(f"{db_path.name}.replaced-{stamp}")
            if replaced.exists():
                replaced = db_path.with_name(f"{db_path.name}.replaced-{stamp}-{secrets.token_hex(2)}")
        detail: dict[str, object] = {"from": source.name, "replaced": replaced.name if replaced else None}
        if access.known:
            detail.update(removed_since=list(access.removed), added_since=list(access.added))
        else:
            detail["access_compared"] = False
        try:
            _copy_private(source, tmp)
            _sidecar_for_copy(keyfile, tmp).save(keyfile_path(tmp))
            final_key = _revoke_removed(tmp, username, password, access, detail, source)
            copied = verify_file(tmp, final_key)  # check what will actually be moved in
            if not copied.usable:
                raise RestoreRefused(f"The copy of the backup failed its checks: {copied.describe()}")
        except BaseException:
            _remove_quietly(*temp_files)
            raise
        _remove_quietly(*temp_files[2:])
        if replaced is not None:
            for suffix in ("", *_SIDE_FILES):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{db_path}{suffix}", f"{replaced}{suffix}")
            with contextlib.suppress(FileNotFoundError):
                os.replace(keyfile_path(db_path), keyfile_path(replaced))
        os.replace(keyfile_path(tmp), keyfile_path(db_path))
        os.replace(tmp, db_path)
        fsync_dir(db_path.parent)
    finally:
        lock.release()
    return access, replaced


def _after_restore(
    db_path: Path, source: Path, username: str, password: str, verification: Verification,
    access: AccessChanges, replaced: Path | None,
) -> RestoreResult:
    from .database import Database

    # The restorer signs in once: their account's memory of the replaced log is replaced (the
    # signed restore record in the copy explains it).
    Database.open(db_path, username, password).close()
    return RestoreResult(db_path, replaced, verification, access)


def verify_database(db) -> Verification:  # type: ignore[no-untyped-def]
    """The same checks on the open live database (read-only)."""
    return verify_file(db.path, db.raw_key_for_backup())


# ---- reading a clinic file without writing to it (the move to the clinic server) ---------------
def check_clinic_file(source: Path, username: str, password: str) -> tuple[bytes, Verification]:
    """Unlock a clinic file with a clinic lead's password and run every backup check on it
    (integrity, schema, audit chain), writing nothing to it or beside it."""
    key, _keyfile, verification = _check_backup(source, username, password)
    return key, verification


def reading_session(path: Path, key: bytes) -> contextlib.AbstractContextManager[tuple[Engine, Session]]:
    """A plain read session on a clinic file (no write lock, no sign-in record)."""
    return _file_session(path, key)
