"""Risk workflow: an event opened by PHQ-9 item 9 > 0, a statement, or clinician concern; protocol
steps (safety assessment, clinician notified, after-hours routing, safety plan); an outcome.

Decision: an outcome can only be documented once the safety assessment is done and the clinician
has been notified; the event stays open (the registry's safety flag) until then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Episode, Measure, RiskEvent

from ._clinical import get_episode, get_open_episode, get_row, one_of, text
from .common import ValidationError, check, local_now, not_in_future, record

MANUAL_TRIGGERS: tuple[str, ...] = ("statement", "clinician_concern")
STEPS: tuple[str, ...] = ("safety_assessment_done", "clinician_notified", "after_hours_routing_used",
                          "safety_plan_done")


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

    @property
    def is_open(self) -> bool:
        return self.outcome is None


def view(session: Session, r: RiskEvent) -> RiskEventView:
    from ._clinical import user_names

    names = user_names(session, {r.opened_by_id, r.outcome_by_id})
    return RiskEventView(
        r.id, r.episode_id, r.trigger, r.opened_at, r.detail, bool(r.safety_assessment_done),
        bool(r.clinician_notified), bool(r.after_hours_routing_used), bool(r.safety_plan_done), r.outcome,
        r.outcome_at, names.get(r.opened_by_id, "?"), names.get(r.outcome_by_id) if r.outcome_by_id else None,
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


def record_risk_steps(
    session: Session, actor: Actor, risk_event_id: int, *, safety_assessment_done: bool | None = None,
    clinician_notified: bool | None = None, after_hours_routing_used: bool | None = None,
    safety_plan_done: bool | None = None,
) -> RiskEventView:
    """Tick protocol steps (None = leave as is). Steps of a closed event cannot change."""
    check(actor, Permission.RECORD_RISK_EVENT)
    row = get_row(session, RiskEvent, risk_event_id, "risk event")
    episode = get_episode(session, row.episode_id)
    if row.outcome is not None:
        raise ValidationError("This risk event already has an outcome; open a new one if needed.")
    asked = dict(safety_assessment_done=safety_assessment_done, clinician_notified=clinician_notified,
                 after_hours_routing_used=after_hours_routing_used, safety_plan_done=safety_plan_done)
    changed = {k: bool(v) for k, v in asked.items() if v is not None and bool(getattr(row, k)) != bool(v)}
    for key, value in changed.items():
        setattr(row, key, value)
    if changed:
        record(session, actor, "risk.steps", patient_id=episode.patient_id, object_type="risk_event",
               object_id=row.id, summary="Protocol steps: " + ", ".join(
                   f"{k.replace('_', ' ')} = {'yes' if v else 'no'}" for k, v in changed.items()),
               detail=changed)
    return view(session, row)


def record_risk_outcome(
    session: Session, actor: Actor, risk_event_id: int, outcome: str, *,
    outcome_at: datetime | None = None, now: datetime | None = None,
) -> RiskEventView:
    check(actor, Permission.RECORD_RISK_EVENT)
    now = now or local_now()
    outcome_at = outcome_at or now
    row = get_row(session, RiskEvent, risk_event_id, "risk event")
    episode = get_episode(session, row.episode_id)
    if row.outcome is not None:
        raise ValidationError("This risk event already has an outcome.")
    cleaned = text(outcome, "Outcome", required=True, max_len=4000)
    missing = [label for ok, label in ((row.safety_assessment_done, "the safety assessment"),
                                       (row.clinician_notified, "notifying the clinician")) if not ok]
    if missing:
        raise ValidationError("Before documenting the outcome, record " + " and ".join(missing) + ".")
    not_in_future(outcome_at, "The outcome", now)
    if outcome_at < row.opened_at:
        raise ValidationError("The outcome cannot be dated before the risk event was opened.")
    row.outcome = cleaned
    row.outcome_at = outcome_at
    row.outcome_by_id = actor.user_id
    record(session, actor, "risk.outcome", patient_id=episode.patient_id, object_type="risk_event",
           object_id=row.id, summary="Risk event outcome documented")
    return view(session, row)
