"""Referrals, followed until the patient is confirmed seen (or the referral is declined).

Corrections: `void_referral` (entered in error: wrong patient, duplicate) and `amend_referral`
(wrong recipient, reason, date or status — a status set by mistake can be put back), each with
a reason, by the person who entered the referral or the treating clinician. The registry's
"referral unconfirmed" flag and the care manager's worklist follow at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import CorrectionAction
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Episode, Referral

from ._clinical import REFERRAL_STATUSES, get_episode, get_open_episode, get_row, one_of, text
from .common import ValidationError, check, local_now, not_in_future, record
from .corrections import correctable_entry, log_correction, reason_of
from .versions import expect_version

OPEN_REFERRAL_STATUSES: tuple[str, ...] = ("sent", "scheduled")


@dataclass(frozen=True)
class ReferralView:
    id: int
    episode_id: int
    to_whom: str
    reason: str
    referred_on: date
    status: str
    seen_confirmed_on: date | None
    note: str | None
    created_by_id: int = 0
    voided: bool = False
    void_reason: str | None = None
    voided_at: datetime | None = None
    row_version: int = 1  # passed back as `expected_version` by an edit form (services.versions)

    @property
    def open(self) -> bool:
        return self.status in OPEN_REFERRAL_STATUSES and not self.voided


def view(r: Referral) -> ReferralView:
    return ReferralView(r.id, r.episode_id, r.to_whom, r.reason, r.referred_on, r.status,
                        r.seen_confirmed_on, r.note, r.created_by_id, r.voided_at is not None, r.void_reason,
                        r.voided_at, r.row_version)


def add_referral(
    session: Session, actor: Actor, episode_id: int, *, to_whom: str, reason: str, referred_on: date,
    status: str = "sent", note: str | None = None, now: datetime | None = None,
) -> ReferralView:
    check(actor, Permission.MANAGE_REFERRALS)
    now = now or local_now()
    episode = get_open_episode(session, episode_id)
    one_of(status, OPEN_REFERRAL_STATUSES, "A new referral's status")
    not_in_future(referred_on, "The referral", now)
    row = Referral(episode_id=episode.id, to_whom=text(to_whom, "Referred to", required=True, max_len=200),
                   reason=text(reason, "Reason", required=True, max_len=4000), referred_on=referred_on,
                   status=status, note=text(note, "Note", max_len=4000), created_by_id=actor.user_id)
    session.add(row)
    session.flush()
    record(session, actor, "referral.create", patient_id=episode.patient_id, object_type="referral",
           object_id=row.id, summary=f"Referral ({status}) on {referred_on.isoformat()}")
    return view(row)


def update_referral(
    session: Session, actor: Actor, referral_id: int, *, status: str, seen_confirmed_on: date | None = None,
    note: str | None = None, expected_version: int | None = None, now: datetime | None = None,
) -> ReferralView:
    """Move a referral along: sent → scheduled → seen (needs the date seen was confirmed) | declined.
    `expected_version`: the `row_version` the form showed (services.versions)."""
    check(actor, Permission.MANAGE_REFERRALS)
    now = now or local_now()
    row = get_row(session, Referral, referral_id, "referral")
    expect_version(session, actor, row, expected_version)
    episode = get_episode(session, row.episode_id)
    if row.voided_at is not None:
        raise ValidationError("This referral was voided (entered in error); it counts nowhere.")
    one_of(status, REFERRAL_STATUSES, "Status")
    if row.status not in OPEN_REFERRAL_STATUSES:
        raise ValidationError(f"This referral is already {row.status}; add a new referral if needed.")
    if status == "seen":
        if seen_confirmed_on is None:
            raise ValidationError("Give the date the patient was confirmed seen.")
        not_in_future(seen_confirmed_on, "The confirmation", now)
        if seen_confirmed_on < row.referred_on:
            raise ValidationError("The patient cannot be seen before the referral was made.")
    elif seen_confirmed_on is not None:
        raise ValidationError("A confirmed-seen date goes with status 'seen'.")
    before = row.status
    row.status = status
    row.seen_confirmed_on = seen_confirmed_on
    if note is not None:
        row.note = text(note, "Note", max_len=4000)
    record(session, actor, "referral.update", patient_id=episode.patient_id, object_type="referral",
           object_id=row.id, summary=f"Referral {before} \u2192 {status}")
    return view(row)


# ---- corrections -------------------------------------------------------------------------------

_AMENDABLE = ("to_whom", "reason", "referred_on", "status", "seen_confirmed_on", "note")


def _correctable(session: Session, actor: Actor, referral_id: int, expected_version: int | None = None) -> tuple[Referral, Episode]:
    return correctable_entry(session, actor, Referral, referral_id, "referral", made_by="created_by_id",
                             permission=Permission.MANAGE_REFERRALS, expected_version=expected_version)


def void_referral(
    session: Session, actor: Actor, referral_id: int, *, reason: str, expected_version: int | None = None, now: datetime | None = None,
) -> ReferralView:
    """Void a referral entered in error. It stays in the chart's history and counts nowhere."""
    row, episode = _correctable(session, actor, referral_id, expected_version)
    why = reason_of(reason, CorrectionAction.VOID)
    now = now or local_now()
    row.voided_at, row.voided_by_id, row.void_reason = now, actor.user_id, why
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="referral", object_id=row.id,
                   action=CorrectionAction.VOID, reason=why, changes=None, now=now,
                   summary=f"Referral of {row.referred_on.isoformat()} voided (entered in error)")
    return view(row)


