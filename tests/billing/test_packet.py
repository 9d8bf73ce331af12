"""The month-end packet end to end: the `report billing` command writes a PDF and a CSV whose
totals agree with each other and with what was logged in the database."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from cocm_desktop import cli
from cocm_desktop.services.time_log import add_manual_time
from cocm_desktop.store.models import AuditRecord, TimeEntry

NOW = datetime(2026, 11, 24, 17, 0)


@pytest.fixture
def october(clinic, actors, build):  # type: ignore[no-untyped-def]
    """Five patients with known October outcomes (expected codes written by hand from billing.md)."""

    def log(pid, day, minutes, who="cm1", **kw):  # type: ignore[no-untyped-def]
        with clinic.session() as s:
            add_manual_time(
                s,
                actors[who],
                patient_id=pid,
                activity="follow_up_contact",
                local_date=date(2026, 10, day),
                minutes=minutes,
                now=NOW,
                **kw,
            )

    a = build.patient(family="Initial", given="Ann")
    build.episode(a, enrolled_on=date(2026, 10, 1), consent_on=date(2026, 10, 1))
    log(a, 6, 40)  # 99492
    b = build.patient(family="Subsequent", given="Ben")
    build.episode(b, clinician="doc2", enrolled_on=date(2026, 8, 3), consent_on=date(2026, 8, 3))
    build.raw_entry(b, None, "cm1", date(2026, 9, 9), 45)
    log(b, 7, 50)
    log(b, 21, 30, who="cm2")  # 80 min subsequent: 99493 + 99494
    log(b, 22, 20, who="psych")  # consultant: excluded
    c = build.patient(family="Integration", given="Cleo")
    build.episode(c, program="bhi", enrolled_on=date(2026, 9, 1), consent_on=date(2026, 9, 1))
    log(c, 8, 25)  # 99484
    d = build.patient(family="Blocked", given="Dana", last_seen_on=None)
    build.episode(
        d,
        enrolled_on=date(2026, 10, 1),
        consent_on=date(2026, 10, 1),
        initiating_visit_required=True,
        initiating_visit_on=None,
    )
    log(d, 9, 50)  # 99492 held: initiating visit missing
    e = build.patient(family="Below", given="Eve")
    build.episode(e, clinician="doc2", enrolled_on=date(2026, 9, 1), consent_on=date(2026, 9, 1))
    log(e, 10, 10)  # below threshold
    return {
        "totals": {"99492": 1, "99493": 1, "99494": 1, "99484": 1},
        "held": {"99492": 1},
        "counted": 40 + 80 + 25 + 50 + 10,
        "below": ("Below, Eve", 10),
    }


def run_cli(monkeypatch, *argv: str) -> int:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    return cli.main(list(argv))


def test_packet_totals_agree_across_pdf_csv_and_database(
    clinic, clinic_path, october, tmp_path, monkeypatch, capsys
) -> None:
    pdf_path, csv_path = tmp_path / "oct.pdf", tmp_path / "oct.csv"
    rc = run_cli(
        monkeypatch,
        "report",
        "billing",
        "--db",
        str(clinic_path),
        "--user",
        "lead",
        "--month",
        "2026-10",
        "--out",
        str(pdf_path),
        "--csv",
        str(csv_path),
    )
    assert rc == 0, capsys.readouterr().err

    # CSV: billable codes summed over rows
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 5
    csv_totals: Counter[str] = Counter()
    csv_held: Counter[str] = Counter()
    for r in rows:
        for col, acc in (("codes", csv_totals), ("held_codes", csv_held)):
            for part in filter(None, r[col].split("; ")):
                code, units = part.split(" x")
                acc[code] += int(units)
    assert dict(csv_totals) == october["totals"]
    assert dict(csv_held) == october["held"]
    assert sum(int(r["counted_minutes"]) for r in rows) == october["counted"]
    by_patient = {r["patient"]: r for r in rows}
    assert by_patient["Blocked, Dana"]["status"] == "blocked"
    assert "Initiating visit" in by_patient["Blocked, Dana"]["blocked_reasons"]
    assert by_patient["Subsequent, Ben"]["excluded_detail"] == "Psychiatric consultant time: 20"
    assert by_patient["Subsequent, Ben"]["billing_practitioner"] == "Dr. Elena Varga"

    # database: every logged minute is either counted or excluded on the packet
    with clinic.session() as s:
        logged = sum(
            s.scalars(
                select(TimeEntry.minutes).where(
                    TimeEntry.local_date >= date(2026, 10, 1), TimeEntry.local_date <= date(2026, 10, 31)
                )
            )
        )
    assert logged == sum(int(r["counted_minutes"]) + int(r["excluded_minutes"]) for r in rows)

    # PDF: the totals table, the footer on every page, the sections and the appendix
    reader = PdfReader(str(pdf_path))
    pages = [p.extract_text() for p in reader.pages]
    text = "\n".join(pages)
    # pypdf gives one table cell per line: "<code>", "<description>", "<billable>", "<held>"
    lines = [ln.strip() for ln in pages[0].splitlines()]
    section = lines[lines.index("Totals per code") : lines.index("All codes")]
    pdf_totals, pdf_held = {}, {}
    for i, ln in enumerate(section):
        if re.fullmatch(r"\d{5}|G\d{4}", ln):
            pdf_totals[ln], pdf_held[ln] = int(section[i + 2]), int(section[i + 3])
    assert {c: u for c, u in pdf_totals.items() if u} == dict(csv_totals)
    assert {c: h for c, h in pdf_held.items() if h} == dict(csv_held)
    all_codes = lines.index("All codes")
    assert int(lines[all_codes + 1]) == sum(csv_totals.values())
    n = len(pages)
    for i, page in enumerate(pages, start=1):
        assert f"Page {i} of {n}" in page
        assert "Test Clinic" in page and "October 2026" in page and "by Lee Adams" in page
    for needle in (
        "Billing practitioner: Dr. Daniel Okafor",
        "Billing practitioner: Dr. Elena Varga",
        "Patients below threshold",
        "Appendix: time log per patient",
        "BLOCKED",
    ):
        assert needle in text
    # pypdf gives a RowTable row as one line: name, MRN, practitioner, program, episode month,
    # counted, excluded, next code, minutes still needed
    below = [
        ln.strip()
        for ln in text[text.index("Patients below threshold") : text.index("Appendix")].splitlines()
    ]
    name, minutes = october["below"]
    (line,) = [ln for ln in below if ln.startswith(name)]
    assert re.fullmatch(rf"{name} MRN\d+ Dr\. Elena Varga CoCM initial 1 {minutes} 0 G2214 6", line), line

    # audited
    with clinic.session() as s:
        last = s.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc())).first()
    assert last is not None and last.action == "report.billing" and last.username == "lead"


def test_billing_cli_refused_for_a_care_manager(clinic_path, october, tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / "packet.pdf"
    rc = run_cli(
        monkeypatch,
        "report",
        "billing",
        "--db",
        str(clinic_path),
        "--user",
        "cm1",
        "--month",
        "2026-10",
        "--out",
        str(out),
    )
    assert rc == cli.EXIT_REFUSED
    err = capsys.readouterr().err
    assert "care manager cannot run the billing report" in err and "Traceback" not in err
    assert not out.exists()


def test_billing_cli_bad_month_is_one_plain_line(clinic_path, tmp_path, monkeypatch, capsys) -> None:
    rc = run_cli(
        monkeypatch,
        "report",
        "billing",
        "--db",
        str(clinic_path),
        "--user",
        "lead",
        "--month",
        "October",
        "--out",
        str(tmp_path / "x.pdf"),
    )
    assert rc == cli.EXIT_REFUSED
    assert "YYYY-MM" in capsys.readouterr().err
