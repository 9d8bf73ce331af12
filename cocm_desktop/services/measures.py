"""PHQ-9 / GAD-7 at item level. Totals and bands come from domain.instruments.score, never typed.

A PHQ-9 with item 9 above 0 opens a risk event in the same transaction (whatever the total).

Corrections (workflow-and-rules.md): `void_measure` (entered in error: wrong patient, duplicate)
and `amend_measure` (wrong answers or time taken), each with a reason, by the person who entered
the score or the treating clinician. A voided score stays in the chart's history and counts
nowhere (registry, flags, outcomes, billing, packets); an amended one is scored again and its old
answers stay in the history. An amendment that raises item 9 above 0 opens the risk workflow; a
void or amendment never closes a risk event by itself (its outcome is a clinician's to record).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cocm_desktop.domain import instruments
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import CorrectionAction
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Contact, Episode, Measure, RiskEvent

from ._clinical import get_open_episode, get_row, not_before
from .common import ValidationError, check, local_now, not_in_future, record
from .corrections import correctable_entry, log_correction, reason_of


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


@dataclass(frozen=True)
class MeasureVoided:
    id: int
    patient_id: int
    instrument: str
    total: int
    # a risk event this score opened that is still open: voiding the score does not close it
    open_risk_event_id: int | None


def _correctable(session: Session, actor: Actor, measure_id: int, expected_version: int | None = None) -> tuple[Measure, Episode]:
    return correctable_entry(session, actor, Measure, measure_id, "measure", made_by="entered_by_id",
                             permission=Permission.RECORD_MEASURE, expected_version=expected_version)


def _open_risk_of(session: Session, measure_id: int) -> int | None:
    return session.scalar(select(RiskEvent.id).where(
        RiskEvent.measure_id == measure_id, RiskEvent.outcome.is_(None), RiskEvent.voided_at.is_(None)))


def void_measure(
    session: Session, actor: Actor, measure_id: int, *, reason: str, expected_version: int | None = None, now: datetime | None = None
) -> MeasureVoided:
    """Void a PHQ-9/GAD-7 entered in error (wrong patient, duplicate). It stays, struck through in
    the chart's history, and counts nowhere from this transaction on."""
    row, episode = _correctable(session, actor, measure_id, expected_version)
    why = reason_of(reason, CorrectionAction.VOID)
    now = now or local_now()
    row.voided_at, row.voided_by_id, row.void_reason = now, actor.user_id, why
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="measure", object_id=row.id,
                   action=CorrectionAction.VOID, reason=why, changes=None, now=now,
                   summary=f"{row.instrument} {row.total} taken {row.taken_at:%Y-%m-%d %H:%M} voided (entered in error)")
    return MeasureVoided(row.id, episode.patient_id, row.instrument, row.total, _open_risk_of(session, row.id))


def amend_measure(
    session: Session,
    actor: Actor,
    measure_id: int,
    *,
    reason: str, expected_version: int | None = None,
    items: Sequence[int] | None = None,
    taken_at: datetime | None = None,
    difficulty: int | None = None,
    now: datetime | None = None,
) -> MeasureResult:
    """Correct a score's answers (scored again from the items) and/or the time it was taken. The
    old values stay in the history. Raising item 9 above 0 opens the risk workflow."""
    row, episode = _correctable(session, actor, measure_id, expected_version)
    why = reason_of(reason, CorrectionAction.AMEND)
    now = now or local_now()
    new_items = list(row.items) if items is None else list(items)
    try:
        scored = instruments.score(row.instrument, new_items)
        new_difficulty = instruments.check_difficulty(row.instrument, difficulty if difficulty is not None
                                                      else row.difficulty)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    new_taken = taken_at or row.taken_at
    if taken_at is not None:
        not_in_future(new_taken, f"The {row.instrument}", now)
        not_before(new_taken, episode.enrolled_on, f"The {row.instrument}", "the enrollment")
    before = {"items": list(row.items), "total": row.total, "band": row.band, "taken_at": row.taken_at,
              "difficulty": row.difficulty}
    new_item9 = scored.items[instruments.SAFETY_ITEM - 1] if row.instrument == instruments.PHQ9 else None
    after = {"items": list(scored.items), "total": scored.total, "band": scored.band, "taken_at": new_taken,
             "difficulty": new_difficulty}
    changes = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    if not changes:
        raise ValidationError("Nothing to amend: the answers and the time are what is recorded already.")
    old_item9 = row.item9
    row.items, row.total, row.band, row.item9 = list(scored.items), scored.total, scored.band, new_item9
    row.taken_at, row.difficulty = new_taken, new_difficulty
    session.flush()
    what = ", ".join(k.replace("_", " ") for k in changes if k not in ("total", "band"))
    log_correction(session, actor, patient_id=episode.patient_id, object_type="measure", object_id=row.id,
                   action=CorrectionAction.AMEND, reason=why, changes=changes, now=now,
                   summary=f"{row.instrument} amended ({what}): total {before['total']} \u2192 {scored.total}")
    risk_id = None
    if scored.safety and not (old_item9 or 0) > 0:
        from .risk import open_item9_risk

        risk_id = open_item9_risk(session, actor, episode, row)
    return MeasureResult(row.id, episode.id, row.instrument, new_taken, scored.items, scored.total, scored.band,
                         new_item9, new_difficulty, risk_id)


def saved_measure(session: Session, actor: Actor, measure_id: int) -> MeasureResult:
    """A measure as `record_measure` returned it, read back (a form whose save landed although
    its connection dropped learns what was saved, item 9's risk event included)."""
    row = get_row(session, Measure, measure_id, "measure")
    return MeasureResult(row.id, row.episode_id, row.instrument, row.taken_at, tuple(row.items), row.total,
                         row.band, row.item9, row.difficulty, _open_risk_of(session, row.id))
