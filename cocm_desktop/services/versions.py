"""No lost edits: a save is refused when someone else saved the record after the form read it.

A form keeps the `row_version` of what it showed and passes it back as `expected_version`; the
service calls `expect_version` before changing anything. When the record moved on, nothing is
saved and the person gets one plain message with the other change — who, when, what — and
chooses (re-open, review theirs, save again). `None` skips the check (commands and callers that
did not show the record first); the store still refuses an UPDATE whose row moved on between
this session's read and its write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import KIND_LABELS
from cocm_desktop.store.errors import EditConflict
from cocm_desktop.store.versions import LastChange, last_change, locked_version

__all__ = ["EditConflict", "conflict_message", "expect_version"]

_LABELS = {
    **KIND_LABELS,
    "agenda_item": "agenda entry",
    "billing_submission": "billing submission",
    "case_review_session": "case-review session",
    "clinic_setting": "clinic policy",
    "consent": "consent",
    "diagnosis": "target condition",
    "episode": "episode of care",
    "medication_proposal": "proposed medication change",
    "payer_rule_set": "payer rule set",
    "user": "staff account",
}
# Records whose values identify a person: the message names the fields changed, never the values.
_NAMES_ONLY = frozenset({"patient", "user"})
_SHORT = 30  # longer text is named, not quoted (a note does not belong in a dialog title line)
_SUMMARY = 160  # an audit summary quoted when a change names no fields (never a patient's: it may name them)


def expect_version(session: Session, actor: Actor, row: Any, expected: int | None, *,
                   object_type: str | None = None, action: str | None = None) -> None:
    """Refuse (EditConflict) when `row` is no longer at the version the form read. Call it
    before changing `row`; from here to the commit nobody else can change it (the row is
    locked on the server; the file engine has one writer at a time)."""
    if expected is None:
        return
    current = locked_version(session, row)
    if current == expected:
        return
    raise EditConflict(conflict_message(session, actor, row, object_type=object_type, action=action),
                       current_version=current)


def conflict_message(session: Session, actor: Actor, row: Any, *, object_type: str | None = None,
                     action: str | None = None) -> str:
    """"Casey Morgan changed this contact at 10:42 (minutes 20 → 25) after you opened it. …\""""
    kind = object_type or type(row).__tablename__
    label = _LABELS.get(kind, "record")
    row_id = None if kind == "clinic_setting" else getattr(row, "id", None)
    last = last_change(session, kind, row_id, action=action)
    tail = "Your change was not saved; review theirs and save again."
    if last is None:
        return f"Someone else changed this {label} after you opened it. {tail}"
    verb = "voided" if last.action.endswith(".void") else "changed"
    what = _what(kind, row, last)
    what = f" ({what})" if what else ""
    if last.user_id == actor.user_id:
        return (f"You {verb} this {label} in another window {_when(last.at_utc)}{what} after you opened it "
                f"here. {tail.replace('theirs', 'that change')}")
    return f"{last.by} {verb} this {label} {_when(last.at_utc)}{what} after you opened it. {tail}"


def _when(at_utc: datetime) -> str:
    local = at_utc.replace(tzinfo=UTC).astimezone()
    if local.date() == datetime.now().astimezone().date():
        return f"at {local:%H:%M}"
    return f"on {local:%Y-%m-%d} at {local:%H:%M}"


def _what(kind: str, row: Any, last: LastChange) -> str:
    if last.action.endswith(".void"):
        return "entered in error"
    names_only = kind in _NAMES_ONLY
    parts = []
    if last.changes:
        for field, (before, after) in last.changes.items():
            if names_only or not (_shown(before) and _shown(after)):
                parts.append(f"{_name(field)} edited")
            else:
                parts.append(f"{_name(field)} {_value(before)} → {_value(after)}")
    else:
        for field in last.fields:
            now = getattr(row, field, None)
            if names_only or not _shown(now):
                parts.append(f"{_name(field)} edited")
            else:
                parts.append(f"{_name(field)} now {_value(now)}")
    if not parts and last.summary and kind != "patient" and len(last.summary) <= _SUMMARY:
        # A step with no field list (a sign-off, a decision, a role or policy change): its audit
        # summary says what it did ("Recommendation approved", "Clinic policy changed: …").
        return last.summary
    return "; ".join(parts)


def _name(field: str) -> str:
    return field.replace("_", " ")


def _shown(value: Any) -> bool:
    return not isinstance(value, dict | list) and len(str(value)) <= _SHORT


def _value(value: Any) -> str:
    if value is None or value == "":
        return "blank"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)
