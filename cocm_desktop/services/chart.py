"""The patient chart read model for the GUI: one call, plain dataclasses, audited ("chart.open")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.episode import CloseReason, EpisodeStatus
from cocm_desktop.domain.flags import FlagHit
from cocm_desktop.domain.outcomes import Outcome, assess, format_change, pick_baseline
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import (
    CarePlanVersion,
    Consent,
    Contact,
    Diagnosis,
    Episode,
    Measure,
    Referral,
    RiskEvent,
    User,
)

from . import referrals as referrals_svc
from . import risk as risk_svc
from ._clinical import get_episode, get_patient
from .care_plans import CarePlanView, plan_view
from .case_review import RecommendationView, recommendations_for
from .common import NotFound, check, load_policy, local_today, record
from .corrections import CorrectionView, correction_history
from .enrollment import risk_rule_out_attester
from .episodes import StatusChangeView, status_history
from .medications import MedicationList, MedicationView, episode_medications
from .patients import PatientSummary, patient_summary
from .referrals import ReferralView
from .risk import RiskEventView


@dataclass(frozen=True)
class EpisodeBrief:
    id: int
    program: str
    status: str
    enrolled_on: date
    closed_on: date | None
    close_reason: str | None


@dataclass(frozen=True)
class ConsentView:
    consent_on: date
    team_care_explained: bool
    non_face_to_face_explained: bool
    cost_sharing_explained: bool
    patient_agrees: bool
    obtained_by: str
    recorded_by: str
    recorded_at: datetime
    attested_by: str | None
    attested_at: datetime | None
    note: str | None

    @property
    def awaiting_attestation(self) -> bool:
        return self.attested_by is None


@dataclass(frozen=True)
class MeasureView:
    id: int
    instrument: str
    taken_at: datetime
    items: tuple[int, ...]
    total: int
    band: str
    item9: int | None
    difficulty: int | None
    entered_by: str
    is_baseline: bool
    entered_by_id: int = 0
    voided: bool = False
    void_reason: str | None = None
    voided_by: str | None = None
    voided_at: datetime | None = None
    row_version: int = 1  # passed back as `expected_version` by an edit form (services.versions)


@dataclass(frozen=True)
class ContactView:
    id: int
    contact_at: datetime
    mode: str
    kind: str
    reached: bool
    adherence: str | None
    side_effects: str | None
    skill_practised: str | None
    summary: str | None
    next_step: str
    next_step_on: date
    question_for_consultant: str | None
    question_answered: bool
    minutes: int
    staff: str
    entered_at: datetime
    staff_id: int = 0
    voided: bool = False
    void_reason: str | None = None
    voided_by: str | None = None
    voided_at: datetime | None = None
    row_version: int = 1  # passed back as `expected_version` by an edit form (services.versions)


@dataclass(frozen=True)
class EpisodeHeader:
    id: int
    program: str
    status: str
    status_label: str
    close_reason: str | None
    close_reason_label: str | None
    closed_on: date | None
    close_note: str | None
    reentry_path: str | None
    transfer_to: str | None
    transfer_confirmed_on: date | None
    enrolled_on: date
    weeks: int
    primary_scale: str
    care_manager_id: int
    care_manager: str
    clinician_id: int
    clinician: str
    target_conditions: tuple[tuple[str, str], ...]  # (ICD-10, description), primary first
    urgent_risk_ruled_out_by: str | None
    initiating_visit_required: bool
    initiating_visit_on: date | None
    history: str | None
    patient_goals: str | None
    next_action: str | None
    next_action_on: date | None
    baseline: int | None
    baseline_on: date | None
    latest: int | None
    latest_on: date | None
    change_text: str
    outcome: Outcome
    risk_rule_out_attester_id: int | None = None  # who confirms the rule-out (the clinician named)
    risk_rule_out_attested_by: str | None = None
    risk_rule_out_attested_at: datetime | None = None
    row_version: int = 1  # passed back as `expected_version` by an edit form (services.versions)

    @property
    def initiating_visit_missing(self) -> bool:
        return self.initiating_visit_required and self.initiating_visit_on is None

    @property
    def risk_rule_out_pending(self) -> bool:
        """Urgent risk ruled out at enrollment, not yet confirmed by the clinician who confirms it."""
        return self.urgent_risk_ruled_out_by is not None and self.risk_rule_out_attested_by is None


@dataclass(frozen=True)
class Chart:
    patient: PatientSummary
    episodes: tuple[EpisodeBrief, ...]  # every episode of the patient, newest first
    episode: EpisodeHeader | None  # the one shown (None: the patient was never enrolled)
    consent: ConsentView | None
    flags: tuple[FlagHit, ...]  # registry flags of an open episode
    open_risk: tuple[RiskEventView, ...]
    risk_events: tuple[RiskEventView, ...]
    measures: tuple[MeasureView, ...]  # newest first
    contacts: tuple[ContactView, ...]  # newest first
    care_plans: tuple[CarePlanView, ...]  # newest version first
    medications: tuple[MedicationView, ...]  # the current regimen (live lines not stopped)
    referrals: tuple[ReferralView, ...]
    recommendations: tuple[RecommendationView, ...]
    status_history: tuple[StatusChangeView, ...]  # oldest first
    # Corrections: entries voided in error (they count nowhere; the chart shows them on demand,
    # struck through) and the history of every void and amendment of this patient's entries.
    voided_measures: tuple[MeasureView, ...] = ()  # newest first
    voided_contacts: tuple[ContactView, ...] = ()  # newest first
    corrections: tuple[CorrectionView, ...] = ()  # oldest first
    voided_referrals: tuple[ReferralView, ...] = ()
    voided_risk_events: tuple[RiskEventView, ...] = ()
    voided_care_plans: tuple[CarePlanView, ...] = ()  # newest version first
    voided_recommendations: tuple[RecommendationView, ...] = ()
    clinician_ids: tuple[int, ...] = ()  # treating clinicians of the patient's episodes (may amend details)
    # Every medication line with its history and the approved changes not applied yet.
    medication_list: MedicationList | None = None


def open_chart(
    session: Session, actor: Actor, *, episode_id: int | None = None, patient_id: int | None = None,
    today: date | None = None,
) -> Chart:
    """The chart of an episode, or of a patient (their open episode, else the newest one)."""
    check(actor, Permission.READ_CHART)
    today = today or local_today()
    if episode_id is None and patient_id is None:
        raise NotFound("Choose a patient or an episode to open.")
    if episode_id is not None:
        ep = get_episode(session, episode_id)
        if patient_id is not None and ep.patient_id != patient_id:
            raise NotFound("That episode belongs to another patient.")
        patient = get_patient(session, ep.patient_id)
    else:
        patient = get_patient(session, patient_id)  # type: ignore[arg-type]
        ep = None
    all_eps = list(session.scalars(select(Episode).where(Episode.patient_id == patient.id)
                                   .order_by(Episode.enrolled_on.desc(), Episode.id.desc())))
    if ep is None and all_eps:
        ep = next((e for e in all_eps if e.status != EpisodeStatus.CLOSED), all_eps[0])
    briefs = tuple(EpisodeBrief(e.id, e.program, e.status, e.enrolled_on, e.closed_on, e.close_reason)
                   for e in all_eps)
    names = _all_user_names(session)
    if ep is None:
        chart = Chart(patient_summary(session, patient, all_eps), briefs, None, None, (), (), (), (), (), (), (), (),
                      (), (), corrections=tuple(correction_history(session, patient.id, names=names)))
    else:
        chart = _episode_chart(session, patient, ep, all_eps, briefs, names, today)
    # Audited last: on the server the audit record takes the chain's head (every writer's queue,
    # store.server_write_order) until commit, so it is held for the commit only, not the reads.
    record(session, actor, "chart.open", patient_id=patient.id, object_type="episode" if ep else "patient",
           object_id=ep.id if ep else patient.id, summary="Chart opened")
    return chart


def _all_user_names(session: Session) -> dict[int, str]:
    """Every staff member's name in one statement (a clinic's staff list is short): the chart's
    parts name people from many tables, and a statement each is a network round trip on the server."""
    return {r.id: r.display_name for r in session.execute(select(User.id, User.display_name))}


def _episode_chart(  # type: ignore[no-untyped-def]
    session, patient, ep: Episode, all_eps: list[Episode], briefs, names: dict[int, str], today: date,
) -> Chart:
    policy = load_policy(session)
    every_measure = list(session.scalars(select(Measure).where(Measure.episode_id == ep.id)
                                         .order_by(Measure.taken_at.desc(), Measure.id.desc())))
    every_contact = list(session.scalars(select(Contact).where(Contact.episode_id == ep.id)
                                         .order_by(Contact.contact_at.desc(), Contact.id.desc())))
    measures = [m for m in every_measure if m.voided_at is None]
    contacts = [c for c in every_contact if c.voided_at is None]
    consent = session.scalars(select(Consent).where(Consent.episode_id == ep.id).order_by(Consent.id.desc())).first()
    meds = episode_medications(session, ep.id, names=names)
    risks = list(session.scalars(select(RiskEvent).where(RiskEvent.episode_id == ep.id)
                                 .order_by(RiskEvent.opened_at.desc())))
    refs = list(session.scalars(select(Referral).where(Referral.episode_id == ep.id)
                                .order_by(Referral.referred_on.desc(), Referral.id.desc())))
    dx = session.execute(select(Diagnosis.icd10, Diagnosis.description).where(Diagnosis.episode_id == ep.id)
                         .order_by(Diagnosis.is_primary.desc(), Diagnosis.id)).all()
    plans = list(session.scalars(select(CarePlanVersion).where(CarePlanVersion.episode_id == ep.id)
                                 .order_by(CarePlanVersion.version.desc())))

    primary = [m for m in measures if m.instrument == ep.primary_scale and m.taken_at.date() >= ep.enrolled_on]

    class _M:  # MeasureLike adapter
        __slots__ = ("m", "taken_on", "total", "instrument")

        def __init__(self, m: Measure) -> None:
            self.m, self.taken_on, self.total, self.instrument = m, m.taken_at, m.total, m.instrument

    base = pick_baseline(ep.enrolled_on, [_M(m) for m in primary], policy=policy)
    base_m = base.m if base else None
    latest = primary[0] if primary else None
    baseline_total = base_m.total if base_m else None
    latest_total = latest.total if latest else None
    outcome = assess(ep.enrolled_on, today if ep.closed_on is None else ep.closed_on, baseline_total,
                     latest_total, policy)
    change = outcome.change if latest is not None and base_m is not None and latest.id != base_m.id else None
    header = EpisodeHeader(
        id=ep.id, program=ep.program, status=ep.status, status_label=EpisodeStatus(ep.status).label,
        close_reason=ep.close_reason,
        close_reason_label=CloseReason(ep.close_reason).label if ep.close_reason else None,
        closed_on=ep.closed_on, close_note=ep.close_note, reentry_path=ep.reentry_path,
        transfer_to=ep.transfer_to, transfer_confirmed_on=ep.transfer_confirmed_on, enrolled_on=ep.enrolled_on,
        weeks=outcome.weeks, primary_scale=ep.primary_scale,
        care_manager_id=ep.care_manager_id, care_manager=names.get(ep.care_manager_id, "?"),
        clinician_id=ep.treating_clinician_id, clinician=names.get(ep.treating_clinician_id, "?"),
        target_conditions=tuple((r[0], r[1]) for r in dx),
        urgent_risk_ruled_out_by=names.get(ep.urgent_risk_ruled_out_by_id) if ep.urgent_risk_ruled_out_by_id else None,
        initiating_visit_required=bool(ep.initiating_visit_required), initiating_visit_on=ep.initiating_visit_on,
        history=ep.history, patient_goals=ep.patient_goals, next_action=ep.next_action,
        next_action_on=ep.next_action_on, baseline=baseline_total,
        baseline_on=base_m.taken_at.date() if base_m else None, latest=latest_total,
        latest_on=latest.taken_at.date() if latest else None, change_text=format_change(change), outcome=outcome,
        risk_rule_out_attester_id=risk_rule_out_attester(session, ep),
        risk_rule_out_attested_by=names.get(ep.risk_rule_out_attested_by_id) if ep.risk_rule_out_attested_by_id
        else None,
        risk_rule_out_attested_at=ep.risk_rule_out_attested_at, row_version=ep.row_version,
    )
    consent_view = None
    if consent is not None:
        consent_view = ConsentView(
            consent.consent_on, bool(consent.team_care_explained), bool(consent.non_face_to_face_explained),
            bool(consent.cost_sharing_explained), bool(consent.patient_agrees),
            names.get(consent.obtained_by_id, "?"), names.get(consent.recorded_by_id, "?"), consent.recorded_at,
            names.get(consent.attested_by_id) if consent.attested_by_id else None, consent.attested_at,
            consent.note)
    flags: tuple[FlagHit, ...] = ()
    if ep.status != EpisodeStatus.CLOSED:
        from .registry import collect

        rows = collect(session, today=today, episode_ids=[ep.id], policy=policy, with_billing=False)
        flags = rows[0][0].flags if rows else ()
    risk_views = tuple(risk_svc.view(session, r, names) for r in risks)
    live_risks = tuple(r for r in risk_views if not r.voided)
    ref_views = tuple(referrals_svc.view(r) for r in refs)
    rec_views = tuple(recommendations_for(session, ep.id, names=names))
    return Chart(
        patient=patient_summary(session, patient, all_eps), episodes=briefs, episode=header, consent=consent_view, flags=flags,
        open_risk=tuple(r for r in live_risks if r.is_open), risk_events=live_risks,
        measures=tuple(_measure_view(m, names, base_m) for m in measures),
        contacts=tuple(_contact_view(c, names) for c in contacts),
        care_plans=tuple(plan_view(session, p, names) for p in plans if p.voided_at is None),
        medications=meds.current,
        referrals=tuple(r for r in ref_views if not r.voided),
        recommendations=tuple(r for r in rec_views if not r.voided),
        status_history=tuple(status_history(session, ep.id, names=names)),
        voided_measures=tuple(_measure_view(m, names, None) for m in every_measure if m.voided_at is not None),
        voided_contacts=tuple(_contact_view(c, names) for c in every_contact if c.voided_at is not None),
        corrections=tuple(correction_history(session, patient.id, names=names)),
        clinician_ids=tuple(sorted({e.treating_clinician_id for e in all_eps})),
        medication_list=meds,
        voided_referrals=tuple(r for r in ref_views if r.voided),
        voided_risk_events=tuple(r for r in risk_views if r.voided),
        voided_care_plans=tuple(plan_view(session, p, names) for p in plans if p.voided_at is not None),
        voided_recommendations=tuple(r for r in rec_views if r.voided),
    )


def _measure_view(m: Measure, names: dict[int, str], base_m: Measure | None) -> MeasureView:
    return MeasureView(
        m.id, m.instrument, m.taken_at, tuple(m.items), m.total, m.band, m.item9, m.difficulty,
        names.get(m.entered_by_id, "?"), base_m is not None and m.id == base_m.id, m.entered_by_id,
        m.voided_at is not None, m.void_reason, names.get(m.voided_by_id) if m.voided_by_id else None, m.voided_at,
        m.row_version)


def _contact_view(c: Contact, names: dict[int, str]) -> ContactView:
    return ContactView(
        c.id, c.contact_at, c.mode, c.kind, bool(c.reached), c.adherence, c.side_effects, c.skill_practised,
        c.summary, c.next_step, c.next_step_on, c.question_for_consultant, bool(c.question_answered), c.minutes,
        names.get(c.staff_id, "?"), c.entered_at, c.staff_id,
        c.voided_at is not None, c.void_reason, names.get(c.voided_by_id) if c.voided_by_id else None, c.voided_at,
        c.row_version)
