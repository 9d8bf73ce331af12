"""The audit report's Object column says what a record is about ("Clinic policy", "Quality check
2026-10", "measure #12"), never "clinic_setting None" or "report None": on screen, in the CSV and
in the printed PDF (parsed back)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from pypdf import PdfReader

from cocm_desktop.reports.audit_report import build_audit_pdf
from cocm_desktop.services.audit_report import audit_csv, audit_report, object_text
from cocm_desktop.services.backups import set_second_folder
from cocm_desktop.services.policy import update_policy
from cocm_desktop.services.quality import quality_report


def test_records_without_an_object_id_are_named_in_words(clinic, actors, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lead = actors["lead"]
    with clinic.session() as s:
        update_policy(s, lead, {"idle_lock_minutes": 7})
        set_second_folder(s, lead, str(tmp_path))
        quality_report(s, lead, date(2026, 10, 1), today=date(2026, 11, 24))
    with clinic.session() as s:
        report = audit_report(s, lead, start=date(2020, 1, 1), end=datetime.now().date(), output="screen")
    shown = {r.action: object_text(r) for r in report.rows}
    assert shown["policy.update"] == "Clinic policy"
    assert shown["policy.backup_folder"] == "Second backup folder"
    assert shown["report.quality"] == "Quality check 2026-10"
    texts = [object_text(r) for r in report.rows]
    assert not any("None" in t for t in texts)
    cells = [row[5] for row in csv.reader(io.StringIO(audit_csv(report).decode("utf-8-sig")))]
    assert "Clinic policy" in cells and "Quality check 2026-10" in cells
    assert not any("None" in c for c in cells)
    pdf = PdfReader(io.BytesIO(build_audit_pdf(report)))
    text = " ".join(" ".join(p.extract_text() or "" for p in pdf.pages).split())  # cells wrap
    assert "Clinic policy" in text and "Quality check 2026-10" in text and "None" not in text
