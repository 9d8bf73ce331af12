"""The only module that knows the clinic server is PostgreSQL (driver psycopg 3).

Connections always use TLS checked against the clinic CA (`sslmode=verify-full`); the password
goes to psycopg as a keyword, never into a URL, a log line or an exception message.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import QueuePool

from .errors import ServerUnreachable, StoreError, WrongCredentials
from .server_profile import ServerProfile

logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


NOT_ANSWERING = ("The clinic server does not answer, so nothing was saved or read. What you typed stays in "
                 "its form; try again when the server is back (the status bar says when).")
LOST_WHILE_SAVING = ("The connection to the clinic server was lost while it was saving, so the change may or "
                     "may not have been saved. What you typed stays in its form; when the server is back, "
                     "Save again saves it once.")


class ServerRefused(StoreError):
    """The server said no to a change (its grants mirror the app's permissions)."""

    title = "Not allowed"


# A pulled cable or a switched-off server sends nothing back: without these a waiting save would
# hang for many minutes (the kernel's defaults). Keepalives every 10 s, given up after 3 missed,
# and unacknowledged data given up after 20 s, turn that into ServerUnreachable in under 30 s;
# a busy but living server answers keepalives, so a long query is never cut.
LIVENESS = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
            "tcp_user_timeout": 20_000}


def _connect_args(profile: ServerProfile, user: str, password: str) -> dict[str, object]:
    return {**profile.connect_args(user, password), **LIVENESS}


def connect(profile: ServerProfile, user: str, password: str) -> psycopg.Connection:
    """One verified-TLS connection as `user`; failures become plain StoreErrors."""
    try:
        return psycopg.connect(**_connect_args(profile, user, password))  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise connect_error(exc, profile) from None


def connect_error(exc: BaseException, profile: ServerProfile) -> StoreError:
    """What a failed connection means, in a sentence (no password, no server internals)."""
    text = str(exc).lower()
    where = f"{profile.host}:{profile.port}"
    if "password authentication failed" in text or "no password supplied" in text:
        return WrongCredentials()
    if "role" in text and "does not exist" in text:
        return WrongCredentials()
    if "not permitted to log in" in text:
        return StoreError("This account may not sign in to the clinic server: it was removed, or it waits for "
                          "a password from the clinic lead. Ask the clinic lead.")
    if "certificate" in text or "ssl" in text and ("verify" in text or "tls" in text):
        return ServerUnreachable(
            f"The clinic server at {where} did not prove it is the clinic's server (its certificate "
            "does not match the clinic CA in this computer's connection profile). Nothing was sent; "
            "ask the clinic's IT person."
        )
    if "no pg_hba.conf entry" in text or "does not support ssl" in text or "no encryption" in text:
        return ServerUnreachable(
            f"The clinic server at {where} refused the connection from this computer; "
            "ask the clinic's IT person to allow it."
        )
    if "database" in text and "does not exist" in text:
        return StoreError(f"The clinic server at {where} has no clinic database “{profile.dbname}”.")
    if "too many connections" in text or "remaining connection slots" in text:
        return ServerUnreachable(f"The clinic server at {where} is busy (too many connections); try again shortly.")
    return ServerUnreachable(
        f"The clinic server at {where} does not answer. Check the network cable or Wi-Fi, "
        "or ask the clinic's IT person whether the server is running."
    )


def make_server_engine(profile: ServerProfile, user: str, password: str, pool_size: int = 3) -> Engine:
    def creator() -> psycopg.Connection:
        return psycopg.connect(**_connect_args(profile, user, password))  # type: ignore[arg-type]

    return create_engine(
        "postgresql+psycopg://",
        creator=creator,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=4,
        pool_pre_ping=True,  # a connection dropped by a server restart is replaced, not used
        hide_parameters=True,
    )


def translate(exc: BaseException, *, committing: bool = False) -> StoreError | None:
    """Map a psycopg error to the store's plain errors (None: not a storage fault).

    `committing`: the error came from COMMIT, so a lost connection may have saved the change."""
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, psycopg.Error):
        return None
    if isinstance(orig, pg_errors.InsufficientPrivilege):
        # "permission denied for table x" names a table, never a value: useful to IT, no PHI.
        what = str(orig).splitlines()[0] if str(orig) else "permission denied"
        return ServerRefused(
            f"The clinic server refused this change ({what}): your role may not make it. Nothing was saved."
        )
    if isinstance(orig, pg_errors.DiskFull):
        return StoreError("The clinic server's disk is full, so the last change was not saved. Call IT.")
    if isinstance(orig, pg_errors.AdminShutdown | pg_errors.CannotConnectNow | pg_errors.ConnectionException):
        return ServerUnreachable(NOT_ANSWERING)
    if isinstance(orig, psycopg.OperationalError) and _connection_lost(exc, orig):
        if committing:
            return ServerUnreachable(LOST_WHILE_SAVING, maybe_saved=True)
        return ServerUnreachable(NOT_ANSWERING)
    if isinstance(orig, psycopg.OperationalError):  # e.g. a lock wait or serialization failure
        return ServerBusy(rolled_back=_rolled_back(orig))
    return None


class ServerBusy(StoreError):
    """The server could not finish a unit of work just now; nothing of it was saved.

    `rolled_back`: the server itself undid the whole transaction to break a deadlock or a
    serialization conflict (SQLSTATE class 40) or refused a lock it could not get at once
    (55P03), so running the unit of work again from its start saves it exactly once
    (ServerDatabase.run does, a few times)."""

    title = "Not saved"

    def __init__(self, *, rolled_back: bool = False) -> None:
        super().__init__("The clinic server could not finish this just now (it was busy); nothing was saved. "
                         "Try again.")
        self.rolled_back = rolled_back


def _rolled_back(orig: psycopg.Error) -> bool:
    state = orig.sqlstate or ""
    return state.startswith("40") or state == "55P03"


def _connection_lost(exc: BaseException, orig: psycopg.Error) -> bool:
    """A dropped or refused connection (not e.g. a lock timeout, also an OperationalError)."""
    if getattr(exc, "connection_invalidated", False):
        return True
    if orig.sqlstate is None:  # raised by the client library: no server reply at all
        return True
    return orig.sqlstate.startswith(("08", "57P"))  # connection exception, operator intervention
