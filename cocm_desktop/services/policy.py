"""Clinic policy: the numbers behind the clinical rules, edited by the clinic lead.

Stored as one ClinicSetting row (key "policy", see common.load_policy) holding only the values
that differ from the shipped defaults, so a later app version's new defaults reach clinics that
never changed them. Every value is checked by `Policy.from_mapping` (whole numbers, ranges,
cross-field rules) before anything is written; the audit keeps each changed value before and after.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.policy import DEFAULT_POLICY, Policy, policy_fields
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import ClinicSetting

from .common import POLICY_KEY, ValidationError, check, load_policy, record


def get_policy(session: Session, actor: Actor) -> Policy:
    """The clinic's policy (defaults for anything never changed). Everyone may read it."""
    check(actor, Permission.READ_REGISTRY)
    return load_policy(session)


def update_policy(session: Session, actor: Actor, values: Mapping[str, int]) -> Policy:
    """Change some policy numbers (clinic lead only); the others keep their current values.

    Unknown names are refused (a typo must not pass silently); the whole result is validated
    before anything is written. Returns the new policy.
    """
    check(actor, Permission.EDIT_POLICY)
    known = {f.name: f for f in policy_fields()}
    unknown = sorted(k for k in values if k not in known)
    if unknown:
        raise ValidationError("Unknown policy setting: " + ", ".join(unknown) + ".")
    current = load_policy(session)
    merged: dict[str, object] = {**current.to_mapping(), **dict(values)}
    for name, value in values.items():
        if type(value) is not int:  # from_mapping also takes strings; the screen sends ints
            raise ValidationError(f"{known[name].label} must be a whole number.")
    try:
        new = Policy.from_mapping(merged)
    except ValueError as exc:
        raise ValidationError(f"Policy not saved: {exc}.") from None
    before, after = current.to_mapping(), new.to_mapping()
    changed = {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}
    if not changed:
        return current
    stored = {k: v for k, v in after.items() if v != DEFAULT_POLICY.to_mapping()[k]}
    row = session.get(ClinicSetting, POLICY_KEY)
    if row is None:
        session.add(ClinicSetting(key=POLICY_KEY, value=stored, updated_by_id=actor.user_id))
    else:
        row.value = stored
        row.updated_by_id = actor.user_id
    session.flush()
    labels = ", ".join(f"{known[k].label} {v['before']} → {v['after']}" for k, v in changed.items())
    record(session, actor, "policy.update", object_type="clinic_setting",
           summary=f"Clinic policy changed: {labels}", detail={"changed": changed})
    return new
