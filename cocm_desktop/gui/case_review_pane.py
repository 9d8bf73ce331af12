"""Case-review pane (placeholder until it lands)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cocm_desktop.gui.context import AppContext


class CaseReviewPane(QWidget):
    openChart = Signal(int)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = context
        QVBoxLayout(self).addWidget(QLabel("Case review"))

    def ensure_loaded(self) -> None:
        pass

    def reload(self) -> None:
        pass

    def mark_stale(self) -> None:
        pass

    def clear_for_lock(self) -> None:
        pass

    def print_packet(self) -> None:
        pass
