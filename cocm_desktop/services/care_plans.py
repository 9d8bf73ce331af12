"""Care plans (versioned; a change adds a version with who/when; clinician sign-off).

Medications: services.medications.

Decisions: sign-off applies to the newest version; a later change makes a new, unsigned version
(the chart shows which version was signed). The relapse-prevention plan lives in the care plan and
is what step-down to relapse prevention requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import CarePlanVersion

from ._clinical import get_open_episode, text, user_names
from .common import ValidationError, check, local_now, not_in_future, record


@dataclass(frozen=True)
class CarePlanView:
    id: int
    episode_id: int
    version: int
    goals: str
    medication_plan: str | None
    skill_plan: str | None
    follow_up_cadence: str | None
    next_checkin_on: date | None
    safety_steps: str | None
    contact_preferences: str | None
    relapse_prevention_plan: str | None
    created_at: datetime
    created_by: str
    signed_off_on: date | None
    signed_off_by: str | None


def plan_view(session: Session, p: CarePlanVersion, names: dict[int, str] | None = None) -> CarePlanView:
    names = names if names is not None else user_names(session, {p.created_by_id, p.signed_off_by_id})
    return CarePlanView(
        p.id, p.episode_id, p.version, p.goals, p.medication_plan, p.skill_plan, p.follow_up_cadence,
        p.next_checkin_on, p.safety_steps, p.contact_preferences, p.relapse_prevention_plan, p.created_at,
        names.get(p.created_by_id, "?"), p.signed_off_on,
        names.get(p.signed_off_by_id) if p.signed_off_by_id else None,
    )


def latest_plan(session: Session, episode_id: int) -> CarePlanVersion | None:
    return session.scalars(
        select(CarePlanVersion).where(CarePlanVersion.episode_id == episode_id)
        .order_by(CarePlanVersion.version.desc()).limit(1)
    ).first()


def save_care_plan(
    session: Session,
    actor: Actor,
    episode_id: int,
    *,
    goals: str,
    medication_plan: str | None = None,
    skill_plan: str | None = None,
    follow_up_cadence: str | None = None,
    next_checkin_on: date | None = None,
    safety_steps: str | None = None,
    contact_preferences: str | None = None,
    relapse_prevention_plan: str | None = None,
    now: datetime | None = None,
) -> CarePlanView:
    """Add a new version of the care plan (nothing is overwritten). Identical content is refused."""
    check(actor, Permission.DRAFT_CARE_PLAN)
    now = now or local_now()
    episode = get_open_episode(session, episode_id)
    values = dict(
        goals=text(goals, "Goals", required=True, max_len=8000),
        medication_plan=text(medication_plan, "Medication plan", max_len=8000),
        skill_plan=text(skill_plan, "Skill plan", max_len=8000),
        follow_up_cadence=text(follow_up_cadence, "Follow-up cadence", max_len=200),
        next_checkin_on=next_checkin_on,
        safety_steps=text(safety_steps, "Safety steps", max_len=8000),
        contact_preferences=text(contact_preferences, "Contact preferences", max_len=300),
        relapse_prevention_plan=text(relapse_prevention_plan, "Relapse-prevention plan", max_len=8000),
    )
    if next_checkin_on is not None and next_checkin_on < episode.enrolled_on:
        raise ValidationError("The next check-in cannot be before the enrollment date.")
    previous = latest_plan(session, episode.id)
    if previous is not None and all(getattr(previous, k) == v for k, v in values.items()):
        raise ValidationError("Nothing changed in the care plan; no new version saved.")
    version = (previous.version if previous else 0) + 1
    row = CarePlanVersion(episode_id=episode.id, version=version, created_at=now, created_by_id=actor.user_id,
                          **values)
    session.add(row)
    session.flush()
    changed = sorted(k for k, v in values.items() if previous is None or getattr(previous, k) != v)
    record(session, actor, "care_plan.version", patient_id=episode.patient_id, object_type="care_plan_version",
           object_id=row.id, summary=f"Care plan version {version} saved", detail={"changed": changed})
    return plan_view(session, row)


def sign_off_care_plan(
    session: Session, actor: Actor, episode_id: int, *, version: int | None = None,
    signed_on: date | None = None, now: datetime | None = None,
) -> CarePlanView:
    """The clinician signs off the newest version (or checks `version` is the newest)."""
    check(actor, Permission.SIGN_OFF_CARE_PLAN)
    now = now or local_now()
    signed_on = signed_on or now.date()
    episode = get_open_episode(session, episode_id)
    plan = latest_plan(session, episode.id)
    if plan is None:
        raise ValidationError("There is no care plan to sign off yet.")
    if version is not None and version != plan.version:
        raise ValidationError(f"Version {version} is not the newest (version {plan.version}); review that first.")
    if plan.signed_off_on is not None:
        raise ValidationError(f"Care plan version {plan.version} is already signed off.")
    not_in_future(signed_on, "The sign-off", now)
    plan.signed_off_on = signed_on
    plan.signed_off_by_id = actor.user_id
    record(session, actor, "care_plan.sign_off", patient_id=episode.patient_id,
           object_type="care_plan_version", object_id=plan.id,
           summary=f"Care plan version {plan.version} signed off")
    return plan_view(session, plan)


def care_plan_versions(session: Session, episode_id: int) -> list[CarePlanView]:
    """Newest first (no permission or audit: the chart service calls it)."""
    rows = list(session.scalars(select(CarePlanVersion).where(CarePlanVersion.episode_id == episode_id)
                                .order_by(CarePlanVersion.version.desc())))
    names = user_names(session, {r.created_by_id for r in rows} | {r.signed_off_by_id for r in rows})
    return [plan_view(session, r, names) for r in rows]


def has_relapse_prevention_plan(session: Session, episode_id: int) -> bool:
    plan = latest_plan(session, episode_id)
    return plan is not None and bool((plan.relapse_prevention_plan or "").strip())


def count_versions(session: Session, episode_id: int) -> int:
    return int(session.scalar(select(func.count()).where(CarePlanVersion.episode_id == episode_id)) or 0)

