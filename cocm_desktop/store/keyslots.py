"""Key slots: the database key made reachable once per user, in a sidecar file with no PHI in it.

The database key is 32 random bytes used as a raw SQLCipher key. The sidecar (`<db>.keys`,
written atomically) holds one slot per user plus the recovery slot.

Format 2 (current) — why two levels
-----------------------------------
Removing a user must re-key the database (`PRAGMA rekey`) and hand the NEW key to every remaining
user without knowing their passwords. A slot that only wraps the database key under a password
cannot be re-wrapped without that password. So each slot holds an X25519 key pair:

* `private`: the slot's X25519 private key, wrapped with AES-256-GCM under a key derived from the
  user's password by Argon2id (parameters stored per slot and raised at the next sign-in);
  associated data = database id ‖ slot name ‖ slot version.
* `public`: the slot's public key, in clear.
* `sealed`: the database key sealed to that public key (ephemeral X25519 + HKDF-SHA256 +
  AES-256-GCM, associated data = database id ‖ slot name ‖ key epoch).
* `mac`: HMAC-SHA256, keyed from the current database key, over database id ‖ slot ‖ version ‖
  public key. Someone who can edit the sidecar but does not hold the database key cannot plant a
  slot that a later re-key would hand the new key to.

Signing in: password → Argon2id → unwrap private key → unseal database key. Re-keying (a user
removed): new random key; it is sealed to the public key of every slot that belongs to an active
user (or is the recovery slot) AND whose MAC verifies; the removed user's slot is gone, so their
old password reaches only the old key, which opens old backups but not the current file.

Crash safety of a re-key: (1) the sidecar is saved with `sealed_next` (new key) beside `sealed`
(old key) in every kept slot; (2) `PRAGMA rekey` runs as one SQLite transaction; (3) the sidecar
is saved with `sealed_next` promoted. A crash between any two steps leaves a file that opens with
one of the two sealed keys, and the next sign-in finishes (or redoes) the re-key.

Format 1 (the first development builds) wrapped the database key directly under the password; it
is still read, and a format-1 slot is converted to format 2 at that user's next sign-in.

Failed sign-in counts live here too because they must be checked before the database is
unlocked (the growing delay of domain.policy.login_delay_seconds). The sidecar protects against
guessing through the app; offline guessing is bounded by Argon2id alone.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import NotACocmDatabase, StoreError, WrongCredentials
from .files import fsync_dir

FORMAT = "cocm-desktop-keyslots"
FORMAT_VERSION = 2
RECOVERY_SLOT = "__recovery__"
# Argon2id at least m=64 MiB, t=3 (security.md); kept per slot so they can be raised later.
DEFAULT_KDF = {"t": 3, "m": 65536, "p": 2}
# What a key file may ask of Argon2id (memory in KiB: 64 MiB–1 GiB; passes; lanes). Anything
# outside is refused before hashing: a tiny `m` crashes argon2, a huge `t` hangs every sign-in.
KDF_BOUNDS = {"t": (1, 10), "m": (65536, 1048576), "p": (1, 8)}
# Recovery code: 25 chars of Crockford base32 (~125 bits), grouped for reading aloud.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# The sidecar must not grow without bound under a guessing attack with random usernames.
MAX_PENDING = 1000
MAX_FAILURE_NAMES = 1000


def signing_public(seed: bytes) -> bytes:
    """The Ed25519 public key (raw 32 bytes) of a signing seed."""
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


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


def kdf_is_weaker(kdf: dict[str, int], than: dict[str, int] = DEFAULT_KDF) -> bool:
    return int(kdf.get("m", 0)) < than["m"] or int(kdf.get("t", 0)) < than["t"]


def _associated_data(database_id: str, slot_name: str, version: int | str) -> bytes:
    return f"{database_id}\x1f{slot_name}\x1f{version}".encode()


def _hkdf(key: bytes, info: bytes, salt: bytes | None = None) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


def _slot_mac(db_key: bytes, database_id: str, slot_name: str, version: int, public: str) -> str:
    mac_key = _hkdf(db_key, b"cocm-desktop slot mac v2")
    msg = _associated_data(database_id, slot_name, version) + b"\x1f" + public.encode("ascii")
    return hmac.new(mac_key, msg, hashlib.sha256).hexdigest()


def _raw_public(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _raw_private(private: X25519PrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def seal(db_key: bytes, public_b64: str, ad: bytes) -> dict[str, str]:
    """Encrypt the database key to a slot's public key (only its private key opens it)."""
    return _seal_keeping_wrap_key(db_key, public_b64, ad)[0]


