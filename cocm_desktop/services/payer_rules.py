"""Payer rule sets: billing rules as data rows the clinic lead lists, copies and edits.

The shipped Medicare 2026 set is seeded as the default when a clinic is created. A payer-specific
set starts as a copy and is edited as a whole dict (domain.billing.RuleSet.to_dict() shape); every
save is validated by `RuleSet.from_dict`, so a malformed set is refused with the field named.
A patient without an assigned set is billed under the default set.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.billing import RuleSet, RuleSetError
from cocm_desktop.domain.roles import Permission, can
from cocm_desktop.store.models import Patient, PayerRuleSet

from .common import NotFound, ValidationError, check, record

__all__ = [
    "PayerRuleSetInfo",
    "assign_payer",
    "copy_rule_set",
    "get_rule_set",
    "list_rule_sets",
    "load_rule_sets",
    "rule_set_for_patient",
    "rule_set_choices",
    "set_default_rule_set",
    "update_rule_set",
]


@dataclass(frozen=True)
class PayerRuleSetInfo:
    id: int
    name: str
    is_default: bool
    effective_from: date | None
    note: str | None
    rules: dict[str, Any]  # RuleSet.to_dict() shape; a deep copy, safe to edit and pass back
    patients: int  # patients assigned to this set explicitly
    updated_at: datetime


def _parse(row_rules: dict[str, Any]) -> RuleSet:
    return RuleSet.from_dict(row_rules)


def load_rule_sets(session: Session) -> tuple[dict[int, RuleSet], int | None]:
    """Every stored rule set, parsed, and the default's id. Rows that no longer parse are skipped
    (they cannot be saved that way through this module)."""
    sets: dict[int, RuleSet] = {}
    default_id: int | None = None
    for rid, rules, is_default in session.execute(
        select(PayerRuleSet.id, PayerRuleSet.rules, PayerRuleSet.is_default).order_by(PayerRuleSet.id)
    ):
        try:
            sets[rid] = _parse(rules)
        except RuleSetError:
            continue
        if is_default and default_id is None:
            default_id = rid
    return sets, default_id


def rule_set_for_patient(session: Session, patient_id: int) -> tuple[int | None, str, RuleSet | None]:
    """(rule set id, its name, parsed rules) used to bill this patient: theirs, else the default."""
    assigned = session.scalar(select(Patient.payer_rule_set_id).where(Patient.id == patient_id))
    row = session.get(PayerRuleSet, assigned) if assigned is not None else None
    if row is None:
        row = session.scalar(select(PayerRuleSet).where(PayerRuleSet.is_default.is_(True)))
    if row is None:
        return None, "no rule set", None
    return row.id, row.name, _parse(row.rules)


def _info(session: Session, row: PayerRuleSet) -> PayerRuleSetInfo:
    n = session.scalar(select(func.count()).select_from(Patient).where(Patient.payer_rule_set_id == row.id))
    return PayerRuleSetInfo(
        row.id,
        row.name,
        bool(row.is_default),
        row.effective_from,
        row.note,
        copy.deepcopy(row.rules),
        int(n or 0),
        row.updated_at,
    )


def _row(session: Session, rule_set_id: int) -> PayerRuleSet:
    row = session.get(PayerRuleSet, rule_set_id)
    if row is None:
        raise NotFound(f"Payer rule set {rule_set_id} does not exist.")
    return row


def rule_set_choices(session: Session) -> list[tuple[int, str, bool]]:
    """(id, name, is_default) for pickers (a patient's payer); no rules, no permission needed."""
    return [
        (r[0], r[1], bool(r[2]))
        for r in session.execute(
            select(PayerRuleSet.id, PayerRuleSet.name, PayerRuleSet.is_default).order_by(PayerRuleSet.name)
        )
    ]


def list_rule_sets(session: Session, actor: Actor) -> list[PayerRuleSetInfo]:
    check(actor, Permission.EDIT_BILLING_RULES)
    rows = session.scalars(select(PayerRuleSet).order_by(PayerRuleSet.is_default.desc(), PayerRuleSet.name))
    return [_info(session, r) for r in rows]


def get_rule_set(session: Session, actor: Actor, rule_set_id: int) -> PayerRuleSetInfo:
    check(actor, Permission.EDIT_BILLING_RULES)
    return _info(session, _row(session, rule_set_id))


def _clean_name(session: Session, name: str, exclude_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("Name: give the rule set a name (e.g. the payer's name and year).")
    if len(name) > 120:
        raise ValidationError("Name: at most 120 characters.")
    other = session.scalar(select(PayerRuleSet.id).where(PayerRuleSet.name == name))
    if other is not None and other != exclude_id:
        raise ValidationError(f"Name: a rule set called “{name}” already exists.")
    return name


def _validated(rules: dict[str, Any], name: str) -> dict[str, Any]:
    data = copy.deepcopy(dict(rules))
    data["name"] = name  # the row's name is the set's name
    try:
        return _parse(data).to_dict()
    except RuleSetError as exc:
        raise ValidationError(f"Billing rules: {exc}") from None


def copy_rule_set(
    session: Session, actor: Actor, source_id: int, new_name: str, note: str | None = None
) -> PayerRuleSetInfo:
    """A new, editable set starting from an existing one (e.g. Medicare 2026 → a commercial payer)."""
    check(actor, Permission.EDIT_BILLING_RULES)
    src = _row(session, source_id)
    name = _clean_name(session, new_name)
    row = PayerRuleSet(
        name=name,
        rules=_validated(src.rules, name),
        is_default=False,
        effective_from=src.effective_from,
        note=note,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "payer_rules.copy",
        object_type="payer_rule_set",
        object_id=row.id,
        summary=f"Rule set “{name}” copied from “{src.name}”",
    )
    return _info(session, row)


def update_rule_set(
    session: Session,
    actor: Actor,
    rule_set_id: int,
    *,
    rules: dict[str, Any] | None = None,
    name: str | None = None,
    note: str | None = None,
    effective_from: date | None = None,
) -> PayerRuleSetInfo:
    """Save edits; `rules` replaces the whole rule list after validation by RuleSet.from_dict."""
    check(actor, Permission.EDIT_BILLING_RULES)
    row = _row(session, rule_set_id)
    before = copy.deepcopy(row.rules)
    new_name = _clean_name(session, name, exclude_id=row.id) if name is not None else row.name
    new_rules = _validated(rules if rules is not None else row.rules, new_name)
    changed = []
    if new_name != row.name:
        changed.append("name")
        row.name = new_name
    if new_rules != row.rules:
        changed.append("rules")
        row.rules = new_rules
    if note is not None and note != row.note:
        changed.append("note")
        row.note = note or None
    if effective_from is not None and effective_from != row.effective_from:
        changed.append("effective date")
        row.effective_from = effective_from
    if not changed:
        return _info(session, row)
    session.flush()
    record(
        session,
        actor,
        "payer_rules.update",
        object_type="payer_rule_set",
        object_id=row.id,
        summary=f"Rule set “{row.name}” edited ({', '.join(changed)})",
        detail={"before": before, "after": row.rules} if "rules" in changed else None,
    )
    return _info(session, row)


def set_default_rule_set(session: Session, actor: Actor, rule_set_id: int) -> PayerRuleSetInfo:
    """The set used for patients without an assigned payer rule set."""
    check(actor, Permission.EDIT_BILLING_RULES)
    row = _row(session, rule_set_id)
    for other in session.scalars(select(PayerRuleSet).where(PayerRuleSet.is_default.is_(True))):
        other.is_default = False
    row.is_default = True
    session.flush()
    record(
        session,
        actor,
        "payer_rules.default",
        object_type="payer_rule_set",
        object_id=row.id,
        summary=f"Rule set “{row.name}” is now the default",
    )
    return _info(session, row)


def assign_payer(
    session: Session,
    actor: Actor,
    patient_id: int,
    rule_set_id: int | None,
    *,
    payer_name: str | None = None,
    member_id: str | None = None,
) -> None:
    """Bill this patient under `rule_set_id` (None = the clinic default). The clinic lead, or the
    care team editing patient details, may do it."""
    if not can(actor.role, Permission.EDIT_PATIENT):
        check(actor, Permission.EDIT_BILLING_RULES)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient does not exist.")
    name = "the default rule set"
    if rule_set_id is not None:
        name = f"“{_row(session, rule_set_id).name}”"
    patient.payer_rule_set_id = rule_set_id
    if payer_name is not None:
        patient.payer_name = payer_name.strip() or None
    if member_id is not None:
        patient.member_id = member_id.strip() or None
    session.flush()
    record(
        session,
        actor,
        "patient.payer",
        patient_id=patient_id,
        object_type="patient",
        object_id=patient_id,
        summary=f"Billed under {name}",
    )
