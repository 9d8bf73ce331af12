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
- Corrections: `void_contact` (entered in error; its minutes are voided with it) and
  `amend_contact` (any field; its time entry and the episode's next action follow), each with a
  reason, by the person who recorded the contact or the treating clinician.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.activities import ACTIVITY_FOR_CONTACT_KIND
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import CorrectionAction
from cocm_desktop.domain.episode import EpisodeStatus
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Contact, Episode, EpisodeStatusChange, TimeEntry
from cocm_desktop.store.versions import locked_version

from ._clinical import (
    CONTACT_KINDS,
    CONTACT_MODES,
    get_open_episode,
    not_before,
    one_of,
    text,
)
from .common import ValidationError, check, local_now, not_in_future, record
from .corrections import correctable_entry, log_correction, reason_of

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
    # The episode's next action (and status) follow this contact: hold its row, so a contact saved
    # for the same patient at the same moment on another workstation waits for this one instead of
    # failing on the episode's version, and the newest contact below includes it.
    locked_version(session, episode)
    newest = session.scalar(select(func.max(Contact.contact_at)).where(Contact.episode_id == episode.id,
                                                                    Contact.voided_at.is_(None)))
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


# What `amend_contact` may correct, with its limit for text fields (None: not free text).
_TEXT = {"adherence": ("Adherence", 200), "side_effects": ("Side effects", 300),
         "skill_practised": ("Skill practised", 200), "summary": ("Summary", 8000),
         "question_for_consultant": ("Question for the consultant", 4000), "next_step": ("Next step", 300)}
_AMENDABLE = (*_TEXT, "contact_at", "mode", "kind", "reached", "next_step_on", "minutes")


def _correctable(session: Session, actor: Actor, contact_id: int, expected_version: int | None = None) -> tuple[Contact, Episode]:
    return correctable_entry(session, actor, Contact, contact_id, "contact", made_by="staff_id",
                             permission=Permission.RECORD_CONTACT, expected_version=expected_version)


def _live_entries(session: Session, contact_id: int) -> list[TimeEntry]:
    return list(session.scalars(select(TimeEntry).where(TimeEntry.contact_id == contact_id,
                                                        TimeEntry.deleted_at.is_(None))))


def _newest_live(session: Session, episode_id: int) -> Contact | None:
    return session.scalars(select(Contact).where(Contact.episode_id == episode_id, Contact.voided_at.is_(None))
                           .order_by(Contact.contact_at.desc(), Contact.id.desc()).limit(1)).first()


def _follow_newest(session: Session, episode: Episode, was: tuple[str | None, date | None]) -> bool:
    """The episode's next action follows its newest live contact when it was the corrected
    contact's (one set by hand since is left alone). True when it changed."""
    if (episode.next_action, episode.next_action_on) != was:
        return False
    newest = _newest_live(session, episode.id)
    if newest is None or (newest.next_step, newest.next_step_on) == was:
        return False
    episode.next_action, episode.next_action_on = newest.next_step, newest.next_step_on
    return True


def void_contact(
    session: Session, actor: Actor, contact_id: int, *, reason: str, expected_version: int | None = None, now: datetime | None = None
) -> list[int]:
    """Void a contact entered in error (wrong patient, duplicate), with a reason, by the person who
    recorded it or the treating clinician. It stays, struck through in the chart's history, and
    counts nowhere; the minutes it logged are voided with it. Returns the voided time entries."""
    row, episode = _correctable(session, actor, contact_id, expected_version)
    why = reason_of(reason, CorrectionAction.VOID)
    now = now or local_now()
    row.voided_at, row.voided_by_id, row.void_reason = now, actor.user_id, why
    entries = _live_entries(session, row.id)
    for entry in entries:
        entry.deleted_at, entry.deleted_by_id, entry.delete_reason = now, actor.user_id, f"Contact voided: {why}"[:300]
    session.flush()
    _follow_newest(session, episode, (row.next_step, row.next_step_on))
    log_correction(session, actor, patient_id=episode.patient_id, object_type="contact", object_id=row.id,
                   action=CorrectionAction.VOID, reason=why, changes=None, now=now,
                   summary=f"Contact {row.contact_at:%Y-%m-%d %H:%M} voided (entered in error)")
    for entry in entries:
        log_correction(session, actor, patient_id=entry.patient_id, object_type="time_entry", object_id=entry.id,
                       action=CorrectionAction.VOID, reason=why, changes=None, now=now, audit_action="time.void",
                       summary=f"{entry.minutes} min on {entry.local_date.isoformat()} voided with its contact")
    return [e.id for e in entries]


def _cleaned(session: Session, row: Contact, episode: Episode, changes: dict[str, object],
             now: datetime) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in changes.items():
        if key not in _AMENDABLE:
            raise ValidationError(f"{key.replace('_', ' ').capitalize()} cannot be amended on a contact.")
        if key in _TEXT:
            label, limit = _TEXT[key]
            out[key] = text(value, label, required=key == "next_step", max_len=limit)  # type: ignore[arg-type]
        elif key == "mode":
            out[key] = one_of(value, CONTACT_MODES, "Mode")  # type: ignore[arg-type]
        elif key == "kind":
            out[key] = one_of(value, CONTACT_KINDS, "Kind")  # type: ignore[arg-type]
        elif key == "reached":
            out[key] = bool(value)
        elif key == "minutes":
            if type(value) is not int or not 0 <= value <= MAX_CONTACT_MINUTES:
                raise ValidationError(f"Minutes must be a whole number 0–{MAX_CONTACT_MINUTES}.")
            out[key] = value
        elif key == "contact_at":
            if not isinstance(value, datetime):
                raise ValidationError("Date and time: give when the contact happened.")
            not_in_future(value, "The contact", now)
            not_before(value, episode.enrolled_on, "The contact", "the enrollment")
            out[key] = value
        elif key == "next_step_on":
            if not isinstance(value, date):
                raise ValidationError("Next step date is required: every contact ends with a next step and its date.")
            out[key] = value
    kind = out.get("kind", row.kind)
    if not out.get("reached", row.reached) and kind != "outreach":
        raise ValidationError("Only an outreach attempt can be 'not reached'; other contacts happened.")
    when = out.get("contact_at", row.contact_at)
    if out.get("next_step_on", row.next_step_on) < when.date():  # type: ignore[operator, union-attr]
        raise ValidationError("The next step cannot be dated before the contact.")
    return {k: v for k, v in out.items() if getattr(row, k) != v}


def amend_contact(
    session: Session, actor: Actor, contact_id: int, *, reason: str, expected_version: int | None = None, now: datetime | None = None,
    **changes: object,
) -> ContactResult:
    """Correct a contact (any field it was recorded with), with a reason, by the person who recorded
    it or the treating clinician; the old values stay in the history. Its time entry follows the
    minutes, the day and the kind; the episode's next action follows when this is the newest contact."""
    row, episode = _correctable(session, actor, contact_id, expected_version)
    why = reason_of(reason, CorrectionAction.AMEND)
    now = now or local_now()
    new = _cleaned(session, row, episode, changes, now)
    if not new:
        raise ValidationError("Nothing to amend: every field is what is recorded already.")
    was_next = (row.next_step, row.next_step_on)
    diff = {k: (getattr(row, k), v) for k, v in new.items()}
    for key, value in new.items():
        setattr(row, key, value)
    session.flush()
    entry_id = _follow_time(session, actor, row, episode, why, now)
    # The episode's next action follows the newest contact: it was this contact's, or this
    # contact's step or time changed and it is the newest now.
    updated = False
    newest = _newest_live(session, episode.id)
    current = (episode.next_action, episode.next_action_on)
    moved = bool({"contact_at", "next_step", "next_step_on"} & new.keys()) and newest is row
    if newest is not None and (current == was_next or moved) and current != (newest.next_step, newest.next_step_on):
        episode.next_action, episode.next_action_on = newest.next_step, newest.next_step_on
        updated = True
    log_correction(session, actor, patient_id=episode.patient_id, object_type="contact", object_id=row.id,
                   action=CorrectionAction.AMEND, reason=why, changes=diff, now=now,
                   summary="Contact amended: " + ", ".join(k.replace("_", " ") for k in diff))
    return ContactResult(row.id, episode.id, row.contact_at, row.kind, bool(row.reached), row.next_step,
                         row.next_step_on, entry_id, updated, False)


def _follow_time(session: Session, actor: Actor, row: Contact, episode: Episode, why: str, now: datetime) -> int | None:
    """The contact's time entry follows its minutes, day and kind (voided at 0, made when there was
    none); each change is in the time entry's own history too."""
    entries = _live_entries(session, row.id)
    day, activity = row.contact_at.date(), ACTIVITY_FOR_CONTACT_KIND[row.kind]
    if not entries:
        if row.minutes <= 0:
            return None
        entry = TimeEntry(patient_id=episode.patient_id, episode_id=episode.id, staff_id=row.staff_id,
                          local_date=day, minutes=row.minutes, activity=activity, source="contact",
                          contact_id=row.id, created_by_id=actor.user_id, created_at=now)
        session.add(entry)
        session.flush()
        record(session, actor, "time.create", patient_id=episode.patient_id, object_type="time_entry",
               object_id=entry.id, summary=f"{row.minutes} min from an amended contact on {day.isoformat()}")
        return entry.id
    entry = entries[0]
    if row.minutes <= 0:
        entry.deleted_at, entry.deleted_by_id, entry.delete_reason = now, actor.user_id, f"Contact amended: {why}"[:300]
        session.flush()
        log_correction(session, actor, patient_id=entry.patient_id, object_type="time_entry", object_id=entry.id,
                       action=CorrectionAction.VOID, reason=why, changes=None, now=now, audit_action="time.void",
                       summary="Contact's minutes amended to 0: its time entry voided")
        return None
    diff = {k: (getattr(entry, k), v) for k, v in (("minutes", row.minutes), ("local_date", day),
                                                   ("activity", activity)) if getattr(entry, k) != v}
    if diff:
        for key, (_old, value) in diff.items():
            setattr(entry, key, value)
        session.flush()
        log_correction(session, actor, patient_id=entry.patient_id, object_type="time_entry", object_id=entry.id,
                       action=CorrectionAction.AMEND, reason=why, changes=diff, now=now, audit_action="time.amend",
                       summary="Time entry follows its amended contact")
    return entry.id


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
