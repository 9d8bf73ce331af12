"""Submitted billing months: what went to the billing office, and the adjustments acknowledged since.

A submission is a snapshot, never edited: one line per patient-month with the codes and minutes
the packet carried. A later correction that changes a month's codes or minutes is found by
recomputing the month (services.billing_submissions) and comparing with the newest acknowledged
state of that patient-month: the snapshot line, or the last acknowledgement's "after" values.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Versioned, utcnow


class BillingSubmission(Versioned, Base):
    """The clinic lead marked `month` submitted (the packet went to the billing office)."""

    __tablename__ = "billing_submission"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # UTC
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    # The audit log's last sequence number once the snapshot was taken: later writes are what can
    # make an adjustment (services.billing_submissions looks only at those patients).
    audit_seq: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)


class BillingSubmissionLine(Base):
    """One patient-month as submitted. `codes` = [[code, units], ...] reached; `billed` is False
    when a required element held them (blocked)."""

    __tablename__ = "billing_submission_line"
    __table_args__ = (UniqueConstraint("submission_id", "patient_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("billing_submission.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episode.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    counted_minutes: Mapped[int] = mapped_column(Integer)
    logged_minutes: Mapped[int] = mapped_column(Integer)
    codes: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    status: Mapped[str] = mapped_column(String(16))  # billable | blocked | below threshold


class BillingAdjustmentAck(Base):
    """The clinic lead acknowledged that a submitted patient-month changed (before → after).
    Appended, never edited; the newest one per patient-month is the state later changes are
    compared with."""

    __tablename__ = "billing_adjustment_ack"
    __table_args__ = (Index("ix_billing_adjustment_ack_submission_patient", "submission_id", "patient_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("billing_submission.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    codes_before: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    status_before: Mapped[str] = mapped_column(String(16))
    minutes_before: Mapped[int] = mapped_column(Integer)
    codes_after: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    status_after: Mapped[str] = mapped_column(String(16))
    minutes_after: Mapped[int] = mapped_column(Integer)
    acknowledged_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # UTC
    acknowledged_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    note: Mapped[str | None] = mapped_column(Text)
