"""Enrollment: opening an episode of care, consent (recorded and attested), initiating visit.

Decisions:
- An enrollment is saved only when the domain checklist (domain.episode.enrollment_problems) is
  empty: target conditions, clinician and care manager, urgent risk ruled out (by whom), initiating
  visit when required (Patient.last_seen_on: new or not seen in the look-back), the four consent
  elements with date. The new episode starts in status `enrolled` (agreement documented).
- Consent recorded by a care manager is "on the clinician's behalf": it counts as documented
  agreement but stays "awaiting attestation" until a clinician calls `attest_consent`. Consent
  recorded by a clinician is attested at once.
- Re-entry: a patient whose episodes are all closed is simply enrolled again (new episode).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cocm_desktop.domain import episode as ep
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.store.models import Consent, Diagnosis, Episode, EpisodeStatusChange, RiskEvent, User

from ._clinical import (
    OPEN_STATUS_VALUES,
    get_episode,
    get_live_patient,
    get_open_episode,
    get_row,
    staff_user,
    text,
)
from .common import ValidationError, check, load_policy, local_now, not_in_future, record


@dataclass(frozen=True)
class ConsentIn:
    team_care_explained: bool
    non_face_to_face_explained: bool
    cost_sharing_explained: bool
    patient_agrees: bool
    consent_on: date | None
    obtained_by_id: int | None = None  # who explained it (default: the treating clinician)
    note: str | None = None


@dataclass(frozen=True)
class MedicationIn:
    name: str
    dose: str
    started_on: date | None = None
    note: str | None = None
    schedule: str | None = None


class EnrollmentRefused(ValidationError):
    """The enrollment checklist is not complete; `.problems` names each form field."""

    def __init__(self, problems: Sequence[ep.EnrollmentProblem]) -> None:
        self.problems = list(problems)
        super().__init__("Enrollment is not complete: " + " ".join(p.message for p in self.problems))


@dataclass(frozen=True)
class EnrollmentResult:
    episode_id: int
    patient_id: int
    status: str
    initiating_visit_required: bool
    consent_attested: bool
    baseline_measure_id: int | None
    risk_event_id: int | None  # opened by a baseline PHQ-9 with item 9 > 0


def enroll(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    enrolled_on: date,
    program: str = "cocm",
    primary_scale: str = "PHQ-9",
    target_conditions: Sequence[ep.TargetCondition] = (),
    treating_clinician_id: int | None = None,
    care_manager_id: int | None = None,
    urgent_risk_ruled_out: bool = False,
    risk_ruled_out_by_id: int | None = None,
    initiating_visit_on: date | None = None,
    consent: ConsentIn | None = None,
    history: str | None = None,
    patient_goals: str | None = None,
    medications: Sequence[MedicationIn] = (),
    baseline_items: Sequence[int] | None = None,
    baseline_taken_at: datetime | None = None,
    next_action: str | None = None,
    next_action_on: date | None = None,
    now: datetime | None = None,
) -> EnrollmentResult:
    check(actor, Permission.ENROLL)
    check(actor, Permission.RECORD_CONSENT)
    now = now or local_now()
    policy = load_policy(session)
    patient = get_live_patient(session, patient_id)
    not_in_future(enrolled_on, "The enrollment", now)
    clinician = staff_user(session, treating_clinician_id, Role.CLINICIAN, "treating clinician") \
        if treating_clinician_id is not None else None
    manager = staff_user(session, care_manager_id, Role.CARE_MANAGER, "care manager") \
        if care_manager_id is not None else None
    ruled_by = staff_user(session, risk_ruled_out_by_id, None, "person who ruled out urgent risk") \
        if risk_ruled_out_by_id is not None else None
    consent = consent or ConsentIn(False, False, False, False, None)
    has_open = session.scalar(
        select(Episode.id).where(Episode.patient_id == patient_id, Episode.status.in_(OPEN_STATUS_VALUES))
    ) is not None
    draft = ep.EnrollmentDraft(
        enrolled_on=enrolled_on, program=program, primary_scale=primary_scale,
        target_conditions=tuple(target_conditions),
        treating_clinician=clinician.id if clinician else None,
        care_manager=manager.id if manager else None,
        urgent_risk_ruled_out=urgent_risk_ruled_out,
        risk_ruled_out_by=ruled_by.display_name if ruled_by else None,
        last_seen_on=patient.last_seen_on, initiating_visit_on=initiating_visit_on,
        consent=ep.Consent(consent.team_care_explained, consent.non_face_to_face_explained,
                           consent.cost_sharing_explained, consent.patient_agrees, consent.consent_on,
                           actor.display_name),
        has_open_episode=has_open,
    )
    problems = ep.enrollment_problems(draft, policy)
    if problems:
        raise EnrollmentRefused(problems)
    assert clinician is not None and manager is not None and ruled_by is not None
    obtained_by = staff_user(session, consent.obtained_by_id or clinician.id, None, "person who obtained consent")
    required = ep.initiating_visit_required(patient.last_seen_on, enrolled_on, policy)
    if next_action_on is not None and next_action_on < enrolled_on:
        raise ValidationError("The next action cannot be dated before the enrollment.")
    if next_action is None and next_action_on is None:
        next_action = "First follow-up contact"
        next_action_on = enrolled_on + timedelta(days=policy.early_contact_days)
    elif not (next_action or "").strip() or next_action_on is None:
        raise ValidationError("Give the next action and its date together.")

    episode = Episode(
        patient_id=patient_id, program=program, status=ep.EpisodeStatus.ENROLLED.value,
        enrolled_on=enrolled_on, primary_scale=primary_scale,
        treating_clinician_id=clinician.id, care_manager_id=manager.id,
        urgent_risk_ruled_out=True, urgent_risk_ruled_out_by_id=ruled_by.id,
        # the person named attests the rule-out; entered by them, it is attested as recorded
        risk_rule_out_attested_by_id=actor.user_id if ruled_by.id == actor.user_id else None,
        risk_rule_out_attested_at=now if ruled_by.id == actor.user_id else None,
        initiating_visit_required=required, initiating_visit_on=initiating_visit_on,
        history=text(history, "History", max_len=8000),
        patient_goals=text(patient_goals, "Patient goals", max_len=4000),
        next_action=text(next_action, "Next action", max_len=300), next_action_on=next_action_on,
        created_by_id=actor.user_id,
    )
    session.add(episode)
    session.flush()
    for n, cond in enumerate(target_conditions):
        session.add(Diagnosis(episode_id=episode.id, icd10=ep.normalize_icd10(cond.icd10),
                              description=cond.text.strip(), is_primary=n == 0))
    attested = actor.role == Role.CLINICIAN
    session.add(Consent(
        episode_id=episode.id, team_care_explained=True, non_face_to_face_explained=True,
        cost_sharing_explained=True, patient_agrees=True, consent_on=consent.consent_on,
        obtained_by_id=obtained_by.id, recorded_by_id=actor.user_id, recorded_at=now,
        attested_by_id=actor.user_id if attested else None, attested_at=now if attested else None,
        note=text(consent.note, "Consent note", max_len=2000),
    ))
    session.add(EpisodeStatusChange(
        episode_id=episode.id, from_status=None, to_status=episode.status, note="Enrolled",
        changed_on=enrolled_on, changed_by_id=actor.user_id,
    ))
    session.flush()
    record(session, actor, "episode.enroll", patient_id=patient_id, object_type="episode",
           object_id=episode.id,
           summary=f"Enrolled in {program} on {enrolled_on.isoformat()} (primary scale {primary_scale})",
           detail={"program": program, "care_manager_id": manager.id, "clinician_id": clinician.id,
                   "initiating_visit_required": required, "consent_attested": attested})

    from .medications import add_line

    for med in medications:  # what the patient takes at enrollment (no reason: recorded, not started here)
        add_line(session, actor, episode, name=med.name, dose=med.dose, schedule=med.schedule,
                 started_on=med.started_on, reason=None, note=med.note, now=now)
    baseline_id = risk_id = None
    if baseline_items is not None:
        from .measures import record_measure

        m = record_measure(session, actor, episode.id, primary_scale, baseline_items,
                           taken_at=baseline_taken_at or now, now=now)
        baseline_id, risk_id = m.id, m.risk_event_id
    return EnrollmentResult(episode.id, patient_id, episode.status, required, attested, baseline_id, risk_id)


def attest_consent(session: Session, actor: Actor, episode_id: int, *, now: datetime | None = None) -> None:
    """The clinician attests consent a care manager recorded on their behalf."""
    check(actor, Permission.ATTEST_CONSENT)
    now = now or local_now()
    episode = get_episode(session, episode_id)
    consent = session.scalars(
        select(Consent).where(Consent.episode_id == episode_id).order_by(Consent.id.desc())
    ).first()
    if consent is None:
        raise ValidationError("There is no consent on this episode to attest.")
    if consent.attested_by_id is not None:
        raise ValidationError("Consent is already attested.")
    consent.attested_by_id = actor.user_id
    consent.attested_at = now
    record(session, actor, "consent.attest", patient_id=episode.patient_id, object_type="consent",
           object_id=consent.id, summary="Consent attested by the clinician")


def risk_rule_out_attester(session: Session, episode: Episode) -> int | None:
    """Who confirms the urgent-risk rule-out: the clinician named at enrollment, or the treating
    clinician when the person named is not a clinician. None: nothing to confirm."""
    if not episode.urgent_risk_ruled_out or episode.urgent_risk_ruled_out_by_id is None:
        return None
    named = session.get(User, episode.urgent_risk_ruled_out_by_id)
    if named is not None and named.role == Role.CLINICIAN and named.active:
        return named.id
    return episode.treating_clinician_id


def _pending_rule_out(session: Session, actor: Actor, episode_id: int) -> Episode:
    check(actor, Permission.ATTEST_CONSENT)
    episode = get_open_episode(session, episode_id)
    attester = risk_rule_out_attester(session, episode)
    if attester is None:
        raise ValidationError("No urgent-risk rule-out was recorded at this enrollment.")
    if episode.risk_rule_out_attested_by_id is not None:
        raise ValidationError("The urgent-risk rule-out is already confirmed.")
    if attester != actor.user_id:
        raise ValidationError("Only the clinician named as having ruled out urgent risk can confirm it.")
    return episode


def attest_risk_rule_out(session: Session, actor: Actor, episode_id: int, *, now: datetime | None = None) -> None:
    """The clinician named at enrollment confirms they ruled out urgent risk (a care manager
    recorded it on their behalf)."""
    episode = _pending_rule_out(session, actor, episode_id)
    now = now or local_now()
    episode.risk_rule_out_attested_by_id, episode.risk_rule_out_attested_at = actor.user_id, now
    record(session, actor, "episode.risk_rule_out_attest", patient_id=episode.patient_id, object_type="episode",
           object_id=episode.id, summary="Urgent-risk rule-out confirmed by the clinician")


def decline_risk_rule_out(
    session: Session, actor: Actor, episode_id: int, *, reason: str, now: datetime | None = None,
) -> int:
    """The clinician named did not rule out urgent risk: the enrollment record is corrected (with
    the reason, kept in the history) and a risk event opens at once, the clinician notified —
    the safety protocol takes over. Returns the risk event's id."""
    from cocm_desktop.domain.corrections import CorrectionAction

    from .corrections import log_correction, reason_of

    episode = _pending_rule_out(session, actor, episode_id)
    why = reason_of(reason, CorrectionAction.AMEND)
    now = now or local_now()
    before = episode.urgent_risk_ruled_out_by_id
    episode.urgent_risk_ruled_out, episode.urgent_risk_ruled_out_by_id = False, None
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="episode", object_id=episode.id,
                   action=CorrectionAction.AMEND, reason=why,
                   changes={"urgent_risk_ruled_out": (True, False), "urgent_risk_ruled_out_by_id": (before, None)},
                   now=now, summary="Urgent-risk rule-out not confirmed by the clinician named")
    event = RiskEvent(episode_id=episode.id, trigger="clinician_concern", opened_at=now,
                      detail=f"Urgent risk was not ruled out at enrollment: {why}", opened_by_id=actor.user_id,
                      clinician_notified=True, notified_clinician_id=actor.user_id, notified_at=now)
    session.add(event)
    session.flush()
    record(session, actor, "risk.open", patient_id=episode.patient_id, object_type="risk_event",
           object_id=event.id, summary="Risk workflow opened (urgent-risk rule-out not confirmed)")
    return event.id


