"""Worklists ("needs my action"): what each role opens on after sign-in, with counts.

- treating clinician: recommendations waiting for approval (from the moment they are recorded, not
  after the registry flag's 3 days), approved medication changes the app could not apply to the list
  by itself, consents and urgent-risk rule-outs to attest, care plans to sign off, open risk events
  of their patients;
- care manager: contacts and measures due today or overdue, next actions due, approved changes to
  tell the patient, a timer left running, referrals to confirm;
- psychiatric consultant: this week's case-review agendas;
- clinic lead: billing adjustments of submitted months, backup state, users who must change their
  password.

Every category is one set-based query (or the registry's own cached rows for the care manager's
cadence, so due dates follow the same domain rules as the registry flags); nothing loops over
patients issuing queries. Rows are plain `WorkItem`s the GUI shows as they are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.case_review import LoopState
from cocm_desktop.domain.flags import phase_of
from cocm_desktop.domain.medications import ChangeAction, ProposalState
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.domain.schedule import next_contact_due, next_measure_due
from cocm_desktop.store.models import (
    AgendaItem,
    CarePlanVersion,
    CaseReviewSession,
    Consent,
    Episode,
    MedicationProposal,
    Patient,
    Recommendation,
    Referral,
    RiskEvent,
    User,
)

from . import registry
from .common import check, load_policy, local_now, local_today


class WorkKind(StrEnum):
    # treating clinician
    APPROVE_RECOMMENDATION = "approve_recommendation"
    MEDICATION_REVIEW = "medication_review"
    ATTEST = "attest"
    SIGN_OFF_PLAN = "sign_off_plan"
    RISK_EVENT = "risk_event"
    # care manager
    CONTACT_DUE = "contact_due"
    MEASURE_DUE = "measure_due"
    NEXT_ACTION = "next_action"
    TELL_PATIENT = "tell_patient"
    TIMER = "timer"
    REFERRAL = "referral"
    # psychiatric consultant
    AGENDA = "agenda"
    # clinic lead
    BILLING_ADJUSTMENT = "billing_adjustment"
    BACKUP = "backup"
    PASSWORD = "password"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    WorkKind.APPROVE_RECOMMENDATION: "Recommendations to approve",
    WorkKind.MEDICATION_REVIEW: "Medication changes to apply by hand",
    WorkKind.ATTEST: "Consent and risk rule-out to attest",
    WorkKind.SIGN_OFF_PLAN: "Care plans to sign off",
    WorkKind.RISK_EVENT: "Open risk events",
    WorkKind.CONTACT_DUE: "Contacts due",
    WorkKind.MEASURE_DUE: "Measures due",
    WorkKind.NEXT_ACTION: "Next actions due",
    WorkKind.TELL_PATIENT: "Approved changes to tell the patient",
    WorkKind.TIMER: "Unfinished timer",
    WorkKind.REFERRAL: "Referrals to confirm",
    WorkKind.AGENDA: "This week's case reviews",
    WorkKind.BILLING_ADJUSTMENT: "Billing adjustments",
    WorkKind.BACKUP: "Backup",
    WorkKind.PASSWORD: "Users who must change their password",
}

# What each role's list holds, in the order shown (safety first for the clinician).
KINDS: dict[Role, tuple[WorkKind, ...]] = {
    Role.CLINICIAN: (WorkKind.RISK_EVENT, WorkKind.APPROVE_RECOMMENDATION, WorkKind.MEDICATION_REVIEW,
                     WorkKind.ATTEST, WorkKind.SIGN_OFF_PLAN),
    Role.CARE_MANAGER: (WorkKind.TIMER, WorkKind.TELL_PATIENT, WorkKind.CONTACT_DUE, WorkKind.MEASURE_DUE,
                        WorkKind.NEXT_ACTION, WorkKind.REFERRAL),
    Role.PSYCHIATRIST: (WorkKind.AGENDA,),
    Role.CLINIC_LEAD: (WorkKind.BILLING_ADJUSTMENT, WorkKind.BACKUP, WorkKind.PASSWORD),
}


class Target(StrEnum):
    """Where double-clicking an item goes."""

    CHART = "chart"
    CASE_REVIEW = "case_review"
    BILLING = "billing"
    BACKUP = "backup"
    USERS = "users"


@dataclass(frozen=True)
class WorkItem:
    kind: WorkKind
    target: Target
    what: str  # one line: what to do
    patient_id: int | None = None
    patient_name: str = ""
    mrn: str = ""
    episode_id: int | None = None
    due_on: date | None = None  # due, or waiting since
    overdue: bool = False
    ref_id: int | None = None  # recommendation, session, … (the row the target opens on)
    ref_text: str | None = None  # e.g. the month of a billing adjustment

    @property
    def key(self) -> tuple[str, int | None, int | None, str | None]:
        return (self.kind.value, self.patient_id, self.ref_id, self.ref_text)


@dataclass(frozen=True)
class Worklist:
    role: Role
    today: date
    items: tuple[WorkItem, ...]
    backup_text: str | None = None  # the clinic lead's one-line backup state

    @property
    def counts(self) -> dict[WorkKind, int]:
        c = Counter(i.kind for i in self.items)
        return {k: c.get(k, 0) for k in KINDS.get(self.role, ())}

    @property
    def total(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class BackupState:
    """What the GUI knows of backups (services.backups.backup_status reads the folder, not the
    database): the lead's item appears when it needs action."""

    stale: bool
    text: str
    advice: str