def _seal_keeping_wrap_key(db_key: bytes, public_b64: str, ad: bytes) -> tuple[dict[str, str], bytes]:
    """seal(), also returning the AES key it used: the re-key reads its journal back from disk and
    checks each new seal with it, since it holds no slot's private key."""
    recipient = X25519PublicKey.from_public_bytes(_unb64(public_b64))
    ephemeral = X25519PrivateKey.generate()
    epk = _raw_public(ephemeral.public_key())
    wrap_key = _hkdf(ephemeral.exchange(recipient), b"cocm-desktop slot seal v2", epk + _unb64(public_b64))
    nonce = secrets.token_bytes(12)
    blob = {"epk": _b64(epk), "nonce": _b64(nonce), "ct": _b64(AESGCM(wrap_key).encrypt(nonce, db_key, ad))}
    return blob, wrap_key


def unseal(private: X25519PrivateKey, sealed: dict[str, str], ad: bytes) -> bytes:
    epk = _unb64(sealed["epk"])
    public = _raw_public(private.public_key())
    wrap_key = _hkdf(
        private.exchange(X25519PublicKey.from_public_bytes(epk)), b"cocm-desktop slot seal v2", epk + public
    )
    return AESGCM(wrap_key).decrypt(_unb64(sealed["nonce"]), _unb64(sealed["ct"]), ad)


@dataclass
class KeySlot:
    """One user's (or the recovery code's) way to the database key."""

    salt: str
    nonce: str
    wrapped: str  # format 2: the wrapped X25519 private key; format 1: the wrapped database key
    version: int
    kdf: dict[str, int]
    public: str | None = None  # None: a format-1 slot
    sealed: dict[str, str] | None = None
    mac: str | None = None
    epoch: int = 0
    # Only while a re-key is in flight:
    sealed_next: dict[str, str] | None = None
    mac_next: str | None = None
    # The user's Ed25519 signing key: `pub` in clear, the private seed wrapped under the same
    # password-derived key (their audit records and their `seen` claim are signed with it; an
    # insider holding only the database key cannot sign as them). None: a slot from before.
    signing: dict[str, str] | None = None
    # The newest audit record this user has seen {seq, hash, sig}: signed by them, so a truncated
    # log or an older copy of the database is noticed at anyone's next sign-in.
    seen: dict[str, Any] | None = None

    @property
    def legacy(self) -> bool:
        return self.public is None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "salt": self.salt,
            "nonce": self.nonce,
            "wrapped": self.wrapped,
            "version": self.version,
            "kdf": dict(self.kdf),
        }
        if self.public is not None:
            data.update(public=self.public, sealed=self.sealed, mac=self.mac, epoch=self.epoch)
        if self.sealed_next is not None:
            data.update(sealed_next=self.sealed_next, mac_next=self.mac_next)
        if self.signing is not None:
            data["signing"] = dict(self.signing)
        if self.seen is not None:
            data["seen"] = dict(self.seen)
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "slot") -> KeySlot:
        """Parse and check every field; KeyFileDamaged names the first one that is wrong."""
        data = _mapping(data, where)
        public = data.get("public")
        slot = cls(
            salt=_b64_field(data, "salt", where, 16),
            nonce=_b64_field(data, "nonce", where, 12),
            wrapped=_b64_field(data, "wrapped", where),
            version=_int_field(data, "version", where, 1, 2**31),
            kdf=_kdf_field(data.get("kdf"), f"{where}.kdf"),
            public=None if public is None else _b64_field(data, "public", where, 32),
            sealed=_sealed_field(data.get("sealed"), f"{where}.sealed"),
            mac=None if data.get("mac") is None else _hex_field(data, "mac", where, 32),
            epoch=_int_field(data, "epoch", where, 0, 2**31, default=0),
            sealed_next=_sealed_field(data.get("sealed_next"), f"{where}.sealed_next"),
            mac_next=None if data.get("mac_next") is None else _hex_field(data, "mac_next", where, 32),
            signing=_signing_field(data.get("signing"), f"{where}.signing"),
            seen=_seen_field(data.get("seen"), f"{where}.seen"),
        )
        if slot.public is not None and (slot.sealed is None or slot.mac is None):
            raise KeyFileDamaged(f"{where} lacks its sealed key")
        return slot


