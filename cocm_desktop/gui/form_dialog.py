"""Small forms built from a field list (referral, close-out, risk steps, care plan…).

`FormDialog(title, fields).ask()` → dict of values, or None when cancelled. With `submit`, OK
runs `submit(values)`: a value is the form's `result_value`; an `Operation` (`AppContext.write`)
runs off the GUI thread while the form waits with its buttons disabled. Required fields are
checked for presence only; every real rule is the service's, and its refusal is shown in the
dialog (the dialog stays open so nothing typed is lost) with the fields it names outlined in red:
a refusal carrying `.problems` (each with a `.field`) maps through `problem_fields`; otherwise a
field whose label the message names is marked. If the clinic server goes away while saving, the
form keeps everything typed and its button becomes "Save again" (gui.save_again); a caller whose
submit is wrapped in services.submissions.once gets it saved once. When someone else saved the record
after the form read it (EditConflict), the form says who changed what and stays open; the person
chooses: Cancel keeps theirs, "Save over their change" saves what is typed over the version just
shown (the submit passes `expected(values, row.row_version)` as the service's `expected_version`).

Kinds: line, text, date, datetime, check, choice, int, section (a heading), password, datetext (typed
YYYY-MM-DD or MM/DD/YYYY; empty = None), table (rows of text cells; `choices` = column titles).
An int stays as typed (gui.inputs.NumberEdit): outside minimum..maximum, or not a whole number, the
form says what is allowed and saves nothing. Tab leaves date and datetime fields.
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
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.gui.inputs import DateEdit, DateTimeEdit, InputProblem, NumberEdit


@dataclass
class Field:
    name: str
    label: str
    kind: str = "line"  # line | text | date | datetime | check | choice | int | section | datetext | table
    required: bool = False
    value: Any = None
    choices: Sequence[tuple[str, Any]] = field(default_factory=tuple)  # (label, value)
    hint: str = ""
    minimum: int = 0
    maximum: int = 600
    unit: str = ""  # an int field's unit, named in its hint and message ("min"); minutes default to it


def qdate(d: date) -> QDate:
    return QDate(d.year, d.month, d.day)


def pydate(q: QDate) -> date:
    return date(q.year(), q.month(), q.day())


def qdatetime(d: datetime) -> QDateTime:
    return QDateTime(qdate(d.date()), QDateTime.fromString(d.strftime("%H:%M"), "HH:mm").time())


def pydatetime(q: QDateTime) -> datetime:
    d, t = q.date(), q.time()
    return datetime(d.year(), d.month(), d.day(), t.hour(), t.minute())


class FieldError(ValueError):
    """A value the form itself cannot read (e.g. a date typed wrongly); names its field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def parse_typed_date(text: str) -> date | None:
    """'2026-11-24', '11/24/2026' or '' (None). ValueError when it is not a date."""
    text = (text or "").strip()
    if not text:
        return None
    if "/" in text:
        parts = text.split("/")
        if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(text)
        month, day, year = (int(p) for p in parts)
        if year < 100:
            raise ValueError(text)
        return date(year, month, day)
    return date.fromisoformat(text)


class TableField(QWidget):
    """Rows of short text cells with Add row / Remove row (e.g. current medications)."""

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[str]] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.table = QTableWidget(0, len(columns), self)
        self.table.setHorizontalHeaderLabels(list(columns))
        self.table.verticalHeader().hide()
        # the columns share the form's width (no sideways scrolling to reach the last one)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(96)
        self.table.setMaximumHeight(150)
        lay.addWidget(self.table)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add row", self)
        self.add_button.setProperty("flat", True)
        self.add_button.clicked.connect(lambda: self.add_row())
        self.remove_button = QPushButton("Remove row", self)
        self.remove_button.setProperty("flat", True)
        self.remove_button.clicked.connect(self.remove_row)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        for row in rows:
            self.add_row(row)
        if not rows:
            self.add_row()

    def add_row(self, cells: Sequence[str] = ()) -> None:
        n = self.table.rowCount()
        self.table.insertRow(n)
        for c in range(self.table.columnCount()):
            self.table.setItem(n, c, QTableWidgetItem(cells[c] if c < len(cells) else ""))

    def remove_row(self) -> None:
        row = self.table.currentRow()
        self.table.removeRow(row if row >= 0 else self.table.rowCount() - 1)

    def rows(self) -> list[tuple[str, ...]]:
        out = []
        for r in range(self.table.rowCount()):
            cells = tuple((self.table.item(r, c).text() if self.table.item(r, c) else "").strip()
                          for c in range(self.table.columnCount()))
            if any(cells):
                out.append(cells)
        return out


#: the Save button once the form has shown another person's change (EditConflict)
SAVE_OVER = "Save over their change"


class FormValues(dict[str, Any]):
    """A form's values; `seen_version` is the record's version a conflict message showed (the
    person chose to save over it), else None."""

    seen_version: int | None = None


def expected(values: dict[str, Any], version: int) -> int:
    """The `expected_version` a form's save passes: the version the form opened with, or the one
    its conflict message showed when the person saves over that change."""
    seen = getattr(values, "seen_version", None)
    return version if seen is None else seen


