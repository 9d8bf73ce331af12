"""Medications of an episode: the current regimen and its history (workflow-and-rules.md, "Medications").

Decisions:
- A line is one drug at one dose and schedule. Add starts a line; a dose change stops the line and
  starts a new one that `supersedes` it (same day); a stop fills the stop date with who and why.
  Nothing is deleted: a line entered in error is voided with a reason (voiding a dose change
  reopens the line it replaced), a wrong value is amended with a reason (services.corrections).
- Who: anyone caring for the patient records what the patient takes (RECORD_MEDICATION: care
  manager, treating clinician); only the treating clinician's role changes a dose or stops a drug
  (CHANGE_MEDICATION); corrections follow the correction rule (who entered it or the clinician).
- An approved (or modified) medication recommendation proposes one change (MedicationProposal). It
  is applied when the clinician decides, or when the patient is told if the clinic policy
  `medication_change_when_told` says so. A change that cannot be matched to exactly one current
  line waits for the clinician ("needs the clinician"), who applies it choosing the line.
- Every change is audited ("medication.create/change/stop/void/amend", "medication.proposal").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cocm_desktop.domain import medications as rules
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.case_review import LoopState
from cocm_desktop.domain.corrections import CorrectionAction
from cocm_desktop.domain.episode import EpisodeStatus
from cocm_desktop.domain.medications import ChangeAction, ProposalState
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Episode, Medication, MedicationProposal, Recommendation

from ._clinical import get_episode, get_open_episode, get_row, text, user_names
from .common import NotFound, ValidationError, check, load_policy, local_now, not_in_future, record
from .corrections import check_corrector, log_correction, reason_of
from .versions import expect_version

MAX_REASON = 2000
RECENT_CHANGE_DAYS = 120  # the packet's "recent changes"


@dataclass(frozen=True)
class MedicationView:
    id: int
    episode_id: int
    name: str
    dose: str
    schedule: str | None
    started_on: date | None
    stopped_on: date | None
    note: str | None
    start_reason: str | None
    recorded_by_id: int
    recorded_by: str
    recorded_at: datetime
    supersedes_id: int | None = None
    recommendation_id: int | None = None
    stopped_by: str | None = None
    stop_reason: str | None = None
    voided: bool = False
    void_reason: str | None = None
    row_version: int = 1  # passed back as `expected_version` by an edit form (services.versions)

    @property
    def current(self) -> bool:
        return self.stopped_on is None and not self.voided

    @property
    def regimen(self) -> str:
        """"100 mg daily"."""
        return " ".join(x for x in (self.dose, self.schedule) if x)


@dataclass(frozen=True)
class MedicationChange:
    """One event of the history: started (or recorded at enrollment), dose changed, stopped."""

    on: date | None
    what: str  # "Started" | "Dose changed" | "Stopped" | "Recorded"
    name: str
    detail: str  # "50 mg daily → 100 mg daily", "100 mg daily"
    by: str
    why: str | None
    line_id: int


@dataclass(frozen=True)
class ProposalView:
    id: int
    recommendation_id: int
    action: str
    drug: str
    dose: str | None
    schedule: str | None
    state: str
    state_label: str
    description: str
    proposed_at: datetime
    proposed_by: str
    applied_at: datetime | None
    medication_id: int | None
    note: str | None


@dataclass(frozen=True)
class MedicationList:
    episode_id: int
    current: tuple[MedicationView, ...]  # by start date
    lines: tuple[MedicationView, ...]  # every line, voided ones too, newest start first
    changes: tuple[MedicationChange, ...]  # newest first (live lines only)
    proposals: tuple[ProposalView, ...]  # not applied yet (pending, needs the clinician), oldest first


# ---------------------------------------------------------------------------------------------
# Views


def line_view(m: Medication, names: dict[int, str]) -> MedicationView:
    return MedicationView(
        m.id, m.episode_id, m.name, m.dose, m.schedule, m.started_on, m.stopped_on, m.note, m.start_reason,
        m.recorded_by_id, names.get(m.recorded_by_id, "?"), m.recorded_at, m.supersedes_id, m.recommendation_id,
        names.get(m.stopped_by_id) if m.stopped_by_id else None, m.stop_reason, m.voided_at is not None,
        m.void_reason, m.row_version)


def _names_of(session: Session, rows: Iterable[Medication]) -> dict[int, str]:
    ids: set[int | None] = set()
    for m in rows:
        ids |= {m.recorded_by_id, m.stopped_by_id}
    return user_names(session, ids)


def changes_of(lines: Sequence[MedicationView]) -> list[MedicationChange]:
    """The history as events, newest first, from the live lines (a dose change is one event)."""
    live = [m for m in lines if not m.voided]
    by_id = {m.id: m for m in live}
    replaced = {m.supersedes_id for m in live if m.supersedes_id is not None}
    events: list[MedicationChange] = []
    for m in live:
        old = by_id.get(m.supersedes_id) if m.supersedes_id is not None else None
        if old is not None:
            events.append(MedicationChange(m.started_on, "Dose changed", m.name, f"{old.regimen} \u2192 {m.regimen}",
                                           m.recorded_by, m.start_reason, m.id))
        else:
            what = "Started" if m.start_reason or m.recommendation_id else "Recorded"
            events.append(MedicationChange(m.started_on or m.recorded_at.date(), what, m.name, m.regimen,
                                           m.recorded_by, m.start_reason, m.id))
        if m.stopped_on is not None and m.id not in replaced:
            events.append(MedicationChange(m.stopped_on, "Stopped", m.name, m.regimen, m.stopped_by or "?",
                                           m.stop_reason, m.id))
    return sorted(events, key=lambda e: (e.on or date.min, e.line_id, e.what == "Stopped"), reverse=True)


def _proposal_view(p: MedicationProposal, names: dict[int, str]) -> ProposalView:
    return ProposalView(
        p.id, p.recommendation_id, p.action, p.drug, p.dose, p.schedule, p.state, ProposalState(p.state).label,
        rules.describe(p.action, p.drug, p.dose, p.schedule), p.proposed_at, names.get(p.proposed_by_id, "?"),
        p.applied_at, p.medication_id, p.note)


def episode_medications(
    session: Session, episode_id: int, *, names: dict[int, str] | None = None,
) -> MedicationList:
    """The list for the chart (no permission or audit: the chart service calls it).
    `names`: user names already read (the chart reads them once for all its parts)."""
    rows = list(session.scalars(select(Medication).where(Medication.episode_id == episode_id)
                                .order_by(Medication.started_on.desc(), Medication.id.desc())))
    proposals = list(session.scalars(
        select(MedicationProposal).where(MedicationProposal.episode_id == episode_id,
                                         MedicationProposal.state.in_((ProposalState.PENDING.value,
                                                                       ProposalState.NEEDS_REVIEW.value)))
        .order_by(MedicationProposal.proposed_at, MedicationProposal.id)))
    if names is None:
        names = _names_of(session, rows) | user_names(session, {p.proposed_by_id for p in proposals})
    lines = [line_view(m, names) for m in rows]
    current = sorted((m for m in lines if m.current),  # by start, unknown starts last
                     key=lambda m: (m.started_on is None, m.started_on or date.min, m.id))
    return MedicationList(episode_id, tuple(current), tuple(lines), tuple(changes_of(lines)),
                          tuple(_proposal_view(p, names) for p in proposals))


def list_medications(session: Session, actor: Actor, episode_id: int) -> MedicationList:
    check(actor, Permission.READ_CHART)
    get_episode(session, episode_id)
    return episode_medications(session, episode_id)


# ---------------------------------------------------------------------------------------------
# Add, change the dose, stop


def _current_lines(session: Session, episode_id: int) -> list[Medication]:
    return list(session.scalars(select(Medication).where(
        Medication.episode_id == episode_id, Medication.stopped_on.is_(None), Medication.voided_at.is_(None))
        .order_by(Medication.id)))


def _date(value: date | None, what: str, now: datetime) -> date:
    day = value or now.date()
    not_in_future(day, what, now)
    return day


def add_line(
    session: Session, actor: Actor, episode: Episode, *, name: str, dose: str, schedule: str | None,
    started_on: date | None, reason: str | None, note: str | None, now: datetime,
    supersedes: Medication | None = None, recommendation_id: int | None = None, action: str = "medication.create",
) -> Medication:
    """Write one new line (checked by the caller for permission); refuses a drug already current."""
    if started_on is not None:
        not_in_future(started_on, "The medication start", now)
    clean_name = text(name, "Medication name", required=True, max_len=200)
    assert clean_name is not None
    if supersedes is None:
        for other in _current_lines(session, episode.id):
            if rules.same_drug(other.name, clean_name):
                raise ValidationError(f"{other.name} is already on the current medications; "
                                      "change its dose instead.")
    row = Medication(
        episode_id=episode.id, name=clean_name, dose=text(dose, "Dose", required=True, max_len=120),
        schedule=text(schedule, "Schedule", max_len=120), started_on=started_on,
        start_reason=text(reason, "Reason", max_len=MAX_REASON), note=text(note, "Note", max_len=2000),
        recorded_by_id=actor.user_id, recorded_at=now, supersedes_id=supersedes.id if supersedes else None,
        recommendation_id=recommendation_id)
    session.add(row)
    session.flush()
    what = f"{row.name} {' '.join(x for x in (row.dose, row.schedule) if x)}"
    summary = (f"Medication dose changed: {supersedes.dose} \u2192 {row.dose}" if supersedes is not None
               else f"Medication added: {what}")
    record(session, actor, action, patient_id=episode.patient_id, object_type="medication", object_id=row.id,
           summary=summary, detail={"recommendation_id": recommendation_id} if recommendation_id else None)
    return row


def add_medication(
    session: Session, actor: Actor, episode_id: int, *, name: str, dose: str, schedule: str | None = None,
    started_on: date | None = None, reason: str | None = None, note: str | None = None,
    now: datetime | None = None,
) -> MedicationView:
    """Record a medication the patient takes (started here, or by another prescriber)."""
    check(actor, Permission.RECORD_MEDICATION)
    now = now or local_now()
    episode = get_open_episode(session, episode_id)
    row = add_line(session, actor, episode, name=name, dose=dose, schedule=schedule, started_on=started_on,
                   reason=reason, note=note, now=now)
    return line_view(row, user_names(session, {row.recorded_by_id}))


def _live_line(session: Session, medication_id: int) -> tuple[Medication, Episode]:
    row = session.get(Medication, medication_id)
    if row is None:
        raise NotFound("That medication does not exist.")
    episode = get_open_episode(session, row.episode_id)
    if row.voided_at is not None:
        raise ValidationError("This medication was voided (entered in error); it is not on the list.")
    if row.stopped_on is not None:
        raise ValidationError(f"{row.name} was already stopped on {row.stopped_on.isoformat()}.")
    return row, episode


def _stop(row: Medication, actor: Actor, day: date, reason: str, now: datetime,
          recommendation_id: int | None = None) -> None:
    if row.started_on is not None and day < row.started_on:
        raise ValidationError(f"{row.name} cannot change or stop before it started "
                              f"({row.started_on.isoformat()}).")
    row.stopped_on, row.stopped_by_id, row.stop_recorded_at = day, actor.user_id, now
    row.stop_reason, row.stop_recommendation_id = reason, recommendation_id


def _why(reason: str | None, what: str) -> str:
    why = text(reason, "Reason", max_len=MAX_REASON)
    if why is None:
        raise ValidationError(f"Reason: say why the {what}; it stays in the history.")
    return why


def _change(session: Session, actor: Actor, row: Medication, episode: Episode, *, dose: str,
            schedule: str | None, day: date, why: str, now: datetime,
            recommendation_id: int | None = None) -> Medication:
    new_dose = text(dose, "Dose", required=True, max_len=120)
    new_schedule = text(schedule, "Schedule", max_len=120)
    if (new_dose, new_schedule) == (row.dose, row.schedule):
        raise ValidationError(f"{row.name} is already {new_dose}{' ' + new_schedule if new_schedule else ''}; "
                              "nothing changed.")
    _stop(row, actor, day, f"Dose changed to {new_dose}: {why}"[:MAX_REASON], now, recommendation_id)
    session.flush()
    return add_line(session, actor, episode, name=row.name, dose=new_dose or "", schedule=new_schedule,
                    started_on=day, reason=why, note=None, now=now, supersedes=row,
                    recommendation_id=recommendation_id, action="medication.change")


_KEEP = object()


def change_dose(
    session: Session, actor: Actor, medication_id: int, *, dose: str, reason: str,
    schedule: str | None | object = _KEEP, changed_on: date | None = None, expected_version: int | None = None,
    now: datetime | None = None,
) -> MedicationView:
    """The treating clinician changes the dose (and/or schedule): the line stops and a new line at
    the new dose starts the same day. The schedule stays unless given. `expected_version`: the line
    as the form showed it (an amendment meanwhile is named, nothing changed)."""
    check(actor, Permission.CHANGE_MEDICATION)
    now = now or local_now()
    row, episode = _live_line(session, medication_id)
    expect_version(session, actor, row, expected_version)
    why = _why(reason, "dose changed")
    day = _date(changed_on, "The dose change", now)
    new = _change(session, actor, row, episode, dose=dose, schedule=row.schedule if schedule is _KEEP else schedule,  # type: ignore[arg-type]
                  day=day, why=why, now=now)
    return line_view(new, user_names(session, {new.recorded_by_id}))


def stop_medication(
    session: Session, actor: Actor, medication_id: int, *, reason: str, stopped_on: date | None = None,
    expected_version: int | None = None, now: datetime | None = None,
) -> MedicationView:
    """The treating clinician stops a medication (the line keeps its stop date, who and why)."""
    check(actor, Permission.CHANGE_MEDICATION)
    now = now or local_now()
    row, episode = _live_line(session, medication_id)
    expect_version(session, actor, row, expected_version)
    why = _why(reason, "medication was stopped")
    day = _date(stopped_on, "The stop date", now)
    _stop(row, actor, day, why, now)
    session.flush()
    record(session, actor, "medication.stop", patient_id=episode.patient_id, object_type="medication",
           object_id=row.id, summary=f"Medication stopped on {day.isoformat()}")
    return line_view(row, _names_of(session, [row]))


# ---------------------------------------------------------------------------------------------
# Corrections


def _correctable(session: Session, actor: Actor, medication_id: int,
                 expected_version: int | None = None) -> tuple[Medication, Episode]:
    row = session.get(Medication, medication_id)
    if row is None:
        raise NotFound("That medication does not exist.")
    episode = get_episode(session, row.episode_id)
    check_corrector(actor, "medication", made_by=row.recorded_by_id, clinicians=(episode.treating_clinician_id,),
                    permission=Permission.RECORD_MEDICATION)
    expect_version(session, actor, row, expected_version)
    if row.voided_at is not None:
        raise ValidationError("This medication was already voided (entered in error); it counts nowhere.")
    return row, episode


def void_medication(
    session: Session, actor: Actor, medication_id: int, *, reason: str, expected_version: int | None = None,
    now: datetime | None = None,
) -> MedicationView:
    """A line entered in error is voided with a reason (it stays in the history, struck through).
    Voiding a dose change reopens the line it replaced, when that line was stopped by it."""
    row, episode = _correctable(session, actor, medication_id, expected_version)
    why = reason_of(reason, CorrectionAction.VOID)
    now = now or local_now()
    later = session.scalar(select(Medication.id).where(Medication.supersedes_id == row.id,
                                                       Medication.voided_at.is_(None)))
    if later is not None:
        raise ValidationError("A later dose change continues this line; void that change first.")
    row.voided_at, row.voided_by_id, row.void_reason = now, actor.user_id, why
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="medication", object_id=row.id,
                   action=CorrectionAction.VOID, reason=why, changes=None, now=now,
                   summary="Medication voided (entered in error)")
    old = session.get(Medication, row.supersedes_id) if row.supersedes_id is not None else None
    if old is not None and old.voided_at is None and old.stopped_on == row.started_on:
        before = {"stopped_on": old.stopped_on, "stop_reason": old.stop_reason}
        old.stopped_on = old.stopped_by_id = old.stop_recorded_at = old.stop_reason = None
        old.stop_recommendation_id = None
        session.flush()
        log_correction(session, actor, patient_id=episode.patient_id, object_type="medication", object_id=old.id,
                       action=CorrectionAction.AMEND, reason=why, now=now,
                       changes={k: (v, None) for k, v in before.items()},
                       summary="Medication current again: the dose change that stopped it was voided")
    return line_view(row, _names_of(session, [row]))


_AMENDABLE = {"name": 200, "dose": 120, "schedule": 120, "started_on": None, "stopped_on": None,
              "start_reason": MAX_REASON, "stop_reason": MAX_REASON, "note": 2000}


def amend_medication(
    session: Session, actor: Actor, medication_id: int, *, reason: str, expected_version: int | None = None,
    now: datetime | None = None,
    **changes: object,
) -> MedicationView:
    """Correct a wrong value of a line (a typo in the dose, a wrong start date…), with a reason; the
    old value stays in the history. A real change of dose is `change_dose`, not an amendment.
    `stopped_on=None` on a stopped line undoes a stop entered in error."""
    row, episode = _correctable(session, actor, medication_id, expected_version)
    why = reason_of(reason, CorrectionAction.AMEND)
    now = now or local_now()
    unknown = sorted(set(changes) - set(_AMENDABLE))
    if unknown:
        raise ValidationError(f"Cannot amend {', '.join(unknown)} of a medication.")
    new: dict[str, object] = {}
    for key, value in changes.items():
        limit = _AMENDABLE[key]
        if limit is not None:
            value = text(value, key.replace("_", " ").capitalize(), required=key in ("name", "dose"),  # type: ignore[arg-type]
                         max_len=limit)
        elif value is not None and not isinstance(value, date):
            raise ValidationError(f"{key.replace('_', ' ').capitalize()} must be a date.")
        if getattr(row, key) != value:
            new[key] = value
    if not new:
        raise ValidationError("Nothing to amend: every field is what is recorded already.")
    started = new.get("started_on", row.started_on)
    stopped = new.get("stopped_on", row.stopped_on)
    for day, what in ((started, "The medication start"), (stopped, "The stop date")):
        if isinstance(day, date):
            not_in_future(day, what, now)
    if isinstance(started, date) and isinstance(stopped, date) and stopped < started:
        raise ValidationError("A medication cannot stop before it started.")
    if "stopped_on" in new:
        if new["stopped_on"] is None:  # undoing a stop: it is current again, unless its drug is
            if session.scalar(select(Medication.id).where(Medication.supersedes_id == row.id,
                                                          Medication.voided_at.is_(None))) is not None:
                raise ValidationError("A dose change continues this line; void that change instead.")
            for other in _current_lines(session, episode.id):
                if other.id != row.id and rules.same_drug(other.name, row.name):
                    raise ValidationError(f"{row.name} is already current on another line.")
            row.stopped_by_id = row.stop_recorded_at = row.stop_recommendation_id = None
            if row.stop_reason is not None:
                new.setdefault("stop_reason", None)
        elif row.stopped_on is None:
            raise ValidationError("To stop a current medication use Stop (the treating clinician), not an amendment.")
    diff = {k: (getattr(row, k), v) for k, v in new.items()}
    for key, value in new.items():
        setattr(row, key, value)
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="medication", object_id=row.id,
                   action=CorrectionAction.AMEND, reason=why, changes=diff, now=now,
                   summary="Medication amended: " + ", ".join(k.replace("_", " ") for k in diff))
    return line_view(row, _names_of(session, [row]))


# ---------------------------------------------------------------------------------------------
# The recommendation loop


def _rec_reason(rec: Recommendation, by: str) -> str:
    said = rec.modified_text if rec.state == LoopState.MODIFIED.value and rec.modified_text else rec.text
    return f"Case-review recommendation approved by {by}: {said}"[:MAX_REASON]


def propose_from_recommendation(
    session: Session, actor: Actor, rec: Recommendation, now: datetime, *, drug: str | None = None,
    dose: str | None = None, schedule: str | None = None,
) -> MedicationProposal | None:
    """The clinician approved (or modified) `rec`: its medication change becomes a proposal, applied
    now unless the clinic applies changes once the patient is told. `drug`/`dose`/`schedule` are
    the clinician's modification (default: the consultant's). Not a medication kind: None."""
    action = rules.action_of(rec.kind)
    if action is None or rec.state not in (LoopState.APPROVED.value, LoopState.MODIFIED.value):
        return None
    name = text(drug, "Drug", max_len=200) or rec.drug
    new_dose = text(dose, "Dose", max_len=120) or rec.dose
    if rec.state == LoopState.APPROVED.value and (name, new_dose) != (rec.drug, rec.dose):
        raise ValidationError("Approving keeps the consultant's drug and dose; choose Modify to change them.")
    if not name or (action is not ChangeAction.STOP and not new_dose):
        raise ValidationError("The medication change needs the drug and its dose.")
    proposal = MedicationProposal(
        episode_id=rec.episode_id, recommendation_id=rec.id, action=action.value, drug=name,
        dose=new_dose if action is not ChangeAction.STOP else None, schedule=text(schedule, "Schedule", max_len=120),
        state=ProposalState.PENDING.value, proposed_at=now, proposed_by_id=actor.user_id)
    session.add(proposal)
    session.flush()
    episode = get_episode(session, rec.episode_id)
    record(session, actor, "medication.proposal", patient_id=episode.patient_id, object_type="medication_proposal",
           object_id=proposal.id, summary=f"Medication change proposed: {action.label}",
           detail={"recommendation_id": rec.id})
    if not load_policy(session).medication_change_when_told:
        _apply(session, actor, proposal, rec, now, now.date())
    return proposal


def apply_on_told(session: Session, actor: Actor, rec: Recommendation, now: datetime) -> MedicationProposal | None:
    """The patient was told about `rec`: a change still pending is applied (dated the telling day)."""
    proposal = session.scalar(select(MedicationProposal).where(MedicationProposal.recommendation_id == rec.id))
    if proposal is None or proposal.state != ProposalState.PENDING.value:
        return proposal
    day = rec.told_at.date() if rec.told_at is not None else now.date()
    _apply(session, actor, proposal, rec, now, day)
    return proposal


def _apply(session: Session, actor: Actor, proposal: MedicationProposal, rec: Recommendation, now: datetime,
           day: date, line_id: int | None = None) -> None:
    episode = get_episode(session, proposal.episode_id)
    current = _current_lines(session, episode.id)
    action = ChangeAction(proposal.action)
    if episode.status == EpisodeStatus.CLOSED:  # a late approval: nothing to change on a closed list
        plan = rules.Plan(None, False, "the episode of care is closed")
    elif line_id is not None:
        chosen = [m for m in current if m.id == line_id]
        if not chosen:
            raise ValidationError("Choose one of the current medications.")
        plan = rules.Plan(line_id, action is ChangeAction.CHANGE)
    else:
        plan = rules.plan_change(action, proposal.drug, current)
    if plan.problem is not None:
        proposal.state, proposal.note = ProposalState.NEEDS_REVIEW.value, plan.problem
        session.flush()
        record(session, actor, "medication.proposal_review", patient_id=episode.patient_id,
               object_type="medication_proposal", object_id=proposal.id,
               summary="Medication change waits for the clinician: no single current line matches")
        return
    names = user_names(session, {rec.decided_by_id})
    why = _rec_reason(rec, names.get(rec.decided_by_id, "the treating clinician") if rec.decided_by_id else
                      "the treating clinician")
    if plan.stop_id is not None and plan.start:
        old = next(m for m in current if m.id == plan.stop_id)
        new = _change(session, actor, old, episode, dose=proposal.dose or "",
                      schedule=proposal.schedule if proposal.schedule is not None else old.schedule, day=day,
                      why=why, now=now, recommendation_id=rec.id)
        proposal.medication_id = new.id
    elif plan.stop_id is not None:
        old = next(m for m in current if m.id == plan.stop_id)
        _stop(old, actor, day, why, now, rec.id)
        session.flush()
        record(session, actor, "medication.stop", patient_id=episode.patient_id, object_type="medication",
               object_id=old.id, summary=f"Medication stopped on {day.isoformat()} (approved recommendation)")
        proposal.medication_id = old.id
    else:
        new = add_line(session, actor, episode, name=proposal.drug, dose=proposal.dose or "",
                       schedule=proposal.schedule, started_on=day, reason=why, note=None, now=now,
                       recommendation_id=rec.id)
        proposal.medication_id = new.id
    proposal.state, proposal.note = ProposalState.APPLIED.value, None
    proposal.applied_at, proposal.applied_by_id = now, actor.user_id
    session.flush()


def apply_proposal(
    session: Session, actor: Actor, proposal_id: int, *, line_id: int | None = None, now: datetime | None = None,
) -> ProposalView:
    """The clinician applies a change that waits for them, choosing the current line it changes or
    stops (`line_id`) when its drug did not match exactly one line."""
    check(actor, Permission.CHANGE_MEDICATION)
    now = now or local_now()
    proposal = get_row(session, MedicationProposal, proposal_id, "proposed medication change")
    if proposal.state not in (ProposalState.PENDING.value, ProposalState.NEEDS_REVIEW.value):
        raise ValidationError(f"This change is {ProposalState(proposal.state).label.lower()} already.")
    rec = get_row(session, Recommendation, proposal.recommendation_id, "recommendation")
    _apply(session, actor, proposal, rec, now, now.date(), line_id)
    if proposal.state != ProposalState.APPLIED.value:
        raise ValidationError(f"Not applied: {proposal.note}.")
    return _proposal_view(proposal, user_names(session, {proposal.proposed_by_id}))


def withdraw_proposal(session: Session, actor: Actor, recommendation_id: int, *, reason: str) -> None:
    """The approval behind a change not applied yet was corrected away: the change is withdrawn
    (kept, with the reason). For the recommendation-state corrections to call."""
    proposal = session.scalar(select(MedicationProposal).where(
        MedicationProposal.recommendation_id == recommendation_id))
    if proposal is None or proposal.state not in (ProposalState.PENDING.value, ProposalState.NEEDS_REVIEW.value):
        return
    proposal.state, proposal.note = ProposalState.WITHDRAWN.value, reason[:MAX_REASON]
    session.flush()
    episode = get_episode(session, proposal.episode_id)
    record(session, actor, "medication.proposal_withdrawn", patient_id=episode.patient_id,
           object_type="medication_proposal", object_id=proposal.id, summary="Proposed medication change withdrawn",
           detail={"reason": reason[:300]})
