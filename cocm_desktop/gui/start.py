"""First run (no clinic known yet): open the demo clinic, set up a new clinic, or open a file.

Results after `Accepted`: `chosen_path` and `demo` (go to sign-in), or `database` (a new clinic,
already open for its clinic lead, exclusive) when the clinic was just created.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QFileDialog, QWidget

from cocm_desktop import config
from cocm_desktop.gui.forms.ui_start_dialog import Ui_StartDialog
from cocm_desktop.gui.resources import ACCENT, app_icon, icon
from cocm_desktop.gui.worker import run_in_background
from cocm_desktop.services.clinic import Clinic, open_clinic
from cocm_desktop.services.errors import StoreError
from cocm_desktop.services.passwords import MIN_PASSWORD, RULES_SUMMARY

DB_FILTER = "Clinic databases (*.db *.cocm);;All files (*)"


def ensure_demo(path: Path) -> Path:
    """The demo clinic at `path`, generated when missing (slow: run it off the GUI thread)."""
    if not path.exists():
        from cocm_desktop.demo import generate_demo

        path.parent.mkdir(parents=True, exist_ok=True)
        generate_demo(path)
    return path


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s or "clinic"


class StartDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, message: str = "") -> None:
        super().__init__(parent)
        self.ui = Ui_StartDialog()
        self.ui.setupUi(self)
        self.setWindowIcon(app_icon())
        self.chosen_path: Path | None = None
        self.demo = False
        self.database: Clinic | None = None
        self._location_touched = False
        ui = self.ui
        ui.demoButton.setIcon(icon("demo", ACCENT, 28))
        ui.newClinicButton.setIcon(icon("new_clinic", ACCENT, 28))
        ui.openFileButton.setIcon(icon("open", ACCENT, 28))
        for b in (ui.demoButton, ui.newClinicButton, ui.openFileButton):
            b.setIconSize(QSize(28, 28))
        ui.busyLabel.hide()
        ui.busyBar.hide()
        ui.createBusyBar.hide()
        self._show_choose_error(message)
        ui.newClinicError.hide()
        ui.passwordEdit.setPlaceholderText(f"at least {MIN_PASSWORD} characters")
        ui.passwordEdit.setToolTip(RULES_SUMMARY)
        ui.pages.setCurrentWidget(ui.choosePage)
        ui.demoButton.clicked.connect(self.open_demo)
        ui.newClinicButton.clicked.connect(lambda: ui.pages.setCurrentWidget(ui.newClinicPage))
        ui.openFileButton.clicked.connect(self.open_file)
        ui.quitButton.clicked.connect(self.reject)
        ui.backButton.clicked.connect(lambda: ui.pages.setCurrentWidget(ui.choosePage))
        ui.browseButton.clicked.connect(self._browse)
        ui.createButton.clicked.connect(self.create_clinic)
        ui.clinicNameEdit.textChanged.connect(self._suggest_location)
        ui.locationEdit.textEdited.connect(lambda _t: setattr(self, "_location_touched", True))
        ui.savedCheck.toggled.connect(ui.continueButton.setEnabled)
        ui.continueButton.clicked.connect(self.accept)
        ui.copyButton.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(ui.recoveryCode.text()))
        self._suggest_location("")

    def _show_choose_error(self, message: str) -> None:
        self.ui.chooseError.setText(message)
        self.ui.chooseError.setVisible(bool(message))

    # ---- demo -----------------------------------------------------------------------------
    def open_demo(self) -> None:
        path = config.demo_db_path()
        if path.exists():
            self._chosen(path, demo=True)
            return
        ui = self.ui
        for b in (ui.demoButton, ui.newClinicButton, ui.openFileButton):
            b.setEnabled(False)
        ui.busyLabel.show()
        ui.busyBar.show()
        self._show_choose_error("")
        run_in_background(lambda: ensure_demo(path), lambda p: self._chosen(p, demo=True),
                          self._demo_failed)

    def _demo_failed(self, exc: BaseException) -> None:
        from cocm_desktop.gui.errors import describe, log_without_phi

        ui = self.ui
        for b in (ui.demoButton, ui.newClinicButton, ui.openFileButton):
            b.setEnabled(True)
        ui.busyLabel.hide()
        ui.busyBar.hide()
        if not isinstance(exc, StoreError):
            log_without_phi(exc)
        self._show_choose_error("The demo clinic could not be created. " + describe(exc)[1])

    def _chosen(self, path: Path, demo: bool) -> None:
        self.chosen_path = Path(path)
        self.demo = demo
        self.accept()

    # ---- open a file ----------------------------------------------------------------------
    def open_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open a clinic database", str(config.data_dir()), DB_FILTER)
        if name:
            self._chosen(Path(name), demo=False)

    # ---- new clinic ---------------------------------------------------------------------------
    def _suggest_location(self, name: str) -> None:
        if self._location_touched:
            return
        self.ui.locationEdit.setText(str(config.data_dir() / f"{slug(name)}.db"))

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save the clinic database as",
                                              self.ui.locationEdit.text(), DB_FILTER)
        if name:
            if not Path(name).suffix:
                name += ".db"
            self.ui.locationEdit.setText(name)
            self._location_touched = True

    def new_clinic_problems(self) -> list[str]:
        """Everything wrong with the form at once (the service checks again when it creates)."""
        from cocm_desktop.services.passwords import password_problem
        from cocm_desktop.services.users import USERNAME_RE, USERNAME_RULE

        ui = self.ui
        problems = []
        clinic = ui.clinicNameEdit.text().strip()
        username = ui.leadUserEdit.text().strip().lower()
        if not clinic:
            problems.append("Give the clinic's name.")
        if not ui.leadNameEdit.text().strip():
            problems.append("Give your full name.")
        if not USERNAME_RE.match(username):
            problems.append(USERNAME_RULE)
        password = ui.passwordEdit.text()
        problem = password_problem(password, username=username, clinic_name=clinic)
        if problem:
            problems.append(problem)
        elif password != ui.password2Edit.text():
            problems.append("The two passwords differ; type the same password twice.")
        location = ui.locationEdit.text().strip()
        if not location:
            problems.append("Choose where to save the clinic database.")
        elif Path(location).exists():
            problems.append("A file already exists there; choose another name.")
        return problems

    def create_clinic(self) -> None:
        ui = self.ui
        problems = self.new_clinic_problems()
        ui.newClinicError.setText("\n".join(problems))
        ui.newClinicError.setVisible(bool(problems))
        if problems:
            return
        path = Path(ui.locationEdit.text().strip())
        clinic = ui.clinicNameEdit.text().strip()
        lead_name = ui.leadNameEdit.text().strip()
        username = ui.leadUserEdit.text().strip().lower()
        password = ui.passwordEdit.text()

        def work() -> tuple[Clinic, str]:
            from cocm_desktop.services.users import create_clinic

            path.parent.mkdir(parents=True, exist_ok=True)
            db, code = create_clinic(path, clinic_name=clinic, lead_username=username,
                                     lead_display_name=lead_name, lead_password=password)
            db.close()  # reopen with the one-instance lock the app keeps while it runs
            return open_clinic(path, username, password, exclusive=True), code

        ui.createButton.setEnabled(False)
        ui.backButton.setEnabled(False)
        ui.createBusyBar.show()
        run_in_background(work, self._created, self._create_failed)

    def _created(self, result: tuple[Clinic, str]) -> None:
        ui = self.ui
        self.database, code = result
        self.chosen_path = self.database.path
        ui.passwordEdit.clear()
        ui.password2Edit.clear()
        ui.createBusyBar.hide()
        ui.recoveryCode.setText(code)
        ui.savedCheck.setChecked(False)
        ui.pages.setCurrentWidget(ui.recoveryPage)

    def _create_failed(self, exc: BaseException) -> None:
        from cocm_desktop.gui.errors import describe, is_expected, log_without_phi

        ui = self.ui
        ui.createBusyBar.hide()
        ui.createButton.setEnabled(True)
        ui.backButton.setEnabled(True)
        if not is_expected(exc) and not isinstance(exc, ValueError | OSError):
            log_without_phi(exc)
        message = describe(exc)[1] if is_expected(exc) else str(exc) if isinstance(exc, ValueError) else (
            f"The clinic could not be created there ({type(exc).__name__}). Choose another folder.")
        ui.newClinicError.setText(message)
        ui.newClinicError.show()

    def reject(self) -> None:
        # The recovery code must be acknowledged: Esc cannot skip it once the clinic exists.
        if self.ui.pages.currentWidget() is self.ui.recoveryPage:
            return
        super().reject()
