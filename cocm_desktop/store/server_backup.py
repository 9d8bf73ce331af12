"""Backups of a clinic on the server: pg_dump, encrypted with the clinic's backup key, verified.

`make_server_backup` dumps the clinic database from one snapshot (row counts taken in the same
snapshot), encrypts the dump as it streams (AES-256-GCM in 1 MiB chunks: each chunk's number and
a last-chunk mark are authenticated, so a reordered or cut file is refused), writes it under a
temp name, fsyncs and renames it, then proves it: decrypts it into a scratch database, checks the
schema, the row counts and the audit chain there, and drops the scratch database.

The backup key is 32 random bytes in a file the clinic's IT person keeps apart from the backups
(without it a backup is unreadable; with it alone nobody can sign in anywhere).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import BackupFailed, StoreError
from .files import fsync_dir
from .pg_cluster import find_pg_bin

MAGIC = b"COCMPGB1"
CHUNK = 1 << 20
KEY_BYTES = 32


@dataclass(frozen=True)
class ServerBackupResult:
    path: Path
    bytes_written: int
    tables: dict[str, int]
    audit_records: int


# ---- the backup key -------------------------------------------------------------------------
def load_or_create_key(path: Path) -> tuple[bytes, bool]:
    """The clinic backup key in `path` (hex); made (0600) when the file does not exist."""
    path = Path(path)
    if path.exists():
        try:
            key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        except (OSError, ValueError, UnicodeDecodeError):
            raise StoreError(f"“{path.name}” is not a CoCM Desktop backup key.") from None
        if len(key) != KEY_BYTES:
            raise StoreError(f"“{path.name}” is not a CoCM Desktop backup key.")
        return key, False
    key = secrets.token_bytes(KEY_BYTES)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return key, True


# ---- encrypted stream -----------------------------------------------------------------------
def _nonce(base: bytes, index: int) -> bytes:
    return base[:4] + struct.pack(">Q", index)


def encrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes) -> int:
    """Encrypt everything `src` yields into `dst`; returns the bytes written."""
    aead = AESGCM(key)
    base = secrets.token_bytes(12)
    dst.write(MAGIC + base[:4])
    written = len(MAGIC) + 4
    index = 0
    chunk = src.read(CHUNK)
    while True:
        following = src.read(CHUNK) if chunk else b""
        last = not following
        sealed = aead.encrypt(_nonce(base, index), chunk, MAGIC + struct.pack(">Q?", index, last))
        dst.write(struct.pack(">I", len(sealed)) + sealed)
        written += 4 + len(sealed)
        if last:
            return written
        chunk, index = following, index + 1


def decrypt_stream(src: BinaryIO, key: bytes) -> Iterator[bytes]:
    """The plaintext chunks of an encrypted backup; StoreError when it was changed or cut."""
    head = src.read(len(MAGIC) + 4)
    if len(head) != len(MAGIC) + 4 or not head.startswith(MAGIC):
        raise StoreError("This file is not a CoCM Desktop server backup.")
    base = head[len(MAGIC):] + b"\0" * 8
    aead = AESGCM(key)
    index = 0
    while True:
        size_bytes = src.read(4)
        if len(size_bytes) != 4:
            raise StoreError("The backup file is incomplete (it was cut short); it cannot be used.")
        (size,) = struct.unpack(">I", size_bytes)
        sealed = src.read(size)
        if len(sealed) != size:
            raise StoreError("The backup file is incomplete (it was cut short); it cannot be used.")
        for last in (False, True):
            try:
                plain = aead.decrypt(_nonce(base, index), sealed, MAGIC + struct.pack(">Q?", index, last))
            except InvalidTag:
                continue
            yield plain
            if last:
                return
            break
        else:
            raise StoreError("The backup file was changed, or the backup key is not this clinic's.")
        index += 1


# ---- backup ---------------------------------------------------------------------------------
def _admin_kwargs(admin_dsn: str, admin_password: str | None, dbname: str | None = None) -> dict[str, object]:
    info: dict[str, object] = dict(psycopg.conninfo.conninfo_to_dict(admin_dsn))
    if dbname is not None:
        info["dbname"] = dbname
    if admin_password is not None:
        info["password"] = admin_password
    return info


def _env_for(info: dict[str, object]) -> dict[str, str]:
    """libpq environment for pg_dump/pg_restore (the password never on a command line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD",
             "dbname": "PGDATABASE", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT"}
    for key, var in names.items():
        if info.get(key) is not None:
            env[var] = str(info[key])
    return env


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
    return {t: int(conn.execute(psycopg.sql.SQL("SELECT count(*) FROM {}").format(
        psycopg.sql.Identifier(t))).fetchone()[0]) for t in tables}  # type: ignore[index]


def make_server_backup(admin_dsn: str, admin_password: str | None, dbname: str, dest: Path,
                       key: bytes) -> ServerBackupResult:
    dest = Path(dest).absolute()
    if dest.exists():
        raise BackupFailed(f"“{dest.name}” already exists; CoCM Desktop never overwrites a backup.")
    bin_dir = find_pg_bin()
    info = _admin_kwargs(admin_dsn, admin_password, dbname)
    tmp = dest.with_name(f".{dest.name}.tmp-{secrets.token_hex(4)}")
    with psycopg.connect(**info) as snap:  # type: ignore[arg-type]
        snap.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = snap.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        counts = _counts(snap)
        proc = subprocess.Popen(
            [str(bin_dir / "pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
             f"--snapshot={snapshot}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env_for(info))
        try:
            assert proc.stdout is not None
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                written = encrypt_stream(proc.stdout, out, key)
                out.flush()
                os.fsync(out.fileno())
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            if proc.wait() != 0:
                raise BackupFailed(f"pg_dump failed: {err.strip().splitlines()[-1] if err.strip() else 'no message'}")
        except BaseException:
            proc.kill()
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        snap.rollback()
    try:
        audit_records = verify_server_backup(tmp, key, admin_dsn, admin_password, expected=counts)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    return ServerBackupResult(dest, written, counts, audit_records)


def restore_into(backup: Path, key: bytes, admin_dsn: str, admin_password: str | None, dbname: str) -> None:
    """Decrypt `backup` into a new database `dbname` on the server (which must not exist)."""
    bin_dir = find_pg_bin()
    info = _admin_kwargs(admin_dsn, admin_password)
    with psycopg.connect(**info, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
            psycopg.sql.Identifier(dbname)))
    target = _admin_kwargs(admin_dsn, admin_password, dbname)
    proc = subprocess.Popen([str(bin_dir / "pg_restore"), "--no-owner", "--exit-on-error", "--dbname", dbname],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=_env_for(target))
    assert proc.stdin is not None
    try:
        with open(backup, "rb") as src:
            for chunk in decrypt_stream(src, key):
                proc.stdin.write(chunk)
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise BackupFailed(f"pg_restore failed: {err.strip().splitlines()[-1] if err.strip() else 'no message'}")
    except BaseException:
        proc.kill()
        raise


def verify_server_backup(backup: Path, key: bytes, admin_dsn: str, admin_password: str | None,
                         *, expected: dict[str, int] | None = None) -> int:
    """Restore into a scratch database, compare counts, verify the audit chain, drop it.
    Returns the number of audit records."""
    scratch = f"cocm_verify_{secrets.token_hex(6)}"
    info = _admin_kwargs(admin_dsn, admin_password)
    try:
        restore_into(backup, key, admin_dsn, admin_password, scratch)
        with psycopg.connect(**_admin_kwargs(admin_dsn, admin_password, scratch)) as conn:  # type: ignore[arg-type]
            if expected is not None:
                got = _counts(conn)
                if got != expected:
                    differ = sorted(t for t in set(got) | set(expected) if got.get(t) != expected.get(t))
                    raise BackupFailed(f"The restored copy differs from the clinic in: {', '.join(differ)}.")
            records, first_bad, problem = conn.execute(
                "SELECT records, first_bad, problem FROM cocm_audit_verify()").fetchone()  # type: ignore[misc]
            if problem is not None:
                raise BackupFailed(f"The backup's audit log does not verify (record {first_bad}: {problem}).")
            return int(records)
    finally:
        with psycopg.connect(**info, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(scratch)))
