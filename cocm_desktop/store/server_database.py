"""A clinic on the clinic server (PostgreSQL): the same session API as the encrypted file.

Signing in is connecting: each staff member is their own login role (SCRAM-SHA-256 over TLS
checked against the clinic CA), so the server itself knows who writes and refuses what their role
may not do (store.server_schema). There is no key file: "key slot" operations the services call
become the server's login roles (a password set as a SCRAM verifier, a removed person's login
disabled), and the audit chain is extended by the server with a key no staff role can read.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TypeVar

import psycopg
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from cocm_desktop import __version__
from cocm_desktop.domain.actor import Actor

from . import (
    audit,
    invalidation,
    migrate,
    overlap_days,
    scram,
    server_notify,
    server_schema,
    server_write_order,
)
from .errors import EditConflict, NewerSchema, SessionLocked, StoreError, WrongCredentials
from .keyslots import normalize_username
from .models import ClinicSetting, PayerRuleSet, User
from .server_engine import (
    NOT_ANSWERING,
    ServerBusy,
    ServerUnreachable,
    connect,
    connect_error,
    make_server_engine,
    translate,
)
from .server_profile import ServerProfile

ENGINE_INFO = "engine"  # session.info key: "server" on the clinic server
RUN_ATTEMPTS = 4  # a unit of work the server rolled back is tried at most this many times in all
_RETRY_BASE_S = 0.03  # first wait before trying again; doubles each time, ±50 % jitter

T = TypeVar("T")
log = logging.getLogger(__name__)


class ServerDatabase:
    """An open clinic on the server and who signed in. Use `session()` for each user action."""

    kind = "server"

    def __init__(self, profile: ServerProfile, engine: Engine, actor: Actor | None, password: str) -> None:
        self.profile = profile
        self.engine = engine
        self.actor = actor
        self._password = password  # kept for the pool's new connections; never shown
        self._sessions = _session_factory(engine)
        self._locked = False
        self.integrity_alarms: list[str] = []
        self.database_id = ""
        # this open clinic's own NOTIFYs carry it, so its windows can tell their own echo
        self.origin = uuid.uuid4().hex[:12]
        self.retries = 0  # units of work run again after the server rolled them back (run())

    def __repr__(self) -> str:  # never show the password
        return f"<ServerDatabase {self.profile.label}>"

    @property
    def path(self) -> Path:
        """Where the clinic is, for remembered choices: the connection profile's file."""
        return self.profile.source or Path(self.profile.label)

    @property
    def label(self) -> str:
        return f"clinic server {self.profile.label}"

    # ---- sessions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        if self._locked:
            raise SessionLocked()
        with self._session() as s:
            yield s

    def run(self, work: Callable[[Session], T], *, attempts: int = RUN_ATTEMPTS) -> T:
        """`work(session)` as one unit of work, run again from its start when the server rolled
        it back to break a deadlock or a serialization conflict (ServerBusy.rolled_back).

        Safe because such a transaction left nothing behind — no rows, no audit records, no
        NOTIFY — and `work` gets a fresh session each time, so it commits exactly once. `work`
        must do nothing outside the database that cannot be done twice. The waits between
        attempts grow and are jittered, so two workstations that collided do not collide again
        in step. After `attempts` the ServerBusy reaches the caller (a plain "try again")."""
        for attempt in range(1, attempts + 1):
            try:
                with self.session() as s:
                    return work(s)
            except ServerBusy as exc:
                if not exc.rolled_back or attempt >= attempts:
                    raise
                self.retries += 1
                log.info("unit of work rolled back by the server (attempt %d of %d); running it again",
                         attempt, attempts)
                time.sleep(_RETRY_BASE_S * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")  # the loop returns or raises

    @contextlib.contextmanager
    def _session(self) -> Iterator[Session]:
        session = self._sessions()
        session.info[ENGINE_INFO] = "server"
        session.info[server_notify.ORIGIN_INFO] = self.origin
        session.info[server_notify.BY_INFO] = self.actor.username if self.actor else None
        committing = False
        try:
            yield session
            session.flush()  # a drop while flushing leaves nothing saved
            committing = True  # from here a lost connection may have saved the change
            session.commit()
        except DBAPIError as exc:
            with contextlib.suppress(DBAPIError):
                session.rollback()
            store_error = translate(exc, committing=committing)
            if store_error is not None:
                raise store_error from None
            raise
        except StaleDataError:  # another workstation saved the row between this read and this UPDATE
            with contextlib.suppress(DBAPIError):
                session.rollback()
            raise EditConflict() from None
        except BaseException:
            with contextlib.suppress(DBAPIError):
                session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        """A light round trip (SELECT 1, nothing audited); ServerUnreachable when it fails.

        The pool checks each connection before use (pre-ping), so after a server restart a dead
        connection is replaced here rather than failing the next save."""
        if self._locked:
            raise SessionLocked()
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except DBAPIError as exc:
            raise (translate(exc) or ServerUnreachable(NOT_ANSWERING)) from None

    # ---- what services call for users ("key slots" are login roles here) ----------------
    def key_file_lock(self) -> contextlib.AbstractContextManager[None]:
        """No key file on the server: the user row and the login role change in one transaction."""
        return contextlib.nullcontext()

    def add_key_slot(
        self, username: str, password: str, kdf: dict[str, int] | None = None, *, session: Session | None = None
    ) -> None:
        """Set a person's password (new user, reset, own change) as a SCRAM verifier."""
        name = normalize_username(username)
        verifier = scram.verifier(password)
        if session is not None:
            session.flush()  # the user row (and so its login role) exists first
            session.execute(text("SELECT cocm_set_password(:who, :v)"), {"who": name, "v": verifier})
        else:
            with self.session() as s:
                s.execute(text("SELECT cocm_set_password(:who, :v)"), {"who": name, "v": verifier})
        if self.actor is not None and name == self.actor.username:
            self._reconnect(name, password)

    def remove_key_slot(self, username: str, *, reason: str = "user removed") -> list[str]:
        """The person's row is inactive already; their login is disabled (history keeps them)."""
        name = normalize_username(username)
        with self.session() as s:
            s.execute(text("SELECT cocm_disable_login(:who)"), {"who": name})
        return []

    def rekey_problems(self, removing: str | None = None) -> list[str]:
        return []  # nothing to re-key: a disabled login cannot connect

    def slots(self) -> set[str]:
        with self.session() as s:
            return set(s.scalars(text(
                'SELECT u.username FROM "user" u JOIN pg_roles r ON r.rolname = u.username '
                "WHERE r.rolcanlogin AND u.active"
            )))

    def check_password(self, username: str, password: str) -> bool:
        try:
            connect(self.profile, normalize_username(username), password).close()
        except WrongCredentials:
            return False
        return True

    def replace_recovery_code(self, *, session: Session | None = None) -> str:
        raise StoreError(
            "A clinic on the server has no recovery code: the server's administrator resets a clinic "
            "lead's password (cocm-desktop server init --reset-lead)."
        )

    def full_check(self) -> audit.ChainReport:
        """The server walks its whole audit chain (only it holds the key). Read-only."""
        with self._session() as s:
            report = audit.verify_chain(s)
            s.rollback()
        return report

    # ---- lock / unlock / close -------------------------------------------------------------
    @property
    def locked(self) -> bool:
        return self._locked

    def lock(self) -> None:
        if self._locked:
            return
        actor = self.actor
        with self._session() as s:
            audit.append(s, user_id=actor.user_id if actor else None,
                         username=actor.username if actor else "system", action="session.lock",
                         summary="Session locked")
        self._locked = True
        self.engine.dispose()

    def unlock(self, username: str, password: str) -> Actor:
        name = normalize_username(username)
        connect(self.profile, name, password).close()  # WrongCredentials when it does not connect
        if self.actor is None or name != self.actor.username:
            self._reconnect(name, password)
        with self._session() as s:
            user = s.scalar(select(User).where(User.username == name))
            if user is None or not user.active:
                raise WrongCredentials()
            previous = self.actor.username if self.actor else None
            actor = Actor(user.id, user.username, user.display_name, user.role)
            audit.append(s, user_id=user.id, username=user.username, action="session.unlock",
                         summary="Session unlocked",
                         detail=None if previous == user.username else {"previous_user": previous})
        self.actor = actor
        self._locked = False
        return actor

    def _reconnect(self, username: str, password: str) -> None:
        old = self.engine
        self.engine = make_server_engine(self.profile, username, password)
        self._sessions = _session_factory(self.engine)
        self._password = password
        old.dispose()

    def listen_connection(self) -> psycopg.Connection:
        """A connection of its own as the signed-in person, for LISTEN (live refresh): autocommit,
        with TCP keepalives so a server that vanished without a word is noticed in seconds."""
        if self.actor is None:
            raise StoreError("Nobody is signed in to the clinic server.")
        args = {**self.profile.connect_args(self.actor.username, self._password), **_LISTEN_ARGS}
        try:
            return psycopg.connect(**args)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise connect_error(exc, self.profile) from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ServerDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- open ------------------------------------------------------------------------------
    @classmethod
    def open(cls, profile: ServerProfile, username: str, password: str) -> ServerDatabase:
        """Sign in as `username` (their own login role). Plain StoreErrors for every failure."""
        name = normalize_username(username)
        if not password:
            raise WrongCredentials()
        probe = connect(profile, name, password)  # wrong password, no server, bad certificate
        probe.close()
        engine = make_server_engine(profile, name, password)
        db = cls(profile, engine, None, password)
        try:
            with db._session() as s:
                _check_revision(s)
                user = s.scalar(select(User).where(User.username == name))
                if user is None or not user.active:
                    raise WrongCredentials()
                db.actor = Actor(user.id, user.username, user.display_name, user.role)
                db.database_id = str(s.scalar(
                    select(ClinicSetting.value).where(ClinicSetting.key == "database_id")) or "")
                audit.append(s, user_id=user.id, username=user.username, action="login.success",
                             summary="Signed in")
        except BaseException:
            engine.dispose()
            raise
        return db


    @classmethod
    def for_setup(cls, admin_dsn: str, admin_password: str | None, profile: ServerProfile,
                  username: str) -> ServerDatabase:
        """The server's administrator working on behalf of `username` (bulk set-up: the demo
        history, an imported clinic). The audit log names the admin role as the writer."""
        engine = admin_engine(admin_dsn, admin_password, profile.dbname)
        db = cls(profile, engine, None, "")
        try:
            with db._session() as s:
                _check_revision(s)
                user = s.scalar(select(User).where(User.username == normalize_username(username)))
                if user is None:
                    raise StoreError(f"There is no user “{username}” in the clinic on the server.")
                db.actor = Actor(user.id, user.username, user.display_name, user.role)
        except BaseException:
            engine.dispose()
            raise
        return db


def _check_revision(s: Session) -> None:
    current = migrate.current_revision(s.connection())
    head = migrate.head_revision()
    if current is None:
        raise StoreError("The clinic server's database has no CoCM Desktop clinic in it; run `cocm-desktop server init`.")
    if current > head:
        raise NewerSchema(
            "The clinic server was upgraded by a newer CoCM Desktop; install that version on this computer."
        )
    if current < head:
        raise NewerSchema(
            "The clinic server runs an older CoCM Desktop schema; the clinic's IT person upgrades it "
            "with `cocm-desktop server init` from this version, then sign in again."
        )


_LISTEN_ARGS = {"autocommit": True, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                "keepalives_count": 3, "application_name": "cocm-desktop-listen"}


def _session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)
    server_write_order.install(factory)  # every writer queues at the audit head first (no deadlocks)
    invalidation.install(factory)  # derived registry facts follow every write
    overlap_days.install(factory)  # and so do the staff days with overlapping time
    server_notify.install_publisher(factory)  # other workstations hear of every committed write
    return factory


