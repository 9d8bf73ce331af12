"""Measures (item level) and contacts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Versioned, Voidable, utcnow


class Measure(Voidable, Versioned, Base):
    """A PHQ-9 or GAD-7. `items` is what was answered; total and band are computed by the service
    from domain.instruments.score and kept so the registry can query them set-based."""

    __tablename__ = "measure"
    __table_args__ = (
        # carries the scale and total: an episode's scores (registry, month-end "not improving")
        # are read from the index alone, without the item answers
        Index("ix_measure_episode_taken", "episode_id", "taken_at", "instrument", "total", "voided_at"),
        # a month's scores for the whole clinic (month-end billing) without reading every score
        Index("ix_measure_taken_episode", "taken_at", "episode_id", "voided_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"))
    instrument: Mapped[str] = mapped_column(String(8))
    taken_at: Mapped[datetime] = mapped_column(DateTime)  # local clinic time
    items: Mapped[list[int]] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(24))
    item9: Mapped[int | None] = mapped_column(Integer)  # PHQ-9 only, for the safety flag
    difficulty: Mapped[int | None] = mapped_column(Integer)  # PHQ-9 optional question, not scored
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    entered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Contact(Voidable, Versioned, Base):
    __tablename__ = "contact"
    __table_args__ = (
        Index("ix_contact_episode_at", "episode_id", "contact_at"),
        # a month's contacts for the whole clinic (month-end billing) without reading every contact
        Index("ix_contact_at_episode", "contact_at", "episode_id", "voided_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"))
    contact_at: Mapped[datetime] = mapped_column(DateTime)  # local clinic time
    mode: Mapped[str] = mapped_column(String(16))  # phone | video | portal | in_person
    kind: Mapped[str] = mapped_column(String(24))  # assessment | follow_up | outreach | relapse_prevention | close_out
    reached: Mapped[bool] = mapped_column(Boolean, default=True)  # outreach attempts may fail
    adherence: Mapped[str | None] = mapped_column(String(200))
    side_effects: Mapped[str | None] = mapped_column(String(300))
    skill_practised: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    next_step: Mapped[str] = mapped_column(String(300))
    next_step_on: Mapped[date] = mapped_column(Date)
    question_for_consultant: Mapped[str | None] = mapped_column(Text)
    question_answered: Mapped[bool] = mapped_column(Boolean, default=False)
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    staff_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    entered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # local, for registry lag
