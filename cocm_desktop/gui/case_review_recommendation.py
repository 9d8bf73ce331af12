"""The psychiatric consultant's recommendation, recorded inline in the case review for the
selected agenda entry: its kind (drug and dose only where the kind needs them) and text; the
service's refusal is shown in place, under the fields."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from cocm_desktop.domain.case_review import RecommendationKind
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import describe, is_expected, show_error
from cocm_desktop.gui.operations import Operation
from cocm_desktop.services.changes import Change


class RecommendationForm(QFrame):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        rl = QFormLayout(self)
        rl.setContentsMargins(0, 8, 0, 0)
        heading = QLabel("Recommendation", self)
        heading.setProperty("role", "section")
        rl.addRow(heading)
        self.kind = QComboBox(self)
        self.kind.setObjectName("recKind")
        for k in RecommendationKind:
            self.kind.addItem(k.label, k.value)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.drug = QLineEdit(self)
        self.drug.setObjectName("recDrug")
        self.dose = QLineEdit(self)
        self.dose.setObjectName("recDose")
        self.dose.setPlaceholderText("e.g. 50 mg daily")
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("recText")
        self.text.setMaximumHeight(70)
        self.text.setTabChangesFocus(True)
        rl.addRow("Kind", self.kind)
        rl.addRow("Drug", self.drug)
        rl.addRow("Dose", self.dose)
        rl.addRow("Recommendation", self.text)
        self.error = QLabel("", self)
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        rl.addRow(self.error)
        self.save_button = QPushButton("Record recommendation", self)
        self.save_button.setObjectName("saveRecommendation")
        self.save_button.setProperty("primary", True)
        rl.addRow("", self.save_button)
        self._kind_changed()

    def _kind_changed(self) -> None:
        kind = RecommendationKind(self.kind.currentData())
        self.drug.setEnabled(kind.needs_drug)
        self.dose.setEnabled(kind.needs_dose)

    def clear(self) -> None:
        for w in (self.text, self.drug, self.dose):
            w.clear()

    def record(self, ctx: AppContext, entry: Any) -> Operation:
        """One service call for agenda `entry`, off the GUI thread (the button waits); the fields
        clear when it is recorded. A refusal is shown under the fields (they keep what was typed)."""
        from cocm_desktop.services.case_review import record_recommendation

        self.error.hide()
        self.save_button.setEnabled(False)
        return ctx.write(record_recommendation, entry.episode_id, kind=self.kind.currentData(),
                         text=self.text.toPlainText().strip(), drug=self.drug.text().strip() or None,
                         dose=self.dose.text().strip() or None, agenda_item_id=entry.id,
                         changes=(Change.RECOMMENDATION, Change.CASE_REVIEW), patient_id=entry.patient_id,
                         done=self._recorded, failed=self._refused)

    def _recorded(self, _result: Any) -> None:
        self.save_button.setEnabled(True)
        self.clear()

    def _refused(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        if not is_expected(exc):
            show_error(self, exc)
            return
        self.error.setText(describe(exc)[1])
        self.error.show()
