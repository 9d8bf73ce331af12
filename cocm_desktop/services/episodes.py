"""Episode status: transitions with their rules (domain.episode), status history, transfers.

- active → relapse_prevention needs a relapse-prevention plan in the newest care-plan version.
- A transfer: `request_transfer` records where to; the episode stays open (on the registry) until
  `confirm_transfer` records the confirmed handoff, which closes it with reason `transferred`.
- Disengaged close-out needs ≥ policy.disengaged_attempts failed outreach attempts since the last
  successful contact, and a re-entry path.
- Re-entry: closed episodes are never reopened; enrollment.enroll opens a new episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cocm_desktop.domain import episode as ep
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Contact, Episode, EpisodeStatusChange

from ._clinical import get_open_episode, text, user_names
from .care_plans import has_relapse_prevention_plan
from .common import ValidationError, check, load_policy, local_now, not_in_future, record


@dataclass(frozen=True)
class StatusChangeView:
    id: int
    from_status: str | None
    to_status: str
    reason: str | None
    note: str | None
    changed_on: date
    changed_by: str


@dataclass(frozen=True)
class EpisodeStatusResult:
    episode_id: int
    status: str
    close_reason: str | None
    closed_on: date | None


def failed_attempts_since_contact(session: Session, episode_id: int) -> int:
    """Outreach attempts not reached, after the newest successful contact."""
    last_ok = session.scalar(select(func.max(Contact.contact_at)).where(
        Contact.episode_id == episode_id, Contact.reached.is_(True), Contact.voided_at.is_(None)))
    q = select(func.count()).where(Contact.episode_id == episode_id, Contact.kind == "outreach",
                                   Contact.reached.is_(False), Contact.voided_at.is_(None))
    if last_ok is not None:
        q = q.where(Contact.contact_at > last_ok)
    return int(session.scalar(q) or 0)


def change_status(
    session: Session,
    actor: Actor,
    episode_id: int,
    to_status: str,
    *,
    reason: str | None = None,
    note: str | None = None,
    reentry_path: str | None = None,
    on: date | None = None,
    now: datetime | None = None,
) -> EpisodeStatusResult:
    """Change the status (and close with a reason). Refusals name the missing rule."""
    check(actor, Permission.CHANGE_EPISODE_STATUS)
    now = now or local_now()
    on = on or now.date()
    episode = get_open_episode(session, episode_id)
    not_in_future(on, "The status change", now)
    if on < episode.enrolled_on:
        raise ValidationError("A status change cannot be dated before the enrollment.")
    path = text(reentry_path, "Re-entry path", max_len=4000) or episode.reentry_path
    facts = ep.TransitionFacts(
        has_relapse_prevention_plan=has_relapse_prevention_plan(session, episode.id),
        handoff_confirmed=episode.transfer_confirmed_on is not None,
        failed_outreach_attempts=failed_attempts_since_contact(session, episode.id),
        has_reentry_path=bool(path),
    )
    try:
        ep.check_transition(episode.status, to_status, reason, facts, load_policy(session))
    except ep.TransitionError as exc:
        raise ValidationError(str(exc)) from None
    return _apply(session, actor, episode, to_status, reason, text(note, "Note", max_len=4000), path, on)


def _apply(session: Session, actor: Actor, episode: Episode, to_status: str, reason: str | None,
           note: str | None, reentry_path: str | None, on: date) -> EpisodeStatusResult:
    before = episode.status
    episode.status = to_status
    if to_status == ep.EpisodeStatus.CLOSED:
        episode.close_reason = reason
        episode.closed_on = on
        episode.close_note = note
        episode.reentry_path = reentry_path
    session.add(EpisodeStatusChange(episode_id=episode.id, from_status=before, to_status=to_status,
                                    reason=reason, note=note, changed_on=on, changed_by_id=actor.user_id))
    label = ep.EpisodeStatus(to_status).label
    why = f" ({ep.CloseReason(reason).label})" if reason else ""
    record(session, actor, "episode.status", patient_id=episode.patient_id, object_type="episode",
           object_id=episode.id, summary=f"{ep.EpisodeStatus(before).label} \u2192 {label}{why} on {on.isoformat()}",
           detail={"from": before, "to": to_status, "reason": reason})
    return EpisodeStatusResult(episode.id, episode.status, episode.close_reason, episode.closed_on)


def request_transfer(
    session: Session, actor: Actor, episode_id: int, to_whom: str, *, note: str | None = None,
) -> None:
    """Record that a transfer to specialty care is being arranged; the episode stays on the registry."""
    check(actor, Permission.CHANGE_EPISODE_STATUS)
    episode = get_open_episode(session, episode_id)
    episode.transfer_to = text(to_whom, "Transfer to", required=True, max_len=200)
    episode.transfer_confirmed_on = None
    if note:
        episode.close_note = text(note, "Note", max_len=4000)
    record(session, actor, "episode.transfer_request", patient_id=episode.patient_id, object_type="episode",
           object_id=episode.id, summary="Transfer to specialty care requested")


def confirm_transfer(
    session: Session, actor: Actor, episode_id: int, confirmed_on: date, *, note: str | None = None,
    now: datetime | None = None,
) -> EpisodeStatusResult:
    """The receiving service confirmed the handoff: record it and close the episode as transferred."""
    check(actor, Permission.CHANGE_EPISODE_STATUS)
    now = now or local_now()
    episode = get_open_episode(session, episode_id)
    if not episode.transfer_to:
        raise ValidationError("No transfer was requested for this episode; request it first.")
    not_in_future(confirmed_on, "The handoff confirmation", now)
    if confirmed_on < episode.enrolled_on:
        raise ValidationError("The handoff cannot be confirmed before the enrollment.")
    episode.transfer_confirmed_on = confirmed_on
    record(session, actor, "episode.transfer_confirm", patient_id=episode.patient_id, object_type="episode",
           object_id=episode.id, summary=f"Transfer handoff confirmed on {confirmed_on.isoformat()}")
    return change_status(session, actor, episode_id, ep.EpisodeStatus.CLOSED, reason=ep.CloseReason.TRANSFERRED,
                         note=note or f"Transferred to {episode.transfer_to}", on=confirmed_on, now=now)


def status_history(session: Session, episode_id: int) -> list[StatusChangeView]:
    """Oldest first (no permission/audit: the chart service calls it)."""
    rows = list(session.scalars(select(EpisodeStatusChange).where(EpisodeStatusChange.episode_id == episode_id)
                                .order_by(EpisodeStatusChange.changed_on, EpisodeStatusChange.id)))
    names = user_names(session, {r.changed_by_id for r in rows})
    return [StatusChangeView(r.id, r.from_status, r.to_status, r.reason, r.note, r.changed_on,
                             names.get(r.changed_by_id, "?")) for r in rows]
