"""Patient chart pane (placeholder until the chart lands)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cocm_desktop.gui.context import AppContext


class ChartPane(QWidget):
    patientChanged = Signal(object, str)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = context
        self.patient_id: int | None = None
        QVBoxLayout(self).addWidget(QLabel("Chart"))

    def open_patient(self, patient_id: int) -> None:
        self.patient_id = patient_id

    def reload(self) -> None:
        pass

    def clear_for_lock(self) -> None:
        pass
