"""Risk workflow: an event opened by PHQ-9 item 9 > 0, a statement, or clinician concern; protocol
steps (safety assessment, clinician notified, after-hours routing, safety plan); an outcome.

Safety (workflow-and-rules.md):
- "Clinician notified" records which clinician and when (default: the treating clinician, now);
  the notified clinician sees the open event in their worklist, which is their first screen.
- Closing the event (documenting its outcome) needs every protocol step done or, for each one
  not done, a documented reason (kept in `step_reasons`). The safety assessment and notifying a
  clinician are never waived: without them the outcome is refused whatever the reason.
- Corrections: `void_risk_event` (entered in error: wrong patient, duplicate) and
  `amend_risk_event` (a step, who was notified and when, the outcome), each with a reason, by the
  person who opened or closed it or the treating clinician. An event opened by a PHQ-9 whose
  item 9 is above 0 is voided only with that score (the score says there is a risk).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import CorrectionAction
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.store.models import Episode, Measure, RiskEvent

from ._clinical import get_episode, get_open_episode, get_row, one_of, staff_user, text, user_names
from .common import ValidationError, check, local_now, not_in_future, record
from .corrections import correctable_entry, json_value, log_correction, reason_of
from .versions import expect_version

MANUAL_TRIGGERS: tuple[str, ...] = ("statement", "clinician_concern")
STEPS: tuple[str, ...] = ("safety_assessment_done", "clinician_notified", "after_hours_routing_used",
                          "safety_plan_done")
STEP_LABELS: dict[str, str] = {
    "safety_assessment_done": "Safety assessment done",
    "clinician_notified": "Clinician notified",
    "after_hours_routing_used": "After-hours routing used",
    "safety_plan_done": "Safety plan made",
}
# Never waived by a reason: the event cannot close without them.
REQUIRED_STEPS: tuple[str, ...] = ("safety_assessment_done", "clinician_notified")
WAIVABLE_STEPS: tuple[str, ...] = tuple(s for s in STEPS if s not in REQUIRED_STEPS)
MAX_STEP_REASON = 300


@dataclass(frozen=True)
class RiskEventView:
    id: int
    episode_id: int
    trigger: str
    opened_at: datetime
    detail: str | None
    safety_assessment_done: bool
    clinician_notified: bool
    after_hours_routing_used: bool
    safety_plan_done: bool
    outcome: str | None
    outcome_at: datetime | None
    opened_by: str
    outcome_by: str | None
    notified_clinician_id: int | None = None
    notified_clinician: str | None = None
    notified_at: datetime | None = None
    step_reasons: dict[str, str] = field(default_factory=dict)  # step → why it was not done
    opened_by_id: int = 0
    outcome_by_id: int | None = None
    measure_id: int | None = None
    voided: bool = False
    void_reason: str | None = None
    voided_at: datetime | None = None
    row_version: int = 1  # passed back as `expected_version` by an edit form (services.versions)

    @property
    def is_open(self) -> bool:
        return self.outcome is None and not self.voided

    def steps_missing(self) -> list[str]:
        return [s for s in STEPS if not getattr(self, s)]


def view(session: Session, r: RiskEvent, names: dict[int, str] | None = None) -> RiskEventView:
    """`names`: user names already read (the chart reads them once for all its parts)."""
    if names is None:
        names = user_names(session, {r.opened_by_id, r.outcome_by_id, r.notified_clinician_id})
    return RiskEventView(
        r.id, r.episode_id, r.trigger, r.opened_at, r.detail, bool(r.safety_assessment_done),
        bool(r.clinician_notified), bool(r.after_hours_routing_used), bool(r.safety_plan_done), r.outcome,
        r.outcome_at, names.get(r.opened_by_id, "?"), names.get(r.outcome_by_id) if r.outcome_by_id else None,
        r.notified_clinician_id, names.get(r.notified_clinician_id) if r.notified_clinician_id else None,
        r.notified_at, dict(r.step_reasons or {}), r.opened_by_id, r.outcome_by_id, r.measure_id,
        r.voided_at is not None, r.void_reason, r.voided_at, r.row_version,
    )


def open_item9_risk(session: Session, actor: Actor, episode: Episode, measure: Measure) -> int:
    """Called by record_measure in its transaction: PHQ-9 item 9 > 0 opens the workflow at once."""
    row = RiskEvent(episode_id=episode.id, measure_id=measure.id, trigger="item9", opened_at=measure.taken_at,
                    detail=f"PHQ-9 item 9 answered {measure.item9}", opened_by_id=actor.user_id)
    session.add(row)
    session.flush()
    record(session, actor, "risk.open", patient_id=episode.patient_id, object_type="risk_event",
           object_id=row.id, summary=f"Risk workflow opened: PHQ-9 item 9 = {measure.item9}")
    return row.id


def open_risk_event(
    session: Session, actor: Actor, episode_id: int, trigger: str, detail: str | None = None, *,
    opened_at: datetime | None = None, now: datetime | None = None,
) -> RiskEventView:
    check(actor, Permission.RECORD_RISK_EVENT)
    now = now or local_now()
    opened_at = opened_at or now
    episode = get_open_episode(session, episode_id)
    one_of(trigger, MANUAL_TRIGGERS, "Trigger")
    not_in_future(opened_at, "The risk event", now)
    row = RiskEvent(episode_id=episode.id, trigger=trigger, opened_at=opened_at,
                    detail=text(detail, "Detail", max_len=4000), opened_by_id=actor.user_id)
    session.add(row)
    session.flush()
    record(session, actor, "risk.open", patient_id=episode.patient_id, object_type="risk_event",
           object_id=row.id, summary=f"Risk workflow opened ({trigger})")
    return view(session, row)


def _live(session: Session, risk_event_id: int, actor: Actor, expected_version: int | None) -> RiskEvent:
    row = get_row(session, RiskEvent, risk_event_id, "risk event")
    expect_version(session, actor, row, expected_version)
    if row.voided_at is not None:
        raise ValidationError("This risk event was voided (entered in error); it counts nowhere.")
    return row


def _notified(session: Session, row: RiskEvent, episode: Episode, clinician_id: int | None,
              at: datetime | None, now: datetime) -> tuple[int, datetime]:
    """Who was notified and when: an active treating clinician (default: the episode's), at a time
    between the event's opening and now (default: now)."""
    who = staff_user(session, clinician_id if clinician_id is not None else episode.treating_clinician_id,
                     Role.CLINICIAN, "clinician notified")
    when = at or now
    not_in_future(when, "The notification", now)
    if when < row.opened_at:
        raise ValidationError("The clinician cannot be notified before the risk event was opened.")
    return who.id, when


def record_risk_steps(
    session: Session, actor: Actor, risk_event_id: int, *, safety_assessment_done: bool | None = None,
    clinician_notified: bool | None = None, after_hours_routing_used: bool | None = None,
    safety_plan_done: bool | None = None, notified_clinician_id: int | None = None,
    notified_at: datetime | None = None, expected_version: int | None = None, now: datetime | None = None,
) -> RiskEventView:
    """Tick protocol steps (None = leave as is). "Clinician notified" names the clinician and the
    time (default: the treating clinician, now). Steps of a closed event change only by an
    amendment with a reason (`amend_risk_event`). `expected_version`: the `row_version` the form
    showed — the ticks are saved as a whole, so steps someone else recorded meanwhile are not
    silently unticked (services.versions)."""
    check(actor, Permission.RECORD_RISK_EVENT)
    now = now or local_now()
    row = _live(session, risk_event_id, actor, expected_version)
    episode = get_episode(session, row.episode_id)
    if row.outcome is not None:
        raise ValidationError("This risk event already has an outcome; amend it (with a reason) to correct a step.")
    asked = dict(safety_assessment_done=safety_assessment_done, clinician_notified=clinician_notified,
                 after_hours_routing_used=after_hours_routing_used, safety_plan_done=safety_plan_done)
    changed: dict[str, Any] = {k: bool(v) for k, v in asked.items()
                               if v is not None and bool(getattr(row, k)) != bool(v)}
    notify = clinician_notified if clinician_notified is not None else bool(row.clinician_notified)
    if notify and (not row.clinician_notified or notified_clinician_id is not None or notified_at is not None):
        who, when = _notified(session, row, episode, notified_clinician_id or row.notified_clinician_id,
                              notified_at, now)
        if (who, when) != (row.notified_clinician_id, row.notified_at):
            changed["notified_clinician_id"], changed["notified_at"] = who, when
    elif not notify and (notified_clinician_id is not None or notified_at is not None):
        raise ValidationError("Tick 'clinician notified' to say who was notified and when.")
    elif not notify and row.notified_clinician_id is not None:
        changed["notified_clinician_id"], changed["notified_at"] = None, None
    for key, value in changed.items():
        setattr(row, key, value)
    if changed:
        shown = {k: v for k, v in changed.items() if k in STEPS}
        summary = "Protocol steps: " + ", ".join(f"{k.replace('_', ' ')} = {'yes' if v else 'no'}"
                                                 for k, v in shown.items())
        if changed.get("notified_clinician_id"):
            name = user_names(session, {changed["notified_clinician_id"]})[changed["notified_clinician_id"]]
            summary += f"; clinician notified: {name} at {changed['notified_at']:%Y-%m-%d %H:%M}"
        record(session, actor, "risk.steps", patient_id=episode.patient_id, object_type="risk_event",
               object_id=row.id, summary=summary, detail={k: json_value(v) for k, v in changed.items()})
    return view(session, row)


def closure_problems(steps: Mapping[str, bool], reasons: Mapping[str, str]) -> list[str]:
    """What stops a risk event from closing: a required step not done, or a step not done without
    its documented reason. Sentences, in the steps' order."""
    problems = []
    for step in STEPS:
        if steps.get(step):
            continue
        label = STEP_LABELS[step].lower()
        if step in REQUIRED_STEPS:
            what = "do the safety assessment" if step == "safety_assessment_done" else "notify a clinician"
            problems.append(f"'{STEP_LABELS[step]}' is not done: {what} and record it before the outcome.")
        elif not (reasons.get(step) or "").strip():
            problems.append(f"'{STEP_LABELS[step]}' is not ticked: give the reason the step ({label}) was not "
                            "done, or do it first.")
    return problems


def _clean_reasons(steps: Mapping[str, bool], reasons: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for step, why in (reasons or {}).items():
        if step not in WAIVABLE_STEPS:
            if step in REQUIRED_STEPS:
                raise ValidationError(f"'{STEP_LABELS[step]}' cannot be waived with a reason; it must be done.")
            raise ValidationError(f"There is no protocol step {step!r}.")
        cleaned = (why or "").strip()
        if not cleaned:
            continue
        if steps.get(step):
            raise ValidationError(f"'{STEP_LABELS[step]}' is done; a reason goes only with a step not done.")
        if len(cleaned) > MAX_STEP_REASON:
            raise ValidationError(f"Reason for '{STEP_LABELS[step]}': at most {MAX_STEP_REASON} characters.")
        out[step] = cleaned
    return out


def _steps(row: RiskEvent) -> dict[str, bool]:
    return {s: bool(getattr(row, s)) for s in STEPS}


def record_risk_outcome(
    session: Session, actor: Actor, risk_event_id: int, outcome: str, *,
    step_reasons: Mapping[str, str] | None = None, outcome_at: datetime | None = None,
    expected_version: int | None = None, now: datetime | None = None,
) -> RiskEventView:
    """Close the event with its outcome. Refused while a protocol step is not done and has no
    documented reason (`step_reasons`: step → why it was not done), and when the event changed
    after the form showed it (`expected_version`: the reasons answer the steps it showed)."""
    check(actor, Permission.RECORD_RISK_EVENT)
    now = now or local_now()
    outcome_at = outcome_at or now
    row = _live(session, risk_event_id, actor, expected_version)
    episode = get_episode(session, row.episode_id)
    if row.outcome is not None:
        raise ValidationError("This risk event already has an outcome.")
    cleaned = text(outcome, "Outcome", required=True, max_len=4000)
    reasons = _clean_reasons(_steps(row), step_reasons)
    problems = closure_problems(_steps(row), reasons)
    if problems:
        raise ValidationError(" ".join(problems))
    not_in_future(outcome_at, "The outcome", now)
    if outcome_at < row.opened_at:
        raise ValidationError("The outcome cannot be dated before the risk event was opened.")
    row.outcome = cleaned
    row.outcome_at = outcome_at
    row.outcome_by_id = actor.user_id
    row.step_reasons = reasons or None
    waived = "; ".join(f"{STEP_LABELS[s].lower()} not done: {r}" for s, r in reasons.items())
    record(session, actor, "risk.outcome", patient_id=episode.patient_id, object_type="risk_event",
           object_id=row.id, summary="Risk event outcome documented" + (f" ({waived})" if waived else ""),
           detail={"steps_not_done": sorted(reasons)})
    return view(session, row)


# ---- corrections -------------------------------------------------------------------------------


def _correctable(session: Session, actor: Actor, risk_event_id: int, expected_version: int | None = None) -> tuple[RiskEvent, Episode]:
    return correctable_entry(session, actor, RiskEvent, risk_event_id, "risk_event",
                             made_by=("opened_by_id", "outcome_by_id"), permission=Permission.RECORD_RISK_EVENT, expected_version=expected_version)


def void_risk_event(
    session: Session, actor: Actor, risk_event_id: int, *, reason: str, expected_version: int | None = None, now: datetime | None = None,
) -> RiskEventView:
    """Void a risk event entered in error (wrong patient, duplicate): the safety flag and the
    clinician's worklist item go at once; the event stays in the chart's history."""
    row, episode = _correctable(session, actor, risk_event_id, expected_version)
    if row.measure_id is not None:
        score = session.get(Measure, row.measure_id)
        if score is not None and score.voided_at is None and (score.item9 or 0) > 0:
            raise ValidationError("This risk event was opened by a PHQ-9 with item 9 above 0. If that score was "
                                  "entered in error, void or amend the score first; otherwise record the outcome.")
    why = reason_of(reason, CorrectionAction.VOID)
    now = now or local_now()
    row.voided_at, row.voided_by_id, row.void_reason = now, actor.user_id, why
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="risk_event", object_id=row.id,
                   action=CorrectionAction.VOID, reason=why, changes=None, now=now,
                   summary=f"Risk event of {row.opened_at:%Y-%m-%d %H:%M} voided (entered in error)")
    return view(session, row)


_AMENDABLE = (*STEPS, "notified_clinician_id", "notified_at", "step_reasons", "detail", "outcome", "outcome_at")


def amend_risk_event(
    session: Session, actor: Actor, risk_event_id: int, *, reason: str, expected_version: int | None = None, now: datetime | None = None,
    **changes: Any,
) -> RiskEventView:
    """Correct a step ticked (or not) by mistake, who was notified and when, the detail, or the
    outcome and its time. A closed event must still meet the closing rule afterwards (each step
    not done has its reason); an open one stays open."""
    row, episode = _correctable(session, actor, risk_event_id, expected_version)
    why = reason_of(reason, CorrectionAction.AMEND)
    now = now or local_now()
    unknown = sorted(set(changes) - set(_AMENDABLE))
    if unknown:
        raise ValidationError(f"A risk event has no field {unknown[0]!r} to amend.")
    new: dict[str, Any] = {k: getattr(row, k) for k in _AMENDABLE}
    new["step_reasons"] = dict(row.step_reasons or {})
    new.update(changes)
    for step in STEPS:
        new[step] = bool(new[step])
    if new["clinician_notified"]:
        who, when = _notified(session, row, episode, new["notified_clinician_id"], new["notified_at"], now)
        new["notified_clinician_id"], new["notified_at"] = who, when
    elif changes.get("notified_clinician_id") is not None:
        raise ValidationError("Tick 'clinician notified' to say who was notified and when.")
    else:
        new["notified_clinician_id"], new["notified_at"] = None, None
    new["detail"] = text(new["detail"], "Detail", max_len=4000)
    steps = {s: new[s] for s in STEPS}
    closed = row.outcome is not None
    if closed:
        new["outcome"] = text(new["outcome"], "Outcome", required=True, max_len=4000)
        reasons = _clean_reasons(steps, {s: r for s, r in new["step_reasons"].items() if not steps.get(s)}
                                 if "step_reasons" not in changes else new["step_reasons"])
        problems = closure_problems(steps, reasons)
        if problems:
            raise ValidationError(" ".join(problems))
        new["step_reasons"] = reasons or None
        if not isinstance(new["outcome_at"], datetime):
            raise ValidationError("Give the time of the outcome.")
        not_in_future(new["outcome_at"], "The outcome", now)
        if new["outcome_at"] < row.opened_at:
            raise ValidationError("The outcome cannot be dated before the risk event was opened.")
    else:
        if changes.get("outcome") is not None or changes.get("outcome_at") is not None:
            raise ValidationError("This risk event is open: record its outcome, not an amendment.")
        if changes.get("step_reasons"):
            raise ValidationError("Reasons for steps not done are given when the outcome is recorded.")
        new["step_reasons"] = row.step_reasons
    before = {k: getattr(row, k) for k in _AMENDABLE}
    diff = {k: (before[k], new[k]) for k in _AMENDABLE if before[k] != new[k]}
    if not diff:
        raise ValidationError("Nothing to amend: the risk event is what is recorded already.")
    for key, (_old, value) in diff.items():
        setattr(row, key, value)
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="risk_event", object_id=row.id,
                   action=CorrectionAction.AMEND, reason=why, changes=diff, now=now,
                   summary="Risk event amended: " + ", ".join(k.replace("_", " ") for k in diff))
    return view(session, row)
