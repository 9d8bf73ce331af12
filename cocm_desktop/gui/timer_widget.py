"""Timer bar (placeholder until it lands)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from cocm_desktop.gui.context import AppContext


class TimerWidget(QWidget):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = context
        self.is_running = False
        QHBoxLayout(self).addWidget(QLabel("Timer"))

    def set_default_patient(self, patient_id, name) -> None:  # type: ignore[no-untyped-def]
        pass

    def refresh_totals(self) -> None:
        pass

    def set_locked(self, locked: bool) -> None:
        pass

    def check_recovery(self) -> None:
        pass

    def stop(self) -> bool:
        return True

    def shutdown(self) -> None:
        pass
