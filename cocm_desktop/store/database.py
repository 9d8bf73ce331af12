"""Open, create and use an encrypted clinic database.

Fails closed: any problem opening raises a StoreError with a plain message and leaves the file
as it was. Nothing here ever creates a database in place of one that did not open.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cocm_desktop import __version__
from cocm_desktop.domain.actor import Actor

from . import audit, migrate
from .engine import make_engine, raw_connect, translate
from .errors import (
    DatabaseDamaged,
    DatabaseNotFound,
    NewerSchema,
    NotACocmDatabase,
    StoreError,
    WrongCredentials,
)
from .keyslots import (
    RECOVERY_SLOT,
    KeyFile,
    keyfile_path,
    new_database_key,
    new_recovery_code,
    normalize_recovery_code,
    normalize_username,
)
from .location import check_location
from .lockfile import InstanceLock
from .models import ClinicSetting, User, utcnow

SQLITE_PLAIN_HEADER = b"SQLite format 3\x00"
PAGE_SIZE = 4096  # SQLCipher 4 default


def _damaged(name: str) -> DatabaseDamaged:
    return DatabaseDamaged(
        f"“{name}” is damaged and cannot be opened safely. Nothing has been changed. "
        "Restore the latest backup, or call your IT support."
    )


class Database:
    """An open clinic database and who unlocked it. Use `session()` for each user action."""

    def __init__(
        self, path: Path, engine: Engine, key: bytes, keyfile: KeyFile, actor: Actor | None
    ) -> None:
        self.path = path
        self.engine = engine
        self._key = key
        self.keyfile = keyfile
        self.database_id = keyfile.database_id
        self._audit_key = audit.derive_audit_key(key)
        self.actor = actor
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._lock: InstanceLock | None = None

    def __repr__(self) -> str:  # never show the key
        return f"<Database {self.path.name}>"

    # ---- sessions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error, storage faults translated."""
        session = self._sessions()
        session.info["audit_key"] = self._audit_key
        try:
            yield session
            session.commit()
        except DBAPIError as exc:
            session.rollback()
            store_error = translate(exc)
            if store_error is not None:
                raise store_error from None
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @property
    def keyfile_path(self) -> Path:
        return keyfile_path(self.path)

    def raw_key_for_backup(self) -> bytes:
        """The database key, for store-internal backup/re-key code only."""
        return self._key

    def save_keyfile(self) -> None:
        self.keyfile.save(self.keyfile_path)

    def add_key_slot(self, username: str, password: str, kdf: dict[str, int] | None = None) -> None:
        self.keyfile.add_slot(normalize_username(username), password, self._key, kdf)
        self.save_keyfile()

    def remove_key_slot(self, username: str) -> None:
        self.keyfile.remove_slot(normalize_username(username))
        self.save_keyfile()

    def close(self) -> None:
        self.engine.dispose()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- create ---------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: Path | str,
        *,
        clinic_name: str,
        lead_username: str,
        lead_display_name: str,
        lead_password: str,
        kdf: dict[str, int] | None = None,
    ) -> tuple[Database, str]:
        """A new clinic. Returns the open database and the recovery code (shown once)."""
        path = Path(path).absolute()
        if path.exists() or keyfile_path(path).exists():
            raise StoreError(f"“{path.name}” already exists; CoCM Desktop never overwrites a database.")
        check_location(path)
        if not lead_password:
            raise ValueError("A password is required.")
        key = new_database_key()
        database_id = str(uuid.uuid4())
        engine = make_engine(path, key)
        try:
            with engine.begin() as conn:
                migrate.upgrade(conn)
            salt = path.read_bytes()[:16].hex()
            keyfile = KeyFile(database_id=database_id, db_salt=salt)
            db = cls(path, engine, key, keyfile, None)
            with db.session() as s:
                s.add_all(
                    [
                        ClinicSetting(key="clinic_name", value=clinic_name),
                        ClinicSetting(key="database_id", value=database_id),
                        ClinicSetting(key="created_with_version", value=__version__),
                        ClinicSetting(key="created_on", value=date.today().isoformat()),
                    ]
                )
                _seed_payer_rules(s)
                lead = User(
                    username=normalize_username(lead_username),
                    display_name=lead_display_name,
                    role="clinic_lead",
                )
                s.add(lead)
                s.flush()
                actor = Actor(lead.id, lead.username, lead.display_name, lead.role)
                audit.append(s, user_id=None, username="system", action="clinic.create",
                             summary="Clinic database created")
                audit.append(s, user_id=lead.id, username=lead.username, action="user.create",
                             object_type="user", object_id=lead.id,
                             summary=f"User {lead.username} added as clinic_lead")
            db.actor = actor
            recovery_code = new_recovery_code()
            keyfile.add_slot(actor.username, lead_password, key, kdf)
            keyfile.add_slot(RECOVERY_SLOT, normalize_recovery_code(recovery_code), key, kdf)
            keyfile.save(keyfile_path(path))
            return db, recovery_code
        except BaseException:
            engine.dispose()
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), keyfile_path(path)):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            raise

    # ---- open -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: Path | str,
        username: str,
        password: str,
        *,
        exclusive: bool = False,
    ) -> Database:
        """Unlock with a user's password. `exclusive` takes the one-app-instance lock (the GUI)."""
        path = Path(path).absolute()
        keyfile = _precheck(path)
        slot = normalize_username(username)
        try:
            key = keyfile.unwrap(slot, password)
        except WrongCredentials:
            _note_failure(path, keyfile, slot)
            raise
        db = cls._open_with_key(path, key, keyfile, exclusive)
        try:
            with db.session() as s:
                user = s.scalar(select(User).where(User.username == slot))
                if user is None or not user.active:
                    raise WrongCredentials()
                db.actor = Actor(user.id, user.username, user.display_name, user.role)
                _flush_failures(s, keyfile)
                audit.append(s, user_id=user.id, username=user.username, action="login.success",
                             summary="Signed in")
            if keyfile.failures.pop(slot, None) is not None or keyfile.pending:
                keyfile.pending.clear()
                db.save_keyfile()
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def open_with_recovery(
        cls, path: Path | str, recovery_code: str, reason: str, *, exclusive: bool = False
    ) -> Database:
        """Emergency access with the recovery code: asks a reason, acts as the first clinic lead."""
        if not reason.strip():
            raise ValueError("Say why the recovery code is being used; the reason is kept in the audit log.")
        path = Path(path).absolute()
        keyfile = _precheck(path)
        try:
            key = keyfile.unwrap(RECOVERY_SLOT, normalize_recovery_code(recovery_code))
        except WrongCredentials:
            _note_failure(path, keyfile, RECOVERY_SLOT)
            raise WrongCredentials() from None
        db = cls._open_with_key(path, key, keyfile, exclusive)
        try:
            with db.session() as s:
                lead = s.scalar(
                    select(User).where(User.role == "clinic_lead", User.active.is_(True)).order_by(User.id)
                )
                if lead is None:
                    raise StoreError("No active clinic lead is left in this database.")
                db.actor = Actor(lead.id, lead.username, lead.display_name, lead.role)
                _flush_failures(s, keyfile)
                audit.append(s, user_id=lead.id, username=lead.username, action="login.recovery_code",
                             summary="Emergency access with the recovery code", detail={"reason": reason})
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def _open_with_key(cls, path: Path, key: bytes, keyfile: KeyFile, exclusive: bool) -> Database:
        lock = InstanceLock(path) if exclusive else None
        if lock is not None:
            lock.acquire()
        engine = make_engine(path, key)
        try:
            _verify_readable(engine, path)
            _check_schema(engine, path, key)
        except BaseException:
            engine.dispose()
            if lock is not None:
                lock.release()
            raise
        db = cls(path, engine, key, keyfile, None)
        db._lock = lock
        return db


