"""One care manager's case-review agenda, planned from the registry: what is on it, what is not
reached, and what was carried over — shared by services.case_review (which saves it) and the
packet (which prints an unprepared session's agenda without writing it).

Decisions:
- A session reviews its care manager's caseload only (sessions from before per-care-manager
  sessions have none and cover the clinic). Only CoCM episodes go on automatically.
- Order (domain.case_review.build_agenda): safety flags first; then the patients not reached at the
  care manager's previous session; then new enrollments, not improving, medication questions,
  follow-ups.
- Carried over: the previous session's "not reached" patients, and, once it was held, the agenda
  patients it did not discuss (not dropped). A carried patient reviewed since then is not carried.
- Sized to the session (minutes // minutes per patient, kept on the session, else the clinic
  policy): patients added by hand and those already discussed always stay on; the others fill the
  remaining places in order; the rest is "not reached".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from cocm_desktop.domain import case_review as cr
from cocm_desktop.domain.policy import Policy
from cocm_desktop.store.models import AgendaItem, CaseReviewSession, Episode, Patient

from .common import load_policy


@dataclass(frozen=True)
class AgendaPlan:
    on_agenda: list[cr.AgendaItem]
    not_reached: list[cr.AgendaItem]
    capacity: int
    carried_from: dict[int, int] = field(default_factory=dict)  # episode id → earlier session id
    previous: CaseReviewSession | None = None


def session_length(review: CaseReviewSession, policy: Policy) -> tuple[int, int]:
    """(session minutes, minutes per patient): the session's own, else the clinic policy's."""
    return (review.minutes or policy.case_review_session_minutes,
            review.minutes_per_patient or policy.case_review_minutes_per_patient)


def previous_session(session: Session, review: CaseReviewSession) -> CaseReviewSession | None:
    """The same care manager's latest session before this one (None for clinic-wide sessions)."""
    if review.care_manager_id is None:
        return None
    return session.scalars(
        select(CaseReviewSession).where(CaseReviewSession.care_manager_id == review.care_manager_id,
                                        CaseReviewSession.session_on < review.session_on)
        .order_by(CaseReviewSession.session_on.desc(), CaseReviewSession.id.desc()).limit(1)).first()


def _carried(session: Session, previous: CaseReviewSession | None) -> dict[int, str]:
    """Episode id → agenda group of the patients the previous session did not reach."""
    if previous is None:
        return {}
    rows = session.execute(
        select(AgendaItem.episode_id, AgendaItem.group, AgendaItem.not_reached)
        .where(AgendaItem.session_id == previous.id, AgendaItem.removed.is_(False),
               AgendaItem.reviewed.is_(False))).all()
    return {eid: group for eid, group, not_reached in rows if not_reached or previous.held}


def plan_agenda(session: Session, review: CaseReviewSession, today, policy: Policy | None = None,  # type: ignore[no-untyped-def]
                rows=None) -> AgendaPlan:
    """The session's agenda as the rules build it today, with the saved additions, drops and
    discussed items (`rows`: the care manager's registry rows, when the caller has them)."""
    from .registry import collect

    policy = policy or load_policy(session)
    existing = {i.episode_id: i for i in session.scalars(
        select(AgendaItem).where(AgendaItem.session_id == review.id))}
    if rows is None:
        rows = collect(session, today=today, care_manager_id=review.care_manager_id, policy=policy,
                       with_billing=False)
    previous = previous_session(session, review)
    carried_groups = _carried(session, previous)
    carried_from: dict[int, int] = {}
    candidates = []
    names: dict[int, str] = {}
    for row, extras in rows:
        names[row.episode_id] = row.patient_name
        groups = cr.agenda_groups_for(
            ever_reviewed=row.last_case_review_on is not None, flags=row.flag_set,
            open_question=extras.open_question_since is not None, follow_up_requested=extras.open_loops > 0)
        group = carried_groups.get(row.episode_id)
        if group is not None and previous is not None and not (
                row.last_case_review_on is not None and row.last_case_review_on >= previous.session_on):
            groups = groups | {cr.AgendaGroup(group)}
            carried_from[row.episode_id] = previous.id
        elif row.program != "cocm":
            continue
        only_question = cr.AgendaGroup.MEDICATION_QUESTION in groups and not (
            cr.AgendaGroup.NEW in groups or cr.AgendaGroup.NOT_IMPROVING in groups)
        since = extras.open_question_since if only_question else row.enrolled_on
        candidates.append(cr.AgendaCandidate(row.episode_id, groups, row.patient_name, since))
    missing = [eid for eid in existing if eid not in names]
    if missing:  # e.g. closed, or moved to another care manager, since it was put on the agenda
        for eid, family, given in session.execute(
                select(Episode.id, Patient.family_name, Patient.given_name)
                .join(Patient, Patient.id == Episode.patient_id).where(Episode.id.in_(missing))):
            names[eid] = f"{family}, {given}"
    keep = [cr.AgendaCandidate(eid, frozenset({cr.AgendaGroup(i.group)}) if i.reviewed and not i.added_manually
                               else frozenset(), names.get(eid, ""), None)
            for eid, i in existing.items() if (i.added_manually or i.reviewed) and not i.removed]
    dropped = [eid for eid, i in existing.items() if i.removed]
    built = cr.build_agenda(candidates, added=keep, dropped=dropped, carried=carried_from)
    capacity = cr.session_capacity(*session_length(review, policy))
    on, not_reached = cr.size_agenda(built, capacity, pinned=[c.episode_id for c in keep])
    return AgendaPlan(on, not_reached, capacity, {k: v for k, v in carried_from.items()
                                                  if k in {i.episode_id for i in built}}, previous)
