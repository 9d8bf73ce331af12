"""Time entries, the crash-proof running timer and payer rule sets."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Versioned, utcnow

# Entries the month-end billing history looks at one by one (deleted, without an episode, without
# minutes, billed under another service). They are few, so a partial index lists them without a
# scan; a query uses that index only when its condition is this very text (literals, no bound
# parameters), hence one constant for both.
UNUSUAL_ENTRY_SQL = "deleted_at IS NOT NULL OR episode_id IS NULL OR minutes <= 0 OR billed_elsewhere != ''"


class TimeEntry(Versioned, Base):
    """Minutes of one person's work for one patient on one local calendar day."""

    __tablename__ = "time_entry"
    __table_args__ = (
        Index("ix_time_entry_patient_date", "patient_id", "local_date"),
        Index("ix_time_entry_date", "local_date"),
        # Covers the month reads of the registry (services.billing_progress) and of month-end
        # billing: a month of 10k patients is read from the index alone, 2–3× faster than row
        # lookups on an encrypted file.
        Index(
            "ix_time_entry_month_cover",
            "local_date",
            "patient_id",
            "episode_id",
            "staff_id",
            "minutes",
            "deleted_at",
            "billed_elsewhere",
            "counts_as_care_management",
            "started_at",
            "ended_at",
            "activity",
            "source",
        ),
        # Serves the billing history's overlap pass (services.billing_history._unusual): entries
        # of one staff member and day in start order, read from the index without a sort.
        Index(
            "ix_time_entry_staff_day",
            "local_date",
            "staff_id",
            "deleted_at",
            "started_at",
            "id",
            "ended_at",
            "patient_id",
            "episode_id",
            "minutes",
            "billed_elsewhere",
            "counts_as_care_management",
        ),
        Index(
            "ix_time_entry_unusual",
            "local_date",
            "patient_id",
            sqlite_where=text(UNUSUAL_ENTRY_SQL),
            postgresql_where=text(UNUSUAL_ENTRY_SQL),
        ),
        # The entries of the staff whose time counts only as care-manager work, or not at all.
        Index("ix_time_entry_staff", "staff_id", "counts_as_care_management", "local_date", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episode.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    local_date: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)  # local; None for manual minutes
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    minutes: Mapped[int] = mapped_column(Integer)
    activity: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # timer | manual | contact
    note: Mapped[str | None] = mapped_column(Text)
    billed_elsewhere: Mapped[str | None] = mapped_column(String(120))  # service it was billed under
    counts_as_care_management: Mapped[bool] = mapped_column(Boolean, default=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    # Entries from one timer run split at midnight/month end share a group id.
    split_group: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    delete_reason: Mapped[str | None] = mapped_column(String(300))


class RunningTimer(Base):
    """A timer is a row from the moment it starts; the heartbeat survives a crash."""

    __tablename__ = "running_timer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("user.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episode.id"))
    activity: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime)  # local
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime)  # local
    paused_at: Mapped[datetime | None] = mapped_column(DateTime)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # (start, end) pairs of running segments so a paused timer splits honestly
    segments: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    # Which computer runs it (its host name, never PHI): "running on FRONT-DESK-2 since 10:05".
    workstation: Mapped[str | None] = mapped_column(String(64))

    @property
    def segment_times(self) -> list[tuple[datetime, datetime | None]]:
        """`segments` as datetimes (stored as ISO text pairs in JSON); None = still running."""
        return [
            (datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None)
            for start, end in self.segments or []
        ]

    @segment_times.setter
    def segment_times(self, segs: list[tuple[datetime, datetime | None]]) -> None:
        self.segments = [[s.isoformat(), e.isoformat() if e else None] for s, e in segs]  # type: ignore[misc]


class PayerRuleSet(Versioned, Base):
    """Billing rules are data (domain.billing.RuleSet.to_dict()); the Medicare set ships as default."""

    __tablename__ = "payer_rule_set"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    rules: Mapped[dict] = mapped_column(JSON)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    effective_from: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
