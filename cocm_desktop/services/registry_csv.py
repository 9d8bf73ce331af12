"""The registry as CSV for a spreadsheet or another system: the same rows and flags as the screen.

Every cell goes through reports.csv_safe, so a spreadsheet never runs one as a formula.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date
from typing import TextIO

from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.flags import Flag
from cocm_desktop.reports.csv_safe import safe_writer

from .common import record
from .registry import RegistryRow, build_registry

CSV_COLUMNS: tuple[str, ...] = (
    "Patient", "MRN", "Care manager", "Clinician", "Program", "Status", "Enrolled", "Weeks",
    "Primary scale", "Baseline PHQ-9", "Baseline PHQ-9 date", "Last PHQ-9", "Last PHQ-9 date",
    "PHQ-9 change", "Baseline GAD-7", "Baseline GAD-7 date", "Last GAD-7", "Last GAD-7 date",
    "GAD-7 change", "Last contact", "Failed outreach attempts", "Next action", "Next action due",
    "Last case review", "Minutes this month", "Next code", "Minutes to next code", "Billing",
    "Transfer pending to", "Flags",
) + tuple(f.label for f in Flag)


def _d(v: date | None) -> str:
    return v.isoformat() if v else ""


def _n(v: int | None) -> str:
    return "" if v is None else str(v)


def csv_record(row: RegistryRow) -> list[str | None]:
    """The cells of one row, before csv_safe neutralises them."""
    flags = row.flag_set
    return [
        row.patient_name, row.mrn, row.care_manager, row.clinician, row.program,
        row.status, _d(row.enrolled_on), str(row.weeks), row.primary_scale,
        _n(row.phq9_baseline), _d(row.phq9_baseline_on), _n(row.phq9_last), _d(row.phq9_last_on),
        row.phq9_change_text if row.phq9_change is not None else "",
        _n(row.gad7_baseline), _d(row.gad7_baseline_on), _n(row.gad7_last), _d(row.gad7_last_on),
        row.gad7_change_text if row.gad7_change is not None else "",
        _d(row.last_contact_on), str(row.failed_attempts), row.next_action, _d(row.next_action_on),
        _d(row.last_case_review_on), str(row.minutes_this_month), row.next_code or "",
        _n(row.minutes_to_next_code), row.billing_label, row.transfer_to,
        "; ".join(h.flag.label for h in row.flags),
    ] + ["yes" if f in flags else "" for f in Flag]


def write_registry_csv(
    session: Session, actor: Actor, out: TextIO, *, today: date | None = None, care_manager_id: int | None = None,
    flagged_only: bool = False, status: str | Iterable[str] | None = None, text: str | None = None,
) -> int:
    """Write the (filtered) registry as CSV with a header row; audited as an export. Returns rows.

    The export is recorded before the first row goes out: a reader that stops early (`| head`)
    has still been given PHI, and the caller may commit the record then.
    """
    rows = build_registry(session, actor, today=today, care_manager_id=care_manager_id,
                          flagged_only=flagged_only, status=status, text=text)
    record(session, actor, "registry.export", object_type="registry",
           summary=f"Registry exported as CSV ({len(rows)} rows)",
           detail={"care_manager_id": care_manager_id, "flagged_only": flagged_only,
                   "status": status if isinstance(status, str) or status is None else list(status),
                   "text": bool(text)})
    writer = safe_writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(csv_record(row))
    return len(rows)


def registry_csv_text(session: Session, actor: Actor, **filters: object) -> str:
    buf = io.StringIO()
    write_registry_csv(session, actor, buf, **filters)  # type: ignore[arg-type]
    return buf.getvalue()
