"""Billing codes from monthly minutes, driven by a payer rule set that is plain data.

The engine knows nothing about Medicare: a `RuleSet` lists code rules, and `codes_for` picks, per
exclusive group, the first rule (in list order) whose threshold the minutes reach, then adds its
add-on units. Medicare 2026 is shipped as the `MEDICARE_2026` dict; the store seeds it into the
payer_rule_set table and a clinic lead may copy and edit it per payer.

Pure: no Qt, no SQL, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "FORMAT_VERSION",
    "MEDICARE_2026",
    "MEDICARE_2026_RULES",
    "MONTH_KINDS",
    "CodeRule",
    "RuleSet",
    "RuleSetError",
    "addon_units",
    "codes_for",
    "medicare_codes",
    "next_code_gap",
]

FORMAT_VERSION = 1
MONTH_KINDS: tuple[str, ...] = ("initial", "subsequent", "any")
MonthKind = Literal["initial", "subsequent", "any"]


class RuleSetError(ValueError):
    """A rule-set dict is malformed; the message names the offending field."""


@dataclass(frozen=True)
class CodeRule:
    """One billable code and when it is reached.

    - `month`: "initial" (first month of an episode), "subsequent", or "any".
    - `billable_from`: minutes at which the code is reached (the midpoint of `base_minutes` for
      Medicare, hence 36 of 70); must not exceed `base_minutes`.
    - `exclusive_group`: at most one code per group per month; within a group the earlier rule in
      the rule set wins, so list the larger code first (99492/99493 before G2214).
    - add-on: `addon_code` gets its first unit at `base_minutes + addon_first_past_base` and one
      more every `addon_unit_minutes` after that, up to `addon_max_units` (None = no cap).
    """

    code: str
    program: str
    month: MonthKind
    base_minutes: int
    billable_from: int
    exclusive_group: str
    description: str = ""
    addon_code: str | None = None
    addon_unit_minutes: int | None = None
    addon_first_past_base: int | None = None
    addon_max_units: int | None = None

    def applies_to(self, program: str, initial_month: bool) -> bool:
        if self.program != program:
            return False
        return self.month == "any" or self.month == ("initial" if initial_month else "subsequent")

    def next_addon_at(self, minutes: int) -> int | None:
        """The smallest minutes > `minutes` at which one more add-on unit is reached, if any."""
        if self.addon_code is None:
            return None
        assert self.addon_unit_minutes is not None and self.addon_first_past_base is not None
        units = addon_units(self, minutes)
        if self.addon_max_units is not None and units >= self.addon_max_units:
            return None
        return self.base_minutes + self.addon_first_past_base + units * self.addon_unit_minutes


def addon_units(rule: CodeRule, minutes: int) -> int:
    """Add-on units reached at `minutes` for a rule (0 when it has no add-on)."""
    if rule.addon_code is None:
        return 0
    assert rule.addon_unit_minutes is not None and rule.addon_first_past_base is not None
    past_first = minutes - rule.base_minutes - rule.addon_first_past_base
    if past_first < 0:
        return 0
    units = 1 + past_first // rule.addon_unit_minutes
    if rule.addon_max_units is not None:
        units = min(units, rule.addon_max_units)
    return units


_RULE_REQUIRED = ("code", "program", "month", "base_minutes", "billable_from", "exclusive_group")
_RULE_OPTIONAL = (
    "description",
    "addon_code",
    "addon_unit_minutes",
    "addon_first_past_base",
    "addon_max_units",
)
_SET_KEYS = ("format_version", "name", "description", "programs", "rules")


@dataclass(frozen=True)
class RuleSet:
    """A payer's billing rules. Build from stored JSON with `from_dict`; store with `to_dict`."""

    name: str
    programs: tuple[str, ...]
    rules: tuple[CodeRule, ...]
    description: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleSet:
        """Validate and build. Raises RuleSetError naming the first bad field."""
        if not isinstance(data, Mapping):
            raise RuleSetError("rule set: must be a mapping")
        unknown = sorted(set(data) - set(_SET_KEYS))
        if unknown:
            raise RuleSetError(f"rule set: unknown field(s) {', '.join(map(str, unknown))}")
        version = data.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise RuleSetError(f"format_version: {version!r} is not supported (expected {FORMAT_VERSION})")
        name = _text(data, "name", "rule set", required=True)
        description = _text(data, "description", "rule set", required=False) or ""
        programs_raw = data.get("programs")
        if (
            not isinstance(programs_raw, Sequence)
            or isinstance(programs_raw, str)
            or not programs_raw
            or not all(isinstance(p, str) and p.strip() for p in programs_raw)
        ):
            raise RuleSetError("programs: must be a non-empty list of program names")
        programs = tuple(programs_raw)
        if len(set(programs)) != len(programs):
            raise RuleSetError("programs: names must be unique")
        rules_raw = data.get("rules")
        if not isinstance(rules_raw, Sequence) or isinstance(rules_raw, str):
            raise RuleSetError("rules: must be a list")
        rules = tuple(_rule_from_dict(r, f"rules[{i}]", programs) for i, r in enumerate(rules_raw))
        _check_consistency(rules)
        return cls(name=name, programs=programs, rules=rules, description=description)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that `from_dict` turns back into an equal RuleSet."""
        return {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "programs": list(self.programs),
            "rules": [{k: getattr(r, k) for k in _RULE_REQUIRED + _RULE_OPTIONAL} for r in self.rules],
        }

    def rules_for(self, program: str, initial_month: bool) -> tuple[CodeRule, ...]:
        if program not in self.programs:
            raise ValueError(f"unknown program {program!r} for rule set {self.name!r}")
        return tuple(r for r in self.rules if r.applies_to(program, initial_month))


def _text(data: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RuleSetError(f"{where}.{key}: must be a non-empty text")
    return value


def _int(data: Mapping[str, Any], key: str, where: str, *, minimum: int, required: bool) -> int | None:
    value = data.get(key)
    if value is None and not required:
        return None
    # bool is an int subclass; "true minutes" is always a data-entry mistake.
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise RuleSetError(f"{where}.{key}: must be a whole number ≥ {minimum}, got {value!r}")
    return value


def _rule_from_dict(raw: Any, where: str, programs: tuple[str, ...]) -> CodeRule:
    if not isinstance(raw, Mapping):
        raise RuleSetError(f"{where}: must be a mapping")
    unknown = sorted(set(raw) - set(_RULE_REQUIRED) - set(_RULE_OPTIONAL))
    if unknown:
        raise RuleSetError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
    code = _text(raw, "code", where, required=True)
    where = f"{where} ({code})"
    program = _text(raw, "program", where, required=True)
    if program not in programs:
        raise RuleSetError(
            f"{where}.program: {program!r} is not one of the rule set's programs {list(programs)}"
        )
    month = raw.get("month")
    if month not in MONTH_KINDS:
        raise RuleSetError(f"{where}.month: must be one of {list(MONTH_KINDS)}, got {month!r}")
    base = _int(raw, "base_minutes", where, minimum=1, required=True)
    billable = _int(raw, "billable_from", where, minimum=1, required=True)
    assert base is not None and billable is not None
    if billable > base:
        raise RuleSetError(f"{where}.billable_from: {billable} is more than base_minutes {base}")
    group = _text(raw, "exclusive_group", where, required=True)
    description = _text(raw, "description", where, required=False) or ""
    addon_code = _text(raw, "addon_code", where, required=False)
    unit = _int(raw, "addon_unit_minutes", where, minimum=1, required=addon_code is not None)
    first = _int(raw, "addon_first_past_base", where, minimum=1, required=addon_code is not None)
    max_units = _int(raw, "addon_max_units", where, minimum=1, required=False)
    if addon_code is None:
        if unit is not None or first is not None or max_units is not None:
            raise RuleSetError(f"{where}: add-on minutes given without addon_code")
    else:
        assert unit is not None and first is not None
        if first > unit:
            raise RuleSetError(
                f"{where}.addon_first_past_base: {first} is more than addon_unit_minutes {unit}"
            )
        if addon_code == code:
            raise RuleSetError(f"{where}.addon_code: must differ from the code itself")
    return CodeRule(
        code=code,
        program=program,
        month=month,
        base_minutes=base,
        billable_from=billable,
        exclusive_group=group,
        description=description,
        addon_code=addon_code,
        addon_unit_minutes=unit,
        addon_first_past_base=first,
        addon_max_units=max_units,
    )


def _check_consistency(rules: tuple[CodeRule, ...]) -> None:
    # Two rules for one code that could both apply to the same month would make the result depend on
    # list order in a way nobody would guess; refuse them.
    for i, a in enumerate(rules):
        for b in rules[i + 1 :]:
            months_overlap = a.month == b.month or "any" in (a.month, b.month)
            if a.code == b.code and a.program == b.program and months_overlap:
                raise RuleSetError(
                    f"rules: code {a.code} is defined twice for program {a.program!r} and month kind {b.month!r}"
                )
    primary = {r.code for r in rules}
    for r in rules:
        if r.addon_code is not None and r.addon_code in primary:
            raise RuleSetError(f"rules ({r.code}).addon_code: {r.addon_code} is also a primary code")


# Medicare physician fee schedule, 2026. Order matters within a group: the larger code comes first
# so G2214 is only chosen when 99492/99493 is not reached.
MEDICARE_2026: dict[str, Any] = {
    "format_version": FORMAT_VERSION,
    "name": "Medicare 2026",
    "description": "CMS physician fee schedule 2026: CoCM 99492/99493/+99494, G2214; general BHI 99484.",
    "programs": ["cocm", "bhi"],
    "rules": [
        {
            "code": "99492",
            "program": "cocm",
            "month": "initial",
            "base_minutes": 70,
            "billable_from": 36,
            "exclusive_group": "cocm",
            "description": "CoCM, first month of an episode",
            "addon_code": "99494",
            "addon_unit_minutes": 30,
            "addon_first_past_base": 16,
            "addon_max_units": None,
        },
        {
            "code": "99493",
            "program": "cocm",
            "month": "subsequent",
            "base_minutes": 60,
            "billable_from": 31,
            "exclusive_group": "cocm",
            "description": "CoCM, each subsequent month",
            "addon_code": "99494",
            "addon_unit_minutes": 30,
            "addon_first_past_base": 16,
            "addon_max_units": None,
        },
        {
            "code": "G2214",
            "program": "cocm",
            "month": "any",
            "base_minutes": 30,
            "billable_from": 16,
            "exclusive_group": "cocm",
            "description": "CoCM, first 30 minutes, initial or subsequent month",
            "addon_code": None,
            "addon_unit_minutes": None,
            "addon_first_past_base": None,
            "addon_max_units": None,
        },
        {
            "code": "99484",
            "program": "bhi",
            "month": "any",
            "base_minutes": 20,
            "billable_from": 20,
            "exclusive_group": "bhi",
            "description": "General BHI, clinical staff time, per calendar month",
            "addon_code": None,
            "addon_unit_minutes": None,
            "addon_first_past_base": None,
            "addon_max_units": None,
        },
    ],
}
"""Shipped default data. Treat as read-only: `copy.deepcopy` it before editing."""

MEDICARE_2026_RULES: RuleSet = RuleSet.from_dict(MEDICARE_2026)


def _check_minutes(minutes: int) -> None:
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        raise TypeError(f"minutes must be an int, got {type(minutes).__name__}")
    if minutes < 0:
        raise ValueError(f"minutes must not be negative, got {minutes}")


def codes_for(rule_set: RuleSet, program: str, initial_month: bool, minutes: int) -> list[tuple[str, int]]:
    """(code, units) billable for one patient-month, in billing order (primary, then its add-on).

    Raises ValueError for negative minutes or a program the rule set does not know.
    """
    _check_minutes(minutes)
    result: list[tuple[str, int]] = []
    taken: set[str] = set()
    for rule in rule_set.rules_for(program, initial_month):
        if rule.exclusive_group in taken or minutes < rule.billable_from:
            continue
        taken.add(rule.exclusive_group)
        result.append((rule.code, 1))
        units = addon_units(rule, minutes)
        if units:
            assert rule.addon_code is not None
            result.append((rule.addon_code, units))
    return result


def next_code_gap(
    rule_set: RuleSet, program: str, initial_month: bool, minutes: int
) -> tuple[str, int] | None:
    """The next code (or next add-on unit) and the minutes still needed for it, e.g. ("99493", 12).

    None when no more minutes would change the codes (e.g. 99484 already reached).
    """
    _check_minutes(minutes)
    now = dict(codes_for(rule_set, program, initial_month, minutes))
    # Codes only change at a rule's threshold or at an add-on step, so test those points in order.
    points: set[int] = set()
    for rule in rule_set.rules_for(program, initial_month):
        if rule.billable_from > minutes:
            points.add(rule.billable_from)
        step = rule.next_addon_at(minutes)
        if step is not None:
            points.add(step)
    for point in sorted(points):
        later = codes_for(rule_set, program, initial_month, point)
        for code, units in later:
            if units > now.get(code, 0):
                return code, point - minutes
    return None


def medicare_codes(program: str, initial_month: bool, minutes: int) -> list[tuple[str, int]]:
    """Codes under the shipped Medicare 2026 rules, e.g. ("cocm", True, 90) → [("99492", 1), ("99494", 1)]."""
    return codes_for(MEDICARE_2026_RULES, program, initial_month, minutes)
