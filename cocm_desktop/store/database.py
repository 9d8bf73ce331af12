"""Open, create and use an encrypted clinic database.

Fails closed: any problem opening raises a StoreError with a plain message and leaves the file
as it was. Nothing here ever creates a database in place of one that did not open.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from cocm_desktop import __version__
from cocm_desktop.domain.actor import Actor

from . import access_grants, account_memory, audit, invalidation, migrate, overlap_days, row_seals
from .engine import make_engine, raw_connect, translate
from .errors import (
    DatabaseDamaged,
    DatabaseLocked,
    EditConflict,
    ReadOnlyLocation,
    SessionLocked,
    StoreError,
    TooManyAttempts,
    WrongCredentials,
)
from .failed_sign_ins import check_delay, flush_failures, note_failure, note_throttled, sync_login_policy
from .keyfile_lock import key_file_lock
from .keyslots import (
    RECOVERY_SLOT,
    KeyFile,
    RekeyRefused,
    keyfile_path,
    new_database_key,
    new_recovery_code,
    normalize_recovery_code,
    normalize_username,
    remove_keyfile_leftovers,
    signing_public,
)
from .location import check_location
from .lockfile import InstanceLock
from .models import AuditRecord, ClinicSetting, User, utcnow
from .open_checks import (
    check_schema,
    damaged,
    key_fits_pages,
    opens_with,
    precheck,
    stale_key_file,
    verify_readable,
    writable,
)

T = TypeVar("T")

AUDIT_KEY_SETTING = "audit_chain_key"


def _utcnow() -> datetime:  # tests move the clock here
    return utcnow()


class Database:
    """An open clinic database and who unlocked it. Use `session()` for each user action.

    `lock()` (idle lock or by hand) makes every `session()` refuse with SessionLocked until
    `unlock(username, password)`; both are audited. Removing a key slot re-keys the database
    (see store.keyslots for the design).
    """

    def __init__(
        self, path: Path, engine: Engine, key: bytes, keyfile: KeyFile, actor: Actor | None
    ) -> None:
        self.path = path
        self.engine = engine
        self._key = key
        self.keyfile = keyfile
        self.database_id = keyfile.database_id
        self._epoch = keyfile.key_epoch  # the key epoch this session's key belongs to
        self._signer: audit.Signer | None = None  # who signs this session's audit records
        self._signed_in = False  # a sign-in completed (only then is what was seen remembered)
        # What the signed log says is wrong, found at sign-in (the clinic lead is shown these).
        self.integrity_alarms: list[str] = []
        self._own_alarms = False  # found by this sign-in itself (not only reported by others)
        self._memory_explained = False  # this account's memory predates a lead's restore
        self._audit_key = audit.derive_audit_key(key)
        self.actor = actor
        self._sessions = _session_factory(engine)
        self._lock: InstanceLock | None = None
        self._locked = False

    def __repr__(self) -> str:  # never show the key
        return f"<Database {self.path.name}>"

    # ---- sessions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error, storage faults translated.

        Refused with SessionLocked while the session is locked.
        """
        if self._locked:
            raise SessionLocked()
        with self._session() as s:
            yield s

    def run(self, work: Callable[[Session], T]) -> T:
        """`work(session)` as one unit of work (ServerDatabase.run's twin: the file has one writer
        at a time, so nothing is ever rolled back under it to run again)."""
        with self.session() as s:
            return work(s)

    @contextlib.contextmanager
    def _session(self) -> Iterator[Session]:
        session = self._sessions()
        session.info["audit_key"] = self._audit_key
        session.info[audit.SIGNER_INFO] = self._signer
        try:
            yield session
            session.commit()
        except DBAPIError as exc:
            with contextlib.suppress(DBAPIError):
                session.rollback()
            store_error = translate(exc)
            if isinstance(store_error, ReadOnlyLocation) and writable(self.path):
                # SQLCipher answers "readonly" once a page failed its HMAC check: that is damage.
                store_error = DatabaseDamaged(
                "The database file is damaged. Nothing has been changed. "
                "Restore the latest backup (File ▸ Restore) or call your IT support."
            )
            if isinstance(store_error, DatabaseDamaged) and self._rekeyed_elsewhere():
                store_error = StoreError(
                    "The database was re-keyed by another CoCM Desktop program (a user was removed) "
                    "while this one was open, so this change was not saved. Sign in again, then repeat it."
                )
            if store_error is not None:
                raise store_error from None
            raise
        except StaleDataError:  # the row moved on between this session's read and its UPDATE
            session.rollback()
            raise EditConflict() from None
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _rekeyed_elsewhere(self) -> bool:
        """True when the key file on disk has moved past the key this session holds."""
        try:
            return KeyFile.load(self.keyfile_path, self.path.name).key_epoch != self._epoch
        except StoreError:
            return False

    @property
    def keyfile_path(self) -> Path:
        return keyfile_path(self.path)

    def raw_key_for_backup(self) -> bytes:
        """The database key, for store-internal backup/re-key code only."""
        return self._key

    # ---- the key file: changed only under its lock, read fresh each time --------------------
    def key_file_lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold the key file's inter-process lock (reentrant). A service that must change a user
        row and that user's key slot together holds it around both, so no re-key by another
        program can fall between them."""
        return key_file_lock(self.path)

    def read_keyfile(self) -> KeyFile:
        """The key file as it is on disk now, checked to still hold the key this session uses.

        Raises StoreError when another program re-keyed the database since this one opened it:
        whatever this session would write with its old key would open nothing."""
        fresh = KeyFile.load(self.keyfile_path, self.path.name)
        if fresh.database_id != self.database_id:
            raise StoreError(
                f"The key file beside “{self.path.name}” was replaced by another database's. "
                "Nothing was changed; close CoCM Desktop and ask the clinic lead."
            )
        if fresh.key_epoch != self._epoch and not fresh.rekey_in_progress:
            raise StoreError(
                "The database was re-keyed by another CoCM Desktop program (a user was removed) "
                "while this one was open. Nothing was changed; sign in again, then repeat."
            )
        return fresh

    @contextlib.contextmanager
    def _changing_keyfile(self) -> Iterator[KeyFile]:
        """Lock, read fresh, let the block change it, replace it atomically, let go."""
        with self.key_file_lock():
            fresh = self.read_keyfile()
            before = fresh.to_json()
            yield fresh
            if fresh.to_json() != before:
                fresh.save(self.keyfile_path)
            self.keyfile = fresh

    def add_key_slot(
        self, username: str, password: str, kdf: dict[str, int] | None = None, *, session: Session | None = None
    ) -> None:
        """Create or replace (password change/reset) a user's slot. Takes effect at once.

        Someone changing their own password keeps their signing key; anyone else's new slot gets
        a new one, bound to them by a signed `key.bind` record — in `session` when the caller has
        a transaction open (it must: a second one would wait for it), else in one of its own."""
        name = normalize_username(username)
        own = self._signer is not None and self._signer.name == name
        with self._changing_keyfile() as kf:
            pub = kf.add_slot(name, password, self._key, kdf, signing_seed=self._signer.seed if own else None)
            if not own:
                self._bind_key(name, pub, session)

    def _bind_key(self, slot: str, pub: str, session: Session | None) -> None:
        detail = {"slot": slot, "pub": pub}
        who = "the recovery code" if slot == RECOVERY_SLOT else slot
        if session is not None:
            audit.append(session, user_id=None, username=self._signer_name(), action=audit.KEY_BIND,
                         summary=f"New signing key for {who}", detail=detail)
            return
        with self._session() as s:
            audit.append(s, user_id=None, username=self._signer_name(), action=audit.KEY_BIND,
                         summary=f"New signing key for {who}", detail=detail)

    def _signer_name(self) -> str:
        return self._signer.name if self._signer is not None else "system"

    def replace_recovery_code(self, *, session: Session | None = None) -> str:
        """A new recovery code in place of the old one (lost, or its slot damaged), to be shown
        once; the old code stops working at once."""
        code = new_recovery_code()
        with self._changing_keyfile() as kf:
            pub = kf.add_slot(RECOVERY_SLOT, normalize_recovery_code(code), self._key)
            self._bind_key(RECOVERY_SLOT, pub, session)
        return code

    def check_password(self, username: str, password: str) -> bool:
        """True when this password opens this user's slot to the key in use (no audit, no count)."""
        try:
            keys = self.read_keyfile().unlock(normalize_username(username), password)
        except WrongCredentials:
            return False
        return any(hmac.compare_digest(k, self._key) for k in keys)

    def slots(self) -> set[str]:
        """Names holding a key slot now (the recovery slot included)."""
        return set(self.read_keyfile().slots)

    def remove_key_slot(self, username: str, *, reason: str = "user removed") -> list[str]:
        """Delete a user's slot and re-key the database so their old key no longer opens it.

        Returns the names of all slots dropped by the re-key (the removed one included). Refused
        with RekeyRefused, nothing changed, when a slot that must survive fails its check.
        """
        name = normalize_username(username)
        with self.key_file_lock():
            keep = self._active_slot_names() - {name}
            dropped = self.rekey(reason=reason, keep=keep)
        return sorted({name, *dropped})

    def rekey_problems(self, removing: str | None = None) -> list[str]:
        """Users (or the recovery slot) whose key slot would stop a re-key now: a service checks
        this before it commits a removal, so that a refused re-key leaves nothing half done."""
        keep = self._active_slot_names() - {normalize_username(removing or "")}
        return self.read_keyfile().rekey_problems(self._key, keep)

    def _active_slot_names(self) -> set[str]:
        with self._session() as s:
            keep = set(s.scalars(select(User.username).where(User.active.is_(True))))
        keep.add(RECOVERY_SLOT)
        return keep

    # ---- re-key ---------------------------------------------------------------------------
    def rekey(self, *, reason: str, keep: set[str] | None = None) -> list[str]:
        """New random database key (PRAGMA rekey), sealed to every slot in `keep`.

        `keep` defaults to the active users plus the recovery slot. Every kept slot must pass its
        check first (RekeyRefused names the ones that fail; nothing changed). The journal — the
        key file holding the new key beside the old in every kept slot — is written and read back
        before the database changes, so at every instant the slots on disk open the file on disk,
        and a crash or a concurrent sign-in at any step sees the complete old or new state.
        Refused (DatabaseLocked) while another CoCM Desktop window holds the database.
        """
        if self._locked:
            raise SessionLocked()
        with self.key_file_lock():
            temp_lock = None
            if self._lock is None:
                temp_lock = InstanceLock(self.path)
                temp_lock.acquire()
            try:
                return self._rekey_locked(reason, keep)
            finally:
                if temp_lock is not None:
                    temp_lock.release()

    def _rekey_locked(self, reason: str, keep: set[str] | None) -> list[str]:
        kf = self.read_keyfile()
        if kf.rekey_in_progress:
            # Left by a crash. Our key still opens the file (checked below), so the old state is
            # the true one: the half-made new seals are discarded and the re-key made afresh.
            if not opens_with(self.path, self._key):
                raise damaged(self.path.name)
            kf.abandon_rekey()
        if keep is None:
            keep = self._active_slot_names()
        with self._session() as s:
            # The audit chain's key must outlive the database key it was first derived from.
            # (only records from before signatures are checked with it)
            unsigned = s.scalar(select(AuditRecord.seq).where(AuditRecord.sig.is_(None)).limit(1))
            if unsigned is not None and s.get(ClinicSetting, AUDIT_KEY_SETTING) is None:
                s.add(ClinicSetting(key=AUDIT_KEY_SETTING, value=self._audit_key.hex()))
        new_key = new_database_key()
        dropped, wrap_keys = kf.begin_rekey(self._key, new_key, keep)
        kf.save(self.keyfile_path)  # the journal: old and new key side by side
        on_disk = KeyFile.load(self.keyfile_path, self.path.name)
        bad = on_disk.check_rekey_journal(new_key, wrap_keys)
        if bad:
            on_disk.abandon_rekey()
            on_disk.save(self.keyfile_path)
            raise RekeyRefused(bad, "the new key could not be stored for every user")
        self._apply_rekey(new_key, on_disk)
        on_disk.finish_rekey()
        on_disk.save(self.keyfile_path)
        self.keyfile, self._epoch = on_disk, on_disk.key_epoch
        with self._session() as s:
            actor = self.actor
            audit.append(s, user_id=actor.user_id if actor else None,
                         username=actor.username if actor else "system", action="key.rekey",
                         summary="Database re-keyed", detail={"reason": reason, "slots_dropped": dropped,
                                                              "epoch": on_disk.key_epoch})
        return dropped

    def _apply_rekey(self, new_key: bytes, journal: KeyFile) -> None:
        """Switch the file to `new_key` in one SQLite transaction; reopen the pool with it."""
        self.engine.dispose()
        conn = raw_connect(self.path, self._key)
        try:
            conn.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no page under the old key left behind
        finally:
            conn.close()
        if not opens_with(self.path, new_key):
            if opens_with(self.path, self._key):
                journal.abandon_rekey()
                journal.save(self.keyfile_path)
                self.engine = make_engine(self.path, self._key)
                self._sessions = _session_factory(self.engine)
                raise StoreError("The database could not be re-keyed; nothing was changed. Try again.")
            raise damaged(self.path.name)
        self._key = new_key
        self.engine = make_engine(self.path, new_key)
        self._sessions = _session_factory(self.engine)

    def _finish_interrupted_rekey(self, opened_with_next: bool) -> None:
        """A re-key was cut short (crash, power loss): finish it now that we hold a key.
        Runs under the key file's lock (sign-in holds it)."""
        if opened_with_next:  # the file already uses the new key; only the key file lagged
            with self._changing_keyfile() as kf:
                if kf.rekey_in_progress:
                    kf.finish_rekey()
            self._epoch = self.keyfile.key_epoch
        else:  # the file still uses the old key: do the whole re-key again
            self.rekey(reason="finishing an interrupted re-key")

    # ---- lock / unlock --------------------------------------------------------------------
    @property
    def locked(self) -> bool:
        return self._locked

    def lock(self) -> None:
        """Idle or manual lock: sessions are refused until `unlock`. Audited."""
        if self._locked:
            return
        actor = self.actor
        with self._session() as s:
            audit.append(s, user_id=actor.user_id if actor else None,
                         username=actor.username if actor else "system", action="session.lock",
                         summary="Session locked")
        self._locked = True
        self.engine.dispose()  # idle connections (and their page caches) go

    def unlock(self, username: str, password: str) -> Actor:
        """Resume a locked session with a password (the same growing delay as sign-in)."""
        slot = normalize_username(username)
        with self._changing_keyfile() as kf:
            keys, seed = _try_slot(self.path, kf, slot, password)
            if not any(hmac.compare_digest(k, self._key) for k in keys):
                note_failure(self.path, kf, slot, _utcnow())
                raise WrongCredentials()
            previous_signer, enrolled = self._signer, seed is None
            self._signer = audit.Signer(slot, seed or new_signing_seed())  # who signs from now on
            try:
                with self._session() as s:
                    user = s.scalar(select(User).where(User.username == slot))
                    if user is None or not user.active:
                        raise WrongCredentials()
                    previous = self.actor.username if self.actor else None
                    actor = Actor(user.id, user.username, user.display_name, user.role)
                    if enrolled:
                        self._enroll(s)
                    flush_failures(s, kf)
                    audit.append(s, user_id=user.id, username=user.username, action="session.unlock",
                                 summary="Session unlocked",
                                 detail=None if previous == user.username else {"previous_user": previous})
            except BaseException:
                self._signer = previous_signer
                raise
            if enrolled:
                kf.add_slot(slot, password, self._key, signing_seed=self._signer.seed)
            self.actor = actor
            self._locked = False
            kf.clear_failures(slot)
            kf.pending.clear()
            kf.pending_dropped = 0
        return actor

    def _enroll(self, s: Session) -> None:
        """A person's first signing key (their slot is from before signatures), bound by its own
        signature; and, in a clinic whose log has no grant yet, the user table as found."""
        assert self._signer is not None
        pub = _b64(signing_public(self._signer.seed))
        who = "the recovery code" if self._signer.name == RECOVERY_SLOT else self._signer.name
        audit.append(s, user_id=None, username=self._signer.name, action=audit.KEY_BIND,
                     summary=f"First signing key of {who}", detail={"slot": self._signer.name, "pub": pub})
        granted = s.scalar(select(AuditRecord.seq).where(
            AuditRecord.action.in_((audit.GRANT, audit.BASELINE)), AuditRecord.sig.is_not(None)).limit(1))
        if granted is None:
            users = {name: [role, bool(active)]
                     for name, role, active in s.execute(select(User.username, User.role, User.active))}
            audit.append(s, user_id=None, username=self._signer.name, action=audit.BASELINE,
                         summary="Who may sign in, as found when audit signatures began",
                         detail={"users": users})

    def close(self) -> None:
        self._remember_head()
        self.engine.dispose()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _remember_head(self) -> None:
        """At the end of a session: this user has seen the log up to its newest record (best
        effort: a locked, read-only or re-keyed clinic keeps the claim made at sign-in)."""
        signer = self._signer
        if signer is None or self._locked or self._own_alarms or not self._signed_in:
            return
        with contextlib.suppress(StoreError, OSError, DBAPIError):
            with self._session() as s:
                head = s.execute(select(AuditRecord.seq, AuditRecord.hmac)
                                 .order_by(AuditRecord.seq.desc()).limit(1)).first()
            claim = self.keyfile.slots[signer.name].seen if signer.name in self.keyfile.slots else None
            if head is not None and (claim is None or claim["seq"] != head[0]):  # nothing new: no write
                with self._changing_keyfile() as kf:
                    kf.note_seen(signer.name, head[0], head[1], signer.seed)
                account_memory.note(self.path, self.database_id, signer.name, head[0], head[1], signer.seed,
                                    utcnow())

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
        with key_file_lock(path):
            return cls._create_locked(path, clinic_name, lead_username, lead_display_name, lead_password, kdf)

    @classmethod
    def _create_locked(
        cls, path: Path, clinic_name: str, lead_username: str, lead_display_name: str,
        lead_password: str, kdf: dict[str, int] | None,
    ) -> tuple[Database, str]:
        if path.exists() or keyfile_path(path).exists():
            raise StoreError(f"“{path.name}” already exists; CoCM Desktop never overwrites a database.")
        if not lead_password:
            raise ValueError("A password is required.")
        key = new_database_key()
        database_id = str(uuid.uuid4())
        engine = make_engine(path, key)
        try:
            with engine.begin() as conn:
                migrate.upgrade(conn)
            owner_only(path)
            salt = path.read_bytes()[:16].hex()
            keyfile = KeyFile(database_id=database_id, db_salt=salt)
            db = cls(path, engine, key, keyfile, None)
            lead_name = normalize_username(lead_username)
            lead_seed, recovery_seed = new_signing_seed(), new_signing_seed()
            db._signer = audit.Signer(lead_name, lead_seed)
            with db.session() as s:
                # The founding lead's key binds itself; every later record chains to this one.
                audit.append(s, user_id=None, username=lead_name, action=audit.KEY_BIND,
                             summary=f"First signing key of {lead_name}",
                             detail={"slot": lead_name, "pub": _b64(signing_public(lead_seed))})
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
            with db.session() as s:  # after the lead's grant (written at the commit above)
                audit.append(s, user_id=lead.id, username=lead.username, action=audit.KEY_BIND,
                             summary="Signing key of the recovery code",
                             detail={"slot": RECOVERY_SLOT, "pub": _b64(signing_public(recovery_seed))})
            db.actor = actor
            recovery_code = new_recovery_code()
            keyfile.add_slot(actor.username, lead_password, key, kdf, signing_seed=lead_seed)
            keyfile.add_slot(RECOVERY_SLOT, normalize_recovery_code(recovery_code), key, kdf,
                             signing_seed=recovery_seed)
            keyfile.save(keyfile_path(path))
            db._signed_in = True
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
        """Unlock with a user's password. `exclusive` takes the one-app-instance lock (the GUI).

        Raises TooManyAttempts (without trying the password) during the growing delay that
        follows repeated failures.
        """
        slot = normalize_username(username)

        def signed_in(s: Session) -> tuple[User, str, str, dict[str, str] | None]:
            user = s.scalar(select(User).where(User.username == slot))
            if user is None or not user.active:
                raise WrongCredentials()
            return user, "login.success", "Signed in", None

        return cls._sign_in(Path(path).absolute(), slot, password, exclusive, signed_in)

    @classmethod
    def open_with_recovery(
        cls, path: Path | str, recovery_code: str, reason: str, *, exclusive: bool = False
    ) -> Database:
        """Emergency access with the recovery code: asks a reason, acts as the first clinic lead."""
        if not reason.strip():
            raise ValueError("Say why the recovery code is being used; the reason is kept in the audit log.")

        def first_lead(s: Session) -> tuple[User, str, str, dict[str, str] | None]:
            lead = s.scalar(
                select(User).where(User.role == "clinic_lead", User.active.is_(True)).order_by(User.id)
            )
            if lead is None:
                raise StoreError("No active clinic lead is left in this database.")
            return lead, "login.recovery_code", "Emergency access with the recovery code", {"reason": reason}

        code = normalize_recovery_code(recovery_code)
        return cls._sign_in(Path(path).absolute(), RECOVERY_SLOT, code, exclusive, first_lead)

    @classmethod
    def _sign_in(
        cls, path: Path, slot: str, secret: str, exclusive: bool,
        who: Callable[[Session], tuple[User, str, str, dict[str, str] | None]],
    ) -> Database:
        """Unlock `slot` and open the file as the user `who` picks, audited.

        The key file's lock is held from reading it until the database has opened and the sign-in
        is written down: a re-key by another program is then either not begun or done."""
        precheck(path)  # a file that is not a clinic gets its message before any lock file is made
        with key_file_lock(path):
            keyfile = precheck(path)
            keys, seed = _try_slot(path, keyfile, slot, secret)
            claims = keyfile.seen_claims()  # before this sign-in adds its own
            db, opened_with_next = cls._open_with_candidates(path, keys, keyfile, exclusive)
            try:
                enrolled = seed is None
                db._signer = audit.Signer(slot, seed or new_signing_seed())
                with db.session() as s:
                    user, action, summary, detail = who(s)
                    db.actor = Actor(user.id, user.username, user.display_name, user.role)
                    if enrolled:
                        db._enroll(s)
                    _seal_baseline(s)
                    flush_failures(s, keyfile)
                    rec = audit.append(s, user_id=user.id, username=user.username, action=action,
                                       summary=summary, detail=detail)
                    seen = (rec.seq, rec.hmac)
                    policy_changed = sync_login_policy(s, keyfile) if slot != RECOVERY_SLOT else False
                db.integrity_alarms = db._check_integrity(claims, slot)
                db._after_unlock(slot, secret, opened_with_next, policy_changed, seen)
                db._signed_in = True
            except BaseException:
                db.close()
                raise
        return db

    def full_check(self) -> audit.ChainReport:
        """`audit verify`'s whole walk: every record's signature, the grants, and every clinical
        row against its newest signed digest. Read-only; seconds on a large clinic, so the GUI
        runs it in the background after a clinic lead signs in."""
        with self._session() as s:
            report = audit.verify_chain(s)
            s.rollback()
        return report

    def _check_integrity(self, claims: dict[str, tuple[int, str]], slot: str) -> list[str]:
        """What the signed log says is wrong now: grants or key bindings not signed by a clinic
        lead, a user table that differs from the grants, a log shorter than someone has seen it
        (a key slot or this computer account remembers more), and what other people's sign-ins
        found since this person's last one. Cheap enough for every sign-in (the grants, bindings,
        restores and alarms are few); `audit verify` walks all.

        What this account's memory shows is also written down as a signed `integrity.alarm`, so a
        clinic lead learns of it at their next sign-in whoever found it."""
        with self._session() as s:
            fold, problems = audit.access_fold(s)
            problems += fold.user_table_problems(s)
            problems += audit.seen_problems(s, fold, claims)
            seen = account_memory.load(self.path, self.database_id, fold.keys)
            remembered, self._memory_explained = audit.memory_problems(s, fold, seen)
            for problem in remembered:
                audit.append(s, user_id=self.actor.user_id if self.actor else None, username=slot,
                             action=audit.ALARM, summary=problem[:500])
            problems += remembered
            self._own_alarms = bool(problems)
            since = claims.get(slot, (0, ""))[0]
            problems += [a for a in audit.reported_alarms(s, fold, since) if not any(p in a for p in remembered)]
        return problems

    def _after_unlock(
        self, slot: str, secret: str, opened_with_next: bool | None, dirty: bool, seen: tuple[int, str],
    ) -> None:
        """Key file housekeeping after a good sign-in (under its lock, on the copy read under it):
        counters, re-key recovery, slot upgrade, what this user has now seen of the log, temp
        copies of key files left by killed writers."""
        kf = self.keyfile
        remove_keyfile_leftovers(self.path)
        if kf.clear_failures(slot) or kf.pending or kf.pending_dropped:
            kf.pending.clear()
            kf.pending_dropped = 0
            dirty = True
        pending_rekey = kf.rekey_in_progress
        if not pending_rekey:  # the common case: one write of the key file for all of it
            dirty = self._upgrade_and_note_seen(kf, slot, secret, seen) or dirty
        if dirty:
            with contextlib.suppress(OSError):  # read-only folder: sign-in still works
                kf.save(self.keyfile_path)
        if opened_with_next is not None:
            self._finish_interrupted_rekey(opened_with_next)
        else:
            self._finish_interrupted_removals()
        if pending_rekey:  # slots change only once the re-key is done
            with contextlib.suppress(OSError, StoreError), self._changing_keyfile() as fresh:
                self._upgrade_and_note_seen(fresh, slot, secret, seen)

    def _upgrade_and_note_seen(self, kf: KeyFile, slot: str, secret: str, seen: tuple[int, str]) -> bool:
        """Format 1 → 2, stronger Argon2 or the signing key made at this sign-in; and the newest
        record this user has now seen (a claim is evidence: never overwritten while alarmed)."""
        assert self._signer is not None
        changed = False
        if kf.needs_upgrade(slot):
            kf.add_slot(slot, secret, self._key, signing_seed=self._signer.seed)
            changed = True
        if not self._own_alarms:
            kf.note_seen(slot, seen[0], seen[1], self._signer.seed)
            account_memory.note(self.path, self.database_id, slot, seen[0], seen[1], self._signer.seed,
                                utcnow(), replace=self._memory_explained)
            changed = True
        return changed

    def _finish_interrupted_removals(self) -> None:
        """A removal commits the person's row as inactive, then re-keys. Cut short between the
        two, their slot still unwraps the current key: the app refuses them, outside tools would
        not. Any slot that belongs to no active user is therefore re-keyed away at the next
        sign-in (the journal covers the re-key itself). Skipped, to be done at a later sign-in,
        while another window holds the database or a kept slot fails its check."""
        if not set(self.keyfile.slots) - self._active_slot_names():
            return
        with contextlib.suppress(DatabaseLocked, RekeyRefused):
            self.rekey(reason="finishing an interrupted removal")

    @classmethod
    def _open_with_candidates(
        cls, path: Path, keys: list[bytes], keyfile: KeyFile, exclusive: bool
    ) -> tuple[Database, bool | None]:
        """Try the current key, then (mid re-key) the next one. The bool says which one opened
        it when a re-key was in flight (None: no re-key pending)."""
        error: StoreError | None = None
        for index, key in enumerate(keys):
            try:
                db = cls._open_with_key(path, key, keyfile, exclusive)
            except DatabaseDamaged as exc:
                error = exc
                continue
            return db, (index == 1) if keyfile.rekey_in_progress else None
        assert error is not None
        if not any(key_fits_pages(path, key) for key in keys):
            raise stale_key_file(path.name)
        raise error

    @classmethod
    def _open_with_key(cls, path: Path, key: bytes, keyfile: KeyFile, exclusive: bool) -> Database:
        lock = InstanceLock(path) if exclusive else None
        if lock is not None:
            lock.acquire()
        owner_only(path)
        engine = make_engine(path, key)
        try:
            verify_readable(engine, path)
            check_schema(engine, path, key, keyfile)
            with engine.connect() as conn:
                pinned = conn.execute(
                    select(ClinicSetting.value).where(ClinicSetting.key == AUDIT_KEY_SETTING)
                ).scalar()
        except BaseException:
            engine.dispose()
            if lock is not None:
                lock.release()
            raise
        db = cls(path, engine, key, keyfile, None)
        if pinned:
            db._audit_key = bytes.fromhex(str(pinned))
        db._lock = lock
        return db


