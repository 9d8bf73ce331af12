"""PHQ-9 / GAD-7 at item level. Totals and bands come from domain.instruments.score, never typed.

A PHQ-9 with item 9 above 0 opens a risk event in the same transaction (whatever the total).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from cocm_desktop.domain import instruments
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Contact, Measure

from ._clinical import get_open_episode, get_row
from .common import ValidationError, check, local_now, not_in_future, record


@dataclass(frozen=True)
class MeasureResult:
    id: int
    episode_id: int
    instrument: str
    taken_at: datetime
    items: tuple[int, ...]
    total: int
    band: str
    item9: int | None
    difficulty: int | None
    risk_event_id: int | None  # set when this measure opened the risk workflow


def record_measure(
    session: Session,
    actor: Actor,
    episode_id: int,
    instrument: str,
    items: Sequence[int],
    *,
    taken_at: datetime | None = None,
    difficulty: int | None = None,
    contact_id: int | None = None,
    now: datetime | None = None,
) -> MeasureResult:
    check(actor, Permission.RECORD_MEASURE)
    now = now or local_now()
    taken_at = taken_at or now
    episode = get_open_episode(session, episode_id)
    try:
        scored = instruments.score(instrument, items)
        difficulty = instruments.check_difficulty(instrument, difficulty)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    not_in_future(taken_at, f"The {instrument}", now)
    if contact_id is not None:
        contact = get_row(session, Contact, contact_id, "contact")
        if contact.episode_id != episode.id:
            raise ValidationError("The contact belongs to another episode.")
    item9 = scored.items[instruments.SAFETY_ITEM - 1] if instrument == instruments.PHQ9 else None
    row = Measure(
        episode_id=episode.id, instrument=instrument, taken_at=taken_at, items=list(scored.items),
        total=scored.total, band=scored.band, item9=item9, difficulty=difficulty, contact_id=contact_id,
        entered_by_id=actor.user_id, entered_at=now,
    )
    session.add(row)
    session.flush()
    record(session, actor, "measure.create", patient_id=episode.patient_id, object_type="measure",
           object_id=row.id, summary=f"{instrument} {scored.total} ({scored.band}) taken {taken_at:%Y-%m-%d %H:%M}")
    risk_id = None
    if scored.safety:
        from .risk import open_item9_risk

        risk_id = open_item9_risk(session, actor, episode, row)
    return MeasureResult(row.id, episode.id, instrument, taken_at, scored.items, scored.total, scored.band,
                         item9, difficulty, risk_id)
