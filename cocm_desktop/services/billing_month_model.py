"""What a month-end billing run produces: one row per patient-month, grouped by billing practitioner.

Built by services.billing_month; rendered by reports.billing_packet (PDF and CSV)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from cocm_desktop.domain.episode_months import Month
from cocm_desktop.domain.required_elements import Status


@dataclass(frozen=True)
class Excluded:
    reason: str  # ExclusionReason value or SET_ASIDE
    label: str
    minutes: int


@dataclass(frozen=True)
class ElementCheck:
    name: str  # domain.required_elements.CheckName value
    label: str
    status: str  # ok | warn | block
    reason: str


@dataclass(frozen=True)
class LogLine:
    """One appendix row: an entry's minutes on one day (date, staff, activity, minutes)."""

    local_date: date
    start: datetime | None
    end: datetime | None
    staff_name: str
    staff_role: str
    activity: str  # label
    source: str
    logged_minutes: int
    counted_minutes: int
    excluded_reason: str | None  # label of why (part of) it does not count


@dataclass(frozen=True)
class PatientMonth:
    patient_id: int
    episode_id: int | None  # the episode that decides the month
    patient_name: str
    mrn: str
    date_of_birth: date
    payer: str
    rule_set: str
    program: str  # cocm | bhi
    kind: str  # initial | subsequent | bhi
    episode_month: int | None  # 1 = initial month of the billing episode; None for bhi
    consent_date: date | None
    logged_minutes: int
    counted_minutes: int  # counted under `program`: what the codes come from
    excluded: tuple[Excluded, ...]
    conflict: str | None
    codes: tuple[tuple[str, int], ...]  # reached (billable unless blocked)
    checks: tuple[ElementCheck, ...]
    next_code: str | None
    minutes_needed: int | None
    practitioner_id: int | None
    practitioner_name: str
    care_manager_name: str
    time_log: tuple[LogLine, ...] = field(default=())

    @property
    def excluded_minutes(self) -> int:
        return sum(e.minutes for e in self.excluded)

    @property
    def blocked(self) -> bool:
        return any(c.status == Status.BLOCK for c in self.checks)

    @property
    def block_reasons(self) -> tuple[str, ...]:
        return tuple(c.reason for c in self.checks if c.status == Status.BLOCK)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(c.reason for c in self.checks if c.status == Status.WARN)

    @property
    def billed_codes(self) -> tuple[tuple[str, int], ...]:
        """What goes to the claim: the codes, unless a required element blocks them."""
        return () if self.blocked else self.codes

    @property
    def held_codes(self) -> tuple[tuple[str, int], ...]:
        return self.codes if self.blocked else ()

    @property
    def below_threshold(self) -> bool:
        return not self.codes

    @property
    def status(self) -> str:
        """billable | blocked | below threshold."""
        if not self.codes:
            return "below threshold"
        return "blocked" if self.blocked else "billable"

    @property
    def episode_month_text(self) -> str:
        if self.kind == "bhi":
            return "BHI"
        if self.episode_month is None:
            return self.kind
        return f"{self.kind} (month {self.episode_month})"


def _code_totals(code_lists: Iterable[tuple[tuple[str, int], ...]]) -> tuple[tuple[str, int], ...]:
    """Units per code over many rows' (code, units) lists, sorted by code."""
    totals: dict[str, int] = {}
    for codes in code_lists:
        for code, units in codes:
            totals[code] = totals.get(code, 0) + units
    return tuple(sorted(totals.items()))


@dataclass(frozen=True)
class PractitionerGroup:
    practitioner_id: int | None
    name: str
    credentials: str | None
    npi: str | None
    rows: tuple[PatientMonth, ...]

    @property
    def totals(self) -> tuple[tuple[str, int], ...]:
        return _code_totals(r.billed_codes for r in self.rows)

    @property
    def held(self) -> tuple[tuple[str, int], ...]:
        return _code_totals(r.held_codes for r in self.rows)

    @property
    def counted_minutes(self) -> int:
        return sum(r.counted_minutes for r in self.rows)


@dataclass(frozen=True)
class BillingMonth:
    clinic: str
    month: Month
    generated_at: datetime  # local
    generated_by: str
    as_of: date  # checks measured as of this day (month end, or today for the current month)
    groups: tuple[PractitionerGroup, ...]

    @property
    def rows(self) -> tuple[PatientMonth, ...]:
        return tuple(r for g in self.groups for r in g.rows)

    @property
    def totals(self) -> tuple[tuple[str, int], ...]:
        return _code_totals(r.billed_codes for r in self.rows)

    @property
    def held(self) -> tuple[tuple[str, int], ...]:
        return _code_totals(r.held_codes for r in self.rows)

    @property
    def below_threshold(self) -> tuple[PatientMonth, ...]:
        return tuple(
            sorted(
                (r for r in self.rows if r.below_threshold),
                key=lambda r: (-r.counted_minutes, r.patient_name),
            )
        )

    @property
    def blocked(self) -> tuple[PatientMonth, ...]:
        return tuple(r for r in self.rows if r.codes and r.blocked)
