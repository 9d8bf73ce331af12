"""Append-only audit log, HMAC-chained with a key derived from the database key.

Each record's HMAC covers its own content and the previous record's HMAC, so editing,
deleting or reordering any row is found by `verify_chain`, even by someone with write access
to the table (they do not have the key without a user's password).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditRecord, ClinicSetting, utcnow

GENESIS = "0" * 64
# The newest record's seq and HMAC, updated in the same transaction as every append: without this
# anchor, deleting the LAST records would leave a shorter chain that still verifies.
HEAD_SETTING = "audit_head"


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
) -> AuditRecord:
    """Add one record in the caller's transaction (it commits or rolls back with the change)."""
    key: bytes = session.info["audit_key"]
    session.flush()  # ids of new objects are known before they are named in the log
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
    )
    rec.hmac = _mac(key, prev, rec)
    session.add(rec)
    value = {"seq": seq, "hmac": rec.hmac}
    if head is None:
        session.add(ClinicSetting(key=HEAD_SETTING, value=value))
    else:
        head.value = value
    session.flush()
    return rec


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"Audit log intact: {self.records} records, every link verified."
        return f"Audit log BROKEN at record {self.first_bad_seq}: {self.problem}"


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the whole log: every record's HMAC, no gap in seq, and the last one is the anchored head.

    Reports the first broken link. Read-only (objects are expunged batch by batch).
    """
    key: bytes = session.info["audit_key"]
    prev, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = (
            session.execute(
                select(AuditRecord).where(AuditRecord.seq > last_seq).order_by(AuditRecord.seq).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return _check_head(session, count, prev)
        for rec in rows:
            if rec.seq != expected_seq:
                return ChainReport(
                    False, count, expected_seq, f"record {expected_seq} is missing (next is {rec.seq})"
                )
            if not hmac.compare_digest(rec.hmac, _mac(key, prev, rec)):
                return ChainReport(
                    False, count, rec.seq, "its content or position was changed after it was written"
                )
            prev, expected_seq, last_seq = rec.hmac, expected_seq + 1, rec.seq
            count += 1
        session.expunge_all()


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
