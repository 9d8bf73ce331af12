"""The audit report for the clinic lead: who did what, when, to which chart; CSV and PDF.

Filters: a local time range, a user, a patient (by MRN) and an action (exact, or a family such as
"login" for login.success/login.failure). Sortable by time, user, action or patient. Every report
carries the audit chain's verification, and producing one is itself audited.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import Permission
from cocm_desktop.reports.csv_safe import safe_writer
from cocm_desktop.store import audit
from cocm_desktop.store.models import AuditRecord, Patient

from .common import NotFound, ValidationError, check, clinic_name, local_now, record

SORTS = ("time", "user", "action", "patient")
MAX_ROWS = 200_000


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: datetime  # local wall-clock time of this computer
    username: str
    action: str
    patient_id: int | None
    patient_mrn: str | None
    object_type: str | None
    object_id: int | None
    summary: str | None
    detail: dict | None  # type: ignore[type-arg]


# Records without an object id name what they are about by their action (the chain is never
# rewritten, so old records are shown this way too).
_SETTING_NAMES = {"policy.update": "Clinic policy", "policy.backup_folder": "Second backup folder"}
_REPORT_NAMES = {"report.quality": "Quality check", "report.quality_pdf": "Quality report (PDF)",
                 "report.billing": "Billing packet", "report.audit": "Audit report",
                 "report.case_review": "Case-review packet"}
_MONTH = re.compile(r"\b(\d{4}-\d{2})\b")


def object_text(row: AuditRow) -> str:
    """What a record is about, in words: "measure #12", "Clinic policy", "Quality check 2026-10"
    (never "clinic_setting None")."""
    kind = (row.object_type or "").replace("_", " ")
    if row.object_id is not None:
        return f"{kind} #{row.object_id}" if kind else f"#{row.object_id}"
    if row.object_type == "clinic_setting":
        return _SETTING_NAMES.get(row.action, "Clinic setting")
    if row.object_type in ("report", "billing_month") or row.action.startswith("report."):
        name = _REPORT_NAMES.get(row.action, "Billing packet" if row.object_type == "billing_month" else "Report")
        month = (row.detail or {}).get("month") if isinstance(row.detail, dict) else None
        if not month:
            found = _MONTH.search(row.summary or "")
            month = found.group(1) if found else None
        return f"{name} {month}" if month else name
    return kind.capitalize() if kind else ""


@dataclass(frozen=True)
class AuditReport:
    clinic: str
    generated_at: datetime
    generated_by: str
    start: datetime | None
    end: datetime | None  # exclusive
    username: str | None
    patient_mrn: str | None
    action: str | None
    sort: str
    descending: bool
    rows: tuple[AuditRow, ...]
    chain_ok: bool
    chain_records: int
    chain_message: str

    @property
    def period(self) -> str:
        fmt = "%Y-%m-%d %H:%M"
        if self.start is None and self.end is None:
            return "All time"
        start = self.start.strftime(fmt) if self.start else "the beginning"
        end = (self.end - timedelta(minutes=1)).strftime(fmt) if self.end else "now"
        return f"{start} to {end}"

    @property
    def filters(self) -> str:
        parts = [
            f"user {self.username}" if self.username else "",
            f"patient MRN {self.patient_mrn}" if self.patient_mrn else "",
            f"action {self.action}" if self.action else "",
        ]
        return ", ".join(p for p in parts if p) or "no filter"


def _to_utc(local: datetime) -> datetime:
    """Local naive wall-clock time → naive UTC (the audit log's clock)."""
    return local.astimezone(UTC).replace(tzinfo=None)


def _to_local(utc: datetime) -> datetime:
    return utc.replace(tzinfo=UTC).astimezone().replace(tzinfo=None)


def _bounds(
    start: date | datetime | None, end: date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """A date means the whole day: start at its midnight, end after it (end is exclusive)."""
    s = (
        datetime.combine(start, time.min)
        if isinstance(start, date) and not isinstance(start, datetime)
        else start
    )
    e = end
    if isinstance(end, date) and not isinstance(end, datetime):
        e = datetime.combine(end + timedelta(days=1), time.min)
    if s is not None and e is not None and e <= s:
        raise ValidationError("The report's end is before its start; check the dates.")
    return s, e


def query_audit(
    session: Session,
    actor: Actor,
    *,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    username: str | None = None,
    patient_mrn: str | None = None,
    action: str | None = None,
    sort: str = "time",
    descending: bool = False,
    limit: int | None = None,
) -> list[AuditRow]:
    """Audit records matching every filter given (times are local; a date `end` includes that day)."""
    check(actor, Permission.VIEW_AUDIT)
    if sort not in SORTS:
        raise ValidationError(f"Sort by one of: {', '.join(SORTS)}.")
    s, e = _bounds(start, end)
    q = select(AuditRecord, Patient.mrn).outerjoin(Patient, Patient.id == AuditRecord.patient_id)
    if s is not None:
        q = q.where(AuditRecord.at_utc >= _to_utc(s))
    if e is not None:
        q = q.where(AuditRecord.at_utc < _to_utc(e))
    if username:
        q = q.where(AuditRecord.username == username.strip().lower())
    if patient_mrn:
        pid = session.scalar(select(Patient.id).where(Patient.mrn == patient_mrn.strip()))
        if pid is None:
            raise NotFound("No patient has that MRN.")
        q = q.where(AuditRecord.patient_id == pid)
    if action:
        a = action.strip()
        q = q.where(
            or_(
                AuditRecord.action == a,
                AuditRecord.action.like(a.replace("%", "").replace("_", r"\_") + ".%", escape="\\"),
            )
        )
    key = {
        "time": AuditRecord.at_utc,
        "user": AuditRecord.username,
        "action": AuditRecord.action,
        "patient": Patient.mrn,
    }[sort]
    if descending:
        q = q.order_by(key.desc(), AuditRecord.seq.desc())
    else:
        q = q.order_by(key.asc(), AuditRecord.seq.asc())
    q = q.limit(min(limit or MAX_ROWS, MAX_ROWS))
    return [
        AuditRow(
            r.seq,
            _to_local(r.at_utc),
            r.username,
            r.action,
            r.patient_id,
            mrn,
            r.object_type,
            r.object_id,
            r.summary,
            r.detail,
        )
        for r, mrn in session.execute(q)
    ]


def audit_report(
    session: Session,
    actor: Actor,
    *,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    username: str | None = None,
    patient_mrn: str | None = None,
    action: str | None = None,
    sort: str = "time",
    descending: bool = False,
    output: str = "screen",
    now: datetime | None = None,
) -> AuditReport:
    """Rows plus the chain's verification; records that the report was produced (and in which form)."""
    rows = query_audit(
        session,
        actor,
        start=start,
        end=end,
        username=username,
        patient_mrn=patient_mrn,
        action=action,
        sort=sort,
        descending=descending,
    )
    s, e = _bounds(start, end)
    chain = audit.verify_chain(session)
    report = AuditReport(
        clinic=clinic_name(session),
        generated_at=now or local_now(),
        generated_by=actor.display_name,
        start=s,
        end=e,
        username=username,
        patient_mrn=patient_mrn,
        action=action,
        sort=sort,
        descending=descending,
        rows=tuple(rows),
        chain_ok=chain.ok,
        chain_records=chain.records,
        chain_message=chain.describe(),
    )
    record(
        session,
        actor,
        "report.audit",
        summary=f"Audit report ({output}): {len(rows)} records",
        detail={"output": output, "rows": len(rows), "filters": report.filters, "period": report.period},
    )
    return report


_CSV_HEADER = ["seq", "time_local", "user", "action", "patient_mrn", "object", "summary", "detail"]


def audit_csv(report: AuditReport) -> bytes:
    buf = io.StringIO(newline="")
    w = safe_writer(buf)  # every cell: a leading = + - @ would run as a formula in a spreadsheet
    w.writerow(_CSV_HEADER)
    for r in report.rows:
        obj = object_text(r)
        w.writerow(
            [
                r.seq,
                r.at.isoformat(sep=" ", timespec="seconds"),
                r.username,
                r.action,
                r.patient_mrn,
                obj,
                r.summary,
                json.dumps(r.detail, ensure_ascii=False, sort_keys=True) if r.detail else "",
            ]
        )
    return buf.getvalue().encode("utf-8-sig")  # BOM: Excel reads UTF-8 names correctly
