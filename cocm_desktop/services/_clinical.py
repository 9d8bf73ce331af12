"""Helpers shared by the clinical service modules (patients, enrollment, contacts, …).

Private to services: lookups that raise NotFound, refusal of writes on closed episodes, and small
validators whose messages name the form field. Messages never carry patient names or MRNs.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cocm_desktop.domain import activities
from cocm_desktop.domain.episode import EpisodeStatus
from cocm_desktop.domain.roles import Role
from cocm_desktop.store.models import Episode, Patient, User

from .common import NotFound, ValidationError

CONTACT_MODES: tuple[str, ...] = tuple(activities.CONTACT_MODES)
CONTACT_KINDS: tuple[str, ...] = tuple(activities.CONTACT_KINDS)
REFERRAL_STATUSES: tuple[str, ...] = tuple(activities.REFERRAL_STATUSES)
OPEN_STATUS_VALUES: tuple[str, ...] = tuple(s.value for s in EpisodeStatus if s.is_open)


def get_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"No patient with id {patient_id}.")
    return patient


VOIDED_PATIENT = ("This patient record was voided (entered twice); record care on the patient's "
                  "other record.")


def get_live_patient(session: Session, patient_id: int) -> Patient:
    """A patient new care may be recorded for (not a voided duplicate)."""
    patient = get_patient(session, patient_id)
    if patient.voided_at is not None:
        raise ValidationError(VOIDED_PATIENT)
    return patient


def get_episode(session: Session, episode_id: int) -> Episode:
    episode = session.get(Episode, episode_id)
    if episode is None:
        raise NotFound(f"No episode of care with id {episode_id}.")
    return episode


def get_open_episode(session: Session, episode_id: int) -> Episode:
    episode = get_episode(session, episode_id)
    if episode.status == EpisodeStatus.CLOSED:
        raise ValidationError(
            "This episode of care is closed; enroll the patient again to record new care."
        )
    get_live_patient(session, episode.patient_id)
    return episode


def get_row(session: Session, model: type, row_id: int, what: str):  # type: ignore[no-untyped-def]
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"No {what} with id {row_id}.")
    return row


def staff_user(session: Session, user_id: int | None, role: Role | None, field: str) -> User:
    """An active user, of `role` when given; the message names the form field."""
    if user_id is None:
        raise ValidationError(f"Choose the {field}.")
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise ValidationError(f"The {field} must be an active staff member.")
    if role is not None and user.role != role:
        raise ValidationError(f"The {field} must be a {role.label.lower()}.")
    return user


def user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {r[0]: r[1] for r in rows}


def text(value: str | None, field: str, *, required: bool = False, max_len: int = 300) -> str | None:
    """Stripped text or None; refuses missing required text and over-long input."""
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise ValidationError(f"{field} is required.")
        return None
    if len(cleaned) > max_len:
        raise ValidationError(f"{field} is too long ({len(cleaned)} characters; at most {max_len}).")
    return cleaned


def one_of(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise ValidationError(f"{field} must be one of: {', '.join(allowed)} (got {value!r}).")
    return value


def day_of(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def not_before(when: date | datetime, start: date, what: str, start_what: str) -> None:
    if day_of(when) < start:
        raise ValidationError(f"{what} ({day_of(when).isoformat()}) is before {start_what} ({start.isoformat()}).")
