"""Clinic-wide settings, database identity and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from .base import Base, Versioned, utcnow


class ClinicSetting(Versioned, Base):
    """Key/value: clinic name, policy numbers (domain.policy.Policy), database id."""

    __tablename__ = "clinic_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[object] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class AuditRecord(Base):
    """Append-only. Each row's HMAC covers its content and the previous row's HMAC."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at_utc"),
        Index("ix_audit_log_patient", "patient_id"),
        Index("ix_audit_log_action", "action"),
        Index("ix_audit_log_rows", "seq", sqlite_where=text("rows IS NOT NULL"),
              postgresql_where=text("rows IS NOT NULL")),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at_utc: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no FK: users are never deleted from history
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    object_type: Mapped[str | None] = mapped_column(String(48))
    object_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSON)
    hmac: Mapped[str] = mapped_column(String(64))  # the chain value: an HMAC (before 0012) or SHA-256
    signer: Mapped[str | None] = mapped_column(String(64))  # key slot that signed it (None: HMAC era)
    sig: Mapped[str | None] = mapped_column(String(88))  # Ed25519 signature, base64
    # Digests of the clinical rows this record's transaction wrote (store.row_seals), signed with
    # it; loaded only when asked for (a baseline of a bulk-loaded clinic is large).
    rows: Mapped[str | None] = deferred(mapped_column(Text))


class Submission(Base):
    """One saved form submission, by the id the form made when it opened (idempotency key).

    A save whose connection dropped during COMMIT may or may not have landed; "Save again"
    sends the same id, and a row here means it landed: the write is not applied twice. Holds
    ids only, never what was typed."""

    __tablename__ = "submission"

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[int | None] = mapped_column(Integer)
    saved_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
