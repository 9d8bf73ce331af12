"""The printed monthly quality report: the month's quality figures and the five months before it.

`quality_report_data(session, actor, month)` → `QualityTrend`; the PDF is
`cocm_desktop.reports.quality_report.build_quality_report(trend)`.

Decisions:
- Clinic lead only (Permission.RUN_QUALITY_REPORT), checked before any work.
- Every figure comes from the computation behind services.quality.quality_report, month by month
  (the same numbers the quality screen shows); a month before the clinic's first enrollment is
  reported with empty denominators and drawn as "no data".
- Audit: one user action, one record. Printing writes a single "report.quality_pdf" record naming
  the month printed and every month charted (summary and detail); the six months are computed
  without the per-run "report.quality" record the quality screen writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import Permission

from .common import ValidationError, check, clinic_name, load_policy, local_now, local_today, record
from .quality import QualityReport, month_figures

HISTORY_MONTHS = 6


@dataclass(frozen=True)
class QualityTrend:
    clinic: str
    month: QualityReport  # the month asked for
    history: tuple[QualityReport, ...]  # HISTORY_MONTHS months ending with `month`, oldest first
    generated_at: datetime
    generated_by: str


def parse_month(value: str | date) -> date:
    """'2026-11' (or a date) → the first day of that month; a clinician-readable refusal otherwise."""
    if isinstance(value, date):
        return value.replace(day=1)
    try:
        year, month = (int(x) for x in str(value).strip().split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError):
        raise ValidationError(f"Month must look like 2026-11 (got {value!r}).") from None


def month_back(first: date, n: int) -> date:
    index = first.year * 12 + first.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def quality_report_data(
    session: Session, actor: Actor, month: str | date, *, today: date | None = None,
    now: datetime | None = None, months: int = HISTORY_MONTHS,
) -> QualityTrend:
    check(actor, Permission.RUN_QUALITY_REPORT)
    today = today or local_today()
    first = parse_month(month)
    if first > today.replace(day=1):
        raise ValidationError(f"Month: {first:%Y-%m} has not started yet.")
    policy = load_policy(session)
    history = tuple(month_figures(session, month_back(first, n), today=today, policy=policy)
                    for n in range(months - 1, -1, -1))
    covered = [f"{h.month_start:%Y-%m}" for h in history]
    record(session, actor, "report.quality_pdf", object_type="report",
           summary=f"Quality report for {first:%Y-%m} printed (months {covered[0]} to {covered[-1]})",
           detail={"month": f"{first:%Y-%m}", "months": covered})
    return QualityTrend(clinic=clinic_name(session), month=history[-1], history=history,
                        generated_at=now or local_now(), generated_by=actor.display_name)
