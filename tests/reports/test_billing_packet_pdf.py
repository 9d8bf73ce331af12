"""The billing packet PDF read back with pypdf: what the billing office relies on survives the fast
layout (every row once and in order, notes under their row, groups kept on a page, names in any
script). Pure rendering: the BillingMonth is built by hand, no database."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date, datetime

import pytest
from pypdf import PdfReader

from cocm_desktop.domain.episode_months import Month
from cocm_desktop.reports.billing_packet import render_pdf
from cocm_desktop.services.billing_month_model import (
    BillingMonth,
    ElementCheck,
    Excluded,
    LogLine,
    PatientMonth,
    PractitionerGroup,
)

CHECKS = ("consent", "initiating_visit", "care_plan", "contact", "measure", "case_review")


def checks(**flagged: tuple[str, str]) -> tuple[ElementCheck, ...]:
    """Six required-element checks, all ok unless named: name=(status, reason)."""
    out = []
    for name in CHECKS:
        status, reason = flagged.get(name, ("ok", ""))
        out.append(ElementCheck(name=name, label=name.replace("_", " "), status=status, reason=reason))
    return tuple(out)


def log(
    n: int, day: int = 6, *, staff: str = "Casey Morgan", excluded: str | None = None
) -> tuple[LogLine, ...]:
    return tuple(
        LogLine(
            local_date=date(2026, 10, day + i),
            start=datetime(2026, 10, day + i, 9, 0),
            end=datetime(2026, 10, day + i, 9, 20),
            staff_name=staff,
            staff_role="Care manager",
            activity="Follow-up contact",
            source="contact",
            logged_minutes=20,
            counted_minutes=0 if excluded else 20,
            excluded_reason=excluded,
        )
        for i in range(n)
    )


def patient(
    name: str,
    mrn: str,
    *,
    codes: tuple[tuple[str, int], ...] = (("99493", 1),),
    counted: int = 60,
    flagged: dict[str, tuple[str, str]] | None = None,
    excluded: tuple[Excluded, ...] = (),
    time_log: tuple[LogLine, ...] | None = None,
    next_code: str | None = None,
    minutes_needed: int | None = None,
) -> PatientMonth:
    return PatientMonth(
        patient_id=int(re.sub(r"\D", "", mrn)),
        episode_id=1,
        patient_name=name,
        mrn=mrn,
        date_of_birth=date(1970, 3, 4),
        payer="Medicare",
        rule_set="Medicare 2026",
        program="cocm",
        kind="subsequent",
        episode_month=4,
        consent_date=date(2026, 6, 1),
        logged_minutes=counted + sum(e.minutes for e in excluded),
        counted_minutes=counted,
        excluded=excluded,
        conflict=None,
        codes=codes,
        checks=checks(**(flagged or {})),
        next_code=next_code,
        minutes_needed=minutes_needed,
        practitioner_id=1,
        practitioner_name="",  # set by month()
        care_manager_name="Casey Morgan",
        time_log=log(3) if time_log is None else time_log,
    )


def month(*groups: tuple[str, list[PatientMonth]], clinic: str = "Riverside Family Medicine") -> BillingMonth:
    return BillingMonth(
        clinic=clinic,
        month=Month(2026, 10),
        generated_at=datetime(2026, 11, 24, 17, 0),
        generated_by="Lee Adams",
        as_of=date(2026, 10, 31),
        groups=tuple(
            PractitionerGroup(
                practitioner_id=n,
                name=name,
                credentials="MD",
                npi=None,
                rows=tuple(replace(r, practitioner_id=n, practitioner_name=name) for r in rows),
            )
            for n, (name, rows) in enumerate(groups, start=1)
        ),
    )


def pages(pdf: bytes) -> list[str]:
    return [p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages]


def section(texts: list[str], start: str, end: str) -> list[str]:
    """The pages from the one with `start` up to (not including) the one with `end`."""
    first = next(i for i, t in enumerate(texts) if start in t)
    last = next(i for i, t in enumerate(texts) if end in t and i > first)
    return texts[first:last]


NAMES = ["Nguyễn, Thảo", "Wiśniewski, Łukasz", "Παπαδοπούλου, Σοφία", "Иванова, Юлия", "Øberg, Åse"]


def test_names_in_any_script_print_and_come_back_out_of_the_pdf() -> None:
    rows = [patient(name, f"MRN{100 + n}") for n, name in enumerate(NAMES)]
    rows[2] = patient(NAMES[2], "MRN102", flagged={"consent": ("block", "No consent documented.")})
    pdf = render_pdf(month(("Dr. Zoë Ångström", rows), clinic="Clínica Señora Ñandú"))
    texts = pages(pdf)
    text = "\n".join(texts)
    sections = "\n".join(section(texts, "Billing practitioner: Dr. Zoë Ångström, MD", "Appendix: time log"))
    appendix = text[text.index("Appendix: time log per patient") :]
    for name in NAMES:
        assert name in sections, name
        assert name in appendix, name
    blocked = text[text.index("Blocked: codes held") : text.index("Patients below threshold")]
    assert "Παπαδοπούλου, Σοφία" in blocked
    assert all("Clínica Señora Ñandú" in t for t in texts)  # footer on every page
    # one embedded font family, no built-in Helvetica (which has no glyph for most of these)
    fonts = {
        str(f.get_object()["/BaseFont"])
        for p in PdfReader(io.BytesIO(pdf)).pages
        for f in p["/Resources"]["/Font"].values()
    }
    assert fonts and all("DejaVuSans" in f for f in fonts), fonts


def test_every_patient_row_is_printed_once_in_order_across_pages_with_header_and_footer() -> None:
    warn = {"measure": ("warn", "No PHQ-9 or GAD-7 recorded this month.")}
    rows = [
        patient(f"Patient{n:03d}, Test", f"MRN{1000 + n}", flagged=warn if n % 3 == 0 else None)
        for n in range(150)
    ]
    texts = pages(render_pdf(month(("Dr. Daniel Okafor", rows))))
    # (no blocked or below-threshold rows: only the section's rows carry MRNs before the appendix)
    part = section(texts, "Billing practitioner: Dr. Daniel Okafor, MD", "Appendix: time log")
    assert len(part) >= 3  # long enough to continue over pages
    seen = [m for t in part for m in re.findall(r"\bMRN(1\d{3})\b", t)]
    assert seen == [str(1000 + n) for n in range(150)]
    for t in part[1:]:
        assert "Billing practitioner: Dr. Daniel Okafor, MD (continued)" in t
        assert re.search(r"Patient MRN Date of\s+birth", t)  # the header row again
    for i, t in enumerate(texts, start=1):
        assert f"Page {i} of {len(texts)}" in t
        assert "Riverside Family Medicine" in t and "October 2026" in t and "by Lee Adams" in t
    # the warning sits right under its own row
    lines = [ln.strip() for ln in "\n".join(part).splitlines()]
    at = next(i for i, ln in enumerate(lines) if ln.startswith("Patient003, Test MRN1003"))
    assert lines[at + 1] == "WARN No PHQ-9 or GAD-7 recorded this month."
    assert not lines[at + 2].startswith("WARN")
    # the totals close the section
    total = next(ln for ln in lines if ln.startswith("Total Dr. Daniel Okafor"))
    assert total.split() == ["Total", "Dr.", "Daniel", "Okafor", "150", "patients", str(150 * 60), "0"]
    assert "Billable: 99493 ×150" in lines


def test_blocked_row_says_why_holds_its_codes_and_the_totals_leave_them_out() -> None:
    rows = [
        patient(
            "Blocked, Dana",
            "MRN1",
            codes=(("99492", 1),),
            flagged={
                "initiating_visit": ("block", "Initiating visit required (new patient) and not documented."),
                "contact": ("warn", "No contact recorded this month."),
            },
        ),
        patient(
            "Billable, Ben",
            "MRN2",
            codes=(("99493", 1), ("99494", 2)),
            counted=120,
            excluded=(Excluded(reason="consultant", label="Psychiatric consultant time", minutes=20),),
        ),
        patient("Below, Eve", "MRN3", codes=(), counted=10, next_code="G2214", minutes_needed=6),
    ]
    texts = pages(render_pdf(month(("Dr. Elena Varga", rows))))
    text = "\n".join(texts)
    lines = [ln.strip() for ln in text.splitlines()]

    def row(prefix: str) -> int:
        return next(i for i, ln in enumerate(lines) if ln.startswith(prefix))

    dana = row("Blocked, Dana MRN1")
    assert lines[dana].endswith("99492 ×1 held 4 of 6 met BLOCKED")
    assert lines[dana + 1] == (
        "BLOCK Initiating visit required (new patient) and not documented. "
        "WARN No contact recorded this month."
    )
    ben = row("Billable, Ben MRN2")
    assert lines[ben].endswith("120 20 99493 ×1  99494 ×2 all 6 met BILLABLE")
    assert lines[ben + 1] == "NOT COUNTED 20 min: Psychiatric consultant time"
    eve = row("Below, Eve MRN3")
    assert lines[eve].endswith("10 0 6 min to G2214 all 6 met BELOW")
    assert "Billable: 99493 ×1; 99494 ×2 Held (blocked): 99492 ×1" in lines
    blocked = text[text.index("Blocked: codes held") : text.index("Patients below threshold")]
    assert (
        "Blocked, Dana MRN1 Dr. Elena Varga 99492 ×1 Initiating visit required (new patient) and not"
        in blocked
    )
    below = text[text.index("Patients below threshold") : text.index("Appendix")]
    assert "Below, Eve MRN3 Dr. Elena Varga CoCM subsequent 4 10 0 G2214 6" in below


def test_a_patients_time_log_is_not_broken_across_pages() -> None:
    sizes = [1, 4, 9, 2, 7, 3, 8, 5, 6] * 12  # enough lines for several appendix pages
    rows = [
        patient(f"Person{n:03d}, Log", f"MRN{2000 + n}", time_log=log(k, day=1)) for n, k in enumerate(sizes)
    ]
    texts = pages(render_pdf(month(("Dr. Daniel Okafor", rows))))
    appendix = texts[next(i for i, t in enumerate(texts) if "Appendix: time log per patient," in t) :]
    assert len(appendix) >= 3
    printed = 0
    for t in appendix:
        lines = [ln.strip() for ln in t.splitlines()]
        head = next(i for i, ln in enumerate(lines) if ln.startswith("Patient Date Time Staff"))
        body = [ln for ln in lines[head + 1 :] if ln != "because"]
        assert body[0].startswith("Person"), body[0]  # a page starts with a patient, not a leftover line
        printed += sum(1 for ln in body if re.search(r"2026-10-\d\d 09:00–09:20", ln))
    assert printed == sum(sizes)


@pytest.mark.parametrize("rows", [0, 1])
def test_a_month_with_nothing_or_one_patient_still_renders(rows: int) -> None:
    bm = month(("Dr. Daniel Okafor", [patient("Only, One", "MRN9")][:rows]))
    texts = pages(render_pdf(bm))
    assert texts and f"Page {len(texts)} of {len(texts)}" in texts[-1]
    assert ("Only, One" in "\n".join(texts)) == bool(rows)
