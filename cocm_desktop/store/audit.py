"""Append-only audit log: a hash chain in which every record is signed by its writer.

Each record's chain value covers its own content, its signer and the previous record's chain
value, and carries an Ed25519 signature by the person whose session wrote it (their signing key is
sealed in their key slot under their password). Editing, deleting or reordering any record is
found by `verify_chain`, also by someone who holds the database key: without another person's
password they cannot sign as that person, so they cannot re-sign the chain after an edit.

Who may do what is part of the chain too. Every change to the user table (a user added, a role
changed, someone removed) is written, by the store itself, as an `access.grant` record, and a
grant counts only when a clinic lead (or the recovery code) signed it; every signing key is bound
to its person by a `key.bind` record under the same rule (or, once, by the person themselves: a
key made at their first sign-in after the upgrade). `verify_chain` folds the grants and compares
them with the user table: a role raised by editing the table is named.

Every record also carries, signed, the digests of the clinical rows its transaction wrote
(store.row_seals); `verify_chain` compares every clinical row with the newest record naming it.

Records written before signatures (revision 0012) keep their HMAC under the old chain key; the
first signed record chains to the last of them, so they can no longer be re-signed unseen.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from . import row_seals
from .models import AuditRecord, ClinicSetting, User, utcnow

GENESIS = "0" * 64
# The newest record's seq and HMAC, updated in the same transaction as every append: without this
# anchor, deleting the LAST records would leave a shorter chain that still verifies.
HEAD_SETTING = "audit_head"
SIGNER_INFO = "audit_signer"  # session.info key: the Signer of the session's records
RECOVERY_SIGNER = "__recovery__"
GRANT = "access.grant"  # detail {"users": {username: [role, active]}}
BASELINE = "access.baseline"  # the user table as found when signatures began (older clinics)
KEY_BIND = "key.bind"  # detail {"slot": name, "pub": base64 Ed25519 public key}
LEAD_ROLE = "clinic_lead"
RESTORE = "backup.restore"  # a clinic lead put a backup back on purpose
ALARM = "integrity.alarm"  # what someone's sign-in found, kept for the clinic lead


@dataclass(frozen=True)
class Signer:
    """Who signs a session's records: their key slot's name and signing seed (kept in memory)."""

    name: str
    seed: bytes

    def __repr__(self) -> str:  # never show the seed
        return f"<Signer {self.name}>"

    def sign(self, chain: str) -> str:
        return base64.b64encode(Ed25519PrivateKey.from_private_bytes(self.seed).sign(_signed(chain))).decode()


def _signed(chain: str) -> bytes:
    return b"cocm-desktop audit v2|" + chain.encode("ascii")


def _chain_value(prev: str, rec: AuditRecord) -> str:
    signer = (rec.signer or "").encode()
    # The row digests are covered when present (records from before them hash as they did).
    rows = b"" if rec.rows is None else b"|rows:" + rec.rows.encode()
    return hashlib.sha256(prev.encode("ascii") + b"|" + _canonical(rec) + b"|" + signer + rows).hexdigest()


def signature_holds(pub_b64: str, chain: str, sig_b64: str | None) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(pub_b64)).verify(
            base64.b64decode(sig_b64 or ""), _signed(chain)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def derive_audit_key(db_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"cocm-desktop audit v1").derive(
        db_key
    )


def _canonical(rec: AuditRecord) -> bytes:
    fields = [
        rec.seq,
        rec.at_utc.isoformat(timespec="microseconds"),
        rec.user_id,
        rec.username,
        rec.action,
        rec.patient_id,
        rec.object_type,
        rec.object_id,
        rec.summary,
        rec.detail,
    ]
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _mac(key: bytes, prev: str, rec: AuditRecord) -> str:
    return hmac.new(key, prev.encode("ascii") + b"|" + _canonical(rec), hashlib.sha256).hexdigest()


def append(
    session: Session,
    *,
    user_id: int | None,
    username: str,
    action: str,
    patient_id: int | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    summary: str | None = None,
    detail: dict[str, Any] | None = None,
    at_utc: datetime | None = None,
    rows: str | None = None,
) -> AuditRecord:
    """Add one record in the caller's transaction (it commits or rolls back with the change).

    A signed record carries the digests of the clinical rows the transaction wrote since its
    previous record (`rows` given: these digests instead, e.g. a baseline)."""
    key: bytes | None = session.info.get("audit_key")
    session.flush()  # ids of new objects are known before they are named in the log
    if session.info.get("engine") == "server":
        return _append_on_server(session, AuditRecord(
            seq=0, at_utc=at_utc or utcnow(), user_id=user_id, username=username, action=action,
            patient_id=patient_id, object_type=object_type, object_id=object_id, summary=summary,
            detail=detail, hmac=""))
    signer: Signer | None = session.info.get(SIGNER_INFO)
    if signer is not None:
        pending = row_seals.take_pending(session)
        rows = rows if rows is not None else pending
    last = session.execute(
        select(AuditRecord.seq, AuditRecord.hmac).order_by(AuditRecord.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    head = session.get(ClinicSetting, HEAD_SETTING)
    if head is not None and isinstance(head.value, dict) and int(head.value.get("seq", 0)) >= seq:
        # The newest rows were deleted: continue after the anchor, so the gap stays visible.
        seq, prev = int(head.value["seq"]) + 1, str(head.value.get("hmac", GENESIS))
    rec = AuditRecord(
        seq=seq,
        at_utc=at_utc or utcnow(),
        user_id=user_id,
        username=username,
        action=action,
        patient_id=patient_id,
        object_type=object_type,
        object_id=object_id,
        summary=summary,
        detail=detail,
        rows=rows,
    )
    if signer is not None:
        rec.signer = signer.name
        rec.hmac = _chain_value(prev, rec)
        rec.sig = signer.sign(rec.hmac)
    else:  # only a database from before signatures, opened by code that signs nothing
        rec.hmac = _mac(key, prev, rec)
    session.add(rec)
    value = {"seq": seq, "hmac": rec.hmac}
    if head is None:
        session.add(ClinicSetting(key=HEAD_SETTING, value=value))
    else:
        head.value = value
    session.flush()
    return rec


def _append_on_server(session: Session, rec: AuditRecord) -> AuditRecord:
    """On the clinic server a trigger running as the owner numbers the record, names the
    connected login role as its writer and extends the chain with a key no staff role can read;
    the app only inserts (it may not update or delete a record)."""
    table = AuditRecord.__table__
    values = {c.key: getattr(rec, c.key) for c in table.columns if c.key not in ("signer", "sig")}
    seq, chain, signer = session.execute(
        table.insert().values(**values).returning(table.c.seq, table.c.hmac, table.c.signer)
    ).one()
    rec.seq, rec.hmac, rec.signer = seq, chain, signer
    return rec


def _verify_on_server(session: Session) -> ChainReport:
    from sqlalchemy import text

    records, first_bad, problem = session.execute(
        text("SELECT records, first_bad, problem FROM cocm_audit_verify()")
    ).one()
    if problem is None:
        return ChainReport(True, int(records))
    return ChainReport(False, int(records), int(first_bad) if first_bad is not None else None, str(problem))


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None
    # Clinical rows that differ from the newest signed record naming them (the chain itself may
    # be intact): one sentence per table and kind, rows named by id.
    row_problems: tuple[str, ...] = ()

    def findings(self) -> tuple[str, ...]:
        """Each thing found, one sentence each (empty when intact)."""
        if self.ok:
            return ()
        return ((self.describe(),) if self.problem is not None else ()) + self.row_problems

    def describe(self) -> str:
        if self.ok:
            return f"Audit log intact: {self.records} records, every link verified."
        if self.problem is None:
            return (f"Audit log intact ({self.records} records), but {len(self.row_problems)} "
                    "finding(s) about clinical rows changed outside CoCM Desktop.")
        where = f" at record {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        return f"Audit log BROKEN{where}: {self.problem}"


@dataclass
class AccessFold:
    """Who holds which signing key and which role, as the signed records say, folded in order."""

    keys: dict[str, str] = field(default_factory=dict)  # slot name -> Ed25519 public key (base64)
    roles: dict[str, tuple[str, bool]] = field(default_factory=dict)  # username -> (role, active)
    signed: bool = False  # a signed record has been taken

    def is_lead(self, name: str | None) -> bool:
        return name == RECOVERY_SIGNER or self.roles.get(name or "") == (LEAD_ROLE, True)

    def take(self, rec: AuditRecord) -> str | None:
        """Fold one record whose chain value was checked; a problem (a sentence) or None."""
        if rec.sig is None:
            return "an unsigned record follows signed ones" if self.signed else None
        self.signed = True
        detail = rec.detail if isinstance(rec.detail, dict) else {}
        if rec.action == KEY_BIND:
            return self._bind(rec, detail)
        bound = self.keys.get(rec.signer or "")
        if bound is None:
            return f"it is signed as {rec.signer}, who has no signing key bound in the log"
        if not signature_holds(bound, rec.hmac, rec.sig):
            return f"its signature is not {rec.signer}'s (it was changed or written by someone else)"
        if rec.action == BASELINE:
            if self.roles:
                return "a second baseline of who may sign in (only the first, at the upgrade, counts)"
            return self._apply(detail)
        if rec.action == GRANT:
            users = detail.get("users")
            founding = (not self.roles and isinstance(users, dict)
                        and users.get(rec.signer) == [LEAD_ROLE, True])
            if not (self.is_lead(rec.signer) or founding):
                return f"{rec.signer} changed who may do what without being a clinic lead"
            return self._apply(detail)
        return None

    def _bind(self, rec: AuditRecord, detail: dict[str, Any]) -> str | None:
        slot, pub = detail.get("slot"), detail.get("pub")
        if not isinstance(slot, str) or not isinstance(pub, str):
            return "a key binding without a key"
        if rec.signer == slot and slot not in self.keys:
            # A person's own first key: the founding lead, or anyone at their first sign-in after
            # signatures began. It must sign its own binding.
            if not signature_holds(pub, rec.hmac, rec.sig):
                return f"the first key of {slot} did not sign its own binding"
        else:
            bound = self.keys.get(rec.signer or "")
            if bound is None or not signature_holds(bound, rec.hmac, rec.sig):
                return f"its signature is not {rec.signer}'s"
            if not (self.is_lead(rec.signer) or rec.signer == slot):
                return f"{rec.signer} bound a signing key for {slot} without being a clinic lead"
        self.keys[slot] = pub
        return None

    def _apply(self, detail: dict[str, Any]) -> str | None:
        users = detail.get("users")
        if not isinstance(users, dict):
            return "a grant without users"
        for name, value in users.items():
            if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)):
                return "a malformed grant"
            self.roles[str(name)] = (value[0], bool(value[1]))
        return None

    def user_table_problems(self, session: Session) -> list[str]:
        """Rows of the user table that no signed grant backs (a role raised by editing the table,
        a user added or re-activated behind the app's back). Nothing to compare before any grant."""
        if not self.roles:
            return []
        problems = []
        for name, role, active in session.execute(select(User.username, User.role, User.active)):
            granted = self.roles.get(name)
            if granted is None:
                problems.append(f"user {name} is in the user table, but no clinic lead ever granted them access")
            elif granted != (role, bool(active)):
                want = f"{granted[0]}{'' if granted[1] else ', removed'}"
                have = f"{role}{'' if active else ', removed'}"
                problems.append(f"user {name} is {have} in the user table, but the signed grants say {want}")
        return problems


def verify_chain(session: Session, batch: int = 5000, *, rows: bool = True) -> ChainReport:
    """Walk the whole log: every record's chain value and signature, no gap in seq, the last one
    the anchored head, every grant signed by a clinic lead and the user table as granted; then
    (`rows`) every clinical row against the newest signed digest of it.

    Reports the first broken link. Read-only (objects are expunged batch by batch). On the clinic
    server the server walks the chain itself (only it holds the key).
    """
    if session.info.get("engine") == "server":
        return _verify_on_server(session)
    key: bytes | None = session.info.get("audit_key")
    prev, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    fold = AccessFold()
    seals = row_seals.SealFold()
    while True:
        rows_ = (
            session.execute(
                select(AuditRecord).options(undefer(AuditRecord.rows))
                .where(AuditRecord.seq > last_seq).order_by(AuditRecord.seq).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows_:
            report = _check_head(session, count, prev)
            if not report.ok:
                return report
            problems = fold.user_table_problems(session)
            if problems:
                return ChainReport(False, count, None, "; ".join(problems))
            found = tuple(seals.problems(session)) if rows else ()
            if found:
                return ChainReport(False, count, row_problems=found)
            return report
        for rec in rows_:
            if rec.seq != expected_seq:
                return ChainReport(
                    False, count, expected_seq, f"record {expected_seq} is missing (next is {rec.seq})"
                )
            if rec.sig is None:
                intact = key is not None and hmac.compare_digest(rec.hmac, _mac(key, prev, rec))
            else:
                intact = hmac.compare_digest(rec.hmac, _chain_value(prev, rec))
            if not intact:
                return ChainReport(
                    False, count, rec.seq, "its content or position was changed after it was written"
                )
            problem = fold.take(rec)
            if problem is None and rec.sig is not None:
                problem = seals.take(rec.action, rec.rows)
            if problem is not None:
                return ChainReport(False, count, rec.seq, problem)
            prev, expected_seq, last_seq = rec.hmac, expected_seq + 1, rec.seq
            count += 1
        session.expunge_all()


def access_fold(session: Session) -> tuple[AccessFold, list[str]]:
    """The grants and key bindings alone (few records, through the action index), each checked
    against the chain value of the record before it: what sign-in needs, without a full walk."""
    prev_row = AuditRecord.__table__.alias("prev")
    rows = session.execute(
        select(AuditRecord, prev_row.c.hmac)
        .options(undefer(AuditRecord.rows))
        .outerjoin(prev_row, prev_row.c.seq == AuditRecord.seq - 1)
        .where(AuditRecord.action.in_((KEY_BIND, GRANT, BASELINE)), AuditRecord.sig.is_not(None))
        .order_by(AuditRecord.seq)
    ).all()
    fold, problems = AccessFold(), []
    for rec, prev in rows:
        if rec.seq > 1 and prev is None:
            problems.append(f"record {rec.seq - 1}, before a grant, is missing")
            continue
        if not hmac.compare_digest(rec.hmac, _chain_value(prev or GENESIS, rec)):
            problems.append(f"audit record {rec.seq} (who may do what) was changed after it was written")
            continue
        problem = fold.take(rec)
        if problem is not None:
            problems.append(f"audit record {rec.seq}: {problem}")
    return fold, problems


def seen_problems(session: Session, fold: AccessFold, claims: dict[str, tuple[int, str]]) -> list[str]:
    """Each person's key slot remembers, signed, the newest record they saw: the log must still
    hold it. Claims signed by a key the log never bound to that person are ignored."""
    problems = []
    for name, (seq, chain) in sorted(claims.items()):
        if name not in fold.keys:
            continue
        stored = session.scalar(select(AuditRecord.hmac).where(AuditRecord.seq == seq))
        if stored is None or not hmac.compare_digest(stored, chain):
            who = "the recovery code" if name == RECOVERY_SIGNER else name
            problems.append(
                f"{who} has seen audit record {seq}, which is "
                f"{'gone' if stored is None else 'different now'}: records were deleted or changed, "
                "or the clinic was put back to an older copy"
            )
    return problems


def _check_head(session: Session, count: int, last_hmac: str) -> ChainReport:
    head = session.execute(select(ClinicSetting.value).where(ClinicSetting.key == HEAD_SETTING)).scalar()
    if not isinstance(head, dict):  # databases from before the anchor: nothing to compare
        return ChainReport(True, count)
    head_seq = int(head.get("seq", 0))
    if head_seq > count:
        return ChainReport(False, count, count + 1,
                           f"the log ends early: records {count + 1} to {head_seq} were deleted")
    if head_seq != count or not hmac.compare_digest(str(head.get("hmac", "")), last_hmac):
        return ChainReport(False, count, count, "the last record does not match the log's anchored end")
    return ChainReport(True, count)


def _checked_records(session: Session, fold: AccessFold, action: str, after: int = 0) -> list[AuditRecord]:
    """Records of `action` (through the action index) whose chain value fits the record before
    them and whose signature holds under the key the log binds to their signer."""
    prev_row = AuditRecord.__table__.alias("prev")
    rows = session.execute(
        select(AuditRecord, prev_row.c.hmac)
        .options(undefer(AuditRecord.rows))
        .outerjoin(prev_row, prev_row.c.seq == AuditRecord.seq - 1)
        .where(AuditRecord.action == action, AuditRecord.sig.is_not(None), AuditRecord.seq > after)
        .order_by(AuditRecord.seq)
    ).all()
    out = []
    for rec, prev in rows:
        if prev is None and rec.seq > 1:
            continue
        if not hmac.compare_digest(rec.hmac, _chain_value(prev or GENESIS, rec)):
            continue
        pub = fold.keys.get(rec.signer or "")
        if pub is not None and signature_holds(pub, rec.hmac, rec.sig):
            out.append(rec)
    return out


def memory_problems(session: Session, fold: AccessFold, seen: list[Any]) -> tuple[list[str], bool]:
    """This computer account's memory of the log (store.account_memory) against the log: the
    problems, and whether some entry was explained by a clinic lead's restore since (it may then
    be replaced)."""
    problems, explained = [], False
    restores: list[datetime] | None = None
    for entry in seen:
        stored = session.scalar(select(AuditRecord.hmac).where(AuditRecord.seq == entry.seq))
        if stored is not None and hmac.compare_digest(stored, entry.chain):
            continue
        if restores is None:
            restores = [r.at_utc for r in _checked_records(session, fold, RESTORE) if fold.is_lead(r.signer)]
        if any(at > entry.at for at in restores):
            explained = True
            continue
        who = "the recovery code" if entry.slot == RECOVERY_SIGNER else entry.slot
        problems.append(
            f"this computer account remembers that {who} saw audit record {entry.seq}, which is "
            f"{'gone' if stored is None else 'different now'}: the database and its key file were put "
            "back to an older copy, or records were deleted"
        )
    return problems, explained


def reported_alarms(session: Session, fold: AccessFold, after: int) -> list[str]:
    """What other people's sign-ins found (e.g. a rollback their account remembered) since
    record `after`: shown to the clinic lead."""
    return [f"{r.signer}'s sign-in found: {r.summary}" for r in _checked_records(session, fold, ALARM, after)]