def record_initiating_visit(
    session: Session, actor: Actor, episode_id: int, visit_on: date, *, now: datetime | None = None
) -> None:
    """Record (or correct) the initiating visit date; it must be on or before the enrollment date."""
    check(actor, Permission.RECORD_INITIATING_VISIT)
    now = now or local_now()
    episode = get_open_episode(session, episode_id)
    not_in_future(visit_on, "The initiating visit", now)
    if visit_on > episode.enrolled_on:
        raise ValidationError("The initiating visit must be on or before the enrollment date.")
    before = episode.initiating_visit_on
    episode.initiating_visit_on = visit_on
    record(session, actor, "episode.initiating_visit", patient_id=episode.patient_id, object_type="episode",
           object_id=episode.id, summary=f"Initiating visit {visit_on.isoformat()}",
           detail={"before": before.isoformat() if before else None, "after": visit_on.isoformat()})


def update_episode_details(
    session: Session,
    actor: Actor,
    episode_id: int,
    *,
    history: str | None = None,
    patient_goals: str | None = None,
    care_manager_id: int | None = None,
    treating_clinician_id: int | None = None,
) -> None:
    """History, the patient's goals (own words), or a hand-over to another care manager/clinician."""
    check(actor, Permission.ENROLL)
    episode = get_open_episode(session, episode_id)
    changed: list[str] = []
    if history is not None:
        episode.history = text(history, "History", max_len=8000)
        changed.append("history")
    if patient_goals is not None:
        episode.patient_goals = text(patient_goals, "Patient goals", max_len=4000)
        changed.append("patient goals")
    if care_manager_id is not None and care_manager_id != episode.care_manager_id:
        episode.care_manager_id = staff_user(session, care_manager_id, Role.CARE_MANAGER, "care manager").id
        changed.append("care manager")
    if treating_clinician_id is not None and treating_clinician_id != episode.treating_clinician_id:
        episode.treating_clinician_id = staff_user(
            session, treating_clinician_id, Role.CLINICIAN, "treating clinician").id
        changed.append("treating clinician")
    if changed:
        record(session, actor, "episode.update", patient_id=episode.patient_id, object_type="episode",
               object_id=episode.id, summary="Changed: " + ", ".join(changed))


