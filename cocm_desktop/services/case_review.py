"""Case review: weekly sessions, the automatic (editable) agenda and the recommendation loop.

Decisions:
- A session is one consultant's review of one care manager's caseload (a network has one a week per
  care manager, never one agenda of thousands). Its length and minutes per patient default to the
  clinic policy and are kept on the session.
- The agenda is built from the registry facts as of the day it is built, in the spec's order
  (services.case_review_agenda.plan_agenda): safety flags first, the patients not reached at the
  care manager's previous session, new enrollments (never reviewed), not improving, medication
  questions (a contact carries an unanswered question), follow-ups (a recommendation loop still
  open). What does not fit the session is saved as "not reached" and carried first into the next
  one. Only CoCM episodes are put on automatically (BHI has no consultant review); anyone may be
  added by hand. `rebuild_agenda` refreshes it and keeps manual additions, drops and items already
  discussed.
- An episode counts as "reviewed" on the session date once its agenda item is marked discussed or
  gets a recommendation. Discussing an item answers the episode's open consultant questions.
- Loop: recommended → approved | modified | declined (treating clinician) → told_patient (care
  manager or clinician; date and how) → closed; each step keeps who and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from cocm_desktop.domain import case_review as cr
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.policy import policy_fields
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.store import audit
from cocm_desktop.store.models import (
    AgendaItem,
    CaseReviewSession,
    Contact,
    Episode,
    Patient,
    Recommendation,
    User,
)
from cocm_desktop.store.versions import locked_version

from ._clinical import get_episode, get_open_episode, get_row, staff_user, user_names
from ._clinical import text as clean
from .case_review_agenda import plan_agenda, session_length
from .common import ValidationError, check, load_policy, local_now, local_today, record
from .versions import EditConflict, conflict_message, expect_version


@dataclass(frozen=True)
class AgendaEntry:
    id: int
    episode_id: int
    patient_id: int
    patient_name: str
    group: str  # domain.case_review.AgendaGroup value
    group_label: str
    reasons: tuple[str, ...]  # every group the patient qualified for (labels)
    position: int
    added_manually: bool
    removed: bool
    reviewed: bool
    discussion: str | None
    not_reached: bool = False
    carried_from: date | None = None  # the earlier session this patient was not reached at


@dataclass(frozen=True)
class ReviewSessionView:
    id: int
    session_on: date
    consultant_id: int
    consultant: str
    attendees: str | None
    notes: str | None
    held: bool
    agenda: tuple[AgendaEntry, ...]  # in agenda order; dropped items last with removed=True
    care_manager_id: int | None = None  # None: a clinic-wide session from before per-caseload sessions
    care_manager: str | None = None
    minutes: int = 60
    minutes_per_patient: int = 6
    capacity: int = 10  # patients the session has time for
    not_reached: tuple[AgendaEntry, ...] = ()  # beyond the session's length, carried to the next one


@dataclass(frozen=True)
class SessionSummary:
    """A line of the session chooser."""

    id: int
    session_on: date
    held: bool
    consultant_id: int
    consultant: str
    care_manager_id: int | None
    care_manager: str | None  # None: the whole clinic (older sessions)
    on_agenda: int
    not_reached: int


@dataclass(frozen=True)
class RecommendationView:
    id: int
    episode_id: int
    session_id: int | None
    kind: str
    kind_label: str
    drug: str | None
    dose: str | None
    text: str
    state: str
    state_label: str
    recommended_at: datetime
    recommended_by: str
    decided_at: datetime | None
    decided_by: str | None
    decision_note: str | None
    modified_text: str | None
    told_at: datetime | None
    told_by: str | None
    told_how: str | None
    closed_at: datetime | None
    recommended_by_id: int = 0
    decided_by_id: int | None = None
    told_by_id: int | None = None
    decision: str | None = None
    voided: bool = False
    void_reason: str | None = None
    voided_at: datetime | None = None
    row_version: int = 1  # passed back as `expected_version` by an edit form (services.versions)


# ---------------------------------------------------------------------------------------------
# Sessions and agenda


def _minutes(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    f = next(f for f in policy_fields() if f.name == name)
    if type(value) is not int or not f.minimum <= value <= f.maximum:
        raise ValidationError(f"{f.label} must be between {f.minimum} and {f.maximum} {f.unit}.")
    return value


def create_review_session(
    session: Session, actor: Actor, *, session_on: date, consultant_id: int, care_manager_id: int | None = None,
    minutes: int | None = None, minutes_per_patient: int | None = None, attendees: str | None = None,
    notes: str | None = None, today: date | None = None,
) -> ReviewSessionView:
    """One care manager's case-review session (a care manager setting one up: their own caseload by
    default), sized by the clinic policy unless given, with its agenda built automatically."""
    check(actor, Permission.MANAGE_CASE_REVIEW)
    consultant = staff_user(session, consultant_id, Role.PSYCHIATRIST, "psychiatric consultant")
    if care_manager_id is None and actor.role == Role.CARE_MANAGER.value:
        care_manager_id = actor.user_id
    cm = staff_user(session, care_manager_id, Role.CARE_MANAGER, "care manager whose caseload is reviewed")
    policy = load_policy(session)
    minutes = _minutes(minutes, "case_review_session_minutes") or policy.case_review_session_minutes
    per_patient = (_minutes(minutes_per_patient, "case_review_minutes_per_patient")
                   or policy.case_review_minutes_per_patient)
    if per_patient > minutes:
        raise ValidationError("The minutes per patient cannot be more than the session's length.")
    if session.scalar(select(CaseReviewSession.id).where(CaseReviewSession.care_manager_id == cm.id,
                                                         CaseReviewSession.session_on == session_on)):
        raise ValidationError(f"{cm.display_name} already has a case review on {session_on.isoformat()}.")
    row = CaseReviewSession(session_on=session_on, consultant_id=consultant.id, care_manager_id=cm.id,
                            minutes=minutes, minutes_per_patient=per_patient,
                            attendees=clean(attendees, "Attendees", max_len=2000),
                            notes=clean(notes, "Notes", max_len=8000), created_by_id=actor.user_id)
    session.add(row)
    session.flush()
    record(session, actor, "case_review.create", object_type="case_review_session", object_id=row.id,
           summary=f"Case review on {session_on.isoformat()} set up ({minutes} minutes)")
    _sync_agenda(session, row, today or local_today())
    return review_view(session, row)


def rebuild_agenda(session: Session, actor: Actor, review_id: int, *, today: date | None = None) -> ReviewSessionView:
    check(actor, Permission.MANAGE_CASE_REVIEW)
    row = get_row(session, CaseReviewSession, review_id, "case review")
    _sync_agenda(session, row, today or local_today())
    record(session, actor, "case_review.agenda", object_type="case_review_session", object_id=row.id,
           summary="Agenda rebuilt")
    return review_view(session, row)


def prepare_agendas(session: Session, review_ids: list[int], *, today: date, by: str = "system",
                    summary: str = "Agenda built automatically") -> None:
    """Build saved agendas with no one signed in (the demo generator): audited as `by`, never as a
    person who has not signed in."""
    for review_id in review_ids:
        row = get_row(session, CaseReviewSession, review_id, "case review")
        _sync_agenda(session, row, today)
        audit.append(session, user_id=None, username=by, action="case_review.agenda",
                     object_type="case_review_session", object_id=row.id, summary=summary)


def add_to_agenda(
    session: Session, actor: Actor, review_id: int, episode_id: int, *, reason: str | None = None,
    today: date | None = None,
) -> ReviewSessionView:
    """The care manager adds a patient; a previously dropped patient comes back."""
    check(actor, Permission.MANAGE_CASE_REVIEW)
    row = get_row(session, CaseReviewSession, review_id, "case review")
    episode = get_open_episode(session, episode_id)
    existing = session.scalars(select(AgendaItem).where(
        AgendaItem.session_id == row.id, AgendaItem.episode_id == episode.id)).first()
    if existing is not None and not existing.removed and not existing.not_reached:
        raise ValidationError("This patient is already on the agenda.")
    if existing is not None:  # dropped earlier, or not reached: the care manager makes room
        existing.removed = False
        existing.not_reached = False
        existing.added_manually = True
    else:
        session.add(AgendaItem(session_id=row.id, episode_id=episode.id, group=cr.AgendaGroup.FOLLOW_UP.value,
                               position=9999, reason=clean(reason, "Reason", max_len=300), added_manually=True))
    session.flush()
    _sync_agenda(session, row, today or local_today())
    record(session, actor, "case_review.agenda_add", patient_id=episode.patient_id,
           object_type="case_review_session", object_id=row.id, summary="Patient added to the agenda")
    return review_view(session, row)


def drop_from_agenda(session: Session, actor: Actor, agenda_item_id: int, *, today: date | None = None) -> ReviewSessionView:
    check(actor, Permission.MANAGE_CASE_REVIEW)
    item = get_row(session, AgendaItem, agenda_item_id, "agenda item")
    if item.reviewed:
        raise ValidationError("This patient was already discussed; the item stays on the agenda.")
    if item.removed:
        raise ValidationError("This patient is already dropped from the agenda.")
    item.removed = True
    row = get_row(session, CaseReviewSession, item.session_id, "case review")
    session.flush()
    _sync_agenda(session, row, today or local_today())
    record(session, actor, "case_review.agenda_drop", patient_id=get_episode(session, item.episode_id).patient_id,
           object_type="agenda_item", object_id=item.id, summary="Patient dropped from the agenda")
    return review_view(session, row)


def mark_discussed(
    session: Session, actor: Actor, agenda_item_id: int, *, discussion: str | None = None,
    expected_reviewed: bool | None = None,
) -> AgendaEntry:
    """The patient was discussed: counts as reviewed on the session date; open questions answered.

    `expected_reviewed`: whether the pane showed the patient as discussed already (None: not
    shown). Someone else's discussion saved since is refused, not written over. Compared by
    value, not row version: an agenda entry's row also moves whenever the agenda is rebuilt or a
    patient added (positions), which would refuse for nothing."""
    check(actor, Permission.MANAGE_CASE_REVIEW)
    item = get_row(session, AgendaItem, agenda_item_id, "agenda item")
    if expected_reviewed is not None:
        locked_version(session, item)  # held to the commit (and reloaded if it moved)
        if bool(item.reviewed) != expected_reviewed:
            raise EditConflict(conflict_message(session, actor, item, action="case_review.discussed"))
    if item.removed:
        raise ValidationError("This patient was dropped from the agenda; add them back first.")
    _discussed(session, item, clean(discussion, "Discussion", max_len=8000))
    episode = get_episode(session, item.episode_id)
    record(session, actor, "case_review.discussed", patient_id=episode.patient_id, object_type="agenda_item",
           object_id=item.id, summary="Discussed at case review")
    return next(e for e in review_view(session, session.get(CaseReviewSession, item.session_id)).agenda
                if e.id == item.id)


def _discussed(session: Session, item: AgendaItem, discussion: str | None) -> None:
    item.reviewed = True
    if item.not_reached:  # discussed after all: on the agenda, where the care manager put it
        item.not_reached = False
        item.added_manually = True
    if discussion:
        item.discussion = discussion
    sess = session.get(CaseReviewSession, item.session_id)
    if sess is not None:
        sess.held = True
    session.execute(update(Contact).where(
        Contact.episode_id == item.episode_id, Contact.question_for_consultant.is_not(None),
        Contact.question_answered.is_(False)).values(
        question_answered=True, row_version=Contact.row_version + 1))  # a bulk UPDATE: versions by hand


def _sync_agenda(session: Session, review: CaseReviewSession, today: date) -> None:
    """Save the planned agenda: positions in agenda order, then the not-reached list after it."""
    existing = {i.episode_id: i for i in session.scalars(select(AgendaItem).where(AgendaItem.session_id == review.id))}
    plan = plan_agenda(session, review, today)
    ordered = [(e, False) for e in plan.on_agenda] + [(e, True) for e in plan.not_reached]
    for pos, (entry, not_reached) in enumerate(ordered, start=1):
        item = existing.pop(entry.episode_id, None)
        reasons = ", ".join(g.label for g in entry.reasons)
        carried = plan.carried_from.get(int(entry.episode_id))
        if item is None:
            session.add(AgendaItem(session_id=review.id, episode_id=entry.episode_id, group=entry.group.value,
                                   position=pos, reason=reasons, added_manually=False, not_reached=not_reached,
                                   carried_from_id=carried))
        else:
            item.group, item.position, item.not_reached, item.carried_from_id = (
                entry.group.value, pos, not_reached, carried)
            if not item.added_manually or not item.reason:
                item.reason = reasons
    for item in existing.values():  # automatic items no longer qualifying, never discussed
        if item.removed:
            item.position = 10_000 + item.id
        else:
            session.delete(item)
    session.flush()


def review_view(session: Session, row: CaseReviewSession) -> ReviewSessionView:
    carried = aliased(CaseReviewSession)
    items = session.execute(
        select(AgendaItem, Episode.patient_id, Patient.family_name, Patient.given_name, carried.session_on)
        .join(Episode, Episode.id == AgendaItem.episode_id).join(Patient, Patient.id == Episode.patient_id)
        .outerjoin(carried, carried.id == AgendaItem.carried_from_id)
        .where(AgendaItem.session_id == row.id).order_by(AgendaItem.removed, AgendaItem.position, AgendaItem.id)
    ).all()
    names = user_names(session, {row.consultant_id, row.care_manager_id})
    entries = [
        AgendaEntry(i.id, i.episode_id, pid, f"{fam}, {giv}", i.group, cr.AgendaGroup(i.group).label,
                    tuple(r.strip() for r in (i.reason or "").split(",") if r.strip()), i.position,
                    bool(i.added_manually), bool(i.removed), bool(i.reviewed), i.discussion,
                    bool(i.not_reached), carried_on)
        for i, pid, fam, giv, carried_on in items
    ]
    minutes, per_patient = session_length(row, load_policy(session))
    return ReviewSessionView(
        row.id, row.session_on, row.consultant_id, names.get(row.consultant_id, "?"), row.attendees, row.notes,
        bool(row.held), tuple(e for e in entries if not e.not_reached or e.removed),
        care_manager_id=row.care_manager_id,
        care_manager=names.get(row.care_manager_id) if row.care_manager_id else None,
        minutes=minutes, minutes_per_patient=per_patient, capacity=cr.session_capacity(minutes, per_patient),
        not_reached=tuple(e for e in entries if e.not_reached and not e.removed))


def get_review_session(session: Session, actor: Actor, review_id: int) -> ReviewSessionView:
    check(actor, Permission.READ_REGISTRY)
    return review_view(session, get_row(session, CaseReviewSession, review_id, "case review"))


def list_review_sessions(
    session: Session, actor: Actor, *, care_manager_id: int | None = None, consultant_id: int | None = None,
    limit: int = 60,
) -> list[SessionSummary]:
    """Sessions, newest first, of one care manager and/or one consultant when given."""
    check(actor, Permission.READ_REGISTRY)
    cm, psych = aliased(User), aliased(User)
    q = (select(CaseReviewSession.id, CaseReviewSession.session_on, CaseReviewSession.held,
                CaseReviewSession.consultant_id, psych.display_name, CaseReviewSession.care_manager_id,
                cm.display_name)
         .join(psych, psych.id == CaseReviewSession.consultant_id)
         .outerjoin(cm, cm.id == CaseReviewSession.care_manager_id))
    if care_manager_id is not None:
        q = q.where(CaseReviewSession.care_manager_id == care_manager_id)
    if consultant_id is not None:
        q = q.where(CaseReviewSession.consultant_id == consultant_id)
    rows = session.execute(q.order_by(CaseReviewSession.session_on.desc(), cm.display_name,
                                      CaseReviewSession.id.desc()).limit(limit)).all()
    counts: dict[tuple[int, bool], int] = {}
    if rows:
        for sid, not_reached, n in session.execute(
                select(AgendaItem.session_id, AgendaItem.not_reached, func.count())
                .where(AgendaItem.session_id.in_([r[0] for r in rows]), AgendaItem.removed.is_(False))
                .group_by(AgendaItem.session_id, AgendaItem.not_reached)):
            counts[(sid, bool(not_reached))] = n
    return [SessionSummary(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6], counts.get((r[0], False), 0),
                           counts.get((r[0], True), 0)) for r in rows]


# ---------------------------------------------------------------------------------------------
# Recommendations


def recommendation_view(session: Session, r: Recommendation, names: dict[int, str] | None = None) -> RecommendationView:
    names = names if names is not None else user_names(
        session, {r.recommended_by_id, r.decided_by_id, r.told_by_id})
    state = cr.LoopState(r.state)
    return RecommendationView(
        r.id, r.episode_id, r.session_id, r.kind, cr.RecommendationKind(r.kind).label, r.drug, r.dose, r.text,
        r.state, state.label, r.recommended_at, names.get(r.recommended_by_id, "?"), r.decided_at,
        names.get(r.decided_by_id) if r.decided_by_id else None, r.decision_note, r.modified_text, r.told_at,
        names.get(r.told_by_id) if r.told_by_id else None, r.told_how, r.closed_at,
        r.recommended_by_id, r.decided_by_id, r.told_by_id, r.decision, r.voided_at is not None, r.void_reason,
        r.voided_at, r.row_version,
    )


def recommendations_for(
    session: Session, episode_id: int, *, names: dict[int, str] | None = None,
) -> list[RecommendationView]:
    """Newest first (no permission/audit: the chart service calls it). `names`: user names
    already read (the chart reads them once for all its parts)."""
    rows = list(session.scalars(select(Recommendation).where(Recommendation.episode_id == episode_id)
                                .order_by(Recommendation.recommended_at.desc(), Recommendation.id.desc())))
    if names is None:
        ids = set()
        for r in rows:
            ids |= {r.recommended_by_id, r.decided_by_id, r.told_by_id}
        names = user_names(session, ids)
    return [recommendation_view(session, r, names) for r in rows]


def record_recommendation(
    session: Session, actor: Actor, episode_id: int, *, kind: str, text: str, drug: str | None = None,
    dose: str | None = None, agenda_item_id: int | None = None, now: datetime | None = None,
) -> RecommendationView:
    """The psychiatric consultant's recommendation (medication kinds name the drug; start/change the dose)."""
    check(actor, Permission.RECORD_RECOMMENDATION)
    now = now or local_now()
    episode = get_open_episode(session, episode_id)
    try:
        cr.check_recommendation(kind, drug, dose)
    except cr.RecommendationError as exc:
        raise ValidationError(str(exc)) from None
    body = clean(text, "Recommendation", required=True, max_len=8000)
    item = None
    if agenda_item_id is not None:
        item = get_row(session, AgendaItem, agenda_item_id, "agenda item")
        if item.episode_id != episode.id:
            raise ValidationError("The agenda item is for another patient.")
    row = Recommendation(
        session_id=item.session_id if item else None, agenda_item_id=item.id if item else None,
        episode_id=episode.id, kind=kind, drug=clean(drug, "Drug", max_len=200), dose=clean(dose, "Dose", max_len=120),
        text=body, state=cr.LoopState.RECOMMENDED.value, recommended_at=now, recommended_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    if item is not None:
        _discussed(session, item, None)
    record(session, actor, "recommendation.create", patient_id=episode.patient_id, object_type="recommendation",
           object_id=row.id, summary=f"Recommendation: {cr.RecommendationKind(kind).label}")
    return recommendation_view(session, row)


def _step(session: Session, actor: Actor, rec_id: int, to: cr.LoopState, expected_version: int | None,
          **kw: str | None) -> Recommendation:
    """The recommendation, refused when it is not where the person read it (`expected_version`:
    e.g. the consultant amended the text the clinician is approving; services.versions) or the
    loop cannot take this step."""
    row = get_row(session, Recommendation, rec_id, "recommendation")
    expect_version(session, actor, row, expected_version)
    if row.voided_at is not None:
        raise ValidationError("This recommendation was voided (entered in error); it counts nowhere.")
    try:
        cr.loop_transition(row.state, to, actor.role, **kw)
    except cr.RecommendationError as exc:
        raise ValidationError(str(exc)) from None
    return row


def decide_recommendation(
    session: Session, actor: Actor, rec_id: int, decision: str, *, note: str | None = None,
    modified_text: str | None = None, now: datetime | None = None, drug: str | None = None,
    dose: str | None = None, schedule: str | None = None, expected_version: int | None = None,
) -> RecommendationView:
    """The treating clinician approves, modifies (say what changed) or declines. An approved or
    modified medication recommendation proposes its change to the medication list (`drug`, `dose`,
    `schedule`: the clinician's modification of it), applied now or when the patient is told
    (services.medications, clinic policy). `expected_version`: the `row_version` the clinician read
    (None: not shown first) — a recommendation changed since is not decided."""
    check(actor, Permission.DECIDE_RECOMMENDATION)
    now = now or local_now()
    try:
        to = cr.LoopState(decision)
    except ValueError:
        raise ValidationError("Decide with approved, modified or declined.") from None
    if to not in (cr.LoopState.APPROVED, cr.LoopState.MODIFIED, cr.LoopState.DECLINED):
        raise ValidationError("Decide with approved, modified or declined.")
    what = modified_text if to is cr.LoopState.MODIFIED else note
    row = _step(session, actor, rec_id, to, expected_version, note=what)
    row.state = row.decision = to.value
    row.decided_at, row.decided_by_id = now, actor.user_id
    row.decision_note = clean(note, "Decision note", max_len=4000)
    if to is cr.LoopState.MODIFIED:
        row.modified_text = clean(modified_text, "Modified recommendation", required=True, max_len=8000)
    episode = get_episode(session, row.episode_id)
    record(session, actor, "recommendation.decide", patient_id=episode.patient_id, object_type="recommendation",
           object_id=row.id, summary=f"Recommendation {to.label.lower()}")
    from .medications import propose_from_recommendation

    propose_from_recommendation(session, actor, row, now, drug=drug, dose=dose, schedule=schedule)
    return recommendation_view(session, row)


def tell_patient(
    session: Session, actor: Actor, rec_id: int, *, how: str, told_at: datetime | None = None,
    expected_version: int | None = None, now: datetime | None = None,
) -> RecommendationView:
    """The patient was told the decision (`expected_version` as for `decide_recommendation`: the
    patient is told what the person read, not a decision changed since)."""
    check(actor, Permission.CLOSE_LOOP)
    now = now or local_now()
    told_at = told_at or now
    row = _step(session, actor, rec_id, cr.LoopState.TOLD_PATIENT, expected_version, told_how=how)
    if told_at > now:
        raise ValidationError("The patient cannot be told in the future; check the date.")
    if row.decided_at is not None and told_at < row.decided_at:
        raise ValidationError("The patient cannot be told before the clinician decided.")
    row.state = cr.LoopState.TOLD_PATIENT.value
    row.told_at, row.told_by_id, row.told_how = told_at, actor.user_id, how
    episode = get_episode(session, row.episode_id)
    record(session, actor, "recommendation.told", patient_id=episode.patient_id, object_type="recommendation",
           object_id=row.id, summary=f"Patient told ({how})")
    from .medications import apply_on_told

    apply_on_told(session, actor, row, now)
    return recommendation_view(session, row)


def close_recommendation(session: Session, actor: Actor, rec_id: int, *, expected_version: int | None = None,
                         now: datetime | None = None) -> RecommendationView:
    check(actor, Permission.CLOSE_LOOP)
    now = now or local_now()
    row = _step(session, actor, rec_id, cr.LoopState.CLOSED, expected_version)
    row.state = cr.LoopState.CLOSED.value
    row.closed_at = now
    episode = get_episode(session, row.episode_id)
    record(session, actor, "recommendation.close", patient_id=episode.patient_id, object_type="recommendation",
           object_id=row.id, summary="Recommendation loop closed")
    return recommendation_view(session, row)
