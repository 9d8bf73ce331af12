"""The month-end billing packet for the billing office: PDF and CSV from a `BillingMonth`.

Content (billing.md): per billing practitioner, a row per patient-month (patient, MRN, date of
birth, payer, program, episode month, consent date, counted minutes, excluded minutes with
reasons, codes and units, required-element checks, anything blocked with its reason); totals per
code and per practitioner; patients below threshold with their minutes; an appendix with the
date-stamped time log per patient (date, staff, activity, minutes). Footer on every page: clinic,
month, generated at/by, page x of y (reports.pdf_common).

Pure rendering: takes the dataclasses from services.billing_month, no database, no files.
"""

from __future__ import annotations

import csv
import io
from calendar import month_name

from reportlab.platypus import CondPageBreak, KeepTogether, PageBreak, Paragraph, Spacer

from cocm_desktop.services.billing_month_model import BillingMonth, PatientMonth

from . import pdf_common as pc

__all__ = ["CSV_COLUMNS", "codes_text", "render_csv", "render_pdf"]

CODE_DESCRIPTIONS = {
    "99492": "CoCM, initial month (first 70 min)",
    "99493": "CoCM, subsequent month (first 60 min)",
    "99494": "CoCM, each additional 30 min (add-on)",
    "G2214": "CoCM, first 30 min, initial or subsequent month",
    "99484": "General BHI, 20 min per month",
}

CSV_COLUMNS = [
    "billing_practitioner",
    "practitioner_npi",
    "patient",
    "mrn",
    "date_of_birth",
    "payer",
    "rule_set",
    "program",
    "episode_month",
    "consent_date",
    "logged_minutes",
    "counted_minutes",
    "excluded_minutes",
    "excluded_detail",
    "status",
    "codes",
    "held_codes",
    "blocked_reasons",
    "warnings",
    "next_code",
    "minutes_to_next_code",
]


def codes_text(codes: tuple[tuple[str, int], ...]) -> str:
    """ "99493 ×1; 99494 ×2" (the CSV uses "x" for ×)."""
    return "; ".join(f"{c} ×{u}" for c, u in codes)


def _month_title(bm: BillingMonth) -> str:
    return f"{month_name[bm.month.month]} {bm.month.year}"