# ---- parsing: every field checked before it is used (a malformed file is one plain message) ----
class KeyFileDamaged(ValueError):
    """A field of the key file is missing or malformed; str() says which (no secret in it)."""


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise KeyFileDamaged(f"{where} is not a record")
    return value


def _str_field(data: dict[str, Any], name: str, where: str, limit: int = 4096) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise KeyFileDamaged(f"{where}.{name} is missing or malformed")
    return value


def _b64_field(data: dict[str, Any], name: str, where: str, size: int | None = None) -> str:
    text = _str_field(data, name, where)
    try:
        raw = _unb64(text)
    except (ValueError, UnicodeEncodeError):
        raise KeyFileDamaged(f"{where}.{name} is not valid base64") from None
    if size is not None and len(raw) != size:
        raise KeyFileDamaged(f"{where}.{name} has the wrong length")
    return text


def _hex_field(data: dict[str, Any], name: str, where: str, size: int) -> str:
    text = _str_field(data, name, where)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise KeyFileDamaged(f"{where}.{name} is not valid hexadecimal") from None
    if len(raw) != size:
        raise KeyFileDamaged(f"{where}.{name} has the wrong length")
    return text


def _int_field(
    data: dict[str, Any], name: str, where: str, low: int, high: int, default: int | None = None
) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise KeyFileDamaged(f"{where}.{name} is missing or not a whole number")
    if not low <= value <= high:
        raise KeyFileDamaged(f"{where}.{name} is out of range")
    return value


def _kdf_field(value: Any, where: str) -> dict[str, int]:
    """Argon2id parameters, refused outside sane bounds before any hashing (no hang, no crash)."""
    data = _mapping(value, where)
    return {name: _int_field(data, name, where, low, high) for name, (low, high) in KDF_BOUNDS.items()}


def _b64_record(value: Any, where: str, sizes: dict[str, int]) -> dict[str, str] | None:
    """A small record of base64 fields of known byte lengths (a seal, a wrapped signing key)."""
    if value is None:
        return None
    data = _mapping(value, where)
    return {name: _b64_field(data, name, where, size) for name, size in sizes.items()}


def _sealed_field(value: Any, where: str) -> dict[str, str] | None:
    return _b64_record(value, where, {"epk": 32, "nonce": 12, "ct": 48})


def _signing_field(value: Any, where: str) -> dict[str, str] | None:
    return _b64_record(value, where, {"pub": 32, "nonce": 12, "ct": 48})