# ---- set-up from the server's admin connection ------------------------------------------
def admin_engine(admin_dsn: str, password: str | None, dbname: str | None = None) -> Engine:
    """An engine for the server's administrator (a superuser or the clinic database's owner)."""
    conninfo = psycopg.conninfo.conninfo_to_dict(admin_dsn)
    if dbname is not None:
        conninfo["dbname"] = dbname
    if password is not None:
        conninfo["password"] = password

    def creator() -> psycopg.Connection:
        return psycopg.connect(**conninfo)  # type: ignore[arg-type]

    return create_engine("postgresql+psycopg://", creator=creator, hide_parameters=True)


def _admin_connect(admin_dsn: str, password: str | None, dbname: str | None = None) -> psycopg.Connection:
    conninfo = psycopg.conninfo.conninfo_to_dict(admin_dsn)
    if dbname is not None:
        conninfo["dbname"] = dbname
    if password is not None:
        conninfo["password"] = password
    try:
        return psycopg.connect(**conninfo, autocommit=True)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        host = str(conninfo.get("host", "localhost"))
        port = int(conninfo.get("port", 5432) or 5432)
        raise connect_error(exc, _profile_for_errors(host, port, str(conninfo.get("dbname") or "postgres"))) from None


def _profile_for_errors(host: str, port: int, dbname: str) -> ServerProfile:
    return ServerProfile(host=host if not host.startswith("/") else "localhost", port=port,
                         dbname=dbname or "postgres", ca_cert=Path("-"))


