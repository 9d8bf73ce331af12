"""Episode status: transitions with their rules (domain.episode), status history, transfers.

- active → relapse_prevention needs a relapse-prevention plan in the newest care-plan version.
- A transfer: `request_transfer` records where to; the episode stays open (on the registry) until
  `confirm_transfer` records the confirmed handoff, which closes it with reason `transferred`.
- Disengaged close-out needs ≥ policy.disengaged_attempts failed outreach attempts since the last
  successful contact, and a re-entry path.
- Re-entry: closed episodes are never reopened; enrollment.enroll opens a new episode.
- Corrections: a status change made in error (the wrong patient closed, a step-down by mistake)
  is voided with a reason (`void_status_change`): the episode goes back to the status before it
  (a close voided reopens the episode, unless the patient was enrolled again since). Only the
  newest change can be voided, and not the enrollment itself. `amend_status_change` corrects the
  close reason, date or note. By the person who made the change or the treating clinician.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cocm_desktop.domain import episode as ep
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import CorrectionAction
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Contact, Episode, EpisodeStatusChange
from cocm_desktop.store.versions import locked_version

from ._clinical import OPEN_STATUS_VALUES, get_live_patient, get_open_episode, text, user_names
from .care_plans import has_relapse_prevention_plan
from .common import ValidationError, check, load_policy, local_now, not_in_future, record
from .corrections import correctable_entry, log_correction, reason_of
from .versions import EditConflict, conflict_message


@dataclass(frozen=True)
class StatusChangeView:
    id: int
    from_status: str | None
    to_status: str
    reason: str | None
    note: str | None
    changed_on: date
    changed_by: str
    changed_by_id: int = 0
    voided: bool = False
    void_reason: str | None = None
    voided_at: datetime | None = None
    row_version: int = 1  # passed back as `expected_version` by an edit form (services.versions)


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
    expected_status: str | None = None,
    now: datetime | None = None,
) -> EpisodeStatusResult:
    """Change the status (and close with a reason). Refusals name the missing rule.
    `expected_status`: the status the form showed (see `_expect_shown`)."""
    check(actor, Permission.CHANGE_EPISODE_STATUS)
    now = now or local_now()
    on = on or now.date()
    episode = get_open_episode(session, episode_id)
    _expect_shown(session, actor, episode, "status", expected_status, "episode.status")
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


def _expect_shown(session: Session, actor: Actor, episode: Episode, field: str, shown: str | None,
                  action: str) -> None:
    """Refuse (EditConflict, naming the other person's step) when the episode's `field` is no
    longer what the form showed ("" = none shown; None = not shown: no check).

    Not the row version, unlike other records: the episode row also moves with every contact's
    next step (services.contacts), so comparing versions would refuse a close-out because a call
    was logged meanwhile — with a message that could not name that call. What a status or
    transfer form decides on is the status and the transfer it showed; those are compared."""
    if shown is None:
        return
    locked_version(session, episode)  # held to the commit (and reloaded if it moved), as expect_version
    if (getattr(episode, field) or "") != shown:
        raise EditConflict(conflict_message(session, actor, episode, action=action))


def request_transfer(
    session: Session, actor: Actor, episode_id: int, to_whom: str, *, note: str | None = None,
    expected_transfer_to: str | None = None,
) -> None:
    """Record that a transfer to specialty care is being arranged; the episode stays on the registry.
    `expected_transfer_to`: the transfer the form showed ("" none), so a transfer someone else
    requested meanwhile is not overwritten unseen."""
    check(actor, Permission.CHANGE_EPISODE_STATUS)
    episode = get_open_episode(session, episode_id)
    _expect_shown(session, actor, episode, "transfer_to", expected_transfer_to, "episode.transfer_request")
    episode.transfer_to = text(to_whom, "Transfer to", required=True, max_len=200)
    episode.transfer_confirmed_on = None
    if note:
        episode.close_note = text(note, "Note", max_len=4000)
    record(session, actor, "episode.transfer_request", patient_id=episode.patient_id, object_type="episode",
           object_id=episode.id, summary="Transfer to specialty care requested")


def confirm_transfer(
    session: Session, actor: Actor, episode_id: int, confirmed_on: date, *, note: str | None = None,
    expected_transfer_to: str | None = None, now: datetime | None = None,
) -> EpisodeStatusResult:
    """The receiving service confirmed the handoff: record it and close the episode as transferred
    (`expected_transfer_to`: the service the form named — a transfer changed since is refused)."""
    check(actor, Permission.CHANGE_EPISODE_STATUS)
    now = now or local_now()
    episode = get_open_episode(session, episode_id)
    _expect_shown(session, actor, episode, "transfer_to", expected_transfer_to, "episode.transfer_request")
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


def status_history(
    session: Session, episode_id: int, *, names: dict[int, str] | None = None,
) -> list[StatusChangeView]:
    """Oldest first, voided changes included (flagged; no permission/audit: the chart calls it).
    `names`: user names already read (the chart reads them once for all its parts)."""
    rows = list(session.scalars(select(EpisodeStatusChange).where(EpisodeStatusChange.episode_id == episode_id)
                                .order_by(EpisodeStatusChange.changed_on, EpisodeStatusChange.id)))
    if names is None:
        names = user_names(session, {r.changed_by_id for r in rows})
    return [StatusChangeView(r.id, r.from_status, r.to_status, r.reason, r.note, r.changed_on,
                             names.get(r.changed_by_id, "?"), r.changed_by_id, r.voided_at is not None,
                             r.void_reason, r.voided_at, r.row_version) for r in rows]


# ---- corrections -------------------------------------------------------------------------------


def _live_changes(session: Session, episode_id: int) -> list[EpisodeStatusChange]:
    return list(session.scalars(select(EpisodeStatusChange).where(
        EpisodeStatusChange.episode_id == episode_id, EpisodeStatusChange.voided_at.is_(None))
        .order_by(EpisodeStatusChange.changed_on, EpisodeStatusChange.id)))


def _correctable(session: Session, actor: Actor, change_id: int, expected_version: int | None = None) -> tuple[EpisodeStatusChange, Episode]:
    row, episode = correctable_entry(session, actor, EpisodeStatusChange, change_id, "episode_status_change",
                                     made_by="changed_by_id", permission=Permission.CHANGE_EPISODE_STATUS, expected_version=expected_version)
    get_live_patient(session, episode.patient_id)
    return row, episode


def _close_fields(episode: Episode) -> dict[str, object]:
    return {"close_reason": episode.close_reason, "closed_on": episode.closed_on, "close_note": episode.close_note,
            "transfer_confirmed_on": episode.transfer_confirmed_on}


def void_status_change(
    session: Session, actor: Actor, change_id: int, *, reason: str, expected_version: int | None = None, now: datetime | None = None,
) -> EpisodeStatusResult:
    """Void the episode's newest status change, made in error: the episode is back in the status
    before it. A close voided reopens the episode (its transfer handoff, if any, unconfirmed)."""
    row, episode = _correctable(session, actor, change_id, expected_version)
    why = reason_of(reason, CorrectionAction.VOID)
    now = now or local_now()
    if row.from_status is None:
        raise ValidationError("This is the enrollment itself; it cannot be voided as a status change. "
                              "Close the episode with a reason, or void the patient record if it was entered twice.")
    live = _live_changes(session, episode.id)
    if live[-1].id != row.id or episode.status != row.to_status:
        raise ValidationError("Only the newest status change can be voided; void the later ones first.")
    if row.to_status == ep.EpisodeStatus.CLOSED:
        other = session.scalar(select(Episode.id).where(
            Episode.patient_id == episode.patient_id, Episode.id != episode.id,
            Episode.status.in_(OPEN_STATUS_VALUES)))
        if other is not None:
            raise ValidationError("The patient was enrolled again since this close-out; the closed episode cannot "
                                  "be reopened while the new one is open.")
    before = {"status": episode.status, **_close_fields(episode)}
    episode.status = row.from_status
    if row.to_status == ep.EpisodeStatus.CLOSED:
        episode.close_reason = episode.closed_on = episode.close_note = None
        episode.transfer_confirmed_on = None
    after = {"status": episode.status, **_close_fields(episode)}
    row.voided_at, row.voided_by_id, row.void_reason = now, actor.user_id, why
    session.flush()
    changes = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    label = f"{ep.EpisodeStatus(row.to_status).label} on {row.changed_on.isoformat()}"
    log_correction(session, actor, patient_id=episode.patient_id, object_type="episode_status_change",
                   object_id=row.id, action=CorrectionAction.VOID, reason=why, changes=changes, now=now,
                   summary=f"Status change to {label} voided (made in error); the episode is "
                           f"{ep.EpisodeStatus(episode.status).label.lower()} again")
    return EpisodeStatusResult(episode.id, episode.status, episode.close_reason, episode.closed_on)


def amend_status_change(
    session: Session, actor: Actor, change_id: int, *, reason: str, expected_version: int | None = None, close_reason: str | None = None,
    changed_on: date | None = None, note: str | None = None, now: datetime | None = None,
) -> EpisodeStatusResult:
    """Correct a status change's date, note or (for a close) its reason. The episode's close
    fields follow when it is the change in force; the close rules are checked again."""
    row, episode = _correctable(session, actor, change_id, expected_version)
    why = reason_of(reason, CorrectionAction.AMEND)
    now = now or local_now()
    closing = row.to_status == ep.EpisodeStatus.CLOSED
    new_reason = close_reason if close_reason is not None else row.reason
    if close_reason is not None and not closing:
        raise ValidationError("A close reason goes only with a close-out.")
    new_on = changed_on or row.changed_on
    if changed_on is not None:
        not_in_future(changed_on, "The status change", now)
        if changed_on < episode.enrolled_on:
            raise ValidationError("A status change cannot be dated before the enrollment.")
        earlier = [c for c in _live_changes(session, episode.id) if c.id != row.id and c.id < row.id]
        if earlier and changed_on < earlier[-1].changed_on:
            raise ValidationError(f"The change before it is dated {earlier[-1].changed_on.isoformat()}; "
                                  "a later change cannot be dated before it.")
    new_note = text(note, "Note", max_len=4000) if note is not None else row.note
    if closing and new_reason != row.reason:
        facts = ep.TransitionFacts(
            has_relapse_prevention_plan=has_relapse_prevention_plan(session, episode.id),
            handoff_confirmed=episode.transfer_confirmed_on is not None,
            failed_outreach_attempts=failed_attempts_since_contact(session, episode.id),
            has_reentry_path=bool(episode.reentry_path))
        try:
            ep.check_transition(row.from_status, ep.EpisodeStatus.CLOSED, new_reason, facts, load_policy(session))
        except ep.TransitionError as exc:
            raise ValidationError(str(exc)) from None
    diff = {k: (old, new) for k, old, new in (("reason", row.reason, new_reason), ("changed_on", row.changed_on, new_on),
                                              ("note", row.note, new_note)) if old != new}
    if not diff:
        raise ValidationError("Nothing to amend: the status change is what is recorded already.")
    row.reason, row.changed_on, row.note = new_reason, new_on, new_note
    if closing and episode.status == ep.EpisodeStatus.CLOSED and _live_changes(session, episode.id)[-1].id == row.id:
        episode.close_reason, episode.closed_on, episode.close_note = new_reason, new_on, new_note
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="episode_status_change",
                   object_id=row.id, action=CorrectionAction.AMEND, reason=why, changes=diff, now=now,
                   summary="Status change amended: " + ", ".join(k.replace("_", " ") for k in diff))
    return EpisodeStatusResult(episode.id, episode.status, episode.close_reason, episode.closed_on)
