"""Sign-in dialog: unlocks the clinic database with a user's password (off the GUI thread:
Argon2id takes a noticeable moment by design).

Result: `dialog.database` (an open `Database`, exclusive, or a `ServerDatabase`) after
`Accepted`; `dialog.wants_other_clinic` when the user asked to pick another clinic file.

Where: "This computer" (the encrypted clinic file) or "Clinic server" (a connection profile the
clinic's IT person gave: host, port, database, CA certificate; the password is the person's own
server login). The last of each is remembered (paths only, never a password).

When the password must be changed first (`services.users.password_change_due`: the clinic lead
chose it, or it breaks today's rules), `NewPasswordDialog` opens over this one after the unlock;
the dialog is accepted only once the new password is saved. "Sign out" there closes the database
and leaves the person at the sign-in.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QLineEdit, QWidget

from cocm_desktop.gui.context import settings
from cocm_desktop.gui.forms.ui_login_dialog import Ui_LoginDialog
from cocm_desktop.gui.resources import app_icon
from cocm_desktop.gui.worker import run_in_background
from cocm_desktop.services.clinic import (
    Clinic,
    ServerProfile,
    is_profile_path,
    load_profile,
    open_clinic,
    open_clinic_with_recovery,
    open_server_clinic,
)
from cocm_desktop.services.errors import DatabaseLocked, StoreError, WrongCredentials

LAST_FILE_KEY = "clinic/last_path"
LAST_PROFILE_KEY = "clinic/last_profile"


def remembered(key: str) -> Path | None:
    value = settings().value(key)
    return Path(str(value)) if value else None


def delay_seconds(exc: BaseException) -> int | None:
    """A store error that asks the user to wait (growing delay after repeated failures)."""
    for name in ("wait_seconds", "retry_after", "seconds", "delay_seconds", "delay"):
        value = getattr(exc, name, None)
        if isinstance(value, int | float) and value > 0:
            return int(round(value))
    return None


class LoginDialog(QDialog):
    def __init__(self, db_path: Path, *, demo: bool = False, username: str = "",
                 parent: QWidget | None = None, title: str | None = None, exclusive: bool = True) -> None:
        super().__init__(parent)
        self.ui = Ui_LoginDialog()
        self.ui.setupUi(self)
        self.setWindowIcon(app_icon())
        self.ui.signInButton.setMinimumWidth(110)
        self.resize(460, 330)
        self.db_path = Path(db_path)
        self.file_path: Path | None = None if is_profile_path(self.db_path) else self.db_path
        self.profile_path: Path | None = self.db_path if is_profile_path(self.db_path) else None
        if self.file_path is None:
            last = remembered(LAST_FILE_KEY)
            self.file_path = last if last is not None and not is_profile_path(last) else None
        if self.profile_path is None:
            self.profile_path = remembered(LAST_PROFILE_KEY)
        self.exclusive = exclusive
        self.database: Clinic | None = None
        self.password_dialog: QDialog | None = None  # NewPasswordDialog while one is open
        self.wants_other_clinic = False
        self._busy = False
        self._wait_left = 0
        self._wait_timer = QTimer(self)
        self._wait_timer.setInterval(1000)
        self._wait_timer.timeout.connect(self._tick_wait)
        if title:
            self.ui.titleLabel.setText(title)
        self.demo = demo
        self.ui.serverRadio.setChecked(is_profile_path(self.db_path))
        self.ui.thisComputerRadio.toggled.connect(self._where_changed)
        self.ui.profileButton.clicked.connect(self._choose_profile)
        self._where_changed()
        self.ui.errorLabel.hide()
        self.ui.busyBar.hide()
        self.ui.usernameEdit.setText(username)
        self.ui.signInButton.clicked.connect(self.sign_in)
        self.ui.cancelButton.clicked.connect(self.reject)
        self.ui.otherClinicButton.clicked.connect(self._other_clinic)
        self.ui.recoveryButton.clicked.connect(self._use_recovery_code)
        self.ui.usernameEdit.textChanged.connect(self._update_enabled)
        self.ui.passwordEdit.textChanged.connect(self._update_enabled)
        (self.ui.passwordEdit if username else self.ui.usernameEdit).setFocus()
        self._update_enabled()

    # ---- where: this computer or the clinic server ----------------------------------------
    @property
    def on_server(self) -> bool:
        return self.ui.serverRadio.isChecked()

    def _where_changed(self) -> None:
        server = self.on_server
        self.ui.profileButton.setVisible(server)
        self.ui.recoveryButton.setVisible(not server)  # a server clinic has no recovery code
        self.ui.otherClinicButton.setVisible(not server)
        self.ui.demoHint.setVisible(self.demo and not server)
        if server:
            profile = self._profile()
            if profile is None:
                self.ui.clinicLabel.setText("Clinic server: choose the connection profile your IT person gave you.")
                self.ui.clinicLabel.setToolTip("")
            else:
                self.ui.clinicLabel.setText(f"Clinic server: {profile.name}, {profile.label}")
                self.ui.clinicLabel.setToolTip(str(profile.source))
        elif self.file_path is not None:
            self.ui.clinicLabel.setText(f"Clinic file: {self.file_path.name}  ({self.file_path.parent})")
            self.ui.clinicLabel.setToolTip(str(self.file_path))
        else:
            self.ui.clinicLabel.setText("Clinic file: none chosen yet (Other clinic…)")
        self.show_error("")
        self._update_enabled()

    def _profile(self) -> ServerProfile | None:
        if self.profile_path is None:
            return None
        try:
            return load_profile(self.profile_path)
        except StoreError:
            return None

    def _choose_profile(self) -> None:
        start = str(self.profile_path.parent) if self.profile_path else str(Path.home())
        name, _ = QFileDialog.getOpenFileName(self, "Connection profile", start, "Connection profile (*.json)")
        if not name:
            return
        try:
            load_profile(name)
        except StoreError as exc:
            self.show_error(str(exc))
            return
        self.profile_path = Path(name)
        self._where_changed()

    # ---- state --------------------------------------------------------------------------
    def _update_enabled(self) -> None:
        where = self._profile() is not None if self.on_server else self.file_path is not None
        ready = where and bool(self.ui.usernameEdit.text().strip() and self.ui.passwordEdit.text())
        self.ui.signInButton.setEnabled(ready and not self._busy and self._wait_left == 0)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.ui.busyBar.setVisible(busy)
        for w in (self.ui.usernameEdit, self.ui.passwordEdit, self.ui.otherClinicButton,
                  self.ui.recoveryButton, self.ui.thisComputerRadio, self.ui.serverRadio,
                  self.ui.profileButton):
            w.setEnabled(not busy)
        self._update_enabled()

    def show_error(self, message: str) -> None:
        self.ui.errorLabel.setText(message)
        self.ui.errorLabel.setVisible(bool(message))

    # ---- sign in --------------------------------------------------------------------------
    def sign_in(self) -> None:
        if not self.ui.signInButton.isEnabled():
            return
        username = self.ui.usernameEdit.text().strip()
        password = self.ui.passwordEdit.text()
        path, exclusive = self.file_path, self.exclusive
        profile = self._profile() if self.on_server else None
        self.show_error("")
        self._set_busy(True)

        def work() -> tuple[Clinic, str | None]:
            from cocm_desktop.services.users import password_change_due

            db: Clinic
            if profile is not None:
                db = open_server_clinic(profile, username, password)
            else:
                assert path is not None
                db = open_clinic(path, username, password, exclusive=exclusive)
            try:
                return db, password_change_due(db, password)
            except BaseException:
                db.close()
                raise

        run_in_background(work, lambda result: self._opened(result[0], result[1], password), self._failed)

    def _opened(self, db: Clinic, change_reason: str | None = None, password: str = "") -> None:
        self._set_busy(False)
        if not self.isVisible():  # closed while the key was being derived: do not keep it open
            db.close()
            return
        self.ui.passwordEdit.clear()
        if change_reason:
            self._ask_new_password(db, change_reason, password)
            return
        self.database = db
        self.accept()

    def _ask_new_password(self, db: Clinic, reason: str, password: str) -> None:
        from cocm_desktop.gui.admin.users import NewPasswordDialog

        dialog = NewPasswordDialog(db, reason, password, self)
        self.password_dialog = dialog
        dialog.finished.connect(lambda code: self._new_password_done(db, code))
        dialog.open()

    def _new_password_done(self, db: Clinic, code: int) -> None:
        self.password_dialog = None
        if code == QDialog.DialogCode.Accepted:
            self.database = db
            self.accept()
            return
        db.close()  # signed out: the old password stays, and so does the demand to change it
        self.show_error("You are signed out: your password has to be changed before you can continue.")
        self.ui.passwordEdit.setFocus()

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.ui.passwordEdit.clear()
        wait = delay_seconds(exc)
        if wait:
            self._start_wait(wait, str(exc))
        elif isinstance(exc, WrongCredentials | DatabaseLocked):
            self.show_error(str(exc))
        elif isinstance(exc, StoreError):
            self.show_error(f"{exc.title}: {exc}")
        else:
            from cocm_desktop.gui.errors import GENERIC_MESSAGE, log_without_phi

            log_without_phi(exc)
            self.show_error(GENERIC_MESSAGE)
        self.ui.passwordEdit.setFocus()

    def _start_wait(self, seconds: int, message: str) -> None:
        self._wait_left = seconds
        self._wait_message = message or "Too many failed sign-ins."
        self._tick_wait(first=True)
        self._wait_timer.start()

    def _tick_wait(self, first: bool = False) -> None:
        if not first:
            self._wait_left = max(0, self._wait_left - 1)
        if self._wait_left:
            self.show_error(f"{self._wait_message}\nYou can try again in {self._wait_left} s.")
        else:
            self._wait_timer.stop()
            self.show_error("You can try again now.")
        self._update_enabled()

    # ---- other ways in ----------------------------------------------------------------------
    def _other_clinic(self) -> None:
        self.wants_other_clinic = True
        self.reject()

    def _use_recovery_code(self) -> None:
        code, ok = QInputDialog.getText(
            self, "Recovery code",
            "Emergency access for the clinic lead.\nType the recovery code printed when the clinic was set up:",
            QLineEdit.EchoMode.Password)
        if not ok or not code.strip():
            return
        reason, ok = QInputDialog.getText(
            self, "Recovery code", "Say why the recovery code is used (kept in the audit log):")
        if not ok:
            return
        if not reason.strip():
            self.show_error("Using the recovery code needs a reason; it is kept in the audit log.")
            return
        path, exclusive = self.file_path, self.exclusive
        if path is None:
            return
        self.show_error("")
        self._set_busy(True)
        run_in_background(  # the recovery code is the way in, not a password to change
            lambda: open_clinic_with_recovery(path, code, reason, exclusive=exclusive),
            self._opened, self._failed)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Enter in the username field moves on
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.ui.usernameEdit.hasFocus() \
                and not self.ui.passwordEdit.text():
            self.ui.passwordEdit.setFocus()
            return
        super().keyPressEvent(event)
