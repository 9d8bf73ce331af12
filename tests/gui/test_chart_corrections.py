"""Corrections from the real chart on the demo clinic: Delete on a wrong PHQ-9 voids it (with a
reason) and the registry row and its flags follow; double-click on a time entry amends its minutes
and the billing month follows; the clinician amends a patient detail; people the spec does not
allow see the actions disabled with who may. Every check reads back the database."""

from __future__ import annotations

from datetime import date, datetime

from PySide6.QtCore import Qt
from sqlalchemy import select

from cocm_desktop.domain.flags import Flag
from cocm_desktop.gui.registry_model import RowRole
from cocm_desktop.services.billing_month import compute_billing_month
from cocm_desktop.services.changes import Change
from cocm_desktop.services.measures import record_measure
from cocm_desktop.services.time_log import add_manual_time
from cocm_desktop.store.models import Correction, Measure, Patient, TimeEntry, User


def _registry_row(w, episode_id: int):  # type: ignore[no-untyped-def]
    return next(r for r in w.registry.model.rows if r.episode_id == episode_id)


def _select(view, predicate):  # type: ignore[no-untyped-def]
    model = view.model()
    for n in range(model.rowCount()):
        index = model.index(n, 0)
        if predicate(index.data(RowRole)):
            view.setCurrentIndex(index)
            return index
    raise AssertionError("row not in the list")


def _double_click(qtbot, view, index) -> None:  # type: ignore[no-untyped-def]
    where = view.visualRect(index).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=where)  # as a person does: press first
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=where)


def _show_tab(w, title: str) -> None:  # type: ignore[no-untyped-def]
    tabs = w.chart.tabs
    tabs.setCurrentIndex(next(n for n in range(tabs.count()) if tabs.tabText(n).startswith(title)))


def _finish(dialog, wait_idle, **values) -> None:  # type: ignore[no-untyped-def]
    """Fill the open correction form as a person would and press its OK button."""
    for name, value in values.items():
        widget = dialog.widgets[name]
        if hasattr(widget, "setPlainText"):
            widget.setPlainText(value)
        elif hasattr(widget, "setValue"):
            widget.setValue(value)
        else:
            widget.setText(value)
    dialog.ok_button.click()
    wait_idle()


def test_care_manager_voids_a_wrong_phq9_with_delete_and_the_registry_follows(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle, auto_dialogs) -> None:
    w = open_window(demo_path, "cm1")
    me = w.ctx.actor.user_id
    row = next(r for r in w.registry.model.rows
               if r.care_manager_id == me and r.has(Flag.NOT_IMPROVING) and not r.has(Flag.SAFETY))
    # another patient's PHQ-9 (all zeros) typed on this chart: it looks like a remission
    op = w.ctx.write(record_measure, row.episode_id, "PHQ-9", [0] * 9, patient_id=row.patient_id,
                     taken_at=datetime.now().replace(second=0, microsecond=0), changes=Change.MEASURE)
    wait_idle()
    assert op.error is None
    wrong = op.result
    wait_idle()
    looks_better = _registry_row(w, row.episode_id)
    assert looks_better.phq9_last == 0 and not looks_better.has(Flag.NOT_IMPROVING)
    w.open_chart(row.patient_id)
    wait_idle()
    view = w.chart.measures_view
    _select(view, lambda m: m.id == wrong.id)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    dialog = w.chart.correction_dialog
    assert dialog.windowTitle() == "Void \u2014 entered in error"
    dialog.ok_button.click()  # a reason is required
    assert "Fill in" in dialog.error.text() and not dialog.saving
    _finish(dialog, wait_idle, reason="Belongs to another patient (same surname)")
    assert dialog.result() == dialog.DialogCode.Accepted
    with w.ctx.db.session() as s:
        m = s.get(Measure, wrong.id)
        assert m.voided_at is not None and m.voided_by_id == me
        assert m.void_reason == "Belongs to another patient (same surname)"
    after = _registry_row(w, row.episode_id)
    assert (after.phq9_last, after.phq9_change_text) == (row.phq9_last, row.phq9_change_text)
    assert after.has(Flag.NOT_IMPROVING)
    assert wrong.id not in [m.id for m in w.chart.chart.measures]
    # shown on demand, struck through, with who/when/why
    w.chart.show_corrections.setChecked(True)
    index = _select(view, lambda m: m.id == wrong.id)
    assert index.data(Qt.ItemDataRole.FontRole).strikeOut()
    assert "Belongs to another patient" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert "Voided" in w.chart.history_label.text()


