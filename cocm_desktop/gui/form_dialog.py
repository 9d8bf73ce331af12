"""Small forms built from a field list (referral, close-out, risk steps, care plan…).

`FormDialog(title, fields).ask()` → dict of values, or None when cancelled. Required fields are
checked for presence only; every real rule is the service's, and its refusal is shown in the
dialog (the dialog stays open so nothing typed is lost).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import QDate, QDateTime, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


@dataclass
class Field:
    name: str
    label: str
    kind: str = "line"  # line | text | date | datetime | check | choice | int
    required: bool = False
    value: Any = None
    choices: Sequence[tuple[str, Any]] = field(default_factory=tuple)  # (label, value)
    hint: str = ""
    minimum: int = 0
    maximum: int = 600


def qdate(d: date) -> QDate:
    return QDate(d.year, d.month, d.day)


def pydate(q: QDate) -> date:
    return date(q.year(), q.month(), q.day())


def qdatetime(d: datetime) -> QDateTime:
    return QDateTime(qdate(d.date()), QDateTime.fromString(d.strftime("%H:%M"), "HH:mm").time())


def pydatetime(q: QDateTime) -> datetime:
    d, t = q.date(), q.time()
    return datetime(d.year(), d.month(), d.day(), t.hour(), t.minute())


class FormDialog(QDialog):
    def __init__(self, title: str, fields: Sequence[Field], parent: QWidget | None = None, *,
                 intro: str = "", ok_text: str = "Save",
                 submit: Callable[[dict[str, Any]], Any] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(480)
        self.fields = list(fields)
        self.widgets: dict[str, QWidget] = {}
        self.submit = submit
        self.result_value: Any = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        heading = QLabel(title, self)
        heading.setProperty("role", "subtitle")
        layout.addWidget(heading)
        if intro:
            text = QLabel(intro, self)
            text.setWordWrap(True)
            text.setProperty("role", "muted")
            layout.addWidget(text)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setVerticalSpacing(8)
        for f in self.fields:
            w = self._make(f)
            w.setObjectName(f"field_{f.name}")
            self.widgets[f.name] = w
            label = f.label + (" *" if f.required else "")
            if f.kind == "check":
                form.addRow("", w)
            else:
                form.addRow(label, w)
            if f.hint:
                w.setToolTip(f.hint)
        layout.addLayout(form)
        self.error = QLabel("", self)
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.ok_button.setObjectName("okButton")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _make(self, f: Field) -> QWidget:
        if f.kind == "text":
            w = QPlainTextEdit(self)
            w.setPlainText(f.value or "")
            w.setTabChangesFocus(True)
            w.setMinimumHeight(70)
            w.setMaximumHeight(120)
            return w
        if f.kind == "date":
            w = QDateEdit(self)
            w.setCalendarPopup(True)
            w.setDisplayFormat("yyyy-MM-dd")
            w.setDate(qdate(f.value or date.today()))
            return w
        if f.kind == "datetime":
            w = QDateTimeEdit(self)
            w.setCalendarPopup(True)
            w.setDisplayFormat("yyyy-MM-dd HH:mm")
            w.setDateTime(qdatetime(f.value or datetime.now().replace(second=0, microsecond=0)))
            return w
        if f.kind == "check":
            w = QCheckBox(f.label, self)
            w.setChecked(bool(f.value))
            return w
        if f.kind == "choice":
            w = QComboBox(self)
            for label, value in f.choices:
                w.addItem(label, value)
            if f.value is not None:
                w.setCurrentIndex(max(0, w.findData(f.value)))
            return w
        if f.kind == "int":
            w = QSpinBox(self)
            w.setRange(f.minimum, f.maximum)
            w.setValue(int(f.value or 0))
            return w
        w = QLineEdit(self)
        w.setText(f.value or "")
        return w

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.fields:
            w = self.widgets[f.name]
            if isinstance(w, QPlainTextEdit):
                out[f.name] = w.toPlainText().strip() or None
            elif isinstance(w, QDateTimeEdit) and not isinstance(w, QDateEdit):
                out[f.name] = pydatetime(w.dateTime())
            elif isinstance(w, QDateEdit):
                out[f.name] = pydate(w.date())
            elif isinstance(w, QCheckBox):
                out[f.name] = w.isChecked()
            elif isinstance(w, QComboBox):
                out[f.name] = w.currentData()
            elif isinstance(w, QSpinBox):
                out[f.name] = w.value()
            elif isinstance(w, QLineEdit):
                out[f.name] = w.text().strip() or None
        return out

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def _accept(self) -> None:
        values = self.values()
        missing = [f.label for f in self.fields if f.required and values.get(f.name) in (None, "")]
        if missing:
            self.show_error("Fill in: " + ", ".join(missing) + ".")
            return
        if self.submit is not None:
            from cocm_desktop.gui.errors import describe, is_expected

            try:
                self.result_value = self.submit(values)
            except Exception as exc:  # refusals stay in the dialog; bugs go to the hook
                if not is_expected(exc):
                    raise
                self.show_error(describe(exc)[1])
                return
        self.accept()

    def ask(self) -> dict[str, Any] | None:
        return self.values() if self.exec() == QDialog.DialogCode.Accepted else None
