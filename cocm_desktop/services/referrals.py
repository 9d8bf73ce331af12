"""Referrals, followed until the patient is confirmed seen (or the referral is declined)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Referral

from ._clinical import REFERRAL_STATUSES, get_episode, get_open_episode, get_row, one_of, text
from .common import ValidationError, check, local_now, not_in_future, record

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

    @property
    def open(self) -> bool:
        return self.status in OPEN_REFERRAL_STATUSES


def view(r: Referral) -> ReferralView:
    return ReferralView(r.id, r.episode_id, r.to_whom, r.reason, r.referred_on, r.status,
                        r.seen_confirmed_on, r.note)


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
    note: str | None = None, now: datetime | None = None,
) -> ReferralView:
    """Move a referral along: sent → scheduled → seen (needs the date seen was confirmed) | declined."""
    check(actor, Permission.MANAGE_REFERRALS)
    now = now or local_now()
    row = get_row(session, Referral, referral_id, "referral")
    episode = get_episode(session, row.episode_id)
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
