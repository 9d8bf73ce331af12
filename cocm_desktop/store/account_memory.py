"""What this computer account has seen of a clinic's audit log, kept outside the clinic's files.

Each key slot remembers, signed, the newest audit record its owner saw — but that memory lives in
the key file, so putting back an older copy of the database AND its key file together takes it
back too. This second memory lives in the signed-in person's own OS account (platformdirs' user
data folder, `audit-memory/`, one small JSON file per clinic, 0600), out of reach of another
account: `{slot: {seq, chain, at, sig}}`, each entry signed with that person's signing key.

At sign-in every entry whose signature holds under the key the log binds to that person must
still be in the log: a record it names that is gone or different means the clinic was rolled
back (or records were deleted), unless a clinic lead restored a backup on purpose after the
entry was written — a signed `backup.restore` record, newer than the entry, explains it, and
the entry is then replaced. An entry is never lowered otherwise, and never rewritten while an
alarm stands (it is the evidence).

One file per clinic *and folder*: the file name hashes the database id with the database's
resolved path, so copies of one clinic (test templates, a copy on a USB stick) do not mix; a
clinic moved to another folder starts this memory afresh. `COCM_DESKTOP_ACCOUNT_DIR` moves the
folder (the test suite points it at a temp folder).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .keyslots import write_atomically

ENV_DIR = "COCM_DESKTOP_ACCOUNT_DIR"
FOLDER = "audit-memory"


@dataclass(frozen=True)
class Seen:
    slot: str
    seq: int
    chain: str
    at: datetime  # UTC, when this account wrote it


def folder() -> Path:
    override = os.environ.get(ENV_DIR)
    if override:
        return Path(override)
    from platformdirs import user_data_path

    from cocm_desktop import APP_ID

    return user_data_path(APP_ID, appauthor=False) / FOLDER


def memory_path(db_path: Path, database_id: str) -> Path:
    with contextlib.suppress(OSError):
        db_path = db_path.resolve()
    name = hashlib.sha256(f"{database_id}\x1f{db_path}".encode()).hexdigest()[:32]
    return folder() / f"{name}.json"


def _message(database_id: str, slot: str, seq: int, chain: str, at: str) -> bytes:
    return f"cocm-desktop account memory v1\x1f{database_id}\x1f{slot}\x1f{seq}\x1f{chain}\x1f{at}".encode()


def _read(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}  # none yet, or unreadable: nothing to compare (never a reason to refuse sign-in)
    seen = data.get("seen") if isinstance(data, dict) else None
    return seen if isinstance(seen, dict) else {}


def load(db_path: Path, database_id: str, keys: dict[str, str]) -> list[Seen]:
    """Entries whose signature holds under the signing key the log binds to their slot
    (`keys`: slot → base64 public key); anything else in the file is ignored."""
    out = []
    for slot, entry in _read(memory_path(db_path, database_id)).items():
        pub = keys.get(slot)
        if pub is None or not isinstance(entry, dict):
            continue
        try:
            seq, chain, at = int(entry["seq"]), str(entry["chain"]), str(entry["at"])  # type: ignore[call-overload]
            Ed25519PublicKey.from_public_bytes(base64.b64decode(pub)).verify(
                base64.b64decode(str(entry["sig"])), _message(database_id, slot, seq, chain, at))
            out.append(Seen(slot, seq, chain, datetime.fromisoformat(at)))
        except (KeyError, TypeError, ValueError, InvalidSignature):
            continue
    return out


def note(db_path: Path, database_id: str, slot: str, seq: int, chain: str, seed: bytes, at: datetime,
         *, replace: bool = False) -> None:
    """Remember that `slot` has seen record `seq` (never lowered unless `replace`: a restore by a
    clinic lead explained the older entry). Best effort: an unwritable folder is skipped."""
    path = memory_path(db_path, database_id)
    with contextlib.suppress(OSError):
        seen = _read(path)
        old = seen.get(slot)
        if isinstance(old, dict) and not replace:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                if int(old["seq"]) > seq:  # type: ignore[call-overload]
                    return
        stamp = at.isoformat(timespec="microseconds")
        sig = Ed25519PrivateKey.from_private_bytes(seed).sign(_message(database_id, slot, seq, chain, stamp))
        seen[slot] = {"seq": int(seq), "chain": chain, "at": stamp, "sig": base64.b64encode(sig).decode()}
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(path, json.dumps({"format": 1, "seen": seen}, sort_keys=True).encode())
        os.chmod(path, 0o600)