# ---- helpers --------------------------------------------------------------------------------
def new_signing_seed() -> bytes:
    return secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def owner_only(path: Path) -> None:
    """The database and its -wal/-shm readable by their owner only (0600). The file is encrypted,
    but a copy in other accounts' reach invites offline guessing. SQLite gives a new -wal/-shm the
    main file's mode, so fixing the main file once fixes them for good. Best effort: a file another
    account owns (or a read-only folder) is left as it is."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(OSError):
            mode = candidate.stat().st_mode & 0o777
            if mode & 0o077:
                os.chmod(candidate, mode & 0o700)


def _try_slot(path: Path, keyfile: KeyFile, slot: str, secret: str) -> tuple[list[bytes], bytes | None]:
    """One sign-in attempt on a key file read under its lock: the growing delay first (a refused
    attempt is audited, not tried), then the password (a failure counted and audited)."""
    now = _utcnow()
    try:
        check_delay(keyfile, slot, now)
    except TooManyAttempts:
        note_throttled(path, keyfile, slot, now)
        raise
    try:
        return keyfile.open_slot(slot, secret)
    except WrongCredentials:
        note_failure(path, keyfile, slot, now)
        raise WrongCredentials() from None


def _seal_baseline(session: Session) -> None:
    """A clinic from before row seals (revision 0015): the first sign-in after the upgrade seals
    every clinical row as found, signed by whoever signs in (one query on a partial index
    otherwise)."""
    if session.scalar(select(AuditRecord.seq).where(AuditRecord.rows.is_not(None)).limit(1)) is not None:
        return
    audit.append(session, user_id=None, username=session.info[audit.SIGNER_INFO].name,
                 action=row_seals.BASELINE, summary="Clinical rows as found when row seals began",
                 rows=row_seals.baseline(session))


def _seed_payer_rules(session: Session) -> None:
    from cocm_desktop.domain.billing import MEDICARE_2026

    from .models import PayerRuleSet

    session.add(PayerRuleSet(name="Medicare 2026", rules=MEDICARE_2026, is_default=True,
                             note="Shipped default; copy it to make a payer-specific set."))


def _session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)
    invalidation.install(factory)  # derived registry facts follow every write
    access_grants.install(factory)  # and every change to the user table is a signed grant
    row_seals.install(factory)  # and every clinical row written is sealed in the signed log
    overlap_days.install(factory)  # and so do the staff days with overlapping time
    return factory
