"""The audit report as a PDF (in memory): chain status first, then one row per record."""

from __future__ import annotations

from reportlab.platypus import Spacer

from cocm_desktop.reports import pdf_common as pc
from cocm_desktop.services.audit_report import AuditReport, object_text


def _printable(text: object) -> str:
    """Text the embedded report font can draw (names in any script print; see pdf_common)."""
    return pc.printable("" if text is None else str(text))


def build_audit_pdf(report: AuditReport) -> bytes:
    meta = pc.ReportMeta(
        title="Audit report",
        clinic=_printable(report.clinic),
        period=report.period,
        generated_at=report.generated_at,
        generated_by=_printable(report.generated_by),
        subtitle=f"Filters: {_printable(report.filters)}  ·  sorted by {report.sort}"
        + (" (newest first)" if report.descending else ""),
    )
    st = pc.styles()
    width = pc.content_width()
    users = {r.username for r in report.rows}
    patients = {r.patient_id for r in report.rows if r.patient_id is not None}
    story = [
        pc.title_block(meta, st),
        pc.summary_tiles(
            [
                (
                    "Intact" if report.chain_ok else "BROKEN",
                    "Audit chain (whole log)",
                    "ok" if report.chain_ok else "block",
                ),
                (str(report.chain_records), "Records verified", None),
                (str(len(report.rows)), "Records in this report", None),
                (str(len(users)), "Users", None),
                (str(len(patients)), "Patients", None),
            ],
            st,
            width,
        ),
        Spacer(1, 4),
        pc.para(_printable(report.chain_message), st["muted"]),
        Spacer(1, 8),
    ]
    rows = [
        [
            str(r.seq),
            r.at.strftime("%Y-%m-%d %H:%M:%S"),
            _printable(r.username),
            _printable(r.action),
            _printable(r.patient_mrn or ""),
            _printable(object_text(r)),
            _printable(r.summary or ""),
        ]
        for r in report.rows
    ]
    if rows:
        cols = [42, 100, 70, 100, 70, 80]
        cols.append(width - sum(cols))
        story.append(
            pc.data_table(
                ["#", "Time (local)", "User", "Action", "Patient MRN", "Object", "Summary"],
                rows,
                cols,
                st,
                right_cols=(0,),
            )
        )
    else:
        story.append(pc.para("No audit records match these filters.", st["body"]))
    return pc.build_pdf(story, meta)
