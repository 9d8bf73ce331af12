"""Clinic › Policy: every number of `domain.policy.policy_fields()` as a spin box (range from the
field, description as tooltip), saved with `services.policy.update_policy`; and the second backup
folder (USB drive, network share), saved with `services.backups.set_second_folder`."""


from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.gui.admin._common import heading
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import describe, is_expected, show_error
from cocm_desktop.gui.form_dialog import SAVE_OVER
from cocm_desktop.gui.inputs import InputProblem, NumberEdit
from cocm_desktop.services.changes import Change, event
from cocm_desktop.services.errors import EditConflict


class PolicyDialog(QDialog):
    """Every clinic policy number with its allowed range; saved together, validated as a whole."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        from cocm_desktop.domain.policy import policy_fields
        from cocm_desktop.services.policy import policy_for_editing

        super().__init__(parent)
        self.ctx = context
        self.setWindowTitle("Clinic policy")
        self.setObjectName("policyDialog")
        self.resize(900, 760)
        self.fields = policy_fields()
        # the version passed back on Save: another lead's save since is refused (services.policy)
        current, self.version = context.read(policy_for_editing)
        self.saved: Any = None
        self.saving = False  # a save is running off the GUI thread
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        layout.addWidget(heading("Clinic policy", self))
        intro = QLabel("The numbers behind locking, cadence, outcomes and registry flags. Changes apply to "
                       "everyone at once and are kept in the audit log with their old values. Hover a "
                       "setting for what it does.", self)
        intro.setProperty("role", "muted")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self._backup_row(context))
        body = QWidget(self)
        body.setObjectName("FormBody")
        form = QFormLayout(body)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setVerticalSpacing(6)
        self.spins: dict[str, NumberEdit] = {}
        for f in self.fields:
            spin = NumberEdit(body, minimum=f.minimum, maximum=f.maximum, label=f.label, unit=f.unit)
            spin.setObjectName(f"policy_{f.name}")
            spin.setValue(getattr(current, f.name))
            tip = f"{f.description}\nAllowed: {f.minimum}–{f.maximum} {f.unit}. Default: {f.default}."
            spin.setToolTip(tip)
            spin.setFixedWidth(110)
            label = QLabel(f.label, body)
            label.setToolTip(tip)
            spin.textChanged.connect(lambda _v, name=f.name: self._changed(name))
            self.spins[f.name] = spin
            row = QWidget(body)
            rl = QHBoxLayout(row)
            rl.setContentsMargins(0, 0, 0, 0)
            rl.addWidget(spin)
            unit = QLabel(f.unit, row)
            unit.setMinimumWidth(unit.fontMetrics().horizontalAdvance("minutes") + 6)
            rl.addWidget(unit)
            about = QLabel(f.description, row)
            about.setProperty("role", "muted")
            about.setWordWrap(True)
            about.setToolTip(tip)
            rl.addWidget(about, 1)
            form.addRow(label, row)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        self.scroll = scroll
        layout.addWidget(scroll, 1)
        self.error = QLabel("", self)
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        self.defaults_button = buttons.addButton("Shipped defaults", QDialogButtonBox.ButtonRole.ResetRole)
        self.defaults_button.setToolTip("Put every setting back to the value the app ships with (not saved yet).")
        self.defaults_button.clicked.connect(self.restore_defaults)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("policySave")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._initial = {name: int(spin.text()) for name, spin in self.spins.items()}

    def _backup_row(self, context: AppContext) -> QWidget:
        """Where automatic backups go, and the optional second folder they are copied to."""
        from cocm_desktop.services.backups import backup_folder, get_second_folder

        box = QFrame(self)
        box.setObjectName("backupFolders")
        grid = QFormLayout(box)
        grid.setContentsMargins(0, 8, 0, 8)
        about = QLabel(f"Made at sign-in and every 24 hours while CoCM Desktop is open, checked, the newest 7 "
                       f"kept, in {backup_folder(context.db)}. A copy of each also goes to the second folder "
                       "(a USB drive or network share, off this computer), with its own 7 kept.", box)
        about.setProperty("role", "muted")
        about.setWordWrap(True)
        grid.addRow(QLabel("Automatic backups", box), about)
        self._second_initial = context.read(get_second_folder) or ""
        self.second_folder = QLineEdit(self._second_initial, box)
        self.second_folder.setObjectName("policySecondFolder")
        self.second_folder.setReadOnly(True)
        self.second_folder.setPlaceholderText("None — backups stay on this computer only")
        choose = QPushButton("Choose…", box)
        choose.setObjectName("policySecondFolderChoose")
        choose.clicked.connect(self._choose_second_folder)
        clear = QPushButton("None", box)
        clear.setToolTip("Stop copying backups to a second folder (not saved yet).")
        clear.clicked.connect(lambda: self.second_folder.setText(""))
        row = QWidget(box)
        rl = QHBoxLayout(row)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.second_folder, 1)
        rl.addWidget(choose)
        rl.addWidget(clear)
        grid.addRow(QLabel("Second backup folder", box), row)
        return box

    def _choose_second_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Second backup folder (USB drive or network share)",
                                                  self.second_folder.text())
        if folder:
            self.second_folder.setText(folder)

    def _changed(self, name: str) -> None:
        spin = self.spins[name]
        modified = spin.text().strip() != str(self._initial.get(name, ""))
        font = spin.font()
        font.setBold(modified)
        spin.setFont(font)

    def values(self) -> dict[str, int]:
        """Every setting as typed; InputProblem names the first one that is not allowed."""
        return {name: spin.value() for name, spin in self.spins.items()}

    def changes(self) -> dict[str, int]:
        return {k: v for k, v in self.values().items() if v != self._initial[k]}

    def restore_defaults(self) -> None:
        for f in self.fields:
            self.spins[f.name].setValue(f.default)

    def _mark(self, message: str) -> None:
        lowered = message.lower()
        hit = None
        for f in sorted(self.fields, key=lambda f: -len(f.label)):
            bad = hit is None and f.label.lower() in lowered
            spin = self.spins[f.name]
            spin.setProperty("invalid", bad)
            spin.style().unpolish(spin)
            spin.style().polish(spin)
            if bad:
                hit = spin
        if hit is not None:
            self.scroll.ensureWidgetVisible(hit)
            hit.setFocus()

    def save(self) -> None:
        from cocm_desktop.services.backups import set_second_folder
        from cocm_desktop.services.policy import update_policy

        try:
            changes = self.changes()
        except InputProblem as exc:  # nothing saved until every number is one allowed
            self.error.setText(str(exc))
            self.error.show()
            self._mark(str(exc))
            return
        folder = self.second_folder.text().strip()
        if not changes and folder == self._second_initial:
            self.accept()
            return
        db, actor, new_folder = self.ctx.db, self.ctx.actor, folder != self._second_initial
        version = self.version

        def work() -> Any:  # one unit of work: the folder and the numbers are saved together or not at all
            with db.session() as s:
                if new_folder:
                    set_second_folder(s, actor, folder or None)
                return update_policy(s, actor, changes, expected_version=version) if changes else None

        self._set_saving(True)
        self.ctx.perform(work, changes=event(Change.POLICY), done=self._saved, failed=self._refused)

    def _set_saving(self, saving: bool) -> None:
        self.saving = saving
        for button in self.findChildren(QPushButton):
            button.setEnabled(not saving)

    def _saved(self, result: Any) -> None:
        self._set_saving(False)
        self._second_initial = self.second_folder.text().strip()
        if result is not None:
            self.saved = result
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        self._set_saving(False)
        if isinstance(exc, EditConflict):
            self._show_theirs()
            self.error.setText(f"{exc} Cancel keeps their change.")
            self.error.show()
            self._mark("")  # no number of this page is wrong
            return
        if not is_expected(exc):
            show_error(self, exc)
            return
        message = describe(exc)[1]
        self.error.setText(message)
        self.error.show()
        self._mark(message)

    def _show_theirs(self) -> None:
        """After another lead's save: the page shows the policy as it is now, keeping the numbers
        changed here; Save then saves only those, over the version now shown."""
        from cocm_desktop.services.policy import policy_for_editing

        typed = self.changes()
        current, self.version = self.ctx.read(policy_for_editing)
        for name, spin in self.spins.items():
            self._initial[name] = getattr(current, name)
            spin.setValue(typed.get(name, getattr(current, name)))
            self._changed(name)
        self.save_button.setText(SAVE_OVER)
        self.save_button.setMinimumWidth(self.save_button.fontMetrics().horizontalAdvance(SAVE_OVER) + 64)

    def reject(self) -> None:
        if not self.saving:  # the form stays until a running save has ended
            super().reject()
