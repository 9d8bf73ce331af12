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
from .versions import EditConflict, conflict_message, expect_version


def get_policy(session: Session, actor: Actor) -> Policy:
    """The clinic's policy (defaults for anything never changed). Everyone may read it."""
    check(actor, Permission.READ_REGISTRY)
    return load_policy(session)


# The version unit is the policy as a whole: it is one row (key "policy") and the numbers are
# checked together (cross-field rules such as minutes per patient ≤ session minutes), so a form
# showing numbers another lead changed since must not save a combination nobody saw. 0: the
# clinic never changed its policy (no row yet; the first save adds it).
def policy_version(session: Session, actor: Actor) -> int:
    """The version of the policy now (what the policy page passes back as `expected_version`)."""
    check(actor, Permission.READ_REGISTRY)
    row = session.get(ClinicSetting, POLICY_KEY)
    return 0 if row is None else int(row.row_version)


def policy_for_editing(session: Session, actor: Actor) -> tuple[Policy, int]:
    """The policy and its version, read together (the numbers a page shows and the version it
    passes back must be the same save's)."""
    return get_policy(session, actor), policy_version(session, actor)


def _expect_policy(session: Session, actor: Actor, row: ClinicSetting | None, expected: int | None) -> None:
    if expected is None:
        return
    if row is not None:
        expect_version(session, actor, row, expected, action="policy.update")
    elif expected != 0:  # the row the form read is gone: only a restore does that
        raise EditConflict(conflict_message(session, actor, None, object_type="clinic_setting",
                                            action="policy.update"), current_version=0)


def update_policy(session: Session, actor: Actor, values: Mapping[str, int], *,
                  expected_version: int | None = None) -> Policy:
    """Change some policy numbers (clinic lead only); the others keep their current values.

    Unknown names are refused (a typo must not pass silently); the whole result is validated
    before anything is written. Returns the new policy. `expected_version`: `policy_version`
    when the page read the policy — refused when another lead saved it since (services.versions).
    """
    check(actor, Permission.EDIT_POLICY)
    _expect_policy(session, actor, session.get(ClinicSetting, POLICY_KEY), expected_version)
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