def test_care_manager_amends_a_time_entry_and_the_billing_month_follows(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle) -> None:
    w = open_window(demo_path, "cm1")
    me = w.ctx.actor.user_id
    row = next(r for r in w.registry.model.rows if r.care_manager_id == me and r.status == "active")
    today = date.today()
    op = w.ctx.write(add_manual_time, patient_id=row.patient_id, activity="care_coordination", minutes=10,
                     local_date=today, changes=Change.TIME)
    wait_idle()
    assert op.error is None
    entry = op.result[0]
    wait_idle()
    before = _registry_row(w, row.episode_id).minutes_this_month
    with w.ctx.db.session() as s:
        month_before = next(r for r in compute_billing_month(s, today, today=today).rows
                            if r.patient_id == row.patient_id).logged_minutes
    w.open_chart(row.patient_id)
    wait_idle()
    _show_tab(w, "Time")
    view = w.chart.time_view
    index = _select(view, lambda t: t.id == entry.id)
    _double_click(qtbot, view, index)
    dialog = w.chart.correction_dialog
    assert dialog.windowTitle() == "Amend time entry"
    _finish(dialog, wait_idle, minutes=45, reason="The call lasted 45 minutes; 10 was a typo")
    with w.ctx.db.session() as s:
        assert s.get(TimeEntry, entry.id).minutes == 45
        month_after = next(r for r in compute_billing_month(s, today, today=today).rows
                           if r.patient_id == row.patient_id).logged_minutes
        kept = s.scalars(select(Correction).where(Correction.object_type == "time_entry",
                                                  Correction.object_id == entry.id)).one()
        assert kept.changes == {"minutes": [10, 45]} and kept.corrected_by_id == me
    assert month_after == month_before + 35
    assert _registry_row(w, row.episode_id).minutes_this_month == before + 35
    assert [t.minutes for t in w.chart.time_entries if t.id == entry.id] == [45]


def test_clinician_amends_a_patient_detail_and_sees_the_history(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle) -> None:
    w = open_window(demo_path, "doc1")
    me = w.ctx.actor.user_id
    row = next(r for r in w.registry.model.rows if r.clinician_id == me)
    w.open_chart(row.patient_id)
    wait_idle()
    _show_tab(w, "Details")
    view = w.chart.details_view
    index = _select(view, lambda d: d.id == "phone")
    _double_click(qtbot, view, index)
    dialog = w.chart.correction_dialog
    _finish(dialog, wait_idle, value="555-0142", reason="Patient gave a new number at the visit")
    with w.ctx.db.session() as s:
        assert s.get(Patient, row.patient_id).phone == "555-0142"
    assert "555-0142" in w.chart.identity_label.text()
    w.chart.show_corrections.setChecked(True)
    index = _select(view, lambda d: d.id == "phone")
    value = view.model().index(index.row(), 1)
    assert "amended" in value.data(Qt.ItemDataRole.DisplayRole)
    assert "new number at the visit" in value.data(Qt.ItemDataRole.ToolTipRole)


def test_who_may_not_correct_sees_the_actions_disabled_with_who_may(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle, auto_dialogs) -> None:
    w = open_window(demo_path, "cm2")
    with w.ctx.db.session() as s:
        cm1 = s.scalar(select(User.id).where(User.username == "cm1"))
    row = next(r for r in w.registry.model.rows if r.care_manager_id == cm1 and r.phq9_last is not None)
    w.open_chart(row.patient_id)
    wait_idle()
    m = next(m for m in w.chart.chart.measures if m.entered_by_id != w.ctx.actor.user_id)
    menu = w.chart.correction_menu("measure", m)
    actions = {a.objectName(): a for a in menu.actions()}
    assert not actions["amendAction"].isEnabled() and not actions["voidAction"].isEnabled()
    assert "Only the person who entered it or the treating clinician" in actions["voidAction"].toolTip()
    view = w.chart.measures_view
    _select(view, lambda x: x.id == m.id)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert any("Only the person who entered it" in text for text in auto_dialogs)
    with w.ctx.db.session() as s:
        assert s.get(Measure, m.id).voided_at is None
