"""Payer rule sets as data: the clinic lead copies Medicare, edits it, assigns it to a patient."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.services.billing_progress import billing_progress
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.payer_rules import assign_payer, copy_rule_set, list_rule_sets, update_rule_set
from cocm_desktop.services.time_log import add_manual_time


def test_copy_edit_assign_and_validation(clinic, actors, build) -> None:
    lead = actors["lead"]
    with clinic.session() as s:
        (medicare,) = list_rule_sets(s, lead)
        assert medicare.is_default and medicare.name == "Medicare 2026"
        copy = copy_rule_set(s, lead, medicare.id, "Acme Health 2026")
    rules = copy.rules
    g2214 = next(r for r in rules["rules"] if r["code"] == "G2214")
    g2214["billable_from"] = 50  # more than its 30 base minutes: refused, field named
    with pytest.raises(ValidationError, match=r"G2214.*billable_from"), clinic.session() as s:
        update_rule_set(s, lead, copy.id, rules=rules)
    g2214["billable_from"], g2214["base_minutes"] = 25, 30  # this payer wants 25 minutes
    with clinic.session() as s:
        saved = update_rule_set(s, lead, copy.id, rules=rules)
    assert next(r for r in saved.rules["rules"] if r["code"] == "G2214")["billable_from"] == 25
    with pytest.raises(ValidationError, match="already exists"), clinic.session() as s:
        copy_rule_set(s, lead, medicare.id, "Acme Health 2026")
    with pytest.raises(PermissionDenied), clinic.session() as s:
        list_rule_sets(s, actors["cm1"])

    pid = build.patient()
    eid = build.episode(pid)
    with clinic.session() as s:
        add_manual_time(
            s,
            actors["cm1"],
            patient_id=pid,
            activity="outreach",
            local_date=date(2026, 11, 3),
            minutes=20,
            now=datetime(2026, 11, 24, 12),
        )
        assert billing_progress(s, date(2026, 11, 1), [eid])[eid].codes == (("G2214", 1),)  # Medicare: 16
        assign_payer(s, actors["cm1"], pid, copy.id, payer_name="Acme Health")
    with clinic.session() as s:
        p = billing_progress(s, date(2026, 11, 1), [eid])[eid]
    assert (p.codes, p.next_code, p.minutes_needed) == ((), "G2214", 5)
