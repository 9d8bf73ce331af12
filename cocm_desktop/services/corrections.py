"""What every correction shares: who may, the reason, the history row and the audit record.

Each kind of entry has its own void/amend functions in its service module (measures, contacts,
time_log, patients, …); they all come through here so that:
- the person is checked against the spec's rule (domain.corrections.may_correct), in the service;
- the reason is required (at most 300 characters);
- a `Correction` row keeps the values before and after, who, when (local) and why;
- an audit record "<kind>.void" / "<kind>.amend" carries the reason and the fields changed.
Derived data follows by itself: registry facts and overlap days are recomputed from every flush
(store.invalidation, store.overlap_days), and every read that counts entries skips voided ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cocm_desktop.domain import corrections as rules
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import CorrectionAction, CorrectionRefused
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Correction, Episode

from ._clinical import get_episode, user_names
from .common import NotFound, ValidationError, check, record
from .versions import expect_version

__all__ = [
    "CorrectionView",
    "check_corrector",
    "clinicians_of_patient",
    "correctable_entry",
    "correction_history",
    "corrections_for_patient",
    "json_value",
    "log_correction",
    "reason_of",
]


@dataclass(frozen=True)
class CorrectionView:
    id: int
    object_type: str
    object_id: int
    action: str  # void | amend
    reason: str
    changes: dict[str, tuple[Any, Any]]  # field → (before, after), JSON values (dates as ISO text)
    corrected_by: str
    corrected_at: datetime


def reason_of(reason: str | None, action: CorrectionAction | str) -> str:
    try:
        return rules.clean_reason(reason, action)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def check_corrector(
    actor: Actor, kind: str, *, made_by: rules.MadeBy, clinicians: Iterable[int | None] = (),
    permission: Permission = Permission.READ_CHART,
) -> None:
    """A role that may not make this kind of entry is refused as such (`permission`); among those
    who may, only the person who made this entry or the treating clinician may correct it (a
    time entry: its owner or the clinic lead)."""
    check(actor, permission)
    try:
        rules.check_may_correct(actor.role, actor.user_id, kind, made_by=made_by, clinicians=clinicians)
    except CorrectionRefused as exc:  # shown like every refusal; nothing was written
        raise ValidationError(str(exc)) from None


def correctable_entry(
    session: Session, actor: Actor, model: type, row_id: int, kind: str, *, made_by: str | tuple[str, ...],
    permission: Permission = Permission.READ_CHART, expected_version: int | None = None,
) -> tuple[Any, Episode]:
    """An episode's live entry this person may correct (made by them, or they treat the patient),
    with its episode; refused when it does not exist, may not be corrected by them, is voided, or
    was saved by someone else after the form read `expected_version` (services.versions)."""
    label = rules.KIND_LABELS.get(kind, "entry")
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"That {label} does not exist.")
    episode = get_episode(session, row.episode_id)
    names = (made_by,) if isinstance(made_by, str) else made_by
    check_corrector(actor, kind, made_by=[getattr(row, n) for n in names],
                    clinicians=(episode.treating_clinician_id,), permission=permission)
    expect_version(session, actor, row, expected_version, object_type=kind)
    if row.voided_at is not None:
        raise ValidationError(f"This {label} was already voided (entered in error); it counts nowhere.")
    return row, episode


def clinicians_of_patient(session: Session, patient_id: int) -> set[int]:
    return set(session.scalars(select(Episode.treating_clinician_id).where(Episode.patient_id == patient_id)))


def json_value(value: Any) -> Any:
    """A value as the history stores it (JSON): dates and times as ISO text, tuples as lists."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [json_value(v) for v in value]
    return value


def log_correction(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    object_type: str,
    object_id: int,
    action: CorrectionAction,
    reason: str,
    changes: Mapping[str, tuple[Any, Any]] | None,
    now: datetime,
    summary: str,
    audit_action: str | None = None,
) -> None:
    """The history row and the audit record of one correction (same transaction as the change)."""
    stored = {k: [json_value(a), json_value(b)] for k, (a, b) in (changes or {}).items()}
    session.add(Correction(
        patient_id=patient_id, object_type=object_type, object_id=object_id, action=action.value,
        reason=reason, changes=stored or None, corrected_by_id=actor.user_id, corrected_at=now,
    ))
    session.flush()
    record(session, actor, audit_action or f"{object_type}.{action.value}", patient_id=patient_id, object_type=object_type,
           object_id=object_id, summary=summary, detail={"reason": reason, "fields": sorted(stored)})


def corrections_for_patient(session: Session, actor: Actor, patient_id: int) -> list[CorrectionView]:
    """Every void and amendment of this patient's entries, oldest first (for the chart's history)."""
    check(actor, Permission.READ_CHART)
    return correction_history(session, patient_id)


def correction_history(
    session: Session, patient_id: int, *, names: dict[int, str] | None = None,
) -> list[CorrectionView]:
    """`corrections_for_patient` for a caller that has checked the permission (the chart).
    `names`: user names already read (the chart reads them once for all its parts)."""
    rows = list(session.scalars(select(Correction).where(Correction.patient_id == patient_id)
                                .order_by(Correction.corrected_at, Correction.id)))
    if names is None:
        names = user_names(session, {r.corrected_by_id for r in rows})
    return [
        CorrectionView(r.id, r.object_type, r.object_id, r.action, r.reason,
                       {k: (v[0], v[1]) for k, v in (r.changes or {}).items()},
                       names.get(r.corrected_by_id, "?"), r.corrected_at)
        for r in rows
    ]
