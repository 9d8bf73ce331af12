"""Typed SQLAlchemy models: the whole schema of workflow-and-rules.md and billing.md."""

from .admin import AuditRecord, ClinicSetting, Submission
from .base import Base, Versioned, Voidable, utcnow
from .billing import BillingAdjustmentAck, BillingSubmission, BillingSubmissionLine
from .case_review import AgendaItem, CaseReviewSession, Recommendation
from .contacts import Contact, Measure
from .corrections import Correction
from .derived import RegistryFacts, TimeOverlapDay
from .episodes import (
    CarePlanVersion,
    Consent,
    Diagnosis,
    Episode,
    EpisodeStatusChange,
    Referral,
    RiskEvent,
)
from .medications import Medication, MedicationProposal
from .people import Patient, User
from .time_log import PayerRuleSet, RunningTimer, TimeEntry

__all__ = [
    "AgendaItem",
    "AuditRecord",
    "Base",
    "BillingAdjustmentAck",
    "BillingSubmission",
    "BillingSubmissionLine",
    "CarePlanVersion",
    "CaseReviewSession",
    "ClinicSetting",
    "Consent",
    "Contact",
    "Correction",
    "Diagnosis",
    "Episode",
    "EpisodeStatusChange",
    "Measure",
    "Medication",
    "MedicationProposal",
    "Patient",
    "PayerRuleSet",
    "Recommendation",
    "Referral",
    "RegistryFacts",
    "RiskEvent",
    "RunningTimer",
    "Submission",
    "TimeEntry",
    "TimeOverlapDay",
    "User",
    "Versioned",
    "Voidable",
    "utcnow",
]