def _seen_field(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    data = _mapping(value, where)
    return {
        "seq": _int_field(data, "seq", where, 0, 2**62),
        "hash": _hex_field(data, "hash", where, 32),
        "sig": _b64_field(data, "sig", where, 64),
    }


def _utc_text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise KeyFileDamaged(f"{where} is not a time")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise KeyFileDamaged(f"{where} is not a time") from None
    return value


def _pending_entry(value: Any, where: str) -> dict[str, str]:
    data = _mapping(value, where)
    entry = {"username": _str_field(data, "username", where, 64), "at_utc": _utc_text(data.get("at_utc"), where)}
    if "action" in data:
        entry["action"] = _str_field(data, "action", where, 64)
    return entry


@dataclass
class KeyFile:
    """The sidecar: database id, the database file's SQLCipher salt, and the slots."""

    database_id: str
    db_salt: str  # hex of the database file's first 16 bytes (SQLCipher's per-file salt)
    slots: dict[str, KeySlot] = field(default_factory=dict)
    # Consecutive failed sign-ins per username, and when the last one was (UTC ISO): the sidecar is
    # readable before the database is unlocked, which is when the growing delay has to be applied.
    failures: dict[str, int] = field(default_factory=dict)
    failure_at: dict[str, str] = field(default_factory=dict)
    # Failed sign-ins waiting to be written to the audit log at the next successful unlock.
    pending: list[dict[str, str]] = field(default_factory=list)
    pending_dropped: int = 0
    # The clinic policy's login-delay numbers, copied here at each sign-in (the policy itself is
    # inside the encrypted database, out of reach before unlock). None: the shipped defaults.
    login_policy: dict[str, int] | None = None
    key_epoch: int = 0

    # ---- slots ----------------------------------------------------------------------------
    def add_slot(
        self, slot_name: str, secret: str, db_key: bytes, kdf: dict[str, int] | None = None,
        signing_seed: bytes | None = None,
    ) -> str:
        """Create (or replace: password change/reset) a slot. A new key pair every time; the
        signing key is kept when `signing_seed` is given (a user changing their own password),
        new otherwise. Returns the slot's signing public key (base64)."""
        previous = self.slots.get(slot_name)
        version = previous.version + 1 if previous else 1
        kdf = dict(kdf or DEFAULT_KDF)
        salt = secrets.token_bytes(16)
        nonce = secrets.token_bytes(12)
        private = X25519PrivateKey.generate()
        public = _b64(_raw_public(private.public_key()))
        kek = _derive(secret, salt, kdf)
        ad = _associated_data(self.database_id, slot_name, version)
        wrapped = AESGCM(kek).encrypt(nonce, _raw_private(private), ad)
        seed = signing_seed if signing_seed is not None else secrets.token_bytes(32)
        sign_nonce = secrets.token_bytes(12)
        signing = {
            "pub": _b64(signing_public(seed)),
            "nonce": _b64(sign_nonce),
            "ct": _b64(AESGCM(kek).encrypt(sign_nonce, seed, ad + b"\x1fsigning")),
        }
        self.slots[slot_name] = KeySlot(
            salt=_b64(salt),
            nonce=_b64(nonce),
            wrapped=_b64(wrapped),
            version=version,
            kdf=kdf,
            public=public,
            sealed=seal(db_key, public, _associated_data(self.database_id, slot_name, self.key_epoch)),
            mac=_slot_mac(db_key, self.database_id, slot_name, version, public),
            epoch=self.key_epoch,
            signing=signing,
            # Same signing key (own password change): what this person has seen still holds.
            seen=previous.seen if previous and previous.signing and previous.signing["pub"] == signing["pub"]
            else None,
        )
        return signing["pub"]

    def unlock(self, slot_name: str, secret: str) -> list[bytes]:
        """Candidate database keys for this slot: the current one, then (mid re-key) the next.

        WrongCredentials when the password is wrong or the user unknown (they look alike, and
        cost the same time).
        """
        return self.open_slot(slot_name, secret)[0]

    def open_slot(self, slot_name: str, secret: str) -> tuple[list[bytes], bytes | None]:
        """unlock(), and the slot's signing seed (None for a slot from before signing keys)."""
        slot = self.slots.get(slot_name)
        if slot is None:
            _derive(secret, b"\0" * 16, DEFAULT_KDF)  # same effort: timing must not reveal who exists
            raise WrongCredentials()
        kek = _derive(secret, _unb64(slot.salt), slot.kdf)
        ad = _associated_data(self.database_id, slot_name, slot.version)
        try:
            inner = AESGCM(kek).decrypt(_unb64(slot.nonce), _unb64(slot.wrapped), ad)
        except (InvalidTag, ValueError):
            raise WrongCredentials() from None
        if slot.legacy:
            return [inner], None
        seed = None
        if slot.signing is not None:
            try:
                seed = AESGCM(kek).decrypt(_unb64(slot.signing["nonce"]), _unb64(slot.signing["ct"]),
                                           ad + b"\x1fsigning")
            except (InvalidTag, ValueError):
                seed = None  # damaged: a new signing key is made at this sign-in
            if seed is not None and _b64(signing_public(seed)) != slot.signing["pub"]:
                seed = None
        private = X25519PrivateKey.from_private_bytes(inner)
        keys = []
        for blob, epoch in ((slot.sealed, slot.epoch), (slot.sealed_next, slot.epoch + 1)):
            if blob is None:
                continue
            try:
                keys.append(unseal(private, blob, _associated_data(self.database_id, slot_name, epoch)))
            except (InvalidTag, ValueError, KeyError):
                continue  # a damaged or swapped blob; the other candidate may still work
        if not keys:
            raise NotACocmDatabase(
                "The key file's entry for this user is damaged. The clinic lead can reset the "
                "password, or restore the key file from a backup."
            )
        return keys, seed

    # ---- what each user has seen of the audit log -------------------------------------------
    def note_seen(self, slot_name: str, seq: int, chain_hash: str, seed: bytes) -> None:
        """Remember, signed by this user, the newest audit record they have seen."""
        slot = self.slots.get(slot_name)
        if slot is None or (slot.seen is not None and int(slot.seen["seq"]) > seq):
            return  # never lowered: a longer log seen before stays the evidence
        sig = Ed25519PrivateKey.from_private_bytes(seed).sign(self._seen_message(slot_name, seq, chain_hash))
        slot.seen = {"seq": int(seq), "hash": chain_hash, "sig": _b64(sig)}

    def seen_claims(self) -> dict[str, tuple[int, str]]:
        """Every slot's remembered audit head whose signature holds under that slot's own
        signing key: {slot name: (seq, hash)}. (Whether that key is the user's is for the audit
        log to say: see store.audit.)"""
        claims = {}
        for name, slot in self.slots.items():
            if slot.seen is None or slot.signing is None:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(_unb64(slot.signing["pub"])).verify(
                    _unb64(slot.seen["sig"]), self._seen_message(name, slot.seen["seq"], slot.seen["hash"])
                )
            except (InvalidSignature, ValueError):
                continue
            claims[name] = (int(slot.seen["seq"]), str(slot.seen["hash"]))
        return claims

    def _seen_message(self, slot_name: str, seq: int, chain_hash: str) -> bytes:
        return f"cocm-desktop seen v1\x1f{self.database_id}\x1f{slot_name}\x1f{seq}\x1f{chain_hash}".encode()

    def unwrap(self, slot_name: str, secret: str) -> bytes:
        """The current database key (first candidate)."""
        return self.unlock(slot_name, secret)[0]

    def needs_upgrade(self, slot_name: str) -> bool:
        """A format-1 slot or weaker Argon2 parameters than today's: re-create it at sign-in."""
        slot = self.slots.get(slot_name)
        return slot is not None and (slot.legacy or kdf_is_weaker(slot.kdf) or slot.signing is None)

    def slot_is_authentic(self, slot_name: str, db_key: bytes) -> bool:
        slot = self.slots.get(slot_name)
        if slot is None or slot.legacy or slot.mac is None or slot.public is None:
            return False
        expected = _slot_mac(db_key, self.database_id, slot_name, slot.version, slot.public)
        return hmac.compare_digest(expected, slot.mac)

    def remove_slot(self, slot_name: str) -> None:
        self.slots.pop(slot_name, None)
        self.failures.pop(slot_name, None)
        self.failure_at.pop(slot_name, None)

    # ---- re-key ---------------------------------------------------------------------------
    @property
    def rekey_in_progress(self) -> bool:
        return any(s.sealed_next is not None for s in self.slots.values())

    def rekey_problems(self, current_key: bytes, keep: set[str]) -> list[str]:
        """Slots to keep that could not be handed a new key: they fail their MAC (edited or
        damaged) or are in the first format (no public key). A re-key must stop on any of them:
        dropping one silently locks that person out, and if it is every slot, the clinic."""
        return sorted(
            name for name in keep
            if name in self.slots and not self.slot_is_authentic(name, current_key)
        )

    def begin_rekey(self, current_key: bytes, new_key: bytes, keep: set[str]) -> tuple[list[str], dict[str, bytes]]:
        """Seal `new_key` next to the current key in every slot to keep; drop the rest.

        Kept: slots named in `keep` (active users, the recovery slot). Every one of them must be
        authentic (see rekey_problems; RekeyRefused otherwise, nothing changed). Dropped: every
        other slot (removed users, slots planted by editing the file). Returns the dropped names
        and, per kept slot, the key its new seal was made with, so the journal can be checked once
        it is on disk (check_rekey_journal) before the database itself is touched.
        """
        problems = self.rekey_problems(current_key, keep)
        if problems:
            raise RekeyRefused(problems)
        dropped = sorted(name for name in self.slots if name not in keep)
        if not any(name in self.slots for name in keep):
            raise RekeyRefused([], "no key slot would be left to open the database")
        wrap_keys: dict[str, bytes] = {}
        for name in sorted(self.slots):
            if name not in keep:
                continue
            slot = self.slots[name]
            assert slot.public is not None
            slot.sealed_next, wrap_keys[name] = _seal_keeping_wrap_key(
                new_key, slot.public, _associated_data(self.database_id, name, slot.epoch + 1)
            )
            slot.mac_next = _slot_mac(new_key, self.database_id, name, slot.version, slot.public)
        for name in dropped:
            self.remove_slot(name)
        return dropped, wrap_keys

    def check_rekey_journal(self, new_key: bytes, wrap_keys: dict[str, bytes]) -> list[str]:
        """Names of kept slots whose `sealed_next` (as read back from disk) does not open to
        `new_key`, or whose new MAC is wrong. Empty: every survivor will open the re-keyed file."""
        bad = []
        for name, wrap_key in wrap_keys.items():
            slot = self.slots.get(name)
            try:
                assert slot is not None and slot.sealed_next is not None and slot.public is not None
                ad = _associated_data(self.database_id, name, slot.epoch + 1)
                blob = slot.sealed_next
                ok = AESGCM(wrap_key).decrypt(_unb64(blob["nonce"]), _unb64(blob["ct"]), ad) == new_key
                expected = _slot_mac(new_key, self.database_id, name, slot.version, slot.public)
                ok = ok and hmac.compare_digest(expected, slot.mac_next or "")
            except (AssertionError, InvalidTag, ValueError, KeyError):
                ok = False
            if not ok:
                bad.append(name)
        return sorted(bad)

    def finish_rekey(self) -> None:
        """The database now uses the new key: promote every `sealed_next`."""
        for name in list(self.slots):
            slot = self.slots[name]
            if slot.sealed_next is None:
                self.remove_slot(name)  # it never received the new key: it can no longer open the file
                continue
            slot.sealed, slot.mac, slot.epoch = slot.sealed_next, slot.mac_next, slot.epoch + 1
            slot.sealed_next = slot.mac_next = None
        self.key_epoch += 1

    def abandon_rekey(self) -> None:
        for slot in self.slots.values():
            slot.sealed_next = slot.mac_next = None

    # ---- failed sign-ins ------------------------------------------------------------------
    def note_failure(self, slot_name: str, at_utc_iso: str) -> None:
        """A wrong password: counted (the growing delay) and kept for the audit log."""
        self.failures[slot_name] = self.failures.get(slot_name, 0) + 1
        self.failure_at[slot_name] = at_utc_iso
        if len(self.failures) > MAX_FAILURE_NAMES:
            oldest = min(self.failure_at, key=lambda n: self.failure_at[n])
            self.failures.pop(oldest, None)
            self.failure_at.pop(oldest, None)
        self._note_pending(slot_name, at_utc_iso, "login.failure")

    def note_throttled(self, slot_name: str, at_utc_iso: str) -> None:
        """An attempt refused during the delay (the password was not tried): audited, not counted,
        so that someone guessing cannot lengthen the real user's wait without end."""
        self._note_pending(slot_name, at_utc_iso, "login.throttled")

    def _note_pending(self, slot_name: str, at_utc_iso: str, action: str) -> None:
        if len(self.pending) >= MAX_PENDING:
            self.pending_dropped += 1
        else:
            self.pending.append({"username": slot_name[:64], "at_utc": at_utc_iso, "action": action})

    def clear_failures(self, slot_name: str) -> bool:
        changed = slot_name in self.failures or slot_name in self.failure_at
        self.failures.pop(slot_name, None)
        self.failure_at.pop(slot_name, None)
        return changed

    # ---- persistence ----------------------------------------------------------------------
    def to_json(self) -> str:
        data: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "database_id": self.database_id,
            "db_salt": self.db_salt,
            "key_epoch": self.key_epoch,
            "slots": {name: slot.to_dict() for name, slot in sorted(self.slots.items())},
            "failures": dict(sorted(self.failures.items())),
            "failure_at": dict(sorted(self.failure_at.items())),
            "pending": list(self.pending),
            "pending_dropped": self.pending_dropped,
        }
        if self.login_policy is not None:
            data["login_policy"] = dict(self.login_policy)
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> KeyFile:
        """Parse a key file, checking every field (KeyFileDamaged says which one is wrong)."""
        try:
            data = json.loads(text)
        except ValueError:
            raise KeyFileDamaged("it is not readable as a key file") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise KeyFileDamaged("it is not a CoCM Desktop key file")
        version = _int_field(data, "format_version", "file", 1, 2**31, default=1)
        if version > FORMAT_VERSION:
            raise NewerKeyFile()
        slots = _mapping(data.get("slots"), "slots")
        failures = _mapping(data.get("failures", {}), "failures")
        failure_at = _mapping(data.get("failure_at", {}), "failure_at")
        pending = data.get("pending", [])
        if not isinstance(pending, list):
            raise KeyFileDamaged("pending is not a list")
        policy = data.get("login_policy")
        if policy is not None:
            policy = {str(k): _int_field(_mapping(policy, "login_policy"), k, "login_policy", 0, 10**6)
                      for k in _mapping(policy, "login_policy")}
        db_salt = _hex_field(data, "db_salt", "file", 16)
        return cls(
            database_id=_str_field(data, "database_id", "file", 64),
            db_salt=db_salt,
            slots={str(k): KeySlot.from_dict(v, f"slots.{str(k)[:64]}") for k, v in slots.items()},
            failures={str(k): _int_field(failures, k, "failures", 0, 2**31) for k in failures},
            failure_at={str(k): _utc_text(v, f"failure_at.{str(k)[:64]}") for k, v in failure_at.items()},
            pending=[_pending_entry(item, f"pending[{i}]") for i, item in enumerate(pending)],
            pending_dropped=_int_field(data, "pending_dropped", "file", 0, 2**31, default=0),
            login_policy=policy,
            key_epoch=_int_field(data, "key_epoch", "file", 0, 2**31, default=0),
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
        except NewerKeyFile:
            raise NotACocmDatabase(
                f"The key file “{path.name}” was written by a newer version of CoCM Desktop. "
                "Install the latest version to open this database; nothing was changed."
            ) from None
        except KeyFileDamaged as exc:
            raise NotACocmDatabase(
                f"The key file “{path.name}” is damaged or is not a CoCM Desktop key file ({exc}). "
                "Nothing was changed. Restore it from the backup taken with this database."
            ) from None


class NewerKeyFile(ValueError):
    pass


class RekeyRefused(StoreError):
    """A re-key stopped before changing anything: a slot that must survive is not authentic."""

    title = "Re-key stopped"

    def __init__(self, slots: list[str], why: str = "") -> None:
        self.slots = slots
        names = ", ".join("the recovery code" if n == RECOVERY_SLOT else n for n in slots)
        message = why or (
            f"The key file entry of {names} fails its check (it was edited or damaged), so the "
            "database could not be re-keyed without locking them out. Nothing was changed. "
            "Reset their password (for the recovery code: `cocm-desktop users recovery-code`), then "
            "try again."
        )
        super().__init__(message if not why else f"The database was not re-keyed: {why}. Nothing was changed.")


def remove_keyfile_leftovers(db_path: Path) -> list[Path]:
    """Remove temp copies of the key file that a killed writer left (`<db>.keys.XXXX.tmp`).

    Call only while holding the key file's lock: every writer of the key file holds it, so no
    such temp file can belong to a write in progress."""
    removed = []
    name = keyfile_path(db_path).name
    with contextlib.suppress(OSError):
        for leftover in db_path.parent.glob(f"{glob.escape(name)}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()
                removed.append(leftover)
    return removed


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
    fsync_dir(path.parent)