def worklist(
    session: Session, actor: Actor, *, today: date | None = None, now: datetime | None = None,
    backup: BackupState | None = None,
) -> Worklist:
    """The acting user's list. Everyone may read theirs (READ_REGISTRY); what is in it follows
    the role."""
    check(actor, Permission.READ_REGISTRY)
    today = today or local_today()
    now = now or local_now()
    role = Role(actor.role)
    items: list[WorkItem] = []
    if role is Role.CLINICIAN:
        items += _risk_events(session, actor.user_id)
        items += _to_approve(session, actor.user_id, today)
        items += _medications_to_review(session, actor.user_id)
        items += _to_attest(session, actor.user_id)
        items += _plans_to_sign(session, actor.user_id)
    elif role is Role.CARE_MANAGER:
        items += _timer(session, actor, now)
        items += _to_tell(session, actor.user_id, today)
        items += _cadence(session, actor.user_id, today)
        items += _referrals(session, actor.user_id, today)
    elif role is Role.PSYCHIATRIST:
        items += _agendas(session, actor.user_id, today)
    elif role is Role.CLINIC_LEAD:
        items += _adjustments(session, today)
        if backup is not None and backup.stale:
            items.append(WorkItem(WorkKind.BACKUP, Target.BACKUP, f"{backup.text}. {backup.advice}",
                                  overdue=True))
        items += _passwords(session)
    order = {k: n for n, k in enumerate(KINDS.get(role, ()))}
    items.sort(key=lambda i: (order.get(i.kind, 99), i.due_on or date.max, i.patient_name.lower()))
    return Worklist(role, today, tuple(items), backup.text if backup is not None and role is Role.CLINIC_LEAD
                    else None)


# ---- shared pieces --------------------------------------------------------------------------------


def _open_episodes_of(column, user_id: int):  # type: ignore[no-untyped-def]
    """Conditions: the episode is open and `column` (clinician or care manager) is the user, on a
    patient record not voided as a duplicate (every query joins Patient)."""
    return (column == user_id, Episode.status != "closed", Patient.voided_at.is_(None))


def _name(family: str, given: str) -> str:
    return f"{family}, {given}"