def render_csv(bm: BillingMonth) -> str:
    """One row per patient-month, in packet order. `codes` holds only billable codes (blocked rows
    carry theirs in `held_codes`), so summing `codes` gives the packet's totals."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for g in bm.groups:
        for r in g.rows:
            w.writerow(
                [
                    g.name,
                    g.npi or "",
                    r.patient_name,
                    r.mrn,
                    r.date_of_birth.isoformat(),
                    r.payer,
                    r.rule_set,
                    r.program,
                    r.episode_month_text,
                    r.consent_date.isoformat() if r.consent_date else "",
                    r.logged_minutes,
                    r.counted_minutes,
                    r.excluded_minutes,
                    "; ".join(f"{e.label}: {e.minutes}" for e in r.excluded),
                    r.status,
                    "; ".join(f"{c} x{u}" for c, u in r.billed_codes),
                    "; ".join(f"{c} x{u}" for c, u in r.held_codes),
                    " | ".join(r.block_reasons),
                    " | ".join(r.warnings),
                    r.next_code or "",
                    "" if r.minutes_needed is None else r.minutes_needed,
                ]
            )
    return out.getvalue()


# ---- PDF ---------------------------------------------------------------------------------------------


def _checks_cell(r: PatientMonth, st: dict) -> Paragraph:  # type: ignore[type-arg]
    """Blocks first (red), then warnings (amber); "All 6 met" when nothing is missing."""
    parts = []
    for c in r.checks:
        if c.status == "block":
            parts.append(f'<font color="{pc.BLOCK.hexval()}"><b>BLOCK</b> {pc.escape(c.reason)}</font>')
    for c in r.checks:
        if c.status == "warn":
            parts.append(f'<font color="{pc.WARN.hexval()}"><b>WARN</b></font> {pc.escape(c.reason)}')
    if not parts:
        parts.append(f'<font color="{pc.OK.hexval()}"><b>OK</b></font> all {len(r.checks)} elements met')
    return pc.para("<br/>".join(parts), st["cell_small"], markup=True)


def _status_cell(r: PatientMonth, st: dict) -> Paragraph:  # type: ignore[type-arg]
    if r.status == "billable":
        return pc.badge("BILLABLE", "ok", st)
    if r.status == "blocked":
        return pc.badge("BLOCKED", "block", st)
    return pc.badge("BELOW", "muted", st)


def _codes_cell(r: PatientMonth, st: dict) -> Paragraph:  # type: ignore[type-arg]
    if not r.codes:
        gap = f"{r.minutes_needed} min to {r.next_code}" if r.next_code else "none"
        return pc.para(f'<font color="{pc.MUTED.hexval()}">{pc.escape(gap)}</font>', st["cell"], markup=True)
    text = "<br/>".join(f"<b>{c}</b> ×{u}" for c, u in r.codes)
    if r.blocked:
        return pc.para(
            f'<font color="{pc.BLOCK.hexval()}"><strike>{text}</strike> held</font>', st["cell"], markup=True
        )
    return pc.para(text, st["cell"], markup=True)


def _excluded_cell(r: PatientMonth, st: dict) -> Paragraph:  # type: ignore[type-arg]
    if not r.excluded:
        return pc.para("0", st["cell"])
    lines = [f"<b>{r.excluded_minutes}</b>"] + [
        f"{e.minutes} {pc.escape(e.label.lower())}" for e in r.excluded
    ]
    return pc.para("<br/>".join(lines), st["cell_small"], markup=True)


def _program_cell(r: PatientMonth) -> str:
    if r.program == "bhi":
        return "General BHI"
    if r.episode_month is None:
        return f"CoCM, {r.kind}"
    return f"CoCM, {r.kind}\nmonth {r.episode_month}"


_ROW_WIDTHS = [96, 50, 52, 62, 68, 50, 42, 68, 56, 126, 50]
_ROW_HEADER = [
    "Patient",
    "MRN",
    "Date of birth",
    "Payer",
    "Program / episode month",
    "Consent",
    "Counted min",
    "Excluded min",
    "Codes",
    "Required elements",
    "Status",
]


def _practitioner_table(g, st: dict):  # type: ignore[no-untyped-def,type-arg]
    rows, backgrounds = [], {}
    for i, r in enumerate(g.rows):
        name = r.patient_name if not r.conflict else f"{r.patient_name}\n(program conflict, see below)"
        rows.append(
            [
                pc.para(name, st["cell_bold"]),
                r.mrn,
                r.date_of_birth.isoformat(),
                r.payer,
                _program_cell(r),
                r.consent_date.isoformat() if r.consent_date else pc.badge("none", "block", st),
                pc.para(f"<b>{r.counted_minutes}</b>", st["cell_right"], markup=True),
                _excluded_cell(r, st),
                _codes_cell(r, st),
                _checks_cell(r, st),
                _status_cell(r, st),
            ]
        )
        if r.status == "blocked":
            backgrounds[i] = pc.BLOCK_BG
    totals = codes_text(g.totals) or "none"
    held = f"   held: {codes_text(g.held)}" if g.held else ""
    rows.append(
        [
            pc.para(f"Total {g.name}", st["cell_bold"]),
            "",
            "",
            "",
            f"{len(g.rows)} patients",
            "",
            pc.para(f"<b>{g.counted_minutes}</b>", st["cell_right"], markup=True),
            "",
            pc.para(f"<b>{pc.escape(totals)}</b>{pc.escape(held)}", st["cell"], markup=True),
            "",
            "",
        ]
    )
    return pc.data_table(
        _ROW_HEADER,
        rows,
        _ROW_WIDTHS,
        st,
        right_cols=[6],
        row_backgrounds=backgrounds,
        total_rows=1,
        extra_style=[("SPAN", (8, len(rows)), (10, len(rows)))],
    )


def render_pdf(bm: BillingMonth) -> bytes:
    st = pc.styles()
    width = pc.content_width()
    meta = pc.ReportMeta(
        title=f"CoCM billing packet – {_month_title(bm)}",
        clinic=bm.clinic,
        period=_month_title(bm),
        generated_at=bm.generated_at,
        generated_by=bm.generated_by,
    )
    rows = bm.rows
    story: list = [pc.title_block(meta, st)]  # type: ignore[type-arg]
    billable = [r for r in rows if r.status == "billable"]
    story.append(
        pc.summary_tiles(
            [
                (str(len(rows)), "patient-months on this packet", None),
                (str(len(billable)), "billable", "ok"),
                (str(len(bm.blocked)), "blocked: codes held until fixed", "block" if bm.blocked else None),
                (str(len(bm.below_threshold)), "below threshold", None),
                (str(sum(u for _, u in bm.totals)), "billable units", "ok"),
            ],
            st,
            width,
        )
    )
    story.append(Spacer(1, 4))
    story.append(
        pc.para(
            f"Minutes are the clinic's local calendar days of {_month_title(bm)}. Required elements were "
            f"checked as of {bm.as_of.isoformat()}. Codes of blocked rows are held and not in the totals. "
            "Codes are billed by the treating clinician (billing practitioner).",
            st["muted"],
        )
    )

    # totals first: what the office bills
    story.append(pc.heading("Totals per code", st))
    held = dict(bm.held)
    codes = sorted(set(dict(bm.totals)) | set(held))
    total_rows = [
        [
            pc.para(f"<b>{c}</b>", st["cell"], markup=True),
            CODE_DESCRIPTIONS.get(c, ""),
            str(dict(bm.totals).get(c, 0)),
            str(held.get(c, 0)),
        ]
        for c in codes
    ]
    total_rows.append(
        [
            pc.para("<b>All codes</b>", st["cell"], markup=True),
            "",
            pc.para(f"<b>{sum(dict(bm.totals).values())}</b>", st["cell_right"], markup=True),
            str(sum(held.values())),
        ]
    )
    story.append(
        pc.data_table(
            ["Code", "Description", "Billable units", "Held units (blocked)"],
            total_rows,
            [70, 300, 90, 110],
            st,
            right_cols=[2, 3],
            total_rows=1,
        )
    )
    story.append(pc.heading("Totals per billing practitioner", st))
    prac_rows = []
    for g in bm.groups:
        prac_rows.append(
            [
                pc.para(
                    f"<b>{pc.escape(g.name)}</b>"
                    + (f", {pc.escape(g.credentials)}" if g.credentials else ""),
                    st["cell"],
                    markup=True,
                ),
                g.npi or "",
                str(len(g.rows)),
                str(sum(1 for r in g.rows if r.status == "billable")),
                str(sum(1 for r in g.rows if r.status == "blocked")),
                str(g.counted_minutes),
                codes_text(g.totals) or "none",
                codes_text(g.held),
            ]
        )
    story.append(
        pc.data_table(
            [
                "Billing practitioner",
                "NPI",
                "Patients",
                "Billable",
                "Blocked",
                "Counted min",
                "Codes (billable)",
                "Held",
            ],
            prac_rows,
            [170, 70, 50, 50, 50, 60, 150, 120],
            st,
            right_cols=[2, 3, 4, 5],
        )
    )

    # the rows, per practitioner
    for g in bm.groups:
        story.append(PageBreak())
        who = (
            g.name + (f", {g.credentials}" if g.credentials else "") + (f"  ·  NPI {g.npi}" if g.npi else "")
        )
        story.append(pc.heading(f"Billing practitioner: {who}", st))
        story.append(_practitioner_table(g, st))
        notes = [r for r in g.rows if r.conflict]
        for r in notes:
            story.append(Spacer(1, 3))
            story.append(pc.para(f"{r.patient_name} ({r.mrn}): {r.conflict}", st["small"]))

    # blocked and below threshold
    if bm.blocked:
        story.append(CondPageBreak(2.2 * 72))
        story.append(pc.heading("Blocked: codes held until the missing element is documented", st))
        story.append(
            pc.data_table(
                ["Patient", "MRN", "Billing practitioner", "Held codes", "Why it is blocked"],
                [
                    [
                        pc.para(r.patient_name, st["cell_bold"]),
                        r.mrn,
                        r.practitioner_name,
                        codes_text(r.held_codes),
                        pc.para("<br/>".join(pc.escape(x) for x in r.block_reasons), st["cell"], markup=True),
                    ]
                    for r in bm.blocked
                ],
                [120, 60, 130, 90, 320],
                st,
                row_backgrounds={i: pc.BLOCK_BG for i in range(len(bm.blocked))},
            )
        )
    story.append(CondPageBreak(2.2 * 72))
    story.append(pc.heading("Patients below threshold", st))
    if bm.below_threshold:
        story.append(
            pc.data_table(
                [
                    "Patient",
                    "MRN",
                    "Billing practitioner",
                    "Program / month",
                    "Counted min",
                    "Excluded min",
                    "Next code",
                    "Minutes still needed",
                ],
                [
                    [
                        pc.para(r.patient_name, st["cell_bold"]),
                        r.mrn,
                        r.practitioner_name,
                        _program_cell(r),
                        str(r.counted_minutes),
                        str(r.excluded_minutes),
                        r.next_code or "",
                        "" if r.minutes_needed is None else str(r.minutes_needed),
                    ]
                    for r in bm.below_threshold
                ],
                [130, 60, 130, 100, 60, 60, 70, 90],
                st,
                right_cols=[4, 5, 7],
            )
        )
    else:
        story.append(pc.para("None: every patient-month reached a code.", st["body"]))

    # appendix
    story.append(PageBreak())
    story.append(pc.heading(f"Appendix: time log per patient, {_month_title(bm)}", st))
    story.append(
        pc.para(
            "Every entry of the month, counted or not, one line per entry per local day. "
            "Minutes that do not count give the reason.",
            st["muted"],
        )
    )
    for r in sorted(rows, key=lambda r: (r.patient_name.lower(), r.mrn)):
        if not r.time_log:
            continue
        head = pc.subheading(
            f"{r.patient_name}  ·  {r.mrn}  ·  DOB {r.date_of_birth.isoformat()}  ·  "
            f"{r.counted_minutes} of {r.logged_minutes} min counted",
            st,
        )
        lines = []
        for line in r.time_log:
            when = line.local_date.isoformat()
            clock = f"{line.start:%H:%M}-{line.end:%H:%M}" if line.start and line.end else ""
            lines.append(
                [
                    when,
                    clock,
                    line.staff_name,
                    line.staff_role,
                    line.activity,
                    line.source,
                    str(line.logged_minutes),
                    str(line.counted_minutes),
                    pc.para(line.excluded_reason or "", st["cell_small"]),
                ]
            )
        lines.append(
            [
                "",
                "",
                "",
                "",
                "",
                pc.para("<b>Total</b>", st["cell"], markup=True),
                pc.para(f"<b>{r.logged_minutes}</b>", st["cell_right"], markup=True),
                pc.para(f"<b>{r.counted_minutes}</b>", st["cell_right"], markup=True),
                "",
            ]
        )
        table = pc.data_table(
            [
                "Date",
                "Time",
                "Staff",
                "Role",
                "Activity",
                "Source",
                "Minutes",
                "Counted",
                "Not counted because",
            ],
            lines,
            [62, 62, 110, 110, 150, 50, 46, 46, 84],
            st,
            right_cols=[6, 7],
            total_rows=1,
        )
        story.append(KeepTogether([head, table]) if len(lines) < 18 else head)
        if len(lines) >= 18:
            story.append(table)
    if not rows:
        story.append(pc.para("No patient had an open episode or logged time this month.", st["body"]))
    return pc.build_pdf(story, meta)