def amend_referral(
    session: Session, actor: Actor, referral_id: int, *, reason: str, expected_version: int | None = None, now: datetime | None = None,
    **changes: Any,
) -> ReferralView:
    """Correct a referral's recipient, reason (`referral_reason`: `reason` is the correction's),
    date, status, date seen or note (keywords as the fields). Unlike `update_referral` (the
    referral moving along), a correction may put back a status set by mistake; the result must
    still be a consistent referral."""
    row, episode = _correctable(session, actor, referral_id, expected_version)
    why = reason_of(reason, CorrectionAction.AMEND)
    now = now or local_now()
    if "referral_reason" in changes:
        changes["reason"] = changes.pop("referral_reason")
    unknown = sorted(set(changes) - set(_AMENDABLE))
    if unknown:
        raise ValidationError(f"A referral has no field {unknown[0]!r}.")
    new = {k: getattr(row, k) for k in _AMENDABLE}
    new.update(changes)
    new["to_whom"] = text(new["to_whom"], "Referred to", required=True, max_len=200)
    new["reason"] = text(new["reason"], "Reason", required=True, max_len=4000)
    new["note"] = text(new["note"], "Note", max_len=4000)
    one_of(new["status"], REFERRAL_STATUSES, "Status")
    if not isinstance(new["referred_on"], date):
        raise ValidationError("Referred on: give the date the referral was made.")
    not_in_future(new["referred_on"], "The referral", now)
    if new["referred_on"] < episode.enrolled_on:
        raise ValidationError("The referral cannot be dated before the enrollment.")
    if new["status"] == "seen":
        if new["seen_confirmed_on"] is None:
            raise ValidationError("Give the date the patient was confirmed seen.")
        not_in_future(new["seen_confirmed_on"], "The confirmation", now)
        if new["seen_confirmed_on"] < new["referred_on"]:
            raise ValidationError("The patient cannot be seen before the referral was made.")
    elif new["seen_confirmed_on"] is not None:
        raise ValidationError("A confirmed-seen date goes with status 'seen'; clear it or set the status to seen.")
    diff = {k: (getattr(row, k), new[k]) for k in _AMENDABLE if getattr(row, k) != new[k]}
    if not diff:
        raise ValidationError("Nothing to amend: the referral is what is recorded already.")
    for key, (_before, after) in diff.items():
        setattr(row, key, after)
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="referral", object_id=row.id,
                   action=CorrectionAction.AMEND, reason=why, changes=diff, now=now,
                   summary="Referral amended: " + ", ".join(k.replace("_", " ") for k in diff))
    return view(row)