def clinic_exists(admin_dsn: str, admin_password: str | None, dbname: str) -> bool:
    """True when `dbname` on the server already holds a CoCM clinic (someone is in "user")."""
    with _admin_connect(admin_dsn, admin_password) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is None:
            return False
    with _admin_connect(admin_dsn, admin_password, dbname) as conn:
        if conn.execute("SELECT to_regclass('public.\"user\"')").fetchone() == (None,):
            return False
        return conn.execute('SELECT 1 FROM "user" LIMIT 1').fetchone() is not None


def prepare_database(admin_dsn: str, admin_password: str | None, dbname: str) -> Engine:
    """The clinic database exists, its tables are at the head revision and the server's roles,
    grants and audit trigger are in place (idempotent). Returns an admin engine on it."""
    with _admin_connect(admin_dsn, admin_password) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists is None:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                psycopg.sql.Identifier(dbname)))
    engine = admin_engine(admin_dsn, admin_password, dbname)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7240501)")  # one set-up at a time
            current = migrate.current_revision(conn)
            if current is not None and current > migrate.head_revision():
                raise NewerSchema("The clinic server's schema is newer than this CoCM Desktop; use the newer version.")
            migrate.upgrade(conn)
            server_schema.install_server_objects(conn, dbname)
    except BaseException:
        engine.dispose()
        raise
    return engine


