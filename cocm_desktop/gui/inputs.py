"""Inputs that never change what was typed without a word.

- `NumberEdit`: a whole number in a line edit. What is typed stays as typed ("-5", "0", "999",
  "ten"); `value()` reads it or raises `InputProblem` with one sentence saying what is allowed,
  and the form refuses to save until it is fixed. (A QSpinBox silently drops the "-", turns "999"
  into "99" and puts back the old value when "0" is below its minimum.) Up/Down still step.
- `DateEdit` / `DateTimeEdit`: Tab and Shift+Tab leave the field (a QDateTimeEdit steps through
  its year/month/day sections instead, so a fast typist's Tab stays in the date and the next
  keys change it).

Designer forms use them as promoted widgets (header `cocm_desktop.gui.inputs`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractSpinBox, QDateEdit, QDateTimeEdit, QLineEdit, QWidget

__all__ = ["DateEdit", "DateTimeEdit", "InputProblem", "NumberEdit"]


class InputProblem(ValueError):
    """A typed value the field cannot take; the message says what is allowed."""


class NumberEdit(QLineEdit):
    def __init__(self, parent: QWidget | None = None, *, minimum: int = 0, maximum: int = 600,
                 label: str = "Number", unit: str = "") -> None:
        super().__init__(parent)
        self._min, self._max = minimum, maximum
        self.label = label  # the field's name in messages ("Minutes")
        self.unit = unit  # "min": shown in the hint and the placeholder
        self.setMaximumWidth(140)
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._hint()

    # QSpinBox-like API, so callers and .ui promotion read naturally
    def setRange(self, minimum: int, maximum: int) -> None:  # noqa: N802
        self._min, self._max = minimum, maximum
        self._hint()

    def setMinimum(self, minimum: int) -> None:  # noqa: N802
        self.setRange(minimum, self._max)

    def setMaximum(self, maximum: int) -> None:  # noqa: N802
        self.setRange(self._min, maximum)

    def setSuffix(self, suffix: str) -> None:  # noqa: N802
        self.unit = suffix.strip()
        self._hint()

    def minimum(self) -> int:
        return self._min

    def maximum(self) -> int:
        return self._max

    def allowed(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"a whole number from {self._min} to {self._max}{unit}"

    def _hint(self) -> None:
        self.setPlaceholderText(f"{self._min}–{self._max}" + (f" {self.unit}" if self.unit else ""))
        self.setToolTip(f"Type {self.allowed()}.")

    def setValue(self, value: int) -> None:  # noqa: N802
        self.setText(str(int(value)))

    def problem(self) -> str | None:
        """The one-sentence reason the typed text cannot be saved, or None."""
        text = self.text().strip()
        shown = f"“{text}”"
        if not text:
            return f"{self.label}: empty; type {self.allowed()}."
        try:
            number = int(text)
        except ValueError:
            return f"{self.label}: {shown} is not a whole number; type {self.allowed()}."
        if not self._min <= number <= self._max:
            return f"{self.label}: {shown} is not allowed; type {self.allowed()}."
        return None

    def value(self) -> int:
        """The typed number; InputProblem (nothing changed) when it is not allowed."""
        problem = self.problem()
        if problem is not None:
            raise InputProblem(problem)
        return int(self.text().strip())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        step = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1}.get(Qt.Key(event.key()))
        if step is not None and self.problem() is None:
            nxt = int(self.text()) + step
            if self._min <= nxt <= self._max:
                self.setValue(nxt)
            return
        super().keyPressEvent(event)


def _leave(widget: QAbstractSpinBox, forward: bool) -> bool:
    # QWidget's focus chain, not the date's own sections
    return QWidget.focusNextPrevChild(widget, forward)


class DateEdit(QDateEdit):
    def focusNextPrevChild(self, forward: bool) -> bool:  # noqa: N802
        return _leave(self, forward)


class DateTimeEdit(QDateTimeEdit):
    def focusNextPrevChild(self, forward: bool) -> bool:  # noqa: N802
        return _leave(self, forward)