# ---- helpers --------------------------------------------------------------------------------
def _precheck(path: Path) -> KeyFile:
    """File-level checks before any key is tried: existence, plain SQLite, key file pairing."""
    if not path.exists():
        raise DatabaseNotFound(f"There is no database at “{path}”.")
    if path.is_dir():
        raise NotACocmDatabase(f"“{path.name}” is a folder, not a CoCM Desktop database.")
    check_location(path)
    size = path.stat().st_size
    if size == 0:
        raise NotACocmDatabase(f"“{path.name}” is an empty file, not a CoCM Desktop database.")
    with path.open("rb") as fh:
        header = fh.read(16)
    if header == SQLITE_PLAIN_HEADER:
        raise NotACocmDatabase(
            f"“{path.name}” is an ordinary, unencrypted SQLite file, not a CoCM Desktop database. "
            "CoCM Desktop only opens encrypted clinic databases."
        )
    keyfile = KeyFile.load(keyfile_path(path), path.name)
    if header.hex() != keyfile.db_salt:
        raise NotACocmDatabase(
            f"The key file beside “{path.name}” belongs to a different database (or the file is "
            "not a CoCM Desktop database). Restore the database and its .keys file from the same backup."
        )
    if size % PAGE_SIZE:
        raise _damaged(path.name)  # a partial page: the file was cut short
    return keyfile


