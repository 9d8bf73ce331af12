"""Contact note: when, how, what happened, and — mandatory — the next step and its date.

Minutes entered here become a time entry (the service does it). An outreach attempt that did
not reach the patient is recorded with "Patient reached" unticked. If the clinic server goes away
while saving, the form stays open with everything typed and saves once when it is back
(gui.save_again).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from PySide6.QtWidgets import QDialog, QWidget

from cocm_desktop.domain.activities import CONTACT_KINDS, CONTACT_MODES
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import is_expected, show_error
from cocm_desktop.gui.form_dialog import pydate, pydatetime, qdate, qdatetime
from cocm_desktop.gui.forms.ui_contact_dialog import Ui_ContactDialog
from cocm_desktop.gui.inputs import InputProblem
from cocm_desktop.gui.operations import hold_while_running
from cocm_desktop.gui.save_again import SaveOnce
from cocm_desktop.services.changes import Change


class ContactDialog(QDialog):
    def __init__(self, context: AppContext, *, episode_id: int, patient_id: int, patient_name: str = "",
                 parent: QWidget | None = None, now: datetime | None = None, kind: str = "follow_up",
                 minutes: int = 0) -> None:
        super().__init__(parent)
        self.ui = Ui_ContactDialog()
        self.ui.setupUi(self)
        self.ctx = context
        self.episode_id = episode_id
        self.patient_id = patient_id
        self.result_value = None
        self.saving: Any = None  # the save operation while it runs
        self._sent: dict[str, Any] = {}  # what the last save sent (Save again compares)
        ui = self.ui
        now = now or datetime.now().replace(second=0, microsecond=0)
        ui.patientLabel.setText(patient_name)
        ui.contactAt.setDateTime(qdatetime(now))
        for value, label in CONTACT_MODES.items():
            ui.modeCombo.addItem(label, value)
        for value, label in CONTACT_KINDS.items():
            ui.kindCombo.addItem(label, value)
        ui.kindCombo.setCurrentIndex(max(0, ui.kindCombo.findData(kind)))
        ui.minutesEdit.label, ui.minutesEdit.unit = "Minutes", "min"
        ui.minutesEdit.setRange(0, 600)  # 0: the contact logs no time
        ui.minutesEdit.setValue(minutes)
        ui.nextDateEdit.setDate(qdate(now.date() + timedelta(days=14)))
        ui.errorLabel.hide()
        ui.summaryEdit.setMinimumHeight(90)
        from cocm_desktop.services.contacts import record_contact

        self.saving_once = SaveOnce(self, ui.saveButton, self.show_error, record_contact)
        ui.saveButton.clicked.connect(self.save)
        ui.cancelButton.clicked.connect(self.reject)
        ui.kindCombo.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def _kind_changed(self) -> None:
        # An outreach attempt is the one kind that may not reach the patient.
        outreach = self.ui.kindCombo.currentData() == "outreach"
        self.ui.reachedCheck.setEnabled(outreach)
        if not outreach:
            self.ui.reachedCheck.setChecked(True)

    def show_error(self, message: str) -> None:
        self.ui.errorLabel.setText(message)
        self.ui.errorLabel.setVisible(bool(message))

    def values(self) -> dict[str, object]:
        """What the form holds; InputProblem when the minutes typed are not allowed."""
        ui = self.ui

        def opt(text: str) -> str | None:
            return text.strip() or None

        return dict(
            contact_at=pydatetime(ui.contactAt.dateTime()),
            mode=ui.modeCombo.currentData(),
            kind=ui.kindCombo.currentData(),
            reached=ui.reachedCheck.isChecked(),
            adherence=opt(ui.adherenceEdit.text()),
            side_effects=opt(ui.sideEffectsEdit.text()),
            skill_practised=opt(ui.skillEdit.text()),
            summary=opt(ui.summaryEdit.toPlainText()),
            question_for_consultant=opt(ui.questionEdit.toPlainText()),
            minutes=ui.minutesEdit.value(),
            next_step=ui.nextStepEdit.text().strip(),
            next_step_on=pydate(ui.nextDateEdit.date()),
        )

    def _mark(self, widget: QWidget | None) -> None:
        """Outline the field that stops the save (and only it) in red; it gets the focus."""
        for w in (self.ui.minutesEdit, self.ui.nextStepEdit):
            if bool(w.property("invalid")) != (w is widget):
                w.setProperty("invalid", w is widget)
                w.style().unpolish(w)
                w.style().polish(w)
        if widget is not None:
            widget.setFocus()

    def save(self) -> None:
        try:
            values = self.values()
        except InputProblem as exc:
            self.show_error(str(exc))
            self._mark(self.ui.minutesEdit)
            return
        if not values["next_step"]:
            self.show_error("Every contact ends with a next step: say what happens next and when.")
            self._mark(self.ui.nextStepEdit)
            return
        self._mark(None)
        nxt = values["next_step_on"]
        assert isinstance(nxt, date)
        self.show_error("")
        self._sent = values
        self.saving = hold_while_running(self.ctx.write(
            self.saving_once.call, self.episode_id, patient_id=self.patient_id, changes=(Change.CONTACT, Change.TIME),
            done=self._saved, failed=self._refused, **values), self.ui.saveButton, self.ui.cancelButton)

    def _saved(self, result: Any) -> None:
        self.saving = None
        self.result_value = result
        self.saving_once.saved(result, self._sent)
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        self.saving = None
        if not is_expected(exc):
            show_error(self, exc)
            return
        self.saving_once.failed(exc, self._sent)  # nothing was saved (or Save again): what was typed stays

    def reject(self) -> None:
        if self.saving is None:  # Esc while saving: the form stays until the save has ended
            super().reject()
