"""Medications of an episode: one row per drug-and-dose line, and the changes an approved
recommendation proposes (workflow-and-rules.md, "Medications").

A line is never edited into a different regimen: a dose change stops the line and starts a new one
that `supersedes` it; a stop fills the stop date with who and why. A line entered in error is
voided (it stays, struck through, and counts nowhere); a wrong value is amended through the
correction history (`correction`). So the current regimen is the live lines without a stop date,
and the history is every line in date order.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Versioned, Voidable, utcnow


class Medication(Voidable, Versioned, Base):
    __tablename__ = "medication"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    dose: Mapped[str] = mapped_column(String(120))
    schedule: Mapped[str | None] = mapped_column(String(120))  # "at night", "twice daily"…
    started_on: Mapped[date | None] = mapped_column(Date)
    stopped_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    # Why this line began ("dose raised: partial response at 10 weeks"); None on lines recorded at
    # enrollment before migration 0014 (what the patient was taking).
    start_reason: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # No foreign keys on the columns 0014 added (lines and users are never deleted): SQLite adds
    # and drops a plain column in place, so no migration step rebuilds this table.
    supersedes_id: Mapped[int | None] = mapped_column(Integer)  # the line whose dose this one changed
    recommendation_id: Mapped[int | None] = mapped_column(Integer)  # the approved change that began it
    stopped_by_id: Mapped[int | None] = mapped_column(Integer)
    stop_recorded_at: Mapped[datetime | None] = mapped_column(DateTime)  # local clinic time
    stop_reason: Mapped[str | None] = mapped_column(Text)
    stop_recommendation_id: Mapped[int | None] = mapped_column(Integer)  # the approved change that ended it


class MedicationProposal(Versioned, Base):
    """The change an approved (or modified) medication recommendation proposes: applied to the
    list when the clinician approves, or when the patient is told (clinic policy)."""

    __tablename__ = "medication_proposal"
    __table_args__ = (Index("ix_medication_proposal_episode_state", "episode_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"))
    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendation.id"), unique=True)
    action: Mapped[str] = mapped_column(String(8))  # start | change | stop
    drug: Mapped[str] = mapped_column(String(200))
    dose: Mapped[str | None] = mapped_column(String(120))
    schedule: Mapped[str | None] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(16))  # pending | applied | needs_review | withdrawn
    proposed_at: Mapped[datetime] = mapped_column(DateTime)  # local clinic time
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime)
    applied_by_id: Mapped[int | None] = mapped_column(Integer)
    medication_id: Mapped[int | None] = mapped_column(Integer)  # the line it started or stopped
    note: Mapped[str | None] = mapped_column(Text)  # why it needs the clinician's review
