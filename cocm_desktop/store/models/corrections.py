"""The correction history: every void ("entered in error") and amendment of a clinical entry.

The corrected row itself holds the current truth (an amended value replaces the old one where it
counts; a voided row carries `voided_at`); this table keeps what was there before, who changed it,
when and why, so the chart can show the history and nothing said is ever lost.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Correction(Base):
    __tablename__ = "correction"
    __table_args__ = (Index("ix_correction_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    object_type: Mapped[str] = mapped_column(String(32))  # measure | contact | time_entry | patient | …
    object_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))  # void | amend
    reason: Mapped[str] = mapped_column(String(300))
    # {field: [value before, value after]} as JSON-safe values (dates as ISO text); empty for a void
    changes: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    corrected_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    corrected_at: Mapped[datetime] = mapped_column(DateTime)  # local clinic time
