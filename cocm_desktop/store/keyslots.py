"""Key slots: the database key wrapped once per user, in a sidecar file with no PHI in it.

The database key is 32 random bytes used as a raw SQLCipher key. Each user's password derives
(Argon2id) a key-encryption key that wraps the database key with AES-256-GCM; the associated data
binds a slot to its database, its user and its slot version, so a slot copied from another
database or another user fails like a wrong password. The recovery slot works the same way with
a high-entropy code printed once at set-up.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import NotACocmDatabase, WrongCredentials

FORMAT = "cocm-desktop-keyslots"
FORMAT_VERSION = 1
RECOVERY_SLOT = "__recovery__"
# Argon2id at least m=64 MiB, t=3 (security.md); kept per slot so they can be raised later.
DEFAULT_KDF = {"t": 3, "m": 65536, "p": 2}
# Recovery code: 25 chars of Crockford base32 (~125 bits), grouped for reading aloud.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def keyfile_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".keys")


def new_database_key() -> bytes:
    return secrets.token_bytes(32)


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_CROCKFORD) for _ in range(25))
    return "-".join(raw[i : i + 5] for i in range(0, 25, 5))


def normalize_recovery_code(code: str) -> str:
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    return "-".join(cleaned[i : i + 5] for i in range(0, len(cleaned), 5))


def normalize_username(username: str) -> str:
    return username.strip().lower()


def _derive(secret: str, salt: bytes, kdf: dict[str, int]) -> bytes:
    return hash_secret_raw(
        secret.encode("utf-8"),
        salt,
        time_cost=int(kdf["t"]),
        memory_cost=int(kdf["m"]),
        parallelism=int(kdf["p"]),
        hash_len=32,
        type=Type.ID,
    )


def _associated_data(database_id: str, slot_name: str, version: int) -> bytes:
    return f"{database_id}\x1f{slot_name}\x1f{version}".encode()


@dataclass
class KeySlot:
    salt: str
    nonce: str
    wrapped: str
    version: int
    kdf: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "salt": self.salt,
            "nonce": self.nonce,
            "wrapped": self.wrapped,
            "version": self.version,
            "kdf": dict(self.kdf),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeySlot:
        return cls(
            salt=str(data["salt"]),
            nonce=str(data["nonce"]),
            wrapped=str(data["wrapped"]),
            version=int(data["version"]),
            kdf={k: int(v) for k, v in dict(data["kdf"]).items()},
        )


@dataclass
class KeyFile:
    """The sidecar: database id, the database file's SQLCipher salt, and the slots."""

    database_id: str
    db_salt: str  # hex of the database file's first 16 bytes (SQLCipher's per-file salt)
    slots: dict[str, KeySlot] = field(default_factory=dict)
    # Failed sign-ins per username: the sidecar is readable before the database is unlocked,
    # which is when the growing delay has to be applied. Counts only, never a password.
    failures: dict[str, int] = field(default_factory=dict)
    # Failed sign-ins waiting to be written to the audit log at the next successful unlock.
    pending: list[dict[str, str]] = field(default_factory=list)

    # ---- wrapping -------------------------------------------------------------------------
    def add_slot(
        self, slot_name: str, secret: str, db_key: bytes, kdf: dict[str, int] | None = None
    ) -> None:
        previous = self.slots.get(slot_name)
        version = previous.version + 1 if previous else 1
        kdf = dict(kdf or DEFAULT_KDF)
        salt = secrets.token_bytes(16)
        nonce = secrets.token_bytes(12)
        kek = _derive(secret, salt, kdf)
        wrapped = AESGCM(kek).encrypt(
            nonce, db_key, _associated_data(self.database_id, slot_name, version)
        )
        self.slots[slot_name] = KeySlot(_b64(salt), _b64(nonce), _b64(wrapped), version, kdf)

    def unwrap(self, slot_name: str, secret: str) -> bytes:
        """The database key, or WrongCredentials (unknown user and bad password look alike)."""
        slot = self.slots.get(slot_name)
        if slot is None:
            # Spend the same effort as a real attempt so timing does not reveal who exists.
            _derive(secret, b"\0" * 16, DEFAULT_KDF)
            raise WrongCredentials()
        kek = _derive(secret, _unb64(slot.salt), slot.kdf)
        try:
            return AESGCM(kek).decrypt(
                _unb64(slot.nonce),
                _unb64(slot.wrapped),
                _associated_data(self.database_id, slot_name, slot.version),
            )
        except InvalidTag:
            raise WrongCredentials() from None

    def remove_slot(self, slot_name: str) -> None:
        self.slots.pop(slot_name, None)
        self.failures.pop(slot_name, None)

    # ---- persistence ----------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "database_id": self.database_id,
                "db_salt": self.db_salt,
                "slots": {name: slot.to_dict() for name, slot in sorted(self.slots.items())},
                "failures": dict(sorted(self.failures.items())),
                "pending": list(self.pending),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> KeyFile:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a key file")
        return cls(
            database_id=str(data["database_id"]),
            db_salt=str(data["db_salt"]),
            slots={str(k): KeySlot.from_dict(v) for k, v in dict(data["slots"]).items()},
            failures={str(k): int(v) for k, v in dict(data.get("failures", {})).items()},
            pending=[{str(k): str(v) for k, v in dict(p).items()} for p in data.get("pending", [])],
        )

    def save(self, path: Path) -> None:
        write_atomically(path, self.to_json().encode("utf-8"))

    @classmethod
    def load(cls, path: Path, db_name: str) -> KeyFile:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotACocmDatabase(
                f"“{db_name}” is not a CoCM Desktop database, or its key file "
                f"“{path.name}” is missing. A CoCM database always travels with its key file: "
                "restore both from the same backup."
            ) from None
        except (OSError, UnicodeDecodeError):
            raise NotACocmDatabase(f"The key file “{path.name}” cannot be read.") from None
        try:
            return cls.from_json(text)
        except (ValueError, KeyError, TypeError):
            raise NotACocmDatabase(
                f"The key file “{path.name}” is damaged or is not a CoCM Desktop key file. "
                "Restore it from the backup taken with this database."
            ) from None


def write_atomically(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, then os.replace: never a half-written file."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):
        dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
