"""An episode of care and what hangs off it: diagnoses, consent, plans, referrals, risk (medications:
`store.models.medications`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Versioned, Voidable, utcnow


class Episode(Versioned, Base):
    """One enrollment. Status and program values are domain.episode enums."""

    __tablename__ = "episode"
    __table_args__ = (Index("ix_episode_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    program: Mapped[str] = mapped_column(String(8))  # cocm | bhi
    status: Mapped[str] = mapped_column(String(32))  # enrolled | active | relapse_prevention | closed
    close_reason: Mapped[str | None] = mapped_column(String(32))
    closed_on: Mapped[date | None] = mapped_column(Date)
    close_note: Mapped[str | None] = mapped_column(Text)
    reentry_path: Mapped[str | None] = mapped_column(Text)
    # A transfer stays on the registry until the receiving service confirms the handoff.
    transfer_to: Mapped[str | None] = mapped_column(String(200))
    transfer_confirmed_on: Mapped[date | None] = mapped_column(Date)
    enrolled_on: Mapped[date] = mapped_column(Date)
    primary_scale: Mapped[str] = mapped_column(String(8))  # PHQ-9 | GAD-7
    treating_clinician_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    care_manager_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    urgent_risk_ruled_out: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent_risk_ruled_out_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # The person named above confirms the rule-out (pending while empty). No foreign keys on the
    # columns 0013 added in place (users are never deleted).
    risk_rule_out_attested_by_id: Mapped[int | None] = mapped_column(Integer)
    risk_rule_out_attested_at: Mapped[datetime | None] = mapped_column(DateTime)
    initiating_visit_required: Mapped[bool] = mapped_column(Boolean, default=False)
    initiating_visit_on: Mapped[date | None] = mapped_column(Date)
    history: Mapped[str | None] = mapped_column(Text)
    patient_goals: Mapped[str | None] = mapped_column(Text)  # in the patient's own words
    next_action: Mapped[str | None] = mapped_column(String(300))
    next_action_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class EpisodeStatusChange(Voidable, Versioned, Base):
    __tablename__ = "episode_status_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    changed_on: Mapped[date] = mapped_column(Date)
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))


class Diagnosis(Versioned, Base):
    """A target condition of the episode."""

    __tablename__ = "diagnosis"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    icd10: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(String(300))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)


class Consent(Versioned, Base):
    """Patient agreement. A care manager may record it on the clinician's behalf; the clinician attests."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    team_care_explained: Mapped[bool] = mapped_column(Boolean)
    non_face_to_face_explained: Mapped[bool] = mapped_column(Boolean)
    cost_sharing_explained: Mapped[bool] = mapped_column(Boolean)
    patient_agrees: Mapped[bool] = mapped_column(Boolean)
    consent_on: Mapped[date] = mapped_column(Date)
    obtained_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    attested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    attested_at: Mapped[datetime | None] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)


class CarePlanVersion(Voidable, Versioned, Base):
    """Care plans are versioned: a change adds a version, nothing is overwritten."""

    __tablename__ = "care_plan_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    goals: Mapped[str] = mapped_column(Text)
    medication_plan: Mapped[str | None] = mapped_column(Text)
    skill_plan: Mapped[str | None] = mapped_column(Text)  # behavioral activation, problem solving…
    follow_up_cadence: Mapped[str | None] = mapped_column(String(200))
    next_checkin_on: Mapped[date | None] = mapped_column(Date)
    safety_steps: Mapped[str | None] = mapped_column(Text)
    contact_preferences: Mapped[str | None] = mapped_column(String(300))
    relapse_prevention_plan: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    signed_off_on: Mapped[date | None] = mapped_column(Date)
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class Referral(Voidable, Versioned, Base):
    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    to_whom: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    referred_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # sent | scheduled | seen | declined
    seen_confirmed_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class RiskEvent(Voidable, Versioned, Base):
    """Opened by PHQ-9 item 9 > 0, a statement or clinician concern; stays open until an outcome."""

    __tablename__ = "risk_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measure.id"))
    trigger: Mapped[str] = mapped_column(String(32))  # item9 | statement | clinician_concern
    opened_at: Mapped[datetime] = mapped_column(DateTime)  # local clinic time
    detail: Mapped[str | None] = mapped_column(Text)
    safety_assessment_done: Mapped[bool] = mapped_column(Boolean, default=False)
    clinician_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    notified_clinician_id: Mapped[int | None] = mapped_column(Integer)  # which clinician (no FK: 0013)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime)  # local clinic time
    after_hours_routing_used: Mapped[bool] = mapped_column(Boolean, default=False)
    safety_plan_done: Mapped[bool] = mapped_column(Boolean, default=False)
    # {step: reason} for each protocol step not done when the event was closed
    step_reasons: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    outcome: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime | None] = mapped_column(DateTime)
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