def _verify_readable(engine: Engine, path: Path) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar()
            page_count = conn.execute(text("PRAGMA page_count")).scalar() or 0
    except DBAPIError as exc:
        err = translate(exc)
        if err is None or isinstance(err, DatabaseDamaged):
            raise _damaged(path.name) from None
        raise err from None
    wal = Path(f"{path}-wal")
    on_disk = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    if page_count * PAGE_SIZE > on_disk:
        raise _damaged(path.name)  # header says more pages than the file holds: truncated


def _check_schema(engine: Engine, path: Path, key: bytes) -> None:
    with engine.connect() as conn:
        current = migrate.current_revision(conn)
    if current is None:
        raise NotACocmDatabase(f"“{path.name}” is encrypted but holds no CoCM Desktop data.")
    head = migrate.head_revision()
    if current == head:
        return
    if current not in migrate.known_revisions():
        raise NewerSchema(
            f"“{path.name}” was saved by a newer version of CoCM Desktop than this one "
            f"({__version__}). Install the latest version to open it; nothing was changed."
        )
    backup = path.with_name(f"{path.stem}.before-upgrade-{current}{path.suffix}")
    _copy_encrypted(path, key, engine, backup)
    with engine.begin() as conn:
        migrate.upgrade(conn)


def _copy_encrypted(path: Path, key: bytes, engine: Engine, dest: Path) -> None:
    """Consistent encrypted copy (SQLite backup API, same key) plus its key file, before a migration."""
    with engine.connect() as conn:
        src = conn.connection.dbapi_connection
        assert src is not None
        dst = raw_connect(dest, key)
        try:
            src.backup(dst)
        finally:
            dst.close()
    shutil.copy2(keyfile_path(path), keyfile_path(dest))


def _note_failure(path: Path, keyfile: KeyFile, slot: str) -> None:
    keyfile.failures[slot] = keyfile.failures.get(slot, 0) + 1
    keyfile.pending.append({"username": slot, "at_utc": utcnow().isoformat()})
    with contextlib.suppress(OSError):  # a read-only folder must not hide "wrong password"
        keyfile.save(keyfile_path(path))


def _flush_failures(session: Session, keyfile: KeyFile) -> None:
    """Failed sign-ins cannot be written while locked; they wait in the key file until now."""
    for item in keyfile.pending:
        audit.append(session, user_id=None, username=str(item.get("username", "?")),
                     action="login.failure", summary="Failed sign-in",
                     at_utc=datetime.fromisoformat(str(item["at_utc"])))


def count_rows(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _seed_payer_rules(session: Session) -> None:
    from cocm_desktop.domain.billing import MEDICARE_2026

    from .models import PayerRuleSet

    session.add(PayerRuleSet(name="Medicare 2026", rules=MEDICARE_2026, is_default=True,
                             note="Shipped default; copy it to make a payer-specific set."))


def file_looks_encrypted(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) != SQLITE_PLAIN_HEADER and os.path.getsize(path) > 0