def add_target_condition(session: Session, actor: Actor, episode_id: int, condition: ep.TargetCondition) -> int:
    check(actor, Permission.ENROLL)
    episode = get_open_episode(session, episode_id)
    if not ep.is_valid_icd10(condition.icd10 or ""):
        raise ValidationError(f"Target condition: {condition.icd10!r} is not a valid ICD-10 code.")
    description = text(condition.text, "Target condition description", required=True)
    row = Diagnosis(episode_id=episode.id, icd10=ep.normalize_icd10(condition.icd10),
                    description=description, is_primary=False)
    session.add(row)
    session.flush()
    record(session, actor, "diagnosis.create", patient_id=episode.patient_id, object_type="diagnosis",
           object_id=row.id, summary=f"Target condition {row.icd10} added")
    return row.id


def remove_target_condition(session: Session, actor: Actor, diagnosis_id: int) -> None:
    check(actor, Permission.ENROLL)
    row = get_row(session, Diagnosis, diagnosis_id, "target condition")
    episode = get_open_episode(session, row.episode_id)
    remaining = session.scalar(
        select(Diagnosis.id).where(Diagnosis.episode_id == episode.id, Diagnosis.id != row.id).limit(1))
    if remaining is None:
        raise ValidationError("An episode needs at least one target condition.")
    session.delete(row)
    record(session, actor, "diagnosis.delete", patient_id=episode.patient_id, object_type="diagnosis",
           object_id=diagnosis_id, summary=f"Target condition {row.icd10} removed")
