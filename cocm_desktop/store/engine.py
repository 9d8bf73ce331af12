"""The only module that knows the database is SQLCipher.

The 32-byte database key is applied as a raw key in the connection `creator`, never in a URL,
a log line or an exception. Connections are long-lived in a small QueuePool because the key is
applied per connection (SQLAlchemy's SingletonThreadPool has crashed sqlcipher3 under threads).
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlcipher3
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlcipher import SQLiteDialect_pysqlcipher
from sqlalchemy.pool import QueuePool

from .errors import DatabaseDamaged, DatabaseLocked, DiskFull, ReadOnlyLocation, StoreError

BUSY_TIMEOUT_MS = 5000
_silenced = False

# SQLAlchemy logs SQL, parameters and result rows (names, MRNs, notes) whenever its logger is
# enabled, e.g. by a root logger at DEBUG. Keep it at WARNING; a developer who really needs SQL
# echo can lower it on a synthetic database. Parameters are also hidden (hide_parameters below).
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


class CocmSQLCipherDialect(SQLiteDialect_pysqlcipher):
    """pysqlcipher dialect whose key comes from our creator, not from the URL password."""

    supports_statement_cache = True

    def on_connect_url(self, url):  # type: ignore[no-untyped-def]
        # Skip pysqlcipher's `pragma key=<url password>`; keep pysqlite's own hooks.
        return super(SQLiteDialect_pysqlcipher, self).on_connect_url(url)

    @classmethod
    def get_pool_class(cls, url):  # type: ignore[no-untyped-def]
        return QueuePool


registry.register("sqlite.cocm_sqlcipher", __name__, "CocmSQLCipherDialect")


def silence_sqlcipher_log() -> None:
    """SQLCipher writes its own errors to stderr; once per process, turn that off."""
    global _silenced
    if _silenced:
        return
    conn = sqlcipher3.connect(":memory:")
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
    finally:
        conn.close()
    _silenced = True


def raw_connect(path: Path, key: bytes) -> sqlcipher3.Connection:
    """One keyed DB-API connection with our pragmas. Also used by backup and the self-check."""
    silence_sqlcipher_log()
    conn = sqlcipher3.connect(str(path), check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        # Raw key: skips SQLCipher's per-connection KDF (the key is already 256 random bits).
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA trusted_schema = OFF")
        # WAL is persistent in the file (a no-op once set); synchronous is per connection.
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    except Exception:
        conn.close()
        raise
    return conn


def make_engine(path: Path, key: bytes, pool_size: int = 3, *, immediate: bool = True) -> Engine:
    """`immediate=False` (checks, reports on a copy): plain deferred transactions, no write lock."""

    def creator() -> sqlcipher3.Connection:
        return raw_connect(path, key)

    engine = create_engine(
        "sqlite+cocm_sqlcipher://",
        module=sqlcipher3.dbapi2,
        creator=creator,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=2,
        pool_pre_ping=False,
        hide_parameters=True,  # never PHI in a log line or an exception message
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # We issue BEGIN ourselves (below); the driver must not.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # IMMEDIATE takes the write lock up front, so the audit chain's "read last HMAC, then
        # append" cannot interleave with another writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def translate(exc: BaseException) -> StoreError | None:
    """Map a driver error to the store's plain-language errors (None: not a storage fault)."""
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, sqlcipher3.dbapi2.Error):
        return None
    text = str(orig).lower()
    if "database or disk is full" in text or "disk i/o error" in text:
        return DiskFull()
    if "readonly" in text or "read-only" in text:
        return ReadOnlyLocation(
            "The database is on a read-only disk or folder, so changes cannot be saved. "
            "Move it to a folder you can write to."
        )
    if "database is locked" in text or "database table is locked" in text:
        return DatabaseLocked(
            "The database is busy in another program and did not free up in time. "
            "Try again in a moment."
        )
    if "not a database" in text or "malformed" in text or "hmac check failed" in text:
        return DatabaseDamaged(
            "The database file is damaged. Nothing has been changed. "
            "Restore the latest backup (File ▸ Restore) or call your IT support."
        )
    return None
