"""The printed case-review packet: everything the psychiatric consultant reads on paper, as plain data.

`packet_data(session, actor, session_id=… | on_date=…)` → `CaseReviewPacket` (frozen dataclasses);
`cocm_desktop.reports.case_review_packet.build_case_review_packet(packet)` turns it into a PDF.

Decisions:
- Permission READ_CHART: every role may print the packet (it is the team's working paper); printing
  is audited as a report ("report.case_review_packet") listing the patients it contains.
- Session choice: `session_id`, else the session on `on_date`, else the next session on/after
  today, else the latest one — of `care_manager_id` when given. Several sessions on one date (one
  per care manager): the actor's own caseload first, else the first care manager by name.
- One session, one care manager's caseload: the agenda, the "not reached" list (names and
  reasons only, carried to the next session) and that care manager's caseload line.
- Agenda: the agenda saved for the session (services.case_review: automatic items + the care
  manager's additions, minus drops), in agenda order. A session nobody has prepared yet (nothing
  saved, not held) gets the automatic agenda planned in memory by the same code as
  services.case_review (services.case_review_agenda) — printing never writes the agenda.
- Figures are as of `today` (the printing day), the same numbers the registry shows that day:
  weeks in treatment, baseline/last scores and flags come from services.registry.collect.
- Set-based: one query per fact family for all agenda episodes (measures, contacts, medications,
  referrals, recommendations, risk events, diagnoses, care plans), never one per patient.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from cocm_desktop.domain import case_review as cr
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.case_review import AgendaGroup, LoopState, RecommendationKind
from cocm_desktop.domain.flags import Flag
from cocm_desktop.domain.instruments import GAD7, PHQ9, bands, max_total
from cocm_desktop.domain.medications import ProposalState, describe
from cocm_desktop.domain.outcomes import classify_response, is_remission
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import (
    AgendaItem,
    CarePlanVersion,
    CaseReviewSession,
    Contact,
    Diagnosis,
    Episode,
    Measure,
    Medication,
    MedicationProposal,
    Patient,
    Recommendation,
    Referral,
    RiskEvent,
    User,
)

from ._perf import without_gc
from .case_review_agenda import plan_agenda, session_length
from .case_review_packet_model import (
    CarePlanSummary,
    CaseloadRow,
    CaseReviewPacket,
    ContactLine,
    GroupCount,
    ItemAnswers,
    MedicationChangeLine,
    MedicationLine,
    NotReachedLine,
    PacketPatient,
    Question,
    RecommendationLine,
    ReferralLine,
    Reported,
    RiskLine,
    ScaleSummary,
    ScorePoint,
    SkillLine,
)
from .common import NotFound, check, clinic_name, load_policy, local_now, local_today, record
from .medications import RECENT_CHANGE_DAYS, changes_of, line_view

RECENT_CONTACTS = 5  # contacts printed per patient (newest first)
RECENT_CHANGES = 6  # medication changes printed per patient (newest first, last RECENT_CHANGE_DAYS)


# ---------------------------------------------------------------------------------------------
# Session choice and agenda


def pick_session(session: Session, *, session_id: int | None = None, on_date: date | None = None,
                 today: date | None = None, care_manager_id: int | None = None,
                 prefer_user_id: int | None = None) -> CaseReviewSession:
    if session_id is not None:
        row = session.get(CaseReviewSession, session_id)
        if row is None:
            raise NotFound(f"No case-review session with id {session_id}.")
        return row
    cm = aliased(User)
    q = select(CaseReviewSession).outerjoin(cm, cm.id == CaseReviewSession.care_manager_id)
    if care_manager_id is not None:
        q = q.where(CaseReviewSession.care_manager_id == care_manager_id)
    whose = "" if care_manager_id is None else " for that care manager"
    # Among sessions on one day: the actor's own caseload (or consultation), then by care manager.
    mine = [] if prefer_user_id is None else [
        (CaseReviewSession.care_manager_id != prefer_user_id), (CaseReviewSession.consultant_id != prefer_user_id)]
    by_cm = [*mine, cm.display_name, CaseReviewSession.id]
    if on_date is not None:
        row = session.scalars(q.where(CaseReviewSession.session_on == on_date).order_by(*by_cm)).first()
        if row is None:
            raise NotFound(f"No case-review session{whose} on {on_date.isoformat()}.")
        return row
    today = today or local_today()
    row = session.scalars(q.where(CaseReviewSession.session_on >= today)
                          .order_by(CaseReviewSession.session_on, *by_cm)).first()
    if row is None:
        row = session.scalars(q.order_by(CaseReviewSession.session_on.desc(), *by_cm)).first()
    if row is None:
        raise NotFound(f"There is no case-review session{whose} yet; schedule one first.")
    return row


def sessions_on(session: Session, on: date) -> int:
    """How many sessions (one per care manager) a day has."""
    return int(session.scalar(select(func.count()).select_from(CaseReviewSession)
                              .where(CaseReviewSession.session_on == on)) or 0)


@dataclass(frozen=True)
class _Entry:
    episode_id: int
    group: str
    reasons: tuple[str, ...]  # AgendaGroup values
    reason_text: str | None
    manual: bool
    carried_from: date | None = None


_GROUP_ORDER = {g.value: n for n, g in enumerate(AgendaGroup)}


def _stored_agenda(session: Session, crs: CaseReviewSession) -> tuple[list[_Entry], list[_Entry]]:
    """The agenda saved for the session (automatic items + additions, without drops) in the order
    it was saved, and its not-reached list."""
    carried = aliased(CaseReviewSession)
    rows = session.execute(
        select(AgendaItem.episode_id, AgendaItem.group, AgendaItem.position, AgendaItem.reason,
               AgendaItem.added_manually, AgendaItem.id, AgendaItem.not_reached, carried.session_on)
        .outerjoin(carried, carried.id == AgendaItem.carried_from_id)
        .where(AgendaItem.session_id == crs.id, AgendaItem.removed.is_(False))
    ).all()
    # Agenda order as domain.case_review builds it: safety, carried over, then by group.
    rows = sorted(rows, key=lambda r: (0 if r[1] == AgendaGroup.SAFETY.value else 1 if r[7] else 2,
                                       _GROUP_ORDER.get(r[1], 99), r[2], r[5]))
    out = [_Entry(r[0], r[1], (r[1],), r[3], bool(r[4]), r[7]) for r in rows if not r[6]]
    return out, [_Entry(r[0], r[1], (r[1],), r[3], bool(r[4]), r[7]) for r in rows if r[6]]


def _automatic_agenda(session: Session, crs: CaseReviewSession, today: date, policy, rows: list  # type: ignore[no-untyped-def,type-arg]
                      ) -> tuple[list[_Entry], list[_Entry]]:
    """The agenda the case-review service would build today (the same planning code), kept in
    memory: printing never writes the agenda. Used when nobody has prepared the session yet."""
    plan = plan_agenda(session, crs, today, policy, rows=rows)
    carried_on = {plan.previous.id: plan.previous.session_on} if plan.previous is not None else {}

    def entry(i: cr.AgendaItem) -> _Entry:
        return _Entry(int(i.episode_id), i.group.value, tuple(g.value for g in i.reasons), None, i.manual,
                      carried_on.get(plan.carried_from.get(int(i.episode_id), -1)))

    return [entry(i) for i in plan.on_agenda], [entry(i) for i in plan.not_reached]


# ---------------------------------------------------------------------------------------------
# Assembly


def _day(v: date | datetime | None) -> date | None:
    if v is None:
        return None
    return v.date() if isinstance(v, datetime) else v


def _age(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _group_label(value: str) -> str:
    try:
        return AgendaGroup(value).label
    except ValueError:
        return value.replace("_", " ").capitalize()


def _kind_label(value: str) -> str:
    try:
        return RecommendationKind(value).label
    except ValueError:
        return value.replace("_", " ").capitalize()


def _state_label(value: str) -> str:
    try:
        return LoopState(value).label
    except ValueError:
        return value


def _by_episode(rows: Iterable, key: int = 0) -> dict[int, list]:  # type: ignore[type-arg]
    out: dict[int, list] = defaultdict(list)  # type: ignore[type-arg]
    for r in rows:
        out[r[key]].append(r)
    return out


@without_gc
def packet_data(
    session: Session,
    actor: Actor,
    session_id: int | None = None,
    on_date: date | None = None,
    *,
    care_manager_id: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> CaseReviewPacket:
    """Everything the printed packet shows for one case-review session (audited as a report)."""
    check(actor, Permission.READ_CHART)
    from .registry import collect

    now = now or local_now()
    today = today or local_today()
    policy = load_policy(session)
    crs = pick_session(session, session_id=session_id, on_date=on_date, today=today,
                       care_manager_id=care_manager_id, prefer_user_id=actor.user_id)
    # Registry rows of the session's caseload: the agenda patients' figures and the caseload line.
    all_rows = collect(session, today=today, policy=policy, with_billing=False,
                       care_manager_id=crs.care_manager_id)
    entries, not_reached = _stored_agenda(session, crs)
    agenda_saved = bool(entries or not_reached)
    if not agenda_saved and not crs.held:
        entries, not_reached = _automatic_agenda(session, crs, today, policy, all_rows)
    ids = [e.episode_id for e in entries]
    reg = {row.episode_id: row for row, _extras in all_rows}
    missing = [i for i in ids if i not in reg]  # e.g. closed since it was put on the agenda
    if missing:
        reg.update({row.episode_id: row for row, _ in collect(session, today=today, policy=policy,
                                                                 episode_ids=missing, with_billing=False,
                                                                 status=None)})
    episodes = {e.id: e for e in session.scalars(select(Episode).where(Episode.id.in_(ids)))} if ids else {}
    patients = {p.id: p for p in session.scalars(
        select(Patient).where(Patient.id.in_([e.patient_id for e in episodes.values()])))} if ids else {}
    names = dict(session.execute(select(User.id, User.display_name)).all())

    facts = _facts(session, ids)
    patients_out: list[PacketPatient] = []
    for pos, entry in enumerate(entries, start=1):
        ep = episodes.get(entry.episode_id)
        if ep is None:
            continue
        pt = patients[ep.patient_id]
        row = reg.get(ep.id)
        patients_out.append(_patient(pos, entry, ep, pt, row, facts, names, today, policy))

    consultant = names.get(crs.consultant_id, "?")
    cms = tuple(dict.fromkeys(p.care_manager for p in patients_out))
    if crs.care_manager_id is not None:
        cms = (names.get(crs.care_manager_id, "?"),)
    minutes, per_patient = session_length(crs, policy)
    not_reached_out = _not_reached(session, not_reached, reg)
    counts: dict[str, int] = defaultdict(int)
    for p in patients_out:
        counts[p.group] += 1
    group_counts = tuple(GroupCount(g.value, g.label, counts.get(g.value, 0)) for g in AgendaGroup)

    packet = CaseReviewPacket(
        clinic=clinic_name(session), session_id=crs.id, session_on=crs.session_on, held=bool(crs.held),
        agenda_saved=agenda_saved,
        consultant=consultant, attendees=crs.attendees, care_managers=cms, as_of=today, generated_at=now,
        generated_by=actor.display_name, group_counts=group_counts,
        care_manager=names.get(crs.care_manager_id) if crs.care_manager_id else None, minutes=minutes,
        minutes_per_patient=per_patient, capacity=cr.session_capacity(minutes, per_patient),
        not_reached=not_reached_out,
        caseload=_caseload([r for r, _ in all_rows], set(ids), policy), patients=tuple(patients_out),
    )
    record(session, actor, "report.case_review_packet", object_type="case_review_session", object_id=crs.id,
           summary=f"Case-review packet for {crs.session_on.isoformat()} printed ({len(patients_out)} patients)",
           detail={"patient_ids": [p.patient_id for p in patients_out],
                   "episode_ids": [p.episode_id for p in patients_out]})
    return packet


def _not_reached(session: Session, entries: list[_Entry], reg: dict) -> tuple[NotReachedLine, ...]:  # type: ignore[type-arg]
    """Names and reasons only: these patients get their pages at the next session."""
    if not entries:
        return ()
    ids = [e.episode_id for e in entries]
    who = {eid: (f"{fam}, {giv}", mrn) for eid, fam, giv, mrn in session.execute(
        select(Episode.id, Patient.family_name, Patient.given_name, Patient.mrn)
        .join(Patient, Patient.id == Episode.patient_id).where(Episode.id.in_(ids)))}
    out = []
    for e in entries:
        name, mrn = who.get(e.episode_id, ("?", ""))
        row = reg.get(e.episode_id)
        out.append(NotReachedLine(name=name, mrn=mrn, group_label=_group_label(e.group),
                                  reasons=tuple(_group_label(r) for r in e.reasons) if len(e.reasons) > 1
                                  else tuple(r.strip() for r in (e.reason_text or "").split(",") if r.strip()),
                                  carried_from=e.carried_from,
                                  weeks=row.weeks if row is not None else None))
    return tuple(out)


def _caseload(rows: list, agenda_ids: set[int], policy) -> tuple[CaseloadRow, ...]:  # type: ignore[no-untyped-def,type-arg]
    by_cm: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
    for r in rows:
        by_cm[r.care_manager].append(r)
    out = []
    for cm in sorted(by_cm, key=str.casefold):
        rs = by_cm[cm]
        follow = responding = 0
        for r in rs:
            f = r.facts
            if f.baseline_total is not None and f.latest_on is not None and f.baseline_on is not None \
                    and f.latest_on > f.baseline_on:
                follow += 1
                if is_remission(f.latest_total, policy) or classify_response(
                        f.baseline_total, f.latest_total, policy) == "response":
                    responding += 1
        out.append(CaseloadRow(
            care_manager=cm, open_episodes=len(rs), on_agenda=sum(1 for r in rs if r.episode_id in agenda_ids),
            not_improving=sum(1 for r in rs if r.has(Flag.NOT_IMPROVING)),
            safety=sum(1 for r in rs if r.has(Flag.SAFETY)),
            contact_overdue=sum(1 for r in rs if r.has(Flag.CONTACT_OVERDUE)),
            measure_due=sum(1 for r in rs if r.has(Flag.MEASURE_DUE)),
            responding=responding, with_follow_up=follow,
        ))
    return tuple(out)


@dataclass
class _Facts:
    measures: dict[int, list]  # type: ignore[type-arg]
    contacts: dict[int, list]  # type: ignore[type-arg]
    meds: dict[int, list]  # type: ignore[type-arg]
    referrals: dict[int, list]  # type: ignore[type-arg]
    recs: dict[int, list]  # type: ignore[type-arg]
    risks: dict[int, list]  # type: ignore[type-arg]
    diagnoses: dict[int, list]  # type: ignore[type-arg]
    plans: dict[int, CarePlanVersion]
    proposals: dict[int, list] = field(default_factory=dict)  # type: ignore[type-arg]


def _facts(session: Session, ids: list[int]) -> _Facts:
    if not ids:
        return _Facts({}, {}, {}, {}, {}, {}, {}, {})
    measures = _by_episode(session.execute(
        select(Measure.episode_id, Measure.instrument, Measure.taken_at, Measure.items, Measure.total,
               Measure.band, Measure.item9, Measure.difficulty)
        .where(Measure.episode_id.in_(ids), Measure.voided_at.is_(None)).order_by(Measure.taken_at, Measure.id)))
    contacts = _by_episode(session.execute(
        select(Contact.episode_id, Contact.contact_at, Contact.mode, Contact.kind, Contact.reached,
               Contact.staff_id, Contact.skill_practised, Contact.summary, Contact.next_step,
               Contact.next_step_on, Contact.minutes, Contact.adherence, Contact.side_effects,
               Contact.question_for_consultant, Contact.question_answered)
        .where(Contact.episode_id.in_(ids), Contact.voided_at.is_(None))
        .order_by(Contact.contact_at.desc(), Contact.id.desc())))
    meds: dict[int, list[Medication]] = defaultdict(list)
    for m in session.scalars(select(Medication).where(Medication.episode_id.in_(ids))
                             .order_by(Medication.started_on.desc(), Medication.id.desc())):
        meds[m.episode_id].append(m)
    proposals = _by_episode(session.execute(
        select(MedicationProposal.episode_id, MedicationProposal.action, MedicationProposal.drug,
               MedicationProposal.dose, MedicationProposal.schedule, MedicationProposal.state)
        .where(MedicationProposal.episode_id.in_(ids),
               MedicationProposal.state.in_((ProposalState.PENDING.value, ProposalState.NEEDS_REVIEW.value)))
        .order_by(MedicationProposal.proposed_at, MedicationProposal.id)))
    referrals = _by_episode(session.execute(
        select(Referral.episode_id, Referral.to_whom, Referral.reason, Referral.referred_on, Referral.status,
               Referral.seen_confirmed_on)
        .where(Referral.episode_id.in_(ids), Referral.voided_at.is_(None)).order_by(Referral.referred_on.desc(), Referral.id.desc())))
    recs = _by_episode(session.execute(
        select(Recommendation.episode_id, CaseReviewSession.session_on, Recommendation.recommended_at,
               Recommendation.kind, Recommendation.drug, Recommendation.dose, Recommendation.text,
               Recommendation.state, Recommendation.decided_at, Recommendation.decided_by_id,
               Recommendation.decision_note, Recommendation.modified_text, Recommendation.told_at,
               Recommendation.told_how)
        .outerjoin(CaseReviewSession, CaseReviewSession.id == Recommendation.session_id)
        .where(Recommendation.episode_id.in_(ids), Recommendation.voided_at.is_(None))
        .order_by(Recommendation.recommended_at.desc(), Recommendation.id.desc())))
    risks = _by_episode(session.execute(
        select(RiskEvent.episode_id, RiskEvent.opened_at, RiskEvent.trigger, RiskEvent.safety_assessment_done,
               RiskEvent.clinician_notified, RiskEvent.after_hours_routing_used, RiskEvent.safety_plan_done,
               RiskEvent.outcome, RiskEvent.outcome_at)
        .where(RiskEvent.episode_id.in_(ids), RiskEvent.voided_at.is_(None)).order_by(RiskEvent.opened_at.desc(), RiskEvent.id.desc())))
    diagnoses = _by_episode(session.execute(
        select(Diagnosis.episode_id, Diagnosis.icd10, Diagnosis.description, Diagnosis.is_primary)
        .where(Diagnosis.episode_id.in_(ids)).order_by(Diagnosis.is_primary.desc(), Diagnosis.id)))
    newest = (select(CarePlanVersion.episode_id, func.max(CarePlanVersion.version).label("v"))
              .where(CarePlanVersion.episode_id.in_(ids), CarePlanVersion.voided_at.is_(None)).group_by(CarePlanVersion.episode_id).subquery())
    plans = {p.episode_id: p for p in session.scalars(
        select(CarePlanVersion).join(newest, (newest.c.episode_id == CarePlanVersion.episode_id)
                                     & (newest.c.v == CarePlanVersion.version)))}
    return _Facts(measures, contacts, meds, referrals, recs, risks, diagnoses, plans, proposals)


def _scale(instrument: str, rows: list, enrolled_on: date, reg_row, policy) -> ScaleSummary:  # type: ignore[no-untyped-def,type-arg]
    mine = [r for r in rows if r[1] == instrument and _day(r[2]) >= enrolled_on]
    points = tuple(ScorePoint(r[2], r[4], r[5], r[6]) for r in mine)
    prefix = "phq9" if instrument == PHQ9 else "gad7"
    if reg_row is not None:
        base, base_on = getattr(reg_row, f"{prefix}_baseline"), getattr(reg_row, f"{prefix}_baseline_on")
        last, last_on = getattr(reg_row, f"{prefix}_last"), getattr(reg_row, f"{prefix}_last_on")
        change, change_text = getattr(reg_row, f"{prefix}_change"), getattr(reg_row, f"{prefix}_change_text")
    else:
        base = base_on = last = last_on = change = None
        change_text = "\u2014"
    response = None
    if change is not None:
        resp = classify_response(base, last, policy)
        response = resp.label if resp is not None else None
    target = base * (100 - policy.response_percent) / 100 if base else None
    latest_items = None
    if mine:
        r = mine[-1]
        latest_items = ItemAnswers(instrument, r[2], tuple(r[3] or ()), r[4], r[5], r[7])
    return ScaleSummary(
        instrument=instrument, points=points, baseline=base, baseline_on=base_on, last=last, last_on=last_on,
        change_text=change_text, response=response,
        remission=last is not None and last_on != base_on and is_remission(last, policy),
        target=target, bands=tuple(bands(instrument)), max_total=max_total(instrument),
        latest_items=latest_items,
    )


def _patient(pos: int, entry: _Entry, ep: Episode, pt: Patient, row, facts: _Facts,  # type: ignore[no-untyped-def]
             names: dict[int, str], today: date, policy) -> PacketPatient:
    eid = ep.id
    measures = facts.measures.get(eid, [])
    contacts = facts.contacts.get(eid, [])
    phq9 = _scale(PHQ9, measures, ep.enrolled_on, row, policy)
    gad7 = _scale(GAD7, measures, ep.enrolled_on, row, policy)
    item9 = tuple((_day(p.taken_at), p.item9) for p in phq9.points if p.item9 is not None)

    adherence = side_effects = None
    skills: dict[str, list[date]] = defaultdict(list)
    questions: list[Question] = []
    for c in contacts:  # newest first
        (_e, at, _mode, _kind, reached, staff_id, skill, _summary, _ns, _nso, _min, adh, side, q, answered) = c
        if adherence is None and adh:
            adherence = Reported(adh, _day(at))
        if side_effects is None and side:
            side_effects = Reported(side, _day(at))
        if skill and reached:
            skills[skill].append(_day(at))
        if q and not answered:
            questions.append(Question(_day(at), names.get(staff_id, "?"), q))
    questions.reverse()
    recent = tuple(
        ContactLine(at=c[1], mode=c[2], kind=c[3], reached=bool(c[4]), staff=names.get(c[5], "?"), skill=c[6],
                    summary=c[7], next_step=c[8], next_step_on=c[9], minutes=c[10] or 0)
        for c in contacts[:RECENT_CONTACTS]
    )
    lines = [line_view(m, names) for m in facts.meds.get(eid, [])]
    current = tuple(MedicationLine(m.name, m.dose, m.started_on, m.note, m.schedule)
                    for m in sorted((m for m in lines if m.current),
                                    key=lambda m: (m.started_on is None, m.started_on or date.min, m.id)))
    since = today - timedelta(days=RECENT_CHANGE_DAYS)
    changes = tuple(MedicationChangeLine(c.on, c.what, c.name, c.detail, c.by, c.why)
                    for c in changes_of(lines)
                    if c.what != "Recorded" and c.on is not None and c.on >= since)[:RECENT_CHANGES]
    pending = tuple(f"{describe(r[1], r[2], r[3], r[4])} ({ProposalState(r[5]).label.lower()})"
                    for r in facts.proposals.get(eid, []))
    plan = facts.plans.get(eid)
    plan_summary = None if plan is None else CarePlanSummary(
        plan.version, plan.goals, plan.skill_plan, plan.follow_up_cadence, plan.next_checkin_on,
        plan.safety_steps, plan.signed_off_on)
    recs = tuple(
        RecommendationLine(
            session_on=r[1], recommended_on=_day(r[2]), kind=_kind_label(r[3]), drug=r[4], dose=r[5], text=r[6],
            state=r[7], state_label=_state_label(r[7]), decided_on=_day(r[8]),
            decided_by=names.get(r[9]) if r[9] else None, decision_note=r[10], modified_text=r[11],
            told_on=_day(r[12]), told_how=r[13], is_open=r[7] != LoopState.CLOSED.value,
        )
        for r in facts.recs.get(eid, [])
    )
    risks = tuple(RiskLine(r[1], r[2], bool(r[3]), bool(r[4]), bool(r[5]), bool(r[6]), r[7], r[8])
                  for r in facts.risks.get(eid, []))
    flags = tuple((h.flag.label, h.reason) for h in row.flags) if row is not None else ()
    return PacketPatient(
        position=pos, group=entry.group, group_label=_group_label(entry.group),
        reasons=tuple(_group_label(r) for r in entry.reasons), reason_text=entry.reason_text, manual=entry.manual,
        episode_id=eid, patient_id=pt.id, name=pt.display_name, mrn=pt.mrn, date_of_birth=pt.date_of_birth,
        age=_age(pt.date_of_birth, today), sex=pt.sex,
        clinician=names.get(ep.treating_clinician_id, "?"), care_manager=names.get(ep.care_manager_id, "?"),
        program=ep.program, status=ep.status, enrolled_on=ep.enrolled_on,
        weeks=row.weeks if row is not None else max(0, (today - ep.enrolled_on).days // 7),
        primary_scale=ep.primary_scale,
        diagnoses=tuple((d[1], d[2], bool(d[3])) for d in facts.diagnoses.get(eid, [])),
        flags=flags, phq9=phq9, gad7=gad7, item9_history=item9, risks=risks,
        safety_steps=plan.safety_steps if plan is not None else None,
        medications=current, medication_changes=changes, medication_pending=pending, adherence=adherence, side_effects=side_effects,
        contacts=recent, contact_count=len(contacts),
        last_contact_on=row.last_contact_on if row is not None else None,
        skills=tuple(SkillLine(k, len(v), max(v)) for k, v in sorted(skills.items(), key=lambda kv: -len(kv[1]))),
        referrals=tuple(ReferralLine(r[1], r[2], r[3], r[4], r[5]) for r in facts.referrals.get(eid, [])),
        recommendations=recs, questions=tuple(questions), care_plan=plan_summary, patient_goals=ep.patient_goals,
        next_action=ep.next_action, next_action_on=ep.next_action_on,
        last_case_review_on=row.last_case_review_on if row is not None else None,
        carried_from=entry.carried_from,
    )
