"""Contacts: every contact ends with a next step and its date; minutes become a time entry.

Decisions:
- A contact dated in the future is refused; `entered_at` keeps when it was typed (local) so the
  registry can flag lag.
- `reached=False` is only meaningful for outreach attempts (an unanswered call); other kinds are
  contacts that happened.
- The episode's next action follows the newest contact: a late-entered older contact does not
  overwrite a newer contact's next step.
- The first successful contact moves an `enrolled` episode to `active` (status history row).
- Minutes > 0 become a TimeEntry (source "contact", activity from the kind via
  domain.activities, staff = the person recording, local date = the contact's date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.activities import ACTIVITY_FOR_CONTACT_KIND
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.episode import EpisodeStatus
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Contact, EpisodeStatusChange, TimeEntry

from ._clinical import (
    CONTACT_KINDS,
    CONTACT_MODES,
    get_episode,
    get_open_episode,
    get_row,
    not_before,
    one_of,
    text,
)
from .common import ValidationError, check, local_now, not_in_future, record

MAX_CONTACT_MINUTES = 480


@dataclass(frozen=True)
class ContactResult:
    id: int
    episode_id: int
    contact_at: datetime
    kind: str
    reached: bool
    next_step: str
    next_step_on: date
    time_entry_id: int | None
    next_action_updated: bool  # False when a newer contact already set the episode's next action
    activated: bool  # this contact moved the episode from enrolled to active


def record_contact(
    session: Session,
    actor: Actor,
    episode_id: int,
    *,
    contact_at: datetime,
    mode: str,
    kind: str,
    next_step: str,
    next_step_on: date,
    reached: bool = True,
    adherence: str | None = None,
    side_effects: str | None = None,
    skill_practised: str | None = None,
    summary: str | None = None,
    question_for_consultant: str | None = None,
    minutes: int = 0,
    now: datetime | None = None,
) -> ContactResult:
    check(actor, Permission.RECORD_CONTACT)
    now = now or local_now()
    episode = get_open_episode(session, episode_id)
    one_of(mode, CONTACT_MODES, "Mode")
    one_of(kind, CONTACT_KINDS, "Kind")
    if not reached and kind != "outreach":
        raise ValidationError("Only an outreach attempt can be 'not reached'; other contacts happened.")
    not_in_future(contact_at, "The contact", now)
    not_before(contact_at, episode.enrolled_on, "The contact", "the enrollment")
    step = text(next_step, "Next step", required=True, max_len=300)
    if next_step_on is None:
        raise ValidationError("Next step date is required: every contact ends with a next step and its date.")
    if next_step_on < contact_at.date():
        raise ValidationError("The next step cannot be dated before the contact.")
    if type(minutes) is not int or not 0 <= minutes <= MAX_CONTACT_MINUTES:
        raise ValidationError(f"Minutes must be a whole number 0–{MAX_CONTACT_MINUTES}.")
    newest = session.scalar(select(func.max(Contact.contact_at)).where(Contact.episode_id == episode.id))
    row = Contact(
        episode_id=episode.id, contact_at=contact_at, mode=mode, kind=kind, reached=bool(reached),
        adherence=text(adherence, "Adherence", max_len=200),
        side_effects=text(side_effects, "Side effects", max_len=300),
        skill_practised=text(skill_practised, "Skill practised", max_len=200),
        summary=text(summary, "Summary", max_len=8000), next_step=step, next_step_on=next_step_on,
        question_for_consultant=text(question_for_consultant, "Question for the consultant", max_len=4000),
        minutes=minutes, staff_id=actor.user_id, entered_at=now,
    )
    session.add(row)
    session.flush()
    what = f"{kind.replace('_', ' ')} ({mode})" + ("" if reached else ", not reached")
    record(session, actor, "contact.create", patient_id=episode.patient_id, object_type="contact",
           object_id=row.id, summary=f"Contact {contact_at:%Y-%m-%d %H:%M}: {what}, {minutes} min",
           detail={"next_step_on": next_step_on.isoformat()})
    updated = newest is None or contact_at >= newest
    if updated:
        episode.next_action, episode.next_action_on = step, next_step_on
    activated = False
    if reached and episode.status == EpisodeStatus.ENROLLED:
        episode.status = EpisodeStatus.ACTIVE.value
        session.add(EpisodeStatusChange(
            episode_id=episode.id, from_status=EpisodeStatus.ENROLLED.value, to_status=episode.status,
            note="First contact", changed_on=contact_at.date(), changed_by_id=actor.user_id))
        record(session, actor, "episode.status", patient_id=episode.patient_id, object_type="episode",
               object_id=episode.id, summary="Enrolled \u2192 Active (first contact)")
        activated = True
    entry_id = None
    if minutes > 0:
        entry = TimeEntry(
            patient_id=episode.patient_id, episode_id=episode.id, staff_id=actor.user_id,
            local_date=contact_at.date(), minutes=minutes, activity=ACTIVITY_FOR_CONTACT_KIND[kind],
            source="contact", contact_id=row.id, created_by_id=actor.user_id, created_at=now,
        )
        session.add(entry)
        session.flush()
        entry_id = entry.id
        record(session, actor, "time.create", patient_id=episode.patient_id, object_type="time_entry",
               object_id=entry.id, summary=f"{minutes} min from contact on {contact_at:%Y-%m-%d}")
    return ContactResult(row.id, episode.id, contact_at, kind, bool(reached), step, next_step_on, entry_id,
                         updated, activated)


# Fields `amend_contact` may correct. Date, kind and minutes are not amended: a wrong one is a
# different contact (its time entry is corrected in the time log).
_AMENDABLE = {"adherence": 200, "side_effects": 300, "skill_practised": 200, "summary": 8000,
              "question_for_consultant": 4000}


def amend_contact(session: Session, actor: Actor, contact_id: int, **changes: str | None) -> None:
    """Correct the narrative fields of a contact; the audit keeps which fields changed."""
    check(actor, Permission.RECORD_CONTACT)
    row = get_row(session, Contact, contact_id, "contact")
    episode = get_episode(session, row.episode_id)
    changed = []
    for key, value in changes.items():
        if key not in _AMENDABLE:
            raise ValidationError(f"{key.replace('_', ' ').capitalize()} cannot be amended on a contact.")
        cleaned = text(value, key.replace("_", " ").capitalize(), max_len=_AMENDABLE[key])
        if getattr(row, key) != cleaned:
            setattr(row, key, cleaned)
            changed.append(key)
    if changed:
        record(session, actor, "contact.update", patient_id=episode.patient_id, object_type="contact",
               object_id=row.id, summary="Contact amended: " + ", ".join(changed), detail={"fields": changed})


def set_next_action(
    session: Session, actor: Actor, episode_id: int, next_action: str, next_action_on: date,
    *, now: datetime | None = None,
) -> None:
    """Set the episode's next action outside a contact (e.g. after a case review)."""
    check(actor, Permission.RECORD_CONTACT)
    episode = get_open_episode(session, episode_id)
    step = text(next_action, "Next action", required=True, max_len=300)
    if next_action_on is None:
        raise ValidationError("Next action date is required.")
    episode.next_action, episode.next_action_on = step, next_action_on
    record(session, actor, "episode.next_action", patient_id=episode.patient_id, object_type="episode",
           object_id=episode.id, summary=f"Next action due {next_action_on.isoformat()}")
