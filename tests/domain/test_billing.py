"""Billing codes: Medicare 2026 thresholds, the generic rule-set engine, and next-code gaps."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocm_desktop.domain.billing import (
    MEDICARE_2026,
    MEDICARE_2026_RULES,
    RuleSet,
    RuleSetError,
    codes_for,
    medicare_codes,
    next_code_gap,
)

# Every boundary either side, for initial and subsequent CoCM months and general BHI.
MEDICARE_CASES = [
    # initial month: G2214 16–35, 99492 from 36, +99494 from 86, +1 every 30
    ("cocm", True, 0, []),
    ("cocm", True, 15, []),
    ("cocm", True, 16, [("G2214", 1)]),
    ("cocm", True, 19, [("G2214", 1)]),
    ("cocm", True, 20, [("G2214", 1)]),
    ("cocm", True, 30, [("G2214", 1)]),
    ("cocm", True, 31, [("G2214", 1)]),
    ("cocm", True, 35, [("G2214", 1)]),
    ("cocm", True, 36, [("99492", 1)]),
    ("cocm", True, 70, [("99492", 1)]),
    ("cocm", True, 75, [("99492", 1)]),
    ("cocm", True, 76, [("99492", 1)]),
    ("cocm", True, 85, [("99492", 1)]),
    ("cocm", True, 86, [("99492", 1), ("99494", 1)]),
    ("cocm", True, 90, [("99492", 1), ("99494", 1)]),
    ("cocm", True, 105, [("99492", 1), ("99494", 1)]),
    ("cocm", True, 106, [("99492", 1), ("99494", 1)]),
    ("cocm", True, 115, [("99492", 1), ("99494", 1)]),
    ("cocm", True, 116, [("99492", 1), ("99494", 2)]),
    ("cocm", True, 145, [("99492", 1), ("99494", 2)]),
    ("cocm", True, 146, [("99492", 1), ("99494", 3)]),
    # subsequent month: G2214 16–30, 99493 from 31, +99494 from 76, +1 every 30
    ("cocm", False, 0, []),
    ("cocm", False, 15, []),
    ("cocm", False, 16, [("G2214", 1)]),
    ("cocm", False, 19, [("G2214", 1)]),
    ("cocm", False, 20, [("G2214", 1)]),
    ("cocm", False, 30, [("G2214", 1)]),
    ("cocm", False, 31, [("99493", 1)]),
    ("cocm", False, 35, [("99493", 1)]),
    ("cocm", False, 36, [("99493", 1)]),
    ("cocm", False, 75, [("99493", 1)]),
    ("cocm", False, 76, [("99493", 1), ("99494", 1)]),
    ("cocm", False, 85, [("99493", 1), ("99494", 1)]),
    ("cocm", False, 86, [("99493", 1), ("99494", 1)]),
    ("cocm", False, 105, [("99493", 1), ("99494", 1)]),
    ("cocm", False, 106, [("99493", 1), ("99494", 2)]),
    ("cocm", False, 115, [("99493", 1), ("99494", 2)]),
    ("cocm", False, 116, [("99493", 1), ("99494", 2)]),
    ("cocm", False, 136, [("99493", 1), ("99494", 3)]),
    # general BHI: 99484 from 20, one unit, initial/subsequent irrelevant
    ("bhi", True, 15, []),
    ("bhi", False, 16, []),
    ("bhi", False, 19, []),
    ("bhi", True, 20, [("99484", 1)]),
    ("bhi", False, 20, [("99484", 1)]),
    ("bhi", False, 36, [("99484", 1)]),
    ("bhi", False, 116, [("99484", 1)]),
]


@pytest.mark.parametrize(("program", "initial", "minutes", "expected"), MEDICARE_CASES)
def test_medicare_codes_at_every_boundary(program: str, initial: bool, minutes: int, expected: list) -> None:
    assert medicare_codes(program, initial, minutes) == expected


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("cocm", True, -1), ValueError, "negative"),
        (("psychotherapy", True, 40), ValueError, "unknown program"),
        (("cocm", True, 40.0), TypeError, "int"),
        (("cocm", True, True), TypeError, "int"),
    ],
)
def test_medicare_codes_rejects_bad_input(args: tuple, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        medicare_codes(*args)


@pytest.mark.parametrize(
    ("program", "initial", "minutes", "expected"),
    [
        ("cocm", False, 0, ("G2214", 16)),
        ("cocm", False, 19, ("99493", 12)),  # the registry's "12 min to 99493"
        ("cocm", False, 30, ("99493", 1)),
        ("cocm", False, 31, ("99494", 45)),
        ("cocm", False, 76, ("99494", 30)),
        ("cocm", True, 15, ("G2214", 1)),
        ("cocm", True, 16, ("99492", 20)),
        ("cocm", True, 35, ("99492", 1)),
        ("cocm", True, 36, ("99494", 50)),
        ("cocm", True, 90, ("99494", 26)),
        ("bhi", False, 0, ("99484", 20)),
        ("bhi", False, 19, ("99484", 1)),
        ("bhi", False, 20, None),
        ("bhi", False, 300, None),
    ],
)
def test_next_code_gap(program: str, initial: bool, minutes: int, expected: tuple | None) -> None:
    assert next_code_gap(MEDICARE_2026_RULES, program, initial, minutes) == expected


def test_next_code_gap_is_reached_exactly() -> None:
    for program, initial in [("cocm", True), ("cocm", False), ("bhi", False)]:
        for minutes in range(0, 200):
            gap = next_code_gap(MEDICARE_2026_RULES, program, initial, minutes)
            if gap is None:
                continue
            code, needed = gap
            assert needed > 0
            before = dict(codes_for(MEDICARE_2026_RULES, program, initial, minutes + needed - 1))
            after = dict(codes_for(MEDICARE_2026_RULES, program, initial, minutes + needed))
            assert after.get(code, 0) > before.get(code, 0)


def test_medicare_data_round_trips_through_json() -> None:
    text = json.dumps(MEDICARE_2026)
    rebuilt = RuleSet.from_dict(json.loads(text))
    assert rebuilt == MEDICARE_2026_RULES
    assert rebuilt.to_dict() == MEDICARE_2026


def test_custom_payer_rule_set_behaves_differently() -> None:
    # A payer that wants full time (no midpoint), no G2214, add-ons capped at 2 units, and pays BHI
    # as its own group with a 30-minute threshold.
    data = copy.deepcopy(MEDICARE_2026)
    data["name"] = "Acme Health 2026"
    rules = [r for r in data["rules"] if r["code"] != "G2214"]
    for r in rules:
        if r["code"] == "99492":
            r["billable_from"] = 70
        if r["code"] == "99493":
            r["billable_from"] = 60
            r["addon_first_past_base"] = 30
            r["addon_max_units"] = 2
        if r["code"] == "99484":
            r["base_minutes"] = r["billable_from"] = 30
    data["rules"] = rules
    acme = RuleSet.from_dict(data)

    assert codes_for(acme, "cocm", True, 36) == []  # Medicare: 99492
    assert codes_for(acme, "cocm", True, 70) == [("99492", 1)]
    assert codes_for(acme, "cocm", False, 20) == []  # Medicare: G2214
    assert codes_for(acme, "cocm", False, 76) == [("99493", 1)]  # Medicare: + 99494
    assert codes_for(acme, "cocm", False, 90) == [("99493", 1), ("99494", 1)]
    assert codes_for(acme, "cocm", False, 500) == [("99493", 1), ("99494", 2)]  # capped
    assert codes_for(acme, "bhi", False, 20) == []
    assert codes_for(acme, "bhi", False, 30) == [("99484", 1)]
    assert next_code_gap(acme, "cocm", False, 20) == ("99493", 40)
    assert next_code_gap(acme, "cocm", False, 120) is None  # add-on cap reached
    # The default is untouched by editing a copy.
    assert medicare_codes("cocm", True, 36) == [("99492", 1)]


def test_rule_set_without_a_program_rule_bills_nothing_for_it() -> None:
    data = copy.deepcopy(MEDICARE_2026)
    data["rules"] = [r for r in data["rules"] if r["program"] != "bhi"]
    no_bhi = RuleSet.from_dict(data)
    assert codes_for(no_bhi, "bhi", False, 60) == []
    assert next_code_gap(no_bhi, "bhi", False, 0) is None


def _with(change: dict, index: int = 0) -> dict:
    data = copy.deepcopy(MEDICARE_2026)
    data["rules"][index].update(change)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**MEDICARE_2026, "rules": "99492"}, "rules: must be a list"),
        ({**MEDICARE_2026, "name": ""}, "name: must be a non-empty text"),
        ({**MEDICARE_2026, "programs": []}, "programs"),
        ({**MEDICARE_2026, "programs": ["cocm", "cocm", "bhi"]}, "unique"),
        ({**MEDICARE_2026, "format_version": 2}, "format_version"),
        ({**MEDICARE_2026, "payer": "x"}, "unknown field"),
        (_with({"month": "first"}), r"rules\[0\] \(99492\)\.month"),
        (_with({"base_minutes": 0}), r"base_minutes: must be a whole number ≥ 1"),
        (_with({"billable_from": "36"}), "billable_from"),
        (_with({"billable_from": True}), "billable_from"),
        (_with({"billable_from": 71}), "more than base_minutes"),
        (_with({"program": "ccm"}), "not one of the rule set's programs"),
        (_with({"addon_unit_minutes": None}), "addon_unit_minutes"),
        (_with({"addon_first_past_base": 31}), "more than addon_unit_minutes"),
        (_with({"addon_code": "99492"}), "must differ"),
        (_with({"addon_code": "G2214"}), "also a primary code"),
        (_with({"addon_code": None}), "add-on minutes given without addon_code"),
        (_with({"unit": 1}), "unknown field"),
        (
            _with(
                {
                    "code": "G2214",
                    "month": "initial",
                    "addon_code": None,
                    "addon_unit_minutes": None,
                    "addon_first_past_base": None,
                }
            ),
            "defined twice",
        ),
    ],
)
def test_rule_set_validation_names_the_problem(data: dict, message: str) -> None:
    with pytest.raises(RuleSetError, match=message):
        RuleSet.from_dict(data)


def test_rule_set_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        RuleSet.from_dict({"name": "x"})


@given(
    program=st.sampled_from(["cocm", "bhi"]),
    initial=st.booleans(),
    a=st.integers(min_value=0, max_value=400),
    b=st.integers(min_value=0, max_value=400),
)
def test_more_minutes_never_bill_less(program: str, initial: bool, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    codes_lo = dict(medicare_codes(program, initial, lo))
    codes_hi = dict(medicare_codes(program, initial, hi))
    # Units of the add-on never drop; a primary code may only be replaced by a bigger one.
    assert codes_hi.get("99494", 0) >= codes_lo.get("99494", 0)
    assert len(codes_hi) >= len(codes_lo)
    if codes_lo:
        assert codes_hi
    rank = {"G2214": 1, "99493": 2, "99492": 2, "99484": 1}
    primary_lo = [c for c in codes_lo if c in rank]
    primary_hi = [c for c in codes_hi if c in rank]
    if primary_lo:
        assert rank[primary_hi[0]] >= rank[primary_lo[0]]


@given(initial=st.booleans(), minutes=st.integers(min_value=0, max_value=600))
def test_cocm_month_has_exactly_one_primary_code_once_billable(initial: bool, minutes: int) -> None:
    codes = medicare_codes("cocm", initial, minutes)
    primaries = [c for c, _ in codes if c in {"99492", "99493", "G2214"}]
    assert len(primaries) == (1 if minutes >= 16 else 0)
    assert "99492" not in primaries or initial
    assert "99493" not in primaries or not initial
    if codes and codes[-1][0] == "99494":
        assert codes[0][0] in {"99492", "99493"}  # add-on only with 99492/99493, never with G2214