def init_clinic(
    admin_dsn: str,
    admin_password: str | None,
    *,
    dbname: str,
    clinic_name: str,
    lead_username: str,
    lead_display_name: str,
    lead_password: str,
) -> bool:
    """Create (or upgrade) the clinic database on the server: tables at the head revision, group
    roles, grants, the audit chain's trigger and key, and — the first time — the first clinic
    lead. Returns True when a new clinic was made. Run once from the server's admin connection."""
    engine = prepare_database(admin_dsn, admin_password, dbname)
    try:
        factory = _session_factory(engine)
        with factory() as s, s.begin():
            s.info[ENGINE_INFO] = "server"
            if s.scalar(select(User.id).limit(1)) is not None:
                return False
            lead_name = normalize_username(lead_username)
            s.add_all([
                ClinicSetting(key="clinic_name", value=clinic_name),
                ClinicSetting(key="database_id", value=str(uuid.uuid4())),
                ClinicSetting(key="created_with_version", value=__version__),
                ClinicSetting(key="created_on", value=date.today().isoformat()),
            ])
            from cocm_desktop.domain.billing import MEDICARE_2026

            s.add(PayerRuleSet(name="Medicare 2026", rules=MEDICARE_2026, is_default=True,
                               note="Shipped default; copy it to make a payer-specific set."))
            lead = User(username=lead_name, display_name=lead_display_name, role="clinic_lead")
            s.add(lead)
            s.flush()
            s.execute(text("SELECT cocm_set_password(:who, :v)"),
                      {"who": lead_name, "v": scram.verifier(lead_password)})
            audit.append(s, user_id=None, username="system", action="clinic.create",
                         summary="Clinic database created on the clinic server")
            audit.append(s, user_id=lead.id, username=lead.username, action="user.create",
                         object_type="user", object_id=lead.id,
                         summary=f"User {lead.username} added as clinic_lead")
        return True
    finally:
        engine.dispose()


def reachable(profile: ServerProfile) -> None:
    """Raise ServerUnreachable with a plain message when nothing answers at the profile's address."""
    try:
        psycopg.connect(**{**profile.connect_args("cocm_probe", "-"), "connect_timeout": 3}).close()  # type: ignore[arg-type]
    except psycopg.Error as exc:
        err = connect_error(exc, profile)
        if isinstance(err, ServerUnreachable):
            raise err from None
