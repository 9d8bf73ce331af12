"""Care plans (versioned; a change adds a version with who/when; clinician sign-off).

Medications: services.medications.

Decisions: sign-off applies to the newest version; a later change makes a new, unsigned version
(the chart shows which version was signed). The relapse-prevention plan lives in the care plan and
is what step-down to relapse prevention requires.

Corrections: `void_care_plan_version` (a version entered in error — e.g. on the wrong patient:
the previous live version is the plan again) and `amend_care_plan_version` (a wrong value in the
newest version, corrected in place with a reason; a signed-off version needs the clinician's
sign-off again, since they signed different words). By the version's author or the treating
clinician. Version numbers are never reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import CorrectionAction
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import CarePlanVersion, Episode

from ._clinical import get_open_episode, text, user_names
from .common import ValidationError, check, local_now, not_in_future, record
from .corrections import correctable_entry, log_correction, reason_of
from .versions import expect_version


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
    created_by_id: int = 0
    voided: bool = False
    void_reason: str | None = None
    voided_at: datetime | None = None
    row_version: int = 1  # passed back as `expected_version` by an edit form (services.versions)


def plan_view(session: Session, p: CarePlanVersion, names: dict[int, str] | None = None) -> CarePlanView:
    names = names if names is not None else user_names(session, {p.created_by_id, p.signed_off_by_id})
    return CarePlanView(
        p.id, p.episode_id, p.version, p.goals, p.medication_plan, p.skill_plan, p.follow_up_cadence,
        p.next_checkin_on, p.safety_steps, p.contact_preferences, p.relapse_prevention_plan, p.created_at,
        names.get(p.created_by_id, "?"), p.signed_off_on,
        names.get(p.signed_off_by_id) if p.signed_off_by_id else None, p.created_by_id,
        p.voided_at is not None, p.void_reason, p.voided_at, p.row_version,
    )


def latest_plan(session: Session, episode_id: int) -> CarePlanVersion | None:
    """The plan in force: the newest version not voided."""
    return session.scalars(
        select(CarePlanVersion).where(CarePlanVersion.episode_id == episode_id, CarePlanVersion.voided_at.is_(None))
        .order_by(CarePlanVersion.version.desc()).limit(1)
    ).first()


def _next_version(session: Session, episode_id: int) -> int:
    """Numbers are never reused: a voided version keeps its number in the history."""
    return int(session.scalar(select(func.max(CarePlanVersion.version))
                              .where(CarePlanVersion.episode_id == episode_id)) or 0) + 1


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
    version = _next_version(session, episode.id)
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
    signed_on: date | None = None, expected_version: int | None = None, now: datetime | None = None,
) -> CarePlanView:
    """The clinician signs off the newest version (or checks `version` is the newest).
    `expected_version`: the `row_version` of the version the clinician read — signing words that
    were amended since is refused (services.versions), since they would sign what they never saw."""
    check(actor, Permission.SIGN_OFF_CARE_PLAN)
    now = now or local_now()
    signed_on = signed_on or now.date()
    episode = get_open_episode(session, episode_id)
    plan = latest_plan(session, episode.id)
    if plan is None:
        raise ValidationError("There is no care plan to sign off yet.")
    if version is not None and version != plan.version:
        raise ValidationError(f"Version {version} is not the newest (version {plan.version}); review that first.")
    expect_version(session, actor, plan, expected_version)
    if plan.signed_off_on is not None:
        raise ValidationError(f"Care plan version {plan.version} is already signed off.")
    not_in_future(signed_on, "The sign-off", now)
    plan.signed_off_on = signed_on
    plan.signed_off_by_id = actor.user_id
    record(session, actor, "care_plan.sign_off", patient_id=episode.patient_id,
           object_type="care_plan_version", object_id=plan.id,
           summary=f"Care plan version {plan.version} signed off")
    return plan_view(session, plan)


def care_plan_versions(session: Session, episode_id: int, *, voided: bool = False) -> list[CarePlanView]:
    """Newest first, the live versions (`voided=True`: those voided in error), without permission
    or audit: the chart service calls it."""
    void_cond = CarePlanVersion.voided_at.is_not(None) if voided else CarePlanVersion.voided_at.is_(None)
    rows = list(session.scalars(select(CarePlanVersion).where(CarePlanVersion.episode_id == episode_id, void_cond)
                                .order_by(CarePlanVersion.version.desc())))
    names = user_names(session, {r.created_by_id for r in rows} | {r.signed_off_by_id for r in rows})
    return [plan_view(session, r, names) for r in rows]


def has_relapse_prevention_plan(session: Session, episode_id: int) -> bool:
    plan = latest_plan(session, episode_id)
    return plan is not None and bool((plan.relapse_prevention_plan or "").strip())


def count_versions(session: Session, episode_id: int) -> int:
    return int(session.scalar(select(func.count()).where(CarePlanVersion.episode_id == episode_id,
                                                         CarePlanVersion.voided_at.is_(None))) or 0)


# ---- corrections -------------------------------------------------------------------------------

PLAN_FIELDS = ("goals", "medication_plan", "skill_plan", "follow_up_cadence", "next_checkin_on", "safety_steps",
               "contact_preferences", "relapse_prevention_plan")
_LIMITS = {"goals": ("Goals", 8000), "medication_plan": ("Medication plan", 8000),
           "skill_plan": ("Skill plan", 8000), "follow_up_cadence": ("Follow-up cadence", 200),
           "safety_steps": ("Safety steps", 8000), "contact_preferences": ("Contact preferences", 300),
           "relapse_prevention_plan": ("Relapse-prevention plan", 8000)}


def _correctable(session: Session, actor: Actor, version_id: int, expected_version: int | None = None) -> tuple[CarePlanVersion, Episode]:
    return correctable_entry(session, actor, CarePlanVersion, version_id, "care_plan_version",
                             made_by="created_by_id", permission=Permission.DRAFT_CARE_PLAN, expected_version=expected_version)


def void_care_plan_version(
    session: Session, actor: Actor, version_id: int, *, reason: str, expected_version: int | None = None, now: datetime | None = None,
) -> CarePlanView:
    """Void a care-plan version entered in error; the newest live version before it is the plan
    again (with its own sign-off state)."""
    row, episode = _correctable(session, actor, version_id, expected_version)
    why = reason_of(reason, CorrectionAction.VOID)
    now = now or local_now()
    row.voided_at, row.voided_by_id, row.void_reason = now, actor.user_id, why
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="care_plan_version",
                   object_id=row.id, action=CorrectionAction.VOID, reason=why, changes=None, now=now,
                   summary=f"Care plan version {row.version} voided (entered in error)")
    return plan_view(session, row)


def amend_care_plan_version(
    session: Session, actor: Actor, version_id: int, *, reason: str, expected_version: int | None = None, now: datetime | None = None,
    **changes: object,
) -> CarePlanView:
    """Correct a wrong value in the plan in force (the newest live version). Older versions are
    history: a change of plan is a new version (`save_care_plan`). A signed-off version loses its
    sign-off (kept in the history) and goes back to the clinician's list."""
    row, episode = _correctable(session, actor, version_id, expected_version)
    why = reason_of(reason, CorrectionAction.AMEND)
    now = now or local_now()
    newest = latest_plan(session, episode.id)
    if newest is None or newest.id != row.id:
        raise ValidationError(f"Version {row.version} is no longer the plan in force; amend the newest version, "
                              "or save a new one.")
    unknown = sorted(set(changes) - set(PLAN_FIELDS))
    if unknown:
        raise ValidationError(f"A care plan has no field {unknown[0]!r}.")
    new: dict[str, object] = {}
    for key, value in changes.items():
        if key == "next_checkin_on":
            if value is not None and not isinstance(value, date):
                raise ValidationError("Next check-in: give a date.")
            if value is not None and value < episode.enrolled_on:  # type: ignore[operator]
                raise ValidationError("The next check-in cannot be before the enrollment date.")
            new[key] = value
        else:
            label, limit = _LIMITS[key]
            new[key] = text(value, label, required=key == "goals", max_len=limit)  # type: ignore[arg-type]
    diff: dict[str, tuple[object, object]] = {k: (getattr(row, k), v) for k, v in new.items() if getattr(row, k) != v}
    if not diff:
        raise ValidationError("Nothing to amend: the care plan is what is recorded already.")
    if row.signed_off_on is not None:
        diff["signed_off_on"] = (row.signed_off_on, None)
        diff["signed_off_by_id"] = (row.signed_off_by_id, None)
    for key, (_old, value) in diff.items():
        setattr(row, key, value)
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="care_plan_version",
                   object_id=row.id, action=CorrectionAction.AMEND, reason=why, changes=diff, now=now,
                   summary=f"Care plan version {row.version} amended: "
                           + ", ".join(k.replace("_", " ") for k in diff if not k.startswith("signed_off")))
    return plan_view(session, row)

