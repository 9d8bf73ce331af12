"""PHQ-9 / GAD-7 entry, item by item: radio buttons 0–3 with the item text, the total and band
shown live (computed by domain.instruments.score, never here), and the safety warning as soon as
PHQ-9 item 9 is above 0. Keys 0–3 answer the next item, for fast entry from a paper form.

The dialog opens with the focus on the answers, never on "Taken": digits typed for the answers
must not re-date the measure (they did when the date field had the first focus). Tab leaves the
date field (gui.inputs.DateTimeEdit), and a date other than today is said in words beside it.
If the clinic server goes away while saving, the answers stay and Save again saves the measure
once (gui.save_again).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import QButtonGroup, QDialog, QLabel, QRadioButton, QWidget

from cocm_desktop.domain import instruments as inst
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import is_expected, show_error
from cocm_desktop.gui.form_dialog import pydatetime, qdatetime
from cocm_desktop.gui.forms.ui_measure_dialog import Ui_MeasureDialog
from cocm_desktop.gui.operations import hold_while_running
from cocm_desktop.gui.save_again import SaveOnce
from cocm_desktop.services.changes import Change


class MeasureDialog(QDialog):
    def __init__(self, context: AppContext, *, episode_id: int, patient_id: int, instrument: str,
                 patient_name: str = "", parent: QWidget | None = None, now: datetime | None = None) -> None:
        super().__init__(parent)
        self.ui = Ui_MeasureDialog()
        self.ui.setupUi(self)
        self.ctx = context
        self.episode_id = episode_id
        self.patient_id = patient_id
        self.instrument = instrument
        self.result_value = None
        self.saving: Any = None  # the save operation while it runs
        self._sent: object = None  # what the last save sent (Save again compares)
        self.groups: list[QButtonGroup] = []
        self._cursor = 0
        ui = self.ui
        self.setWindowTitle(f"{instrument} — record a measure")
        ui.titleLabel.setText(instrument)
        ui.patientLabel.setText(patient_name)
        ui.stemLabel.setText(inst.STEMS[instrument])
        self._opened_at = now or datetime.now().replace(second=0, microsecond=0)
        ui.takenAtEdit.setDateTime(qdatetime(self._opened_at))
        ui.takenAtEdit.dateTimeChanged.connect(self._taken_changed)
        ui.safetyWarning.hide()
        ui.errorLabel.hide()
        is_phq = instrument == inst.PHQ9
        ui.difficultyLabel.setVisible(is_phq)
        ui.difficultyCombo.setVisible(is_phq)
        ui.difficultyCombo.addItem("Not asked", None)
        for n, text in enumerate(inst.DIFFICULTY_OPTIONS):
            ui.difficultyCombo.addItem(text, n)
        self._build_items()
        from cocm_desktop.services.measures import record_measure

        self.saving_once = SaveOnce(self, ui.saveButton, self._show_error, record_measure)
        ui.saveButton.clicked.connect(self.save)
        ui.cancelButton.clicked.connect(self.reject)
        self._update()

    def _build_items(self) -> None:
        grid = self.ui.itemsGrid
        for col, option in enumerate(inst.ANSWER_OPTIONS, start=1):
            head = QLabel(f"{option}\n({col - 1})", self.ui.itemsContainer)
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            head.setProperty("role", "muted")
            head.setWordWrap(True)
            head.setMinimumWidth(92)
            grid.addWidget(head, 0, col)
        grid.setColumnStretch(0, 1)
        for n, text in enumerate(inst.item_texts(self.instrument)):
            label = QLabel(f"{n + 1}.  {text}", self.ui.itemsContainer)
            label.setWordWrap(True)
            label.setObjectName("MeasureItemText")
            grid.addWidget(label, n + 1, 0)
            group = QButtonGroup(self)
            group.setExclusive(True)
            for score in range(inst.ITEM_MIN, inst.ITEM_MAX + 1):
                button = QRadioButton(str(score), self.ui.itemsContainer)
                button.setObjectName(f"item{n + 1}_{score}")
                button.setToolTip(f"{inst.ANSWER_OPTIONS[score]} ({score})")
                group.addButton(button, score)
                grid.addWidget(button, n + 1, score + 1, Qt.AlignmentFlag.AlignCenter)
            group.idClicked.connect(lambda _score, n=n: self._answered(n))
            self.groups.append(group)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        # the answers have the focus, so the digits typed for them answer items
        self.groups[self._cursor].buttons()[0].setFocus()

    def _taken_changed(self) -> None:
        taken = pydatetime(self.ui.takenAtEdit.dateTime())
        days = (self._opened_at.date() - taken.date()).days
        if days == 0:
            text = ""
        elif days > 0:
            text = f"{days} day{'s' if days != 1 else ''} ago"
        else:
            text = "in the future"
        self.ui.takenAtEdit.setToolTip(f"Taken {text}." if text else "Taken today.")
        self.ui.takenAtLabel.setText(f"&Taken ({text})" if text else "&Taken")

    # ---- answers ---------------------------------------------------------------------------
    def answers(self) -> list[int | None]:
        return [g.checkedId() if g.checkedId() >= 0 else None for g in self.groups]

    def set_answers(self, values: list[int]) -> None:
        for group, value in zip(self.groups, values, strict=False):
            group.button(value).setChecked(True)
        self._cursor = min(len(values), len(self.groups) - 1)
        self._update()

    def _answered(self, n: int) -> None:
        self._cursor = min(n + 1, len(self.groups) - 1)
        self._update()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        text = event.text()
        if text and text in "0123" and len(text) == 1:
            self.groups[self._cursor].button(int(text)).setChecked(True)
            self._answered(self._cursor)
            return
        super().keyPressEvent(event)

    def _update(self) -> None:
        ui = self.ui
        values = self.answers()
        answered = [v for v in values if v is not None]
        item9 = values[inst.SAFETY_ITEM - 1] if self.instrument == inst.PHQ9 else None
        ui.safetyWarning.setVisible(bool(item9))
        if len(answered) == len(values):
            result = inst.score(self.instrument, [int(v) for v in values])  # type: ignore[arg-type]
            ui.totalLabel.setText(f"Total {result.total} / {inst.max_total(self.instrument)}")
            ui.bandLabel.setText(result.band.capitalize())
            ui.saveButton.setEnabled(True)
        else:
            ui.totalLabel.setText(f"{len(answered)} of {len(values)} answered")
            missing = next(n for n, v in enumerate(values) if v is None)
            ui.bandLabel.setText(f"Item {missing + 1} still to answer")
            ui.saveButton.setEnabled(False)

    # ---- save ---------------------------------------------------------------------------------
    def _show_error(self, message: str) -> None:
        self.ui.errorLabel.setText(message)
        self.ui.errorLabel.setVisible(bool(message))

    def save(self) -> None:
        from cocm_desktop.services.measures import saved_measure
        from cocm_desktop.services.submissions import AlreadySaved

        values = self.answers()
        if any(v is None for v in values):
            return
        taken_at = pydatetime(self.ui.takenAtEdit.dateTime())
        difficulty = self.ui.difficultyCombo.currentData() if self.instrument == inst.PHQ9 else None
        self._sent = (tuple(values), taken_at, difficulty)
        call = self.saving_once.call
        assert call is not None

        def record(session: Any, actor: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            outcome = call(session, actor, *args, **kwargs)
            if isinstance(outcome, AlreadySaved) and outcome.object_id is not None:
                # saved before the connection dropped: read it back, so item 9's warning still shows
                return outcome, saved_measure(session, actor, outcome.object_id)
            return outcome, outcome

        self._show_error("")
        self.saving = hold_while_running(self.ctx.write(  # a PHQ-9 item 9 above 0 opens a risk event
            record, self.episode_id, self.instrument, [int(v) for v in values],  # type: ignore[misc]
            taken_at=taken_at, difficulty=difficulty,
            patient_id=self.patient_id, changes=(Change.MEASURE, Change.RISK), done=self._saved,
            failed=self._refused), self.ui.saveButton, self.ui.cancelButton)

    def _saved(self, outcome_and_result: tuple[Any, Any]) -> None:
        outcome, result = outcome_and_result
        self.saving = None
        self.result_value = result
        self.saving_once.saved(outcome, self._sent)
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        self.saving = None
        if not is_expected(exc):
            show_error(self, exc)
            return
        self.saving_once.failed(exc, self._sent)  # the answers stay; Save again saves once

    def reject(self) -> None:
        if self.saving is None:  # Esc while saving: the form stays until the save has ended
            super().reject()
