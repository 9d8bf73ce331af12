"""Derived data, never a source of truth: a cache of per-episode registry facts, and the staff
days on which one person's timed entries overlap.

`RegistryFacts` holds, per episode, what the registry's fact queries (services.registry_facts)
computed from measures, contacts, recommendations, case reviews, referrals, risk events, consents,
care plans and time entries, so that the registry of 10,000 open episodes is one joined read.
Every fact is independent of "today" (date windows are applied when the row is read).

Staleness is handled by deletion: store.invalidation deletes the rows of every patient whose
data a flush touches (and all rows when staff roles or payer rules change); the registry
recomputes missing rows with the same set-based queries and stores them again. A row carries
the policy number it was computed with (remission threshold) and the month its billing columns
describe, so a policy change or a new month makes it stale without any bookkeeping.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class RegistryFacts(Base):
    __tablename__ = "registry_facts"

    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    remission_below: Mapped[int] = mapped_column(Integer)  # policy value the facts were computed with
    # measures from enrollment on, per scale: last, previous, first (totals and days)
    phq9_last: Mapped[int | None] = mapped_column(Integer)
    phq9_last_on: Mapped[date | None] = mapped_column(Date)
    phq9_prev: Mapped[int | None] = mapped_column(Integer)
    phq9_prev_on: Mapped[date | None] = mapped_column(Date)
    phq9_first: Mapped[int | None] = mapped_column(Integer)
    phq9_first_on: Mapped[date | None] = mapped_column(Date)
    gad7_last: Mapped[int | None] = mapped_column(Integer)
    gad7_last_on: Mapped[date | None] = mapped_column(Date)
    gad7_prev: Mapped[int | None] = mapped_column(Integer)
    gad7_prev_on: Mapped[date | None] = mapped_column(Date)
    gad7_first: Mapped[int | None] = mapped_column(Integer)
    gad7_first_on: Mapped[date | None] = mapped_column(Date)
    phq9_item9: Mapped[int | None] = mapped_column(Integer)  # of the newest PHQ-9
    remission_since: Mapped[date | None] = mapped_column(Date)  # start of the current remission run
    # contacts
    has_contacts: Mapped[bool] = mapped_column(Boolean, default=False)
    last_contact_on: Mapped[date | None] = mapped_column(Date)  # newest successful contact
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)  # outreach not reached since
    open_question_since: Mapped[date | None] = mapped_column(Date)
    first_contact_on: Mapped[date | None] = mapped_column(Date)  # any contact, reached or not
    last_zero_lag_on: Mapped[date | None] = mapped_column(Date)  # newest contact entered the same day
    # [[contact day ISO, lag days], ...] for contacts entered on another day than they happened
    lags: Mapped[list | None] = mapped_column(JSON)  # type: ignore[type-arg]
    # recommendations, case review, referrals, risk, consent, care plan
    awaiting_approval_since: Mapped[date | None] = mapped_column(Date)
    approved_not_told_since: Mapped[date | None] = mapped_column(Date)
    open_loops: Mapped[int] = mapped_column(Integer, default=0)
    reviewed_days: Mapped[list | None] = mapped_column(JSON)  # type: ignore[type-arg]  # session days, ISO
    referral_since: Mapped[date | None] = mapped_column(Date)
    risk_since: Mapped[date | None] = mapped_column(Date)
    has_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    has_care_plan: Mapped[bool] = mapped_column(Boolean, default=False)
    # billing progress of `billing_month` (NULL: not computed); minutes NULL = no progress row
    billing_month: Mapped[date | None] = mapped_column(Date)
    minutes: Mapped[int | None] = mapped_column(Integer)
    next_code: Mapped[str | None] = mapped_column(String(16))
    minutes_needed: Mapped[int | None] = mapped_column(Integer)
    billing_label: Mapped[str | None] = mapped_column(String(80))


class TimeOverlapDay(Base):
    """A staff member's day on which two of their live timed entries overlap in time.

    Kept current by store.overlap_days on every write of a time entry (in the write's own
    transaction), so that the month-end billing history can find the few patient-months an
    overlap could change without scanning every earlier time entry in start order.
    """

    __tablename__ = "time_overlap_day"

    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
