"""Weekly case-review sessions, their agenda and the recommendation loop."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Versioned, Voidable, utcnow


class CaseReviewSession(Versioned, Base):
    """One consultant's review of one care manager's caseload (a network has one a week per care
    manager). Sessions made before migration 0010 have no care manager: they cover the clinic.
    Its length and minutes per patient are kept as set up, so a later policy change does not
    resize sessions already prepared (None: the clinic policy's)."""

    __tablename__ = "case_review_session"
    __table_args__ = (Index("ix_case_review_session_cm_on", "care_manager_id", "session_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_on: Mapped[date] = mapped_column(Date, index=True)
    consultant_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    # No foreign key on the two columns 0010 added (users and sessions are never deleted): SQLite
    # adds and drops a plain column in place, so neither migration step rebuilds a table that
    # agenda items and recommendations refer to.
    care_manager_id: Mapped[int | None] = mapped_column(Integer)
    minutes: Mapped[int | None] = mapped_column(Integer)
    minutes_per_patient: Mapped[int | None] = mapped_column(Integer)
    attendees: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AgendaItem(Versioned, Base):
    __tablename__ = "agenda_item"
    __table_args__ = (Index("ix_agenda_item_episode", "episode_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("case_review_session.id"), index=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"))
    group: Mapped[str] = mapped_column(String(24))  # domain.case_review agenda group
    position: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(300))
    added_manually: Mapped[bool] = mapped_column(Boolean, default=False)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    discussion: Mapped[str | None] = mapped_column(Text)
    # Beyond the session's length: listed as "not reached", carried first into the next session.
    not_reached: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The care manager's earlier session this patient was not reached at.
    carried_from_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: see CaseReviewSession


class Recommendation(Voidable, Versioned, Base):
    """recommended → approved | modified | declined (clinician) → told_patient (care manager) → closed."""

    __tablename__ = "recommendation"
    __table_args__ = (Index("ix_recommendation_episode_state", "episode_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("case_review_session.id"))
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id"))
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"))
    kind: Mapped[str] = mapped_column(String(32))
    drug: Mapped[str | None] = mapped_column(String(200))
    dose: Mapped[str | None] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    recommended_at: Mapped[datetime] = mapped_column(DateTime)
    recommended_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # approved | modified | declined, kept once the loop moves on (None: decided before 0013, unknown)
    decision: Mapped[str | None] = mapped_column(String(16))
    decision_note: Mapped[str | None] = mapped_column(Text)
    modified_text: Mapped[str | None] = mapped_column(Text)
    told_at: Mapped[datetime | None] = mapped_column(DateTime)
    told_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    told_how: Mapped[str | None] = mapped_column(String(120))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
