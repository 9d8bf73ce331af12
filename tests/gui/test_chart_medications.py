"""The chart's Medications tab on the demo clinic, driven as people do: the clinician approves the
consultant's dose change on the Recommendations tab and the regimen shows it at once; a dose change
entered in error is voided with the Delete key (the old dose is current again); the care manager
adds a medication the patient takes but sees Change dose and Stop disabled with who may. Every
check reads back the database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from sqlalchemy import select

from cocm_desktop.gui.registry_model import RowRole
from cocm_desktop.services import case_review
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Correction, Episode, Medication, User

SHOTS = Path("/tmp/meds-shots")


def _select(view, predicate):  # type: ignore[no-untyped-def]
    model = view.model()
    for n in range(model.rowCount()):
        index = model.index(n, 0)
        if predicate(index.data(RowRole)):
            view.setCurrentIndex(index)
            return index
    raise AssertionError("row not in the list")


def _show_tab(w, title: str) -> None:  # type: ignore[no-untyped-def]
    tabs = w.chart.tabs
    tabs.setCurrentIndex(next(n for n in range(tabs.count()) if tabs.tabText(n).startswith(title)))


def _finish(dialog, wait_idle, **values) -> None:  # type: ignore[no-untyped-def]
    for name, value in values.items():
        widget = dialog.widgets[name]
        if hasattr(widget, "setPlainText"):
            widget.setPlainText(value)
        else:
            widget.setText(value)
    dialog.ok_button.click()
    wait_idle()


def _doc1_patient_on(demo_path: Path) -> tuple[int, int, Medication]:
    """An open episode of doc1's with one current antidepressant line (patient, episode, line)."""
    with Database.open(demo_path, "doc1", "demo") as db, db.session() as s:
        doc = s.scalar(select(User.id).where(User.username == "doc1"))
        for ep in s.scalars(select(Episode).where(Episode.treating_clinician_id == doc, Episode.status == "active")
                            .order_by(Episode.id)):
            lines = list(s.scalars(select(Medication).where(Medication.episode_id == ep.id,
                                                            Medication.stopped_on.is_(None))))
            if len(lines) == 1:
                s.expunge(lines[0])
                return ep.patient_id, ep.id, lines[0]
    raise AssertionError("no such patient in the demo")


def test_clinician_approves_a_dose_change_and_voids_a_wrong_one_with_delete(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle, auto_dialogs) -> None:
    pid, eid, line = _doc1_patient_on(demo_path)
    with Database.open(demo_path, "psych", "demo") as db, db.session() as s:
        assert db.actor is not None
        rec = case_review.record_recommendation(
            s, db.actor, eid, kind="medication_change", drug=line.name, dose="150 mg",
            text=f"Partial response: raise {line.name} to 150 mg.", now=datetime.now().replace(microsecond=0))
    w = open_window(demo_path, "doc1")
    w.open_chart(pid)
    wait_idle()
    _show_tab(w, "Recommendations")
    _select(w.chart.recs_view, lambda r: r.id == rec.id)
    w.chart.approve_button.click()
    wait_idle()
    _show_tab(w, "Medications")
    chart = w.chart
    assert [(m.name, m.dose) for m in chart.chart.medications] == [(line.name, "150 mg")]
    assert "Dose changed" in chart.meds_history.text() and f"{line.dose} {line.schedule}" in chart.meds_history.text()
    # the new line is bold (current), the old one shows when it stopped
    new_index = _select(chart.meds_view, lambda m: m.dose == "150 mg")
    assert new_index.data(Qt.ItemDataRole.FontRole).bold()
    new_id = new_index.data(RowRole).id
    SHOTS.mkdir(exist_ok=True)
    w.resize(1400, 900)
    chart.grab().save(str(SHOTS / "chart-medications.png"))
    # the approval was entered for the wrong patient after all: Delete voids it, with a reason
    chart.meds_view.setFocus()
    qtbot.keyClick(chart.meds_view, Qt.Key.Key_Delete)
    dialog = chart.medication_dialog
    assert dialog.windowTitle() == "Void \u2014 entered in error"
    assert any("The line it replaced is current again." in label.text() for label in dialog.findChildren(QLabel))
    _finish(dialog, wait_idle, reason="Discussed the wrong patient at case review")
    assert dialog.result() == dialog.DialogCode.Accepted
    with w.ctx.db.session() as s:
        voided = s.get(Medication, new_id)
        assert voided.voided_at is not None and voided.void_reason == "Discussed the wrong patient at case review"
        old = s.get(Medication, line.id)
        assert old.stopped_on is None  # the old dose is the regimen again
        assert {c.object_id for c in s.scalars(select(Correction).where(Correction.object_type == "medication"))} \
            == {new_id, line.id}
    assert [(m.name, m.dose) for m in chart.chart.medications] == [(line.name, line.dose)]
    chart.show_corrections.setChecked(True)
    index = _select(chart.meds_view, lambda m: m.id == new_id)
    assert index.data(Qt.ItemDataRole.FontRole).strikeOut()
    assert "Discussed the wrong patient" in index.data(Qt.ItemDataRole.ToolTipRole)


def test_care_manager_adds_a_medication_but_may_not_change_or_stop_one(  # type: ignore[no-untyped-def]
        open_window, demo_path, wait_idle, auto_dialogs) -> None:
    pid, eid, line = _doc1_patient_on(demo_path)
    w = open_window(demo_path, "cm1")
    w.open_chart(pid)
    wait_idle()
    _show_tab(w, "Medications")
    chart = w.chart
    _select(chart.meds_view, lambda m: m.id == line.id)
    for button in (chart.change_dose_button, chart.stop_med_button):
        assert not button.isEnabled()
        assert button.toolTip() == ("A care manager cannot change a medication's dose or stop it; "
                                    "the treating clinician does.")
    menu = chart.medication_menu(_select(chart.meds_view, lambda m: m.id == line.id).data(RowRole))
    actions = {a.objectName(): a for a in menu.actions()}
    assert not actions["changeDoseAction"].isEnabled() and not actions["stopAction"].isEnabled()
    assert chart.add_med_button.isEnabled()
    chart.add_med_button.click()
    dialog = chart.medication_dialog
    _finish(dialog, wait_idle, name="Trazodone", dose="50 mg", schedule="at night",
            started_on="2026-10-01", reason="Started by the sleep clinic")
    assert dialog.result() == dialog.DialogCode.Accepted
    with w.ctx.db.session() as s:
        added = s.scalar(select(Medication).where(Medication.episode_id == eid, Medication.name == "Trazodone",
                                                  Medication.stopped_on.is_(None)))
        assert (added.dose, added.schedule, str(added.started_on), added.start_reason) == (
            "50 mg", "at night", "2026-10-01", "Started by the sleep clinic")
    assert "Trazodone 50 mg at night" in chart.meds_history.text()
    assert chart.tabs.tabText(chart.tabs.indexOf(chart.meds_tab)) == "Medications (2)"
