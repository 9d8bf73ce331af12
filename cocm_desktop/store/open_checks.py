"""The checks a database file passes before it is handed out (store.database opens it).

Each failure raises the StoreError that names it — missing, not ours, plain SQLite, wrong key
file, damaged, newer than this app — and leaves the file as it was. An older schema is first
copied (encrypted, with its key file) and then migrated.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from cocm_desktop import __version__

from . import migrate
from .engine import raw_connect, translate
from .errors import DatabaseDamaged, DatabaseNotFound, KeyFileMismatch, NewerSchema, NotACocmDatabase
from .keyslots import KeyFile, keyfile_path
from .location import check_location

SQLITE_PLAIN_HEADER = b"SQLite format 3\x00"
PAGE_SIZE = 4096  # SQLCipher 4 default
# SQLCipher 4's page layout: each page ends in a 16-byte IV and a 64-byte HMAC-SHA512 over the
# ciphertext, the IV and the page number; the HMAC key is PBKDF2-HMAC-SHA512 (2 rounds) of the raw
# key with the file's salt XOR 0x3a. Checking it tells "wrong key" (no page fits) from "damaged".
_IV, _MAC = 16, 64
_SALT = 16
PAGES_SAMPLED = 64


def damaged(name: str) -> DatabaseDamaged:
    return DatabaseDamaged(
        f"“{name}” is damaged and cannot be opened safely. Nothing has been changed. "
        "Restore the latest backup, or call your IT support."
    )


def precheck(path: Path) -> KeyFile:
    """File-level checks before any key is tried: existence, plain SQLite, key file pairing."""
    if not path.exists():
        raise DatabaseNotFound(f"There is no database at “{path}”.")
    if path.is_dir():
        raise NotACocmDatabase(f"“{path.name}” is a folder, not a CoCM Desktop database.")
    check_location(path)
    size = path.stat().st_size
    if size == 0:
        raise NotACocmDatabase(f"“{path.name}” is an empty file, not a CoCM Desktop database.")
    if size < PAGE_SIZE:
        raise NotACocmDatabase(
            f"“{path.name}” is only {size} byte{'s' if size != 1 else ''} long: too short to be a CoCM "
            "Desktop database (it was cut short, or is another kind of file). Nothing was changed. "
            "Restore the latest backup of the database with its .keys file."
        )
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
        raise damaged(path.name)  # a partial page: the file was cut short
    return keyfile


def key_fits_pages(path: Path, key: bytes, sample: int = PAGES_SAMPLED) -> bool:
    """True when at least one of the file's first pages carries a valid HMAC under `key`.

    A database that does not open although the password unwrapped a key is either damaged (some
    pages still fit the key) or paired with the wrong key file, typically an older copy of its
    own from before a re-key (not one page fits). Reads only; never raises for a short file.
    """
    try:
        with path.open("rb") as fh:
            data = fh.read(PAGE_SIZE * sample)
    except OSError:
        return False
    if len(data) < PAGE_SIZE:
        return False
    salt = data[:_SALT]
    mac_key = hashlib.pbkdf2_hmac("sha512", key, bytes(b ^ 0x3A for b in salt), 2, 32)
    for index in range(len(data) // PAGE_SIZE):
        page = data[index * PAGE_SIZE : (index + 1) * PAGE_SIZE]
        start = _SALT if index == 0 else 0
        body = page[start : PAGE_SIZE - _MAC]
        expected = hmac.new(mac_key, body + (index + 1).to_bytes(4, "little"), hashlib.sha512).digest()
        if hmac.compare_digest(expected, page[PAGE_SIZE - _MAC :]):
            return True
    return False


def stale_key_file(name: str) -> KeyFileMismatch:
    return KeyFileMismatch(
        f"The key file beside “{name}” does not hold this database's current key: it is an older "
        "copy, from before the database was re-keyed (a user was removed). Nothing was changed. "
        "Put back the key file that belongs with this database, or restore the database together "
        "with its .keys file from one backup."
    )


def writable(path: Path) -> bool:
    return os.access(path.parent, os.W_OK | os.X_OK) and os.access(path, os.W_OK)


def opens_with(path: Path, key: bytes) -> bool:
    try:
        conn = raw_connect(path, key)
    except Exception:
        return False
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return True
    except Exception:
        return False
    finally:
        conn.close()


def verify_readable(engine: Engine, path: Path) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar()
            page_count = conn.execute(text("PRAGMA page_count")).scalar() or 0
    except DBAPIError as exc:
        err = translate(exc)
        if err is None or isinstance(err, DatabaseDamaged):
            raise damaged(path.name) from None
        raise err from None
    wal = Path(f"{path}-wal")
    on_disk = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    if page_count * PAGE_SIZE > on_disk:
        raise damaged(path.name)  # header says more pages than the file holds: truncated


def check_schema(engine: Engine, path: Path, key: bytes, keyfile: KeyFile) -> None:
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
    _copy_encrypted(engine, key, keyfile, backup)
    with engine.begin() as conn:
        migrate.upgrade(conn)


def _copy_encrypted(engine: Engine, key: bytes, keyfile: KeyFile, dest: Path) -> None:
    """Consistent encrypted copy (SQLite backup API, same key) plus its key file, before a migration."""
    from .backup import copy_encrypted

    copy_encrypted(engine, key, keyfile, dest)
