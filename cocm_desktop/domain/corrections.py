"""Who may correct an entry, and what a correction must say (workflow-and-rules.md, "Corrections").

Clinical software is corrected, never silently edited: an entry made in error is voided with a
reason (it stays, struck through, and counts nowhere); a wrong value is amended with a reason (the
new value counts, the old one stays in the history). Pure rules: no Qt, no SQL.

Who: the person who made the entry or the treating clinician; a time entry by its owner or the
clinic lead. The clinic lead makes no clinical entries, so corrects none (except time entries);
the psychiatric consultant makes one kind, the recommendation, and may correct their own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from enum import StrEnum

from .roles import Role

MAX_REASON = 300

# What the chart calls each kind of entry, for messages ("Only the person who entered this PHQ-9 …").
KIND_LABELS = {
    "measure": "score",
    "contact": "contact",
    "time_entry": "time entry",
    "patient": "patient's details",
    "referral": "referral",
    "risk_event": "risk event",
    "care_plan_version": "care-plan version",
    "episode_status_change": "status change",
    "recommendation": "recommendation",
    "medication": "medication",
    "episode": "enrollment record",
}

# An entry several people made parts of (a risk event: opened by one, closed by another) names
# them all; any of them may correct it.
MadeBy = int | None | Collection[int | None]


class CorrectionAction(StrEnum):
    VOID = "void"
    AMEND = "amend"


class CorrectionRefused(ValueError):
    """This person may not correct this entry; the message says who may."""


#: `clean_reason`'s action for undoing a void made in error (a patient record restored)
RESTORE = "restore"


def clean_reason(reason: str | None, action: CorrectionAction | str) -> str:
    """The reason, stripped; a missing or over-long one is refused with a plain message."""
    text = (reason or "").strip()
    if not text:
        what = {CorrectionAction.VOID: "why this entry was entered in error",
                RESTORE: "why the record was voided in error"}.get(action, "why the value is wrong")
        raise ValueError(f"Reason: say {what}; it stays in the history.")
    if len(text) > MAX_REASON:
        raise ValueError(f"Reason: at most {MAX_REASON} characters (you wrote {len(text)}).")
    return text


def who_may(kind: str) -> str:
    """The rule in one phrase, for tooltips and refusals."""
    if kind == "time_entry":
        return "the person who logged the time or the clinic lead"
    if kind == "patient":
        return "the person who added the patient or a treating clinician"
    if kind == "recommendation":
        return "the consultant who recorded it, the person who took the step, or the treating clinician"
    return "the person who entered it or the treating clinician"


def _makers(made_by: MadeBy) -> set[int]:
    if made_by is None:
        return set()
    if isinstance(made_by, int):
        return {made_by}
    return {m for m in made_by if m is not None}


def may_correct(
    role: Role | str, user_id: int, kind: str, *, made_by: MadeBy, clinicians: Iterable[int | None] = ()
) -> bool:
    """True when this person may void or amend this entry (`made_by`: who made the entry or, for a
    time entry, whose time it is; `clinicians`: the treating clinician(s) of its episode(s))."""
    role = Role(role)
    makers = _makers(made_by)
    if kind == "time_entry":
        return role == Role.CLINIC_LEAD or (user_id in makers and role != Role.CLINIC_LEAD)
    if kind == "recommendation" and role == Role.PSYCHIATRIST:
        return user_id in makers
    if role not in (Role.CARE_MANAGER, Role.CLINICIAN):
        return False
    if user_id in makers:
        return True
    return role == Role.CLINICIAN and user_id in set(clinicians)


def refusal(kind: str) -> str:
    label = KIND_LABELS.get(kind, "entry")
    return f"Only {who_may(kind)} can correct this {label}."


def check_may_correct(
    role: Role | str, user_id: int, kind: str, *, made_by: MadeBy, clinicians: Iterable[int | None] = ()
) -> None:
    if not may_correct(role, user_id, kind, made_by=made_by, clinicians=clinicians):
        raise CorrectionRefused(refusal(kind))
