"""Honest inputs: a typed number that is not allowed is said in one sentence and nothing is saved
(no silent clamping: "-5" stays "-5", not 5; "0" does not put back the old 10; "999" does not
become 99); Tab leaves a date field; the digits typed for PHQ-9 answers never re-date the measure.
Real dialogs through qtbot, read back from the real encrypted database."""

from __future__ import annotations

from datetime import datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from sqlalchemy import func, select

from cocm_desktop.gui.contact_dialog import ContactDialog
from cocm_desktop.gui.form_dialog import Field, FormDialog
from cocm_desktop.gui.measure_dialog import MeasureDialog
from cocm_desktop.store.models import AuditRecord, Contact, Measure, TimeEntry

BAD_MINUTES = [("-5", "“-5” is not allowed"), ("0", "“0” is not allowed"), ("999", "“999” is not allowed"),
               ("ten", "“ten” is not a whole number"), ("", "empty")]


def _type(qtbot, widget, text: str) -> None:  # type: ignore[no-untyped-def]
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClick(widget, Qt.Key.Key_Delete)
    if text:
        qtbot.keyClicks(widget, text)


def _count(ctx, model) -> int:  # type: ignore[no-untyped-def]
    with ctx.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def _active(w):  # type: ignore[no-untyped-def]
    me = w.ctx.actor.user_id
    return next(r for r in w.registry.model.rows if r.status == "active" and r.care_manager_id == me)


@pytest.mark.parametrize(("typed", "said"), BAD_MINUTES)
def test_add_time_refuses_minutes_it_cannot_take_and_saves_nothing(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle, auto_dialogs, typed, said) -> None:
    w = open_window(demo_path, "cm1")
    w.open_chart(_active(w).patient_id)
    wait_idle()
    before = _count(w.ctx, TimeEntry)
    w.chart.add_manual_time()
    dialog = auto_dialogs.dialogs[-1]
    minutes = dialog.widgets["minutes"]
    assert minutes.text() == "10"
    _type(qtbot, minutes, typed)
    assert minutes.text() == typed  # what was typed stays as typed
    dialog.ok_button.click()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert said in dialog.error.text() and "from 1 to 600 min" in dialog.error.text()
    assert dialog.error.text().startswith("Minutes:") and dialog.invalid_fields() == ["minutes"]
    minutes.clearFocus()  # leaving the field changes nothing either (a spin box put back 10)
    assert minutes.text() == typed
    assert _count(w.ctx, TimeEntry) == before
    _type(qtbot, minutes, "25")
    dialog.ok_button.click()
    wait_idle()
    assert dialog.result() == QDialog.DialogCode.Accepted and _count(w.ctx, TimeEntry) == before + 1
    with w.ctx.db.session() as s:
        assert s.scalar(select(TimeEntry.minutes).order_by(TimeEntry.id.desc()).limit(1)) == 25


@pytest.mark.parametrize(("typed", "said"), [("-5", "“-5” is not allowed"), ("999", "“999” is not allowed"),
                                             ("1.5", "not a whole number")])
def test_contact_refuses_minutes_it_cannot_take_and_saves_nothing(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle, typed, said) -> None:
    w = open_window(demo_path, "cm2")
    row = _active(w)
    before = (_count(w.ctx, Contact), _count(w.ctx, TimeEntry))
    dialog = ContactDialog(w.ctx, episode_id=row.episode_id, patient_id=row.patient_id, parent=w,
                           now=datetime.now().replace(second=0, microsecond=0))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.ui.nextStepEdit.setText("Call on Friday")
    _type(qtbot, dialog.ui.minutesEdit, typed)
    dialog.save()
    wait_idle()
    assert dialog.result_value is None and said in dialog.ui.errorLabel.text()
    assert "from 0 to 600 min" in dialog.ui.errorLabel.text()
    assert dialog.ui.minutesEdit.property("invalid") and dialog.ui.minutesEdit.text() == typed
    assert (_count(w.ctx, Contact), _count(w.ctx, TimeEntry)) == before
    _type(qtbot, dialog.ui.minutesEdit, "0")  # a contact may log no time
    dialog.save()
    wait_idle()
    assert dialog.result_value is not None and _count(w.ctx, TimeEntry) == before[1]


def test_policy_refuses_a_number_out_of_range_and_saves_nothing(open_window, clinic_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.gui.admin.policy import PolicyDialog

    w = open_window(clinic_path, "lead")
    before = _count(w.ctx, AuditRecord)
    d = PolicyDialog(w.ctx, w)
    qtbot.addWidget(d)
    d.show()
    spin = d.spins["idle_lock_minutes"]
    for typed in ("-5", "0", "999"):
        _type(qtbot, spin, typed)
        d.save()
        assert d.result() != QDialog.DialogCode.Accepted
        assert d.error.text().startswith("Idle lock") and f"“{typed}” is not allowed" in d.error.text()
        assert spin.property("invalid") and spin.text() == typed
    assert _count(w.ctx, AuditRecord) == before  # no policy.update


def test_tab_leaves_a_date_field(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = FormDialog("Dates", [Field("on", "On", "date", True), Field("at", "At", "datetime", True),
                                  Field("note", "Note")])
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitExposed(dialog)
    on, at, note = (dialog.widgets[n] for n in ("on", "at", "note"))
    for field, nxt in ((on, at), (at, note)):
        field.setFocus()
        before = field.text()
        qtbot.keyClick(field, Qt.Key.Key_Tab)
        assert dialog.focusWidget() is nxt, type(dialog.focusWidget())
        assert field.text() == before
    qtbot.keyClick(note, Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)
    assert dialog.focusWidget() is at


def test_phq9_digits_answer_items_and_never_redate_the_measure(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle) -> None:
    """Typed where the focus is, as a user types: the dialog opens with the focus on the answers."""
    w = open_window(demo_path, "cm1")
    row = _active(w)
    opened = datetime.now().replace(second=0, microsecond=0)
    dialog = MeasureDialog(w.ctx, episode_id=row.episode_id, patient_id=row.patient_id, instrument="PHQ-9",
                           parent=w, now=opened)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitExposed(dialog)
    for key in "120120120":
        qtbot.keyClicks(dialog.focusWidget(), key)
    assert dialog.answers() == [1, 2, 0, 1, 2, 0, 1, 2, 0]
    assert dialog.ui.takenAtEdit.dateTime().toPython() == opened
    # Tab out of "Taken" leaves it: digits after it do not change the date
    dialog.ui.takenAtEdit.setFocus()
    qtbot.keyClick(dialog.ui.takenAtEdit, Qt.Key.Key_Tab)
    assert dialog.focusWidget() is not dialog.ui.takenAtEdit
    dialog.ui.difficultyCombo.setCurrentIndex(1)
    dialog.save()
    wait_idle()
    with w.ctx.db.session() as s:
        assert s.get(Measure, dialog.result_value.id).taken_at == opened


def test_a_back_dated_measure_says_so(open_window, demo_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    row = _active(w)
    dialog = MeasureDialog(w.ctx, episode_id=row.episode_id, patient_id=row.patient_id, instrument="GAD-7",
                           parent=w, now=datetime(2026, 11, 24, 10, 0))
    qtbot.addWidget(dialog)
    dialog.ui.takenAtEdit.setDateTime(datetime(2026, 11, 12, 10, 0))
    assert dialog.ui.takenAtLabel.text() == "&Taken (12 days ago)"
