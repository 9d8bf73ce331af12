"""Corrections of the recommendation loop (workflow-and-rules.md, "Corrections").

- `void_recommendation`: a recommendation recorded in error (wrong patient, duplicate) — by the
  consultant who recorded it or the treating clinician. It leaves the clinician's and the care
  manager's worklists, the registry's flags and the packet at once.
- `amend_recommendation_state`: a loop step taken in error is put back, or the decision corrected:
  * back to "awaiting clinician", or a different decision (approved / modified / declined): the
    treating clinician or the clinician who decided — deciding is a clinician's act;
  * "patient told" recorded in error: back to the decision made, by the person who recorded it
    or the treating clinician; a closed loop reopened: back to "patient told" (or the decline).
  Steps after the corrected state are cleared (their values stay in the history).
- `amend_recommendation_text`: the consultant's words corrected while the clinician has not yet
  decided (afterwards the clinician decided on those words: void and record it again).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cocm_desktop.domain import case_review as cr
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import CorrectionAction
from cocm_desktop.domain.roles import Permission, can
from cocm_desktop.store.models import Episode, Recommendation

from ._clinical import text as clean
from .case_review import RecommendationView, recommendation_view
from .common import ValidationError, local_now
from .corrections import check_corrector, correctable_entry, log_correction, reason_of

S = cr.LoopState
DECISIONS = (S.APPROVED, S.MODIFIED, S.DECLINED)
_RANK = {S.RECOMMENDED: 0, S.APPROVED: 1, S.MODIFIED: 1, S.DECLINED: 1, S.TOLD_PATIENT: 2, S.CLOSED: 3}
_FIELDS = ("state", "decision", "decided_at", "decided_by_id", "decision_note", "modified_text", "told_at",
           "told_by_id", "told_how", "closed_at")


def _entry(session: Session, actor: Actor, rec_id: int,
           expected_version: int | None = None) -> tuple[Recommendation, Episode]:
    return correctable_entry(session, actor, Recommendation, rec_id, "recommendation",
                             made_by=("recommended_by_id", "decided_by_id", "told_by_id"),
                             expected_version=expected_version)


def void_recommendation(
    session: Session, actor: Actor, rec_id: int, *, reason: str, expected_version: int | None = None, now: datetime | None = None,
) -> RecommendationView:
    row, episode = _entry(session, actor, rec_id, expected_version)
    check_corrector(actor, "recommendation", made_by=row.recommended_by_id,
                    clinicians=(episode.treating_clinician_id,))
    why = reason_of(reason, CorrectionAction.VOID)
    now = now or local_now()
    row.voided_at, row.voided_by_id, row.void_reason = now, actor.user_id, why
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="recommendation", object_id=row.id,
                   action=CorrectionAction.VOID, reason=why, changes=None, now=now,
                   summary=f"Recommendation of {row.recommended_at:%Y-%m-%d} voided (entered in error)")
    return recommendation_view(session, row)


def correctable_states(state: str, decision: str | None) -> tuple[S, ...]:
    """The states a correction may put this recommendation back to (for the chart's form)."""
    now = S(state)
    if now is S.RECOMMENDED:
        return ()
    if now in DECISIONS:
        return (S.RECOMMENDED, *(d for d in DECISIONS if d is not now))
    if now is S.TOLD_PATIENT:
        return (S(decision),) if decision else DECISIONS
    return (S.TOLD_PATIENT,) if decision != S.DECLINED.value else (S.TOLD_PATIENT, S.DECLINED)


def amend_recommendation_state(
    session: Session, actor: Actor, rec_id: int, *, reason: str, expected_version: int | None = None, state: str, modified_text: str | None = None,
    note: str | None = None, now: datetime | None = None,
) -> RecommendationView:
    row, episode = _entry(session, actor, rec_id, expected_version)
    why = reason_of(reason, CorrectionAction.AMEND)
    now = now or local_now()
    try:
        to = S(state)
    except ValueError:
        raise ValidationError(f"Unknown recommendation state {state!r}.") from None
    current = S(row.state)
    if to not in correctable_states(row.state, row.decision):
        raise ValidationError(f"A recommendation {current.label.lower()} cannot be corrected to "
                              f"'{to.label.lower()}'.")
    clinicians = (episode.treating_clinician_id,)
    if _RANK[current] <= 1 or (to in DECISIONS and row.decision is not None and to.value != row.decision) \
            or (to in DECISIONS and row.decision is None):
        # undoing or changing a decision: a clinician's act
        if not can(actor.role, Permission.DECIDE_RECOMMENDATION):
            raise ValidationError("Only the treating clinician can change a clinician's decision.")
        check_corrector(actor, "recommendation", made_by=row.decided_by_id, clinicians=clinicians)
    else:
        check_corrector(actor, "recommendation", made_by=row.told_by_id, clinicians=clinicians,
                        permission=Permission.CLOSE_LOOP)
    before = {k: getattr(row, k) for k in _FIELDS}
    if _RANK[to] < 3:
        row.closed_at = None
    if _RANK[to] < 2:
        row.told_at = row.told_by_id = row.told_how = None
    if to is S.RECOMMENDED:
        row.decision = row.decided_at = row.decided_by_id = row.decision_note = row.modified_text = None
    elif to in DECISIONS and to.value != row.decision:
        row.decision, row.decided_at, row.decided_by_id = to.value, now, actor.user_id
        row.decision_note = clean(note, "Decision note", max_len=4000)
        if to is S.MODIFIED:
            row.modified_text = clean(modified_text, "Modified recommendation", required=True, max_len=8000)
        else:
            row.modified_text = None
    row.state = to.value
    session.flush()
    changes: dict[str, tuple[Any, Any]] = {k: (before[k], getattr(row, k)) for k in _FIELDS
                                           if before[k] != getattr(row, k)}
    log_correction(session, actor, patient_id=episode.patient_id, object_type="recommendation", object_id=row.id,
                   action=CorrectionAction.AMEND, reason=why, changes=changes, now=now,
                   summary=f"Recommendation corrected: {current.label} \u2192 {to.label}")
    return recommendation_view(session, row)


def amend_recommendation_text(
    session: Session, actor: Actor, rec_id: int, *, reason: str, expected_version: int | None = None, text: str | None = None, drug: str | None = None,
    dose: str | None = None, now: datetime | None = None,
) -> RecommendationView:
    row, episode = _entry(session, actor, rec_id, expected_version)
    check_corrector(actor, "recommendation", made_by=row.recommended_by_id, clinicians=(episode.treating_clinician_id,))
    why = reason_of(reason, CorrectionAction.AMEND)
    now = now or local_now()
    if row.state != S.RECOMMENDED.value:
        raise ValidationError("The clinician has decided on these words already; void the recommendation and "
                              "record it again.")
    new = {"text": clean(text, "Recommendation", required=True, max_len=8000) if text is not None else row.text,
           "drug": clean(drug, "Drug", max_len=200) if drug is not None else row.drug,
           "dose": clean(dose, "Dose", max_len=120) if dose is not None else row.dose}
    try:
        cr.check_recommendation(row.kind, new["drug"], new["dose"])
    except cr.RecommendationError as exc:
        raise ValidationError(str(exc)) from None
    diff = {k: (getattr(row, k), v) for k, v in new.items() if getattr(row, k) != v}
    if not diff:
        raise ValidationError("Nothing to amend: the recommendation is what is recorded already.")
    for key, (_old, value) in diff.items():
        setattr(row, key, value)
    session.flush()
    log_correction(session, actor, patient_id=episode.patient_id, object_type="recommendation", object_id=row.id,
                   action=CorrectionAction.AMEND, reason=why, changes=diff, now=now,
                   summary="Recommendation amended: " + ", ".join(diff))
    return recommendation_view(session, row)


__all__ = ["amend_recommendation_state", "amend_recommendation_text", "correctable_states",
           "void_recommendation"]
