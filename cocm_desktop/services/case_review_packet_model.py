"""What the case-review packet prints: plain frozen dataclasses, built by services.case_review_packet
and rendered by reports.case_review_packet (which never touches the database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from cocm_desktop.domain.flags import Flag
from cocm_desktop.domain.instruments import PHQ9


@dataclass(frozen=True)
class ScorePoint:
    taken_at: datetime
    total: int
    band: str
    item9: int | None = None  # PHQ-9 only


@dataclass(frozen=True)
class ItemAnswers:
    """Item-level answers of one measure (the newest), for the item table."""

    instrument: str
    taken_at: datetime
    items: tuple[int, ...]
    total: int
    band: str
    difficulty: int | None


@dataclass(frozen=True)
class ScaleSummary:
    instrument: str
    points: tuple[ScorePoint, ...]  # since enrollment, oldest first
    baseline: int | None
    baseline_on: date | None
    last: int | None
    last_on: date | None
    change_text: str  # "−52 %" / "—"
    response: str | None  # "Response", "Partial response", "No response" or None (not assessable)
    remission: bool
    target: float | None  # total that means response (baseline × (1 − response %)); None without baseline
    bands: tuple[tuple[str, int, int], ...]
    max_total: int
    latest_items: ItemAnswers | None


@dataclass(frozen=True)
class MedicationLine:
    name: str
    dose: str
    started_on: date | None
    note: str | None
    schedule: str | None = None


@dataclass(frozen=True)
class MedicationChangeLine:
    """One recent change of the regimen: started, dose changed, stopped (or recorded)."""

    on: date | None
    what: str
    name: str
    detail: str  # "50 mg daily → 100 mg daily"
    by: str
    why: str | None


@dataclass(frozen=True)
class Reported:
    """A patient report from a contact (adherence, side effects) with its date."""

    text: str
    on: date


@dataclass(frozen=True)
class ContactLine:
    at: datetime
    mode: str
    kind: str
    reached: bool
    staff: str
    skill: str | None
    summary: str | None
    next_step: str
    next_step_on: date
    minutes: int


@dataclass(frozen=True)
class SkillLine:
    skill: str
    times: int
    last_on: date


@dataclass(frozen=True)
class ReferralLine:
    to_whom: str
    reason: str
    referred_on: date
    status: str
    seen_on: date | None


@dataclass(frozen=True)
class RecommendationLine:
    session_on: date | None
    recommended_on: date
    kind: str  # label
    drug: str | None
    dose: str | None
    text: str
    state: str  # LoopState value
    state_label: str
    decided_on: date | None
    decided_by: str | None
    decision_note: str | None
    modified_text: str | None
    told_on: date | None
    told_how: str | None
    is_open: bool


@dataclass(frozen=True)
class RiskLine:
    opened_at: datetime
    trigger: str
    safety_assessment_done: bool
    clinician_notified: bool
    after_hours_routing_used: bool
    safety_plan_done: bool
    outcome: str | None
    outcome_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.outcome is None


@dataclass(frozen=True)
class Question:
    asked_on: date
    asked_by: str
    text: str


@dataclass(frozen=True)
class CarePlanSummary:
    version: int
    goals: str
    skill_plan: str | None
    follow_up_cadence: str | None
    next_checkin_on: date | None
    safety_steps: str | None
    signed_off_on: date | None


@dataclass(frozen=True)
class PacketPatient:
    position: int  # 1-based, agenda order
    group: str  # AgendaGroup value
    group_label: str
    reasons: tuple[str, ...]  # labels of every agenda group the patient qualifies for
    reason_text: str | None  # the agenda item's own reason / the care manager's note
    manual: bool
    episode_id: int
    patient_id: int
    name: str  # "Family, Given"
    mrn: str
    date_of_birth: date
    age: int
    sex: str | None
    clinician: str
    care_manager: str
    program: str
    status: str
    enrolled_on: date
    weeks: int
    primary_scale: str
    diagnoses: tuple[tuple[str, str, bool], ...]  # (ICD-10, description, primary)
    flags: tuple[tuple[str, str], ...]  # (label, reason) in display priority
    phq9: ScaleSummary
    gad7: ScaleSummary
    item9_history: tuple[tuple[date, int], ...]  # every PHQ-9 item 9 answer since enrollment
    risks: tuple[RiskLine, ...]  # newest first
    safety_steps: str | None  # from the care plan
    medications: tuple[MedicationLine, ...]  # the current regimen
    medication_changes: tuple[MedicationChangeLine, ...]  # recent changes, newest first
    medication_pending: tuple[str, ...]  # approved changes not applied yet ("Change X to Y (applies when …)")
    adherence: Reported | None  # newest reported
    side_effects: Reported | None
    contacts: tuple[ContactLine, ...]  # newest first, RECENT_CONTACTS at most
    contact_count: int
    last_contact_on: date | None
    skills: tuple[SkillLine, ...]
    referrals: tuple[ReferralLine, ...]
    recommendations: tuple[RecommendationLine, ...]  # newest first
    questions: tuple[Question, ...]  # unanswered questions for the consultant, oldest first
    care_plan: CarePlanSummary | None
    patient_goals: str | None
    next_action: str | None
    next_action_on: date | None
    last_case_review_on: date | None
    carried_from: date | None = None  # not reached at the care manager's session of that date

    @property
    def primary(self) -> ScaleSummary:
        return self.phq9 if self.primary_scale == PHQ9 else self.gad7

    @property
    def safety_flag(self) -> bool:
        return any(label == Flag.SAFETY.label for label, _ in self.flags)


@dataclass(frozen=True)
class CaseloadRow:
    care_manager: str
    open_episodes: int
    on_agenda: int
    not_improving: int
    safety: int
    contact_overdue: int
    measure_due: int
    responding: int  # primary scale at response or remission
    with_follow_up: int  # episodes with a follow-up score (denominator for `responding`)


@dataclass(frozen=True)
class NotReachedLine:
    """A patient the session has no time for: listed by name, carried first to the next session."""

    name: str
    mrn: str
    group_label: str
    reasons: tuple[str, ...]
    carried_from: date | None  # already not reached once, at that session
    weeks: int | None


@dataclass(frozen=True)
class GroupCount:
    group: str
    label: str
    count: int


@dataclass(frozen=True)
class CaseReviewPacket:
    clinic: str
    session_id: int
    session_on: date
    held: bool
    agenda_saved: bool  # False: nobody prepared the agenda yet, this is the automatic one as of `as_of`
    consultant: str
    attendees: str | None
    care_managers: tuple[str, ...]  # of the agenda patients
    as_of: date
    generated_at: datetime
    generated_by: str
    group_counts: tuple[GroupCount, ...]  # every group, agenda order (zero counts included)
    caseload: tuple[CaseloadRow, ...]
    patients: tuple[PacketPatient, ...]
    care_manager: str | None = None  # whose caseload (None: a clinic-wide session from before)
    minutes: int = 60
    minutes_per_patient: int = 6
    capacity: int = 10
    not_reached: tuple[NotReachedLine, ...] = ()

    @property
    def total_open(self) -> int:
        return sum(r.open_episodes for r in self.caseload)