class FormDialog(QDialog):
    def __init__(self, title: str, fields: Sequence[Field], parent: QWidget | None = None, *,
                 intro: str = "", ok_text: str = "Save",
                 submit: Callable[[dict[str, Any]], Any] | None = None, scroll_after: int = 14) -> None:
        super().__init__(parent)
        self.saving = False  # a write started by `submit` is running
        self.seen_version: int | None = None  # a conflict showed this version; Save goes over it
        self.setWindowTitle(title)
        self.setMinimumWidth(480)
        self.fields = list(fields)
        self.widgets: dict[str, QWidget] = {}
        self.submit = submit
        self.result_value: Any = None
        #: refusal problem field (e.g. "consent") → form field names to outline
        self.problem_fields: dict[str, Sequence[str]] = {}
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
        self.form = form
        for f in self.fields:
            w = self._make(f)
            w.setObjectName(f"field_{f.name}")
            self.widgets[f.name] = w
            label = f.label + (" *" if f.required else "")
            if f.kind == "section":
                form.addRow(w)
            elif f.kind == "check":
                form.addRow("", w)
            else:
                form.addRow(label, w)
            if f.hint:
                w.setToolTip(f.hint)
        if len(self.fields) > scroll_after:
            holder = QWidget(self)
            holder.setObjectName("FormBody")
            holder.setLayout(form)
            scroll = QScrollArea(self)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(holder)
            scroll.setMinimumHeight(420)
            self.scroll = scroll
            layout.addWidget(scroll, 1)
        else:
            self.scroll = None
            layout.addLayout(form)
        self.error = QLabel("", self)
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self._fit_ok_button(ok_text)
        self.ok_button.setObjectName("okButton")
        from cocm_desktop.gui.save_again import SaveOnce

        self.saving_once = SaveOnce(self, self.ok_button, self.show_error)
        self._sent: dict[str, Any] | None = None
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout.addWidget(buttons)

    def _fit_ok_button(self, text: str) -> None:
        """The Save button's text, never clipped: the default button's style sets it in bold."""
        from PySide6.QtGui import QFont, QFontMetrics

        bold = QFont(self.ok_button.font())
        bold.setBold(True)
        self.ok_button.setText(text)
        self.ok_button.setMinimumWidth(QFontMetrics(bold).horizontalAdvance(text) + 48)

    def _make(self, f: Field) -> QWidget:
        if f.kind == "section":
            w = QLabel(f.label, self)
            w.setProperty("role", "section")
            return w
        if f.kind == "password":
            w = QLineEdit(self)
            w.setEchoMode(QLineEdit.EchoMode.Password)
            return w
        if f.kind == "datetext":
            w = QLineEdit(self)
            w.setPlaceholderText("YYYY-MM-DD or MM/DD/YYYY")
            w.setText(f.value.isoformat() if isinstance(f.value, date) else (f.value or ""))
            w.setMaximumWidth(200)
            return w
        if f.kind == "table":
            return TableField([c for c, _ in f.choices], f.value or (), self)
        if f.kind == "text":
            w = QPlainTextEdit(self)
            w.setPlainText(f.value or "")
            w.setTabChangesFocus(True)
            w.setMinimumHeight(70)
            w.setMaximumHeight(120)
            return w
        if f.kind == "date":
            w = DateEdit(self)
            w.setCalendarPopup(True)
            w.setDisplayFormat("yyyy-MM-dd")
            w.setDate(qdate(f.value or date.today()))
            return w
        if f.kind == "datetime":
            w = DateTimeEdit(self)
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
            unit = f.unit or ("min" if "minute" in f.label.lower() else "")
            w = NumberEdit(self, minimum=f.minimum, maximum=f.maximum, label=f.label, unit=unit)
            if f.value is not None:
                w.setValue(int(f.value))
            return w
        w = QLineEdit(self)
        w.setText(f.value or "")
        return w

    def values(self) -> dict[str, Any]:
        """Every field's value; FieldError when a typed date cannot be read."""
        out: dict[str, Any] = {}
        for f in self.fields:
            w = self.widgets[f.name]
            if f.kind == "section":
                continue
            if f.kind == "datetext":
                try:
                    out[f.name] = parse_typed_date(w.text())  # type: ignore[attr-defined]
                except ValueError:
                    raise FieldError(f.name, f"{f.label}: “{w.text().strip()}” is not a date; "  # type: ignore[attr-defined]
                                     "type it as YYYY-MM-DD or MM/DD/YYYY.") from None
            elif f.kind == "password":
                out[f.name] = w.text() or None  # type: ignore[attr-defined]  # never trimmed
            elif isinstance(w, TableField):
                out[f.name] = w.rows()
            elif isinstance(w, QPlainTextEdit):
                out[f.name] = w.toPlainText().strip() or None
            elif isinstance(w, QDateTimeEdit) and not isinstance(w, QDateEdit):
                out[f.name] = pydatetime(w.dateTime())
            elif isinstance(w, QDateEdit):
                out[f.name] = pydate(w.date())
            elif isinstance(w, QCheckBox):
                out[f.name] = w.isChecked()
            elif isinstance(w, QComboBox):
                out[f.name] = w.currentData()
            elif isinstance(w, NumberEdit):
                try:
                    out[f.name] = w.value()
                except InputProblem as exc:  # nothing is saved until the number is one allowed
                    raise FieldError(f.name, str(exc)) from None
            elif isinstance(w, QLineEdit):
                out[f.name] = w.text().strip() or None
        return out

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        if message and self.scroll is not None:
            self.scroll.ensureWidgetVisible(self.error)

    def mark_invalid(self, names: Sequence[str]) -> None:
        """Outline these fields (and only these) in red; the first one gets the focus."""
        wanted = set(names)
        first = None
        for f in self.fields:
            w = self.widgets[f.name]
            bad = f.name in wanted
            if bool(w.property("invalid")) != bad:
                w.setProperty("invalid", bad)
                w.style().unpolish(w)
                w.style().polish(w)
            if bad and first is None:
                first = w
        if first is not None:
            if self.scroll is not None:
                self.scroll.ensureWidgetVisible(first)
            first.setFocus()

    def invalid_fields(self) -> list[str]:
        return [f.name for f in self.fields if self.widgets[f.name].property("invalid")]

    def fields_named_in(self, exc: BaseException) -> list[str]:
        """Which form fields a refusal is about: its `.problems`/`.field`, else labels it names."""
        names: list[str] = []
        problems = getattr(exc, "problems", None) or ([exc] if getattr(exc, "field", None) else [])
        for p in problems:
            key = getattr(p, "field", None)
            if key in self.problem_fields:
                names.extend(self.problem_fields[key])
            elif key in self.widgets:
                names.append(key)
        if names:
            return names
        message = str(exc).lower()
        by_length = sorted((f for f in self.fields if f.kind != "section"), key=lambda f: -len(f.label))
        for f in by_length:
            if f.label.lower() in message:
                return [f.name]
        return []

    def refuse(self, exc: BaseException) -> None:
        from cocm_desktop.gui.errors import describe
        from cocm_desktop.services.errors import EditConflict, ServerUnreachable

        if isinstance(exc, ServerUnreachable):  # nothing wrong with the form: keep it as it is
            self.saving_once.failed(exc, self._sent)
            return
        if isinstance(exc, EditConflict) and exc.current_version is not None:
            self.seen_version = exc.current_version  # the next Save goes over the change just shown
            self._fit_ok_button(SAVE_OVER)
            self.mark_invalid([])
            self.show_error(f"{exc} Cancel keeps their change.")
            return
        self.mark_invalid(self.fields_named_in(exc))
        self.show_error(str(exc) if isinstance(exc, FieldError) else describe(exc)[1])

    def _accept(self) -> None:
        try:
            values = self.values()
        except FieldError as exc:
            self.refuse(exc)
            return
        missing = [f for f in self.fields if f.required and values.get(f.name) in (None, "", [])]
        if missing:
            self.mark_invalid([f.name for f in missing])
            self.show_error("Fill in: " + ", ".join(f.label for f in missing) + ".")
            return
        if self.submit is not None:
            from cocm_desktop.gui.errors import is_expected
            from cocm_desktop.gui.operations import Operation

            values = FormValues(values)
            values.seen_version = self.seen_version
            self._sent = values
            try:
                result = self.submit(values)
            except Exception as exc:  # refusals stay in the dialog; bugs go to the hook
                if not (is_expected(exc) or isinstance(exc, FieldError)):
                    raise
                self.refuse(exc)
                return
            if isinstance(result, Operation):  # a write running off the GUI thread: the form waits
                self._wait_for(result)
                return
            self.result_value = result
            self.saving_once.saved(result, values)
        self.mark_invalid([])
        self.accept()

    def _wait_for(self, op: Any) -> None:
        """Save and Cancel stay disabled until the write has ended (nothing is saved twice, and
        the form is not closed under a save); then it closes, or shows the refusal."""
        self._set_saving(True)
        self.show_error("")
        op.on_done(self._saved).on_failed(self._save_failed)

    def _set_saving(self, saving: bool) -> None:
        self.saving = saving
        for button in self.buttons.buttons():
            button.setEnabled(not saving)

    def _saved(self, result: Any) -> None:
        self._set_saving(False)
        self.result_value = result
        self.saving_once.saved(result, self._sent)
        self.mark_invalid([])
        self.accept()

    def _save_failed(self, exc: BaseException) -> None:
        from cocm_desktop.gui.errors import is_expected, show_error

        self._set_saving(False)
        if is_expected(exc) or isinstance(exc, FieldError):
            self.refuse(exc)  # nothing was saved; what was typed stays
        else:
            show_error(self, exc)

    def reject(self) -> None:
        if not self.saving:  # Esc or Cancel while saving: the form stays until the save has ended
            super().reject()

    def ask(self) -> dict[str, Any] | None:
        return self.values() if self.exec() == QDialog.DialogCode.Accepted else None

    def accepted_values(self) -> dict[str, Any]:
        return self.values()
