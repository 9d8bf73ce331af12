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

import io
from calendar import month_name
from collections.abc import Sequence
from typing import TYPE_CHECKING

from reportlab.lib import colors
from reportlab.platypus import CondPageBreak, PageBreak, Spacer

from cocm_desktop.services.billing_month_model import BillingMonth, PatientMonth

from . import pdf_common as pc
from . import pdf_rows as pr
from .csv_safe import safe_writer

if TYPE_CHECKING:
    from cocm_desktop.services.billing_submissions import Adjustment, Submission

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
    carry theirs in `held_codes`), so summing `codes` gives the packet's totals. Names, MRNs and
    payers are typed by people: every cell goes through csv_safe (no formula reaches the billing
    office's spreadsheet)."""
    out = io.StringIO()
    w = safe_writer(out, lineterminator="\r\n")
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
# The practitioner sections, the blocked and below-threshold lists and the appendix are RowTables
# (reports.pdf_rows: plain text drawn straight on the canvas; 8,000 patient-months in seconds).
# Every row is one line unless it has something to say: what is missing or to review, excluded
# minutes and program conflicts go on a note line under the row, in the row's own band.

_B = pr.CELL_BOLD
_OK = pr.Style(pc.BOLD, 7, pc.OK)
_WARN = pr.Style(pc.BOLD, 7, pc.WARN)
_BLOCK = pr.Style(pc.BOLD, 7, pc.BLOCK)
_BLOCK_TEXT = pr.Style(pc.FONT, 7, pc.BLOCK)
_MUTED = pr.CELL_MUTED
_NOTE = pr.NOTE
_NOTE_MUTED = pr.Style(pc.BOLD, 6.6, pc.MUTED)
_NOTE_OK = pr.Style(pc.BOLD, 6.6, pc.OK)
_NOTE_WARN = pr.Style(pc.BOLD, 6.6, pc.WARN)
_NOTE_BLOCK = pr.Style(pc.BOLD, 6.6, pc.BLOCK)
_NOTE_BLOCK_TEXT = pr.Style(pc.FONT, 6.6, pc.BLOCK)
_SMALL_MUTED = pr.Style(pc.FONT, 6.4, pc.MUTED)

_Codes = tuple[tuple[str, int], ...]

_STATUS = {
    "billable": pr.runs(("BILLABLE", _OK)),
    "blocked": pr.runs(("BLOCKED", _BLOCK)),
    "below threshold": pr.runs(("BELOW", _MUTED)),
}
_PROGRAM = {"initial": "CoCM initial", "subsequent": "CoCM subsequent", "bhi": "General BHI"}

_ROW_COLUMNS = [  # 720 pt: landscape Letter between the margins
    pr.Column("Patient", 124, _B),
    pr.Column("MRN", 46),
    pr.Column("Date of birth", 48, wrap=False),
    pr.Column("Payer", 80),
    pr.Column("Program", 71),
    pr.Column("Month", 33, align="R", wrap=False),
    pr.Column("Consent", 48, wrap=False),
    pr.Column("Counted min", 40, _B, align="R", wrap=False),
    pr.Column("Excluded min", 42, align="R", wrap=False),
    pr.Column("Codes", 90),
    pr.Column("Required elements", 52),
    pr.Column("Status", 46),
]
_NOTE_FROM = 1  # notes run under MRN ... Status
_NOTE_WIDTH = sum(c.width for c in _ROW_COLUMNS[_NOTE_FROM:]) - 8


def _codes(r: PatientMonth, blocked: bool) -> str | pr.Text:
    if not r.codes:
        if not r.next_code:
            return pr.runs(("none", _MUTED))
        return pr.runs((f"{r.minutes_needed} min to {r.next_code}", _MUTED))
    parts: list[tuple] = []  # type: ignore[type-arg]
    for n, (code, units) in enumerate(r.codes):
        if n:
            parts.append(("  ", pr.CELL))
        if blocked:
            parts += [(code, _BLOCK, pr.STRIKE), (f" ×{units}", _BLOCK_TEXT, pr.STRIKE)]
        else:
            parts += [(code, _B), (f" ×{units}", pr.CELL)]
    if blocked:
        parts.append((" held", _BLOCK_TEXT))
    return pr.flow(parts, _ROW_COLUMNS[9].width - 7)


def _elements(r: PatientMonth, blocked: bool) -> pr.Text:
    met = sum(1 for c in r.checks if c.status == "ok")
    n = len(r.checks)
    if met == n:
        return pr.runs((f"all {n} met", _OK))
    style = _BLOCK if blocked else _WARN
    return pr.runs((f"{met} of {n} met", style))


def _note(r: PatientMonth) -> pr.Text | None:
    """What a clerk must know about the row: blocks, warnings, excluded minutes, conflicts."""
    items: list[list[tuple]] = []  # type: ignore[type-arg]
    for c in r.checks:
        if c.status == "block":
            items.append([("BLOCK ", _NOTE_BLOCK), (c.reason, _NOTE_BLOCK_TEXT)])
    for c in r.checks:
        if c.status == "warn":
            items.append([("WARN ", _NOTE_WARN), (c.reason, _NOTE)])
    for e in r.excluded:
        items.append([("NOT COUNTED ", _NOTE_MUTED), (f"{e.minutes} min: {e.label}", _NOTE)])
    if r.conflict:
        items.append([("PROGRAM CONFLICT ", _NOTE_WARN), (r.conflict, _NOTE)])
    return pr.pack(items, _NOTE_WIDTH, gap=14) if items else None


def _practitioner_table(g, totals: _Codes, held: _Codes) -> pr.RowTable:  # type: ignore[no-untyped-def]
    rows = []
    for r in g.rows:
        blocked = r.blocked
        status = ("blocked" if blocked else "billable") if r.codes else "below threshold"
        rows.append(
            pr.Row(
                [
                    r.patient_name,
                    r.mrn,
                    r.date_of_birth.isoformat(),
                    r.payer,
                    _PROGRAM.get(r.kind, r.kind),
                    "" if r.episode_month is None else str(r.episode_month),
                    r.consent_date.isoformat() if r.consent_date else pr.runs(("none", _BLOCK)),
                    str(r.counted_minutes),
                    str(r.excluded_minutes),
                    _codes(r, blocked),
                    _elements(r, blocked),
                    _STATUS[status],
                ],
                background=pc.BLOCK_BG if status == "blocked" else None,
                note=_note(r),
                note_from=_NOTE_FROM,
            )
        )
    billable = [(f"Billable: {codes_text(totals) or 'none'}", _NOTE_OK if totals else _NOTE_MUTED)]
    held_note = [(f"Held (blocked): {codes_text(held)}", _NOTE_BLOCK)] if held else []
    rows.append(
        pr.Row(
            [
                f"Total {g.name}",
                *("",) * 3,
                f"{len(g.rows)} patients",
                *("",) * 2,
                str(g.counted_minutes),
                str(sum(r.excluded_minutes for r in g.rows)),
            ],
            background=colors.HexColor("#e8edf2"),
            rule_above=True,
            note=pr.pack([billable, *([held_note] if held_note else [])], _NOTE_WIDTH, gap=24),
            note_from=_NOTE_FROM,
        )
    )
    if len(rows) > 1:
        rows[-2].keep_with_next = True  # the totals never stand alone at the top of a page
    who = g.name + (f", {g.credentials}" if g.credentials else "")
    return pr.RowTable(_ROW_COLUMNS, rows, continued=f"Billing practitioner: {who} (continued)")


def _blocked_table(blocked: Sequence[PatientMonth]) -> pr.RowTable:
    cols = [
        pr.Column("Patient", 124, _B),
        pr.Column("MRN", 50),
        pr.Column("Billing practitioner", 120),
        pr.Column("Held codes", 86),
        pr.Column("Why it is blocked", 340),
    ]
    rows = [
        pr.Row(
            [
                r.patient_name,
                r.mrn,
                r.practitioner_name,
                codes_text(r.held_codes),
                "\n".join(r.block_reasons),
            ],
            background=pc.BLOCK_BG,
        )
        for r in blocked
    ]
    return pr.RowTable(cols, rows, continued="Blocked (continued)")


def _below_table(below: Sequence[PatientMonth]) -> pr.RowTable:
    cols = [
        pr.Column("Patient", 140, _B),
        pr.Column("MRN", 56),
        pr.Column("Billing practitioner", 130),
        pr.Column("Program", 80),
        pr.Column("Month", 40, align="R", wrap=False),
        pr.Column("Counted min", 56, _B, align="R", wrap=False),
        pr.Column("Excluded min", 56, align="R", wrap=False),
        pr.Column("Next code", 70, wrap=False),
        pr.Column("Minutes still needed", 92, _B, align="R", wrap=False),
    ]
    rows = [
        pr.Row(
            [
                r.patient_name,
                r.mrn,
                r.practitioner_name,
                _PROGRAM.get(r.kind, r.kind),
                "" if r.episode_month is None else str(r.episode_month),
                str(r.counted_minutes),
                str(r.excluded_minutes),
                r.next_code or "",
                "" if r.minutes_needed is None else str(r.minutes_needed),
            ]
        )
        for r in below
    ]
    return pr.RowTable(cols, rows, continued="Patients below threshold (continued)")


def _appendix_table(bm: BillingMonth) -> pr.RowTable:
    cols = [
        pr.Column("Patient", 118),
        pr.Column("Date", 48, wrap=False),
        pr.Column("Time", 52, wrap=False),
        pr.Column("Staff", 96),
        pr.Column("Role", 84),
        pr.Column("Activity", 108),
        pr.Column("Source", 40),
        pr.Column("Minutes", 40, align="R", wrap=False),
        pr.Column("Counted", 40, _B, align="R", wrap=False),
        pr.Column("Not counted because", 94, _MUTED),
    ]
    rows = []
    shade = False
    for r in sorted(bm.rows, key=lambda r: (r.patient_name.lower(), r.mrn)):
        if not r.time_log:
            continue
        bg = pc.ZEBRA if shade else None
        shade = not shade
        # the patient's name and identifiers run down the first column of the patient's rows
        who = [*pr.flow([(r.patient_name, _B)], cols[0].width - 7)]
        who.append(((f"{r.mrn} · DOB {r.date_of_birth.isoformat()}", _SMALL_MUTED),))
        last = len(r.time_log) - 1
        for n, line in enumerate(r.time_log):
            if n == last:
                mine, who = who, []
            elif n == 0 and len(who) > 2:
                mine, who = who[:-1], who[-1:]
            else:
                mine, who = who[:1], who[1:]
            clock = f"{line.start:%H:%M}–{line.end:%H:%M}" if line.start and line.end else ""
            rows.append(
                pr.Row(
                    [
                        tuple(mine) or None,
                        line.local_date.isoformat(),
                        clock,
                        line.staff_name,
                        line.staff_role,
                        line.activity,
                        line.source,
                        str(line.logged_minutes),
                        str(line.counted_minutes),
                        line.excluded_reason or "",
                    ],
                    background=bg,
                    rule=n == last,
                    keep_with_next=n < last,
                )
            )
    return pr.RowTable(
        cols,
        rows,
        zebra=False,
        leading=8.4,
        pad_top=1.9,
        pad_bottom=1.7,
        continued="Appendix: time log per patient (continued)",
    )


NPI_MISSING = "missing"


def npi_text(g) -> str:  # type: ignore[no-untyped-def]
    """The heading's NPI, or plainly that it is missing (claims need the billing practitioner's)."""
    if g.practitioner_id is None:
        return "no billing practitioner"
    return f"NPI {g.npi}" if g.npi else "NPI missing: the claims need this practitioner's NPI"


def _practitioner_totals(bm: BillingMonth, per_group: list[tuple[_Codes, _Codes]]) -> pr.RowTable:
    cols = [
        pr.Column("Billing practitioner", 140),
        pr.Column("NPI", 54),
        pr.Column("Patients", 40, align="R", wrap=False),
        pr.Column("Billable", 40, align="R", wrap=False),
        pr.Column("Blocked", 40, align="R", wrap=False),
        pr.Column("Counted min", 46, align="R", wrap=False),
        pr.Column("Codes (billable)", 240),
        pr.Column("Held", 120),
    ]
    rows = []
    for g, (totals, held) in zip(bm.groups, per_group, strict=True):
        blocked = sum(1 for r in g.rows if r.codes and r.blocked)
        billable = sum(1 for r in g.rows if r.codes) - blocked
        who = pr.runs((g.name, _B), *([(f", {g.credentials}", pr.CELL)] if g.credentials else []))
        rows.append(
            pr.Row(
                [
                    who,
                    g.npi or pr.runs((NPI_MISSING, _BLOCK_TEXT)),
                    str(len(g.rows)),
                    str(billable),
                    str(blocked),
                    str(g.counted_minutes),
                    codes_text(totals) or "none",
                    pr.runs((codes_text(held), _BLOCK_TEXT)) if held else "",
                ]
            )
        )
    return pr.RowTable(cols, rows, continued="Totals per billing practitioner (continued)")


def _adjustments_table(adjustments: Sequence[Adjustment]) -> pr.RowTable:
    cols = [
        pr.Column("Patient", 124, _B),
        pr.Column("MRN", 50),
        pr.Column("Codes before → after", 150),
        pr.Column("Counted minutes", 76),
        pr.Column("Who changed what, and why", 320),
    ]
    rows = [
        pr.Row([a.patient_name, a.mrn, a.codes_text, a.minutes_text, "\n".join(a.changes) or "—"],
               background=pc.BLOCK_BG)
        for a in adjustments
    ]
    return pr.RowTable(cols, rows, continued="Adjustments (continued)")


def render_pdf(bm: BillingMonth, *, submitted: Submission | None = None,
               adjustments: Sequence[Adjustment] = ()) -> bytes:
    """The packet; for a month already marked submitted, a first section lists the adjustments the
    clinic lead has not yet acknowledged (services.billing_submissions)."""
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
    # the model recomputes these at every access (over every row): once here
    totals, held = dict(bm.totals), dict(bm.held)
    blocked, below = bm.blocked, bm.below_threshold
    per_group = [(g.totals, g.held) for g in bm.groups]
    story: list = [pc.title_block(meta, st)]  # type: ignore[type-arg]
    billable = [r for r in rows if r.codes and not r.blocked]
    story.append(
        pc.summary_tiles(
            [
                (str(len(rows)), "patient-months on this packet", None),
                (str(len(billable)), "billable", "ok"),
                (str(len(blocked)), "blocked: codes held until fixed", "block" if blocked else None),
                (str(len(below)), "below threshold", None),
                (str(sum(totals.values())), "billable units", "ok"),
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

    if submitted is not None:
        story.append(pc.heading("Adjustments since this month was submitted", st))
        story.append(pc.para(
            f"Marked submitted on {submitted.submitted_at:%Y-%m-%d} by {submitted.submitted_by} "
            f"({submitted.patient_months} patient-months). Listed until the clinic lead acknowledges them.",
            st["muted"]))
        if adjustments:
            story.append(_adjustments_table(adjustments))
        else:
            story.append(pc.para("None: every patient-month is as submitted.", st["body"]))

    # totals first: what the office bills
    story.append(pc.heading("Totals per code", st))
    codes = sorted(set(totals) | set(held))
    total_rows = [
        [
            pc.para(f"<b>{c}</b>", st["cell"], markup=True),
            CODE_DESCRIPTIONS.get(c, ""),
            str(totals.get(c, 0)),
            str(held.get(c, 0)),
        ]
        for c in codes
    ]
    total_rows.append(
        [
            pc.para("<b>All codes</b>", st["cell"], markup=True),
            "",
            pc.para(f"<b>{sum(totals.values())}</b>", st["cell_right"], markup=True),
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
    story.append(_practitioner_totals(bm, per_group))

    # the rows, per practitioner
    for g, (g_totals, g_held) in zip(bm.groups, per_group, strict=True):
        story.append(PageBreak())
        who = g.name + (f", {g.credentials}" if g.credentials else "") + f"  ·  {npi_text(g)}"
        story.append(pc.heading(f"Billing practitioner: {who}", st))
        story.append(_practitioner_table(g, g_totals, g_held))

    # blocked and below threshold
    if blocked:
        story.append(CondPageBreak(2.2 * 72))
        story.append(pc.heading("Blocked: codes held until the missing element is documented", st))
        story.append(_blocked_table(blocked))
    story.append(CondPageBreak(2.2 * 72))
    story.append(pc.heading("Patients below threshold", st))
    if below:
        story.append(_below_table(below))
    else:
        story.append(pc.para("None: every patient-month reached a code.", st["body"]))

    # appendix
    story.append(PageBreak())
    story.append(pc.heading(f"Appendix: time log per patient, {_month_title(bm)}", st))
    story.append(
        pc.para(
            "Every entry of the month, counted or not, one line per entry per local day, patients in "
            "alphabetical order. Minutes that do not count give the reason. Each patient's counted and "
            "excluded totals are in the practitioner sections.",
            st["muted"],
        )
    )
    story.append(Spacer(1, 4))
    if any(r.time_log for r in rows):
        story.append(_appendix_table(bm))
    if not rows:
        story.append(pc.para("No patient had an open episode or logged time this month.", st["body"]))
    return pc.build_pdf(story, meta)