def _day(value: date | datetime | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


# ---- treating clinician -------------------------------------------------------------------------


def _to_approve(session: Session, clinician_id: int, today: date) -> list[WorkItem]:
    consultant = aliased(User)
    rows = session.execute(
        select(Recommendation.id, Recommendation.kind, Recommendation.text, Recommendation.drug,
               Recommendation.dose, Recommendation.recommended_at, consultant.display_name,
               Episode.id, Patient.id, Patient.family_name, Patient.given_name, Patient.mrn)
        .join(Episode, Episode.id == Recommendation.episode_id)
        .join(Patient, Patient.id == Episode.patient_id)
        .join(consultant, consultant.id == Recommendation.recommended_by_id)
        .where(Recommendation.state == LoopState.RECOMMENDED.value, Recommendation.voided_at.is_(None),
               *_open_episodes_of(Episode.treating_clinician_id, clinician_id))
    )
    out = []
    for rid, _kind, text, drug, dose, at, by, eid, pid, fam, giv, mrn in rows:
        drug_text = " ".join(x for x in (drug, dose) if x)
        what = f"Approve, modify or decline: {text}" + (f" ({drug_text})" if drug_text else "") + f" — {by}"
        out.append(WorkItem(WorkKind.APPROVE_RECOMMENDATION, Target.CHART, what, pid, _name(fam, giv), mrn, eid,
                            _day(at), False, rid))
    return out


def _medications_to_review(session: Session, clinician_id: int) -> list[WorkItem]:
    """Approved medication changes that matched no single current line (services.medications):
    until the clinician applies or withdraws one, the medication list does not show it."""
    rows = session.execute(
        select(MedicationProposal.recommendation_id, MedicationProposal.action, MedicationProposal.drug,
               MedicationProposal.dose, MedicationProposal.note, MedicationProposal.proposed_at,
               Episode.id, Patient.id, Patient.family_name, Patient.given_name, Patient.mrn)
        .join(Episode, Episode.id == MedicationProposal.episode_id)
        .join(Patient, Patient.id == Episode.patient_id)
        .where(MedicationProposal.state == ProposalState.NEEDS_REVIEW.value,
               *_open_episodes_of(Episode.treating_clinician_id, clinician_id))
    )
    out = []
    for rid, action, drug, dose, note, at, eid, pid, fam, giv, mrn in rows:
        change = " ".join(x for x in (ChangeAction(action).label, drug, dose) if x)
        what = f"Apply by hand or withdraw: {change}" + (f" — {note}" if note else "")
        out.append(WorkItem(WorkKind.MEDICATION_REVIEW, Target.CHART, what, pid, _name(fam, giv), mrn, eid,
                            _day(at), False, rid))
    return out


def _to_attest(session: Session, clinician_id: int) -> list[WorkItem]:
    """Consent a care manager recorded on the treating clinician's behalf, and urgent-risk
    rule-outs naming this clinician that they have not confirmed yet."""
    from .enrollment import risk_rule_out_attester

    recorder = aliased(User)
    rows = session.execute(
        select(Consent.id, Consent.consent_on, recorder.display_name, Episode.id, Patient.id,
               Patient.family_name, Patient.given_name, Patient.mrn)
        .join(Episode, Episode.id == Consent.episode_id)
        .join(Patient, Patient.id == Episode.patient_id)
        .join(recorder, recorder.id == Consent.recorded_by_id)
        .where(Consent.attested_by_id.is_(None), *_open_episodes_of(Episode.treating_clinician_id, clinician_id))
    )
    out = [WorkItem(WorkKind.ATTEST, Target.CHART, f"Attest consent of {on:%Y-%m-%d} recorded by {rec_by}", pid,
                    _name(fam, giv), mrn, eid, on, False, cid, "consent")
           for cid, on, rec_by, eid, pid, fam, giv, mrn in rows]
    creator = aliased(User)
    pending = session.execute(
        select(Episode, creator.display_name, Patient.id, Patient.family_name, Patient.given_name, Patient.mrn)
        .join(Patient, Patient.id == Episode.patient_id)
        .outerjoin(creator, creator.id == Episode.created_by_id)
        .where(Episode.urgent_risk_ruled_out.is_(True), Episode.risk_rule_out_attested_by_id.is_(None),
               or_(Episode.urgent_risk_ruled_out_by_id == clinician_id, Episode.treating_clinician_id == clinician_id),
               Episode.status != "closed", Patient.voided_at.is_(None))
    )
    for episode, by, pid, fam, giv, mrn in pending:
        if risk_rule_out_attester(session, episode) != clinician_id:
            continue
        what = (f"Confirm you ruled out urgent risk at the enrollment of {episode.enrolled_on:%Y-%m-%d}"
                f" (recorded by {by or 'someone else'})")
        out.append(WorkItem(WorkKind.ATTEST, Target.CHART, what, pid, _name(fam, giv), mrn, episode.id,
                            episode.enrolled_on, False, episode.id, "risk_rule_out"))
    return out


def _plans_to_sign(session: Session, clinician_id: int) -> list[WorkItem]:
    newest = (select(CarePlanVersion.episode_id, func.max(CarePlanVersion.version).label("v"))
              .where(CarePlanVersion.voided_at.is_(None)).group_by(CarePlanVersion.episode_id).subquery())
    author = aliased(User)
    rows = session.execute(
        select(CarePlanVersion.id, CarePlanVersion.version, CarePlanVersion.created_at, author.display_name,
               Episode.id, Patient.id, Patient.family_name, Patient.given_name, Patient.mrn)
        .join(newest, (newest.c.episode_id == CarePlanVersion.episode_id) & (newest.c.v == CarePlanVersion.version))
        .join(Episode, Episode.id == CarePlanVersion.episode_id)
        .join(Patient, Patient.id == Episode.patient_id)
        .join(author, author.id == CarePlanVersion.created_by_id)
        .where(CarePlanVersion.signed_off_on.is_(None),
               *_open_episodes_of(Episode.treating_clinician_id, clinician_id))
    )
    return [
        WorkItem(WorkKind.SIGN_OFF_PLAN, Target.CHART, f"Sign off care plan version {v} by {by}", pid,
                 _name(fam, giv), mrn, eid, _day(at), False, plan_id)
        for plan_id, v, at, by, eid, pid, fam, giv, mrn in rows
    ]


def _risk_events(session: Session, clinician_id: int) -> list[WorkItem]:
    """Open risk events of the clinician's patients, and those they were notified of (covering for
    a colleague), with the protocol steps still to do."""
    notified = aliased(User)
    rows = session.execute(
        select(RiskEvent.id, RiskEvent.trigger, RiskEvent.opened_at, RiskEvent.safety_assessment_done,
               RiskEvent.safety_plan_done, RiskEvent.clinician_notified, RiskEvent.notified_clinician_id,
               RiskEvent.notified_at, notified.display_name, Episode.treating_clinician_id, Episode.id, Patient.id,
               Patient.family_name, Patient.given_name, Patient.mrn)
        .join(Episode, Episode.id == RiskEvent.episode_id)
        .join(Patient, Patient.id == Episode.patient_id)
        .outerjoin(notified, notified.id == RiskEvent.notified_clinician_id)
        .where(RiskEvent.outcome.is_(None), RiskEvent.voided_at.is_(None), Episode.status != "closed",
               Patient.voided_at.is_(None),
               or_(Episode.treating_clinician_id == clinician_id, RiskEvent.notified_clinician_id == clinician_id))
    )
    triggers = {"item9": "PHQ-9 item 9 above 0", "statement": "a statement",
                "clinician_concern": "clinician concern"}
    out = []
    for (rid, trigger, opened, assessed, plan, told, told_id, told_at, told_name, treating, eid, pid, fam, giv,
         mrn) in rows:
        missing = [w for ok, w in ((assessed, "safety assessment"), (told, "clinician notified"),
                                   (plan, "safety plan")) if not ok]
        what = f"Risk event ({triggers.get(trigger, trigger)}) opened {opened:%Y-%m-%d %H:%M}, no outcome yet"
        if told_id == clinician_id and told_at is not None:
            what += f"; you were notified {told_at:%Y-%m-%d %H:%M}"
            if treating != clinician_id:
                what += " (not your patient: covering)"
        elif told_name and told_at is not None:
            what += f"; {told_name} notified {told_at:%Y-%m-%d %H:%M}"
        if missing:
            what += "; not done: " + ", ".join(missing)
        out.append(WorkItem(WorkKind.RISK_EVENT, Target.CHART, what, pid, _name(fam, giv), mrn, eid,
                            _day(opened), True, rid))
    return out


# ---- care manager -------------------------------------------------------------------------------


def _cadence(session: Session, manager_id: int, today: date) -> list[WorkItem]:
    """Contacts and measures due today or overdue, next actions due, from the registry's rows (its
    cached, set-based facts) with the cadence rules of domain.schedule."""
    policy = load_policy(session)
    out = []
    for row, _extras in registry.collect(session, today=today, care_manager_id=manager_id, policy=policy,
                                         with_billing=False):
        f = row.facts
        phase = phase_of(f, policy)
        who = (row.patient_id, row.patient_name, row.mrn, row.episode_id)
        contact_due = next_contact_due(phase, f.last_contact_on, f.enrolled_on, policy)
        if contact_due <= today:
            since = f"last successful contact {f.last_contact_on}" if f.last_contact_on else "no contact yet"
            out.append(WorkItem(WorkKind.CONTACT_DUE, Target.CHART, f"Contact due ({since})", *who,
                                contact_due, contact_due < today))
        measure_due = next_measure_due(phase, f.latest_on, f.enrolled_on, policy)
        if measure_due <= today:
            last = f"last {f.primary_scale} {f.latest_on}" if f.latest_on else f"baseline {f.primary_scale} missing"
            out.append(WorkItem(WorkKind.MEASURE_DUE, Target.CHART, f"{f.primary_scale} due ({last})", *who,
                                measure_due, measure_due < today))
        if row.next_action_on is not None and row.next_action_on <= today:
            out.append(WorkItem(WorkKind.NEXT_ACTION, Target.CHART, row.next_action or "Next action", *who,
                                row.next_action_on, row.next_action_on < today))
    return out


def _to_tell(session: Session, manager_id: int, today: date) -> list[WorkItem]:
    rows = session.execute(
        select(Recommendation.id, Recommendation.state, Recommendation.text, Recommendation.modified_text,
               Recommendation.decided_at, Episode.id, Patient.id, Patient.family_name, Patient.given_name,
               Patient.mrn)
        .join(Episode, Episode.id == Recommendation.episode_id)
        .join(Patient, Patient.id == Episode.patient_id)
        .where(Recommendation.state.in_((LoopState.APPROVED.value, LoopState.MODIFIED.value)),
               Recommendation.voided_at.is_(None),
               *_open_episodes_of(Episode.care_manager_id, manager_id))
    )
    out = []
    for rid, state, text, modified, decided, eid, pid, fam, giv, mrn in rows:
        change = modified if state == LoopState.MODIFIED.value and modified else text
        out.append(WorkItem(WorkKind.TELL_PATIENT, Target.CHART, f"Tell the patient: {change}", pid,
                            _name(fam, giv), mrn, eid, _day(decided), False, rid))
    return out


def _timer(session: Session, actor: Actor, now: datetime) -> list[WorkItem]:
    """The user's timer left running when the app closed (the timer bar offers the choices)."""
    from .timer import current_timer

    t = current_timer(session, actor, now=now)
    if t is None or not t.stale:
        return []
    p = session.get(Patient, t.patient_id)
    name, mrn = (p.display_name, p.mrn) if p is not None else ("", "")
    return [WorkItem(WorkKind.TIMER, Target.CHART,
                     f"Timer started {t.started_at:%Y-%m-%d %H:%M} was left running: save or discard it",
                     t.patient_id, name, mrn, t.episode_id, t.started_at.date(), True)]


def _referrals(session: Session, manager_id: int, today: date) -> list[WorkItem]:
    """Referrals sent or scheduled and not confirmed seen after the policy's days (the registry's
    "referral unconfirmed" rule)."""
    cutoff = today - timedelta(days=load_policy(session).referral_unconfirmed_days)
    rows = session.execute(
        select(Referral.id, Referral.to_whom, Referral.referred_on, Referral.status, Episode.id, Patient.id,
               Patient.family_name, Patient.given_name, Patient.mrn)
        .join(Episode, Episode.id == Referral.episode_id)
        .join(Patient, Patient.id == Episode.patient_id)
        .where(Referral.status.in_(("sent", "scheduled")), Referral.seen_confirmed_on.is_(None), Referral.voided_at.is_(None),
               Referral.referred_on < cutoff, *_open_episodes_of(Episode.care_manager_id, manager_id))
    )
    return [
        WorkItem(WorkKind.REFERRAL, Target.CHART, f"Confirm the referral to {to} ({status} {on}) was seen", pid,
                 _name(fam, giv), mrn, eid, on, True, rid)
        for rid, to, on, status, eid, pid, fam, giv, mrn in rows
    ]


# ---- psychiatric consultant -----------------------------------------------------------------------


def _agendas(session: Session, consultant_id: int, today: date) -> list[WorkItem]:
    """Case-review sessions of this week (Monday to Sunday) the consultant runs, with the size of
    each agenda (patients not dropped)."""
    monday = today - timedelta(days=today.weekday())
    sunday = monday + timedelta(days=6)
    on_agenda = func.count(AgendaItem.id).filter(AgendaItem.removed.is_(False))
    left = func.count(AgendaItem.id).filter(AgendaItem.removed.is_(False), AgendaItem.reviewed.is_(False))
    rows = session.execute(
        select(CaseReviewSession.id, CaseReviewSession.session_on, CaseReviewSession.held,
               CaseReviewSession.attendees, on_agenda, left)
        .outerjoin(AgendaItem, AgendaItem.session_id == CaseReviewSession.id)
        .where(CaseReviewSession.consultant_id == consultant_id, CaseReviewSession.session_on >= monday,
               CaseReviewSession.session_on <= sunday)
        .group_by(CaseReviewSession.id)
    )
    out = []
    for sid, on, held, attendees, n, open_n in rows:
        what = f"Case review {on:%a %d %b}: {n} patient{'s' if n != 1 else ''} on the agenda"
        what += f", {open_n} not yet discussed" if n else ""
        if attendees:
            what += f" ({attendees})"
        if held:
            what += " — held"
        out.append(WorkItem(WorkKind.AGENDA, Target.CASE_REVIEW, what, due_on=on, overdue=on < today and bool(open_n),
                            ref_id=sid))
    return out


# ---- clinic lead ----------------------------------------------------------------------------------


def _adjustments(session: Session, today: date) -> list[WorkItem]:
    from .billing_submissions import find_adjustments

    return [
        WorkItem(WorkKind.BILLING_ADJUSTMENT, Target.BILLING,
                 f"{a.month}: codes {a.codes_text}, {a.minutes_text}"
                 + (f" — {a.changes[-1]}" if a.changes else ""),
                 a.patient_id, a.patient_name, a.mrn, None, a.month.last_day, False, a.submission_id, str(a.month))
        for a in find_adjustments(session, today=today)
    ]


def _passwords(session: Session) -> list[WorkItem]:
    rows = session.execute(
        select(User.id, User.username, User.display_name, User.role)
        .where(User.password_must_change.is_(True), User.active.is_(True)).order_by(User.username)
    )
    return [
        WorkItem(WorkKind.PASSWORD, Target.USERS,
                 f"{name} ({username}, {Role(role).label.lower()}) has not yet replaced the password you chose",
                 ref_id=uid, ref_text=username)
        for uid, username, name, role in rows
    ]
