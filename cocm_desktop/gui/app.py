"""Application start: Qt set-up, first-run choices, sign-in, the main window, switching clinics.

    run_gui(demo, db_path) -> exit code

Where the clinic comes from, in order: `--demo` (the demo clinic, generated on first use),
`--db PATH`, the last clinic opened on this computer (QSettings holds its path — a path is not
PHI; nothing about patients is ever stored there), else the start dialog.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QProgressDialog, QWidget

from cocm_desktop import APP_ID, APP_NAME, __version__, config
from cocm_desktop.gui.context import AppContext, settings
from cocm_desktop.gui.errors import install_excepthook
from cocm_desktop.gui.resources import app_icon, stylesheet
from cocm_desktop.services.clinic import Clinic

log = logging.getLogger("cocm_desktop.gui")
LAST_DB_KEY = "clinic/last_path"
LAST_USER_KEY = "clinic/last_username"


def guard_none_refcount() -> bool:
    """Work around PySide6 6.12.0 on CPython 3.11: every void method drops a reference to None.

    That binding returns `None` from void C++ methods without taking a new reference (harmless on
    Python 3.12+, where None is immortal). On 3.11 each call takes one reference from None, and
    after ~10^5 calls — a few minutes of painting the registry — Python aborts with
    "deallocating None". If the leak is present, None gets a reference count no session can use
    up (2^48), which is what 3.12 does by design. Returns True when the workaround was applied.
    The real fix is a PySide6 without the defect (6.11.x behaves).
    """
    if sys.version_info >= (3, 12):
        return False
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(8):
        probe.setObjectName("")
    if before - sys.getrefcount(None) < 8:
        return False
    refcount = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt, the first field of PyObject
    if refcount.value < 1 << 48:
        refcount.value += 1 << 48
    return True


def create_app(argv: list[str] | None = None) -> QApplication:
    guard_none_refcount()
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_ID)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")
    app.setStyleSheet(stylesheet())
    return app


def is_demo_path(path: Path) -> bool:
    try:
        return Path(path).resolve() == config.demo_db_path().resolve()
    except OSError:
        return False


def remember_clinic(path: Path, username: str | None = None) -> None:
    """The last clinic opened: its file, or the clinic server's connection profile (also kept
    as the last profile, so "Clinic server" in the sign-in offers it again)."""
    from cocm_desktop.gui.login import LAST_PROFILE_KEY
    from cocm_desktop.services.clinic import is_profile_path

    s = settings()
    s.setValue(LAST_DB_KEY, str(Path(path).absolute()))
    if is_profile_path(path):
        s.setValue(LAST_PROFILE_KEY, str(Path(path).absolute()))
    if username:
        s.setValue(LAST_USER_KEY, username)


def last_clinic() -> Path | None:
    value = settings().value(LAST_DB_KEY)
    if not value:
        return None
    path = Path(str(value))
    return path if path.exists() else None


class AppController(QObject):
    """Drives the windows: start dialog → sign-in → main window, and back on sign-out/switch."""

    def __init__(self, app: QApplication) -> None:
        super().__init__()
        self.app = app
        self.window = None
        self.context: AppContext | None = None

    # ---- entry ---------------------------------------------------------------------------
    def start(self, *, demo: bool = False, db_path: str | None = None) -> bool:
        if demo:
            path = self._ensure_demo_with_progress()
            if path is None:
                return self.choose_clinic()
            return self.sign_in(path, demo=True)
        if db_path:
            return self.sign_in(Path(db_path))
        last = last_clinic()
        if last is not None:
            return self.sign_in(last, demo=is_demo_path(last))
        return self.choose_clinic()

    def choose_clinic(self, message: str = "") -> bool:
        from cocm_desktop.gui.start import StartDialog

        dialog = StartDialog(message=message)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        if dialog.database is not None:  # a new clinic, open for its lead
            remember_clinic(dialog.database.path, dialog.database.actor.username if dialog.database.actor else None)
            self.open_main(dialog.database, demo=False)
            return True
        assert dialog.chosen_path is not None
        return self.sign_in(dialog.chosen_path, demo=dialog.demo)

    def sign_in(self, path: Path, *, demo: bool = False, username: str | None = None) -> bool:
        from cocm_desktop.gui.login import LoginDialog

        if username is None:
            username = str(settings().value(LAST_USER_KEY) or "")
        if demo and not username:
            username = "cm1"
        dialog = LoginDialog(path, demo=demo, username=username)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.database is not None:
            db = dialog.database
            remember_clinic(db.path, db.actor.username if db.actor else None)
            self.open_main(db, demo=demo)
            return True
        if dialog.wants_other_clinic:
            return self.choose_clinic()
        return False

    def _ensure_demo_with_progress(self) -> Path | None:
        from cocm_desktop.gui.start import ensure_demo
        from cocm_desktop.gui.worker import run_in_background

        path = config.demo_db_path()
        if path.exists():
            return path
        progress = QProgressDialog("Creating the demo clinic (60 invented patients)…", "", 0, 0)
        progress.setCancelButton(None)
        progress.setWindowTitle(APP_NAME)
        progress.setWindowModality(Qt.WindowModality.ApplicationModal)
        outcome: dict[str, object] = {}

        def done(p: Path) -> None:
            outcome["path"] = p
            progress.accept()

        def failed(exc: BaseException) -> None:
            outcome["error"] = exc
            progress.reject()

        run_in_background(lambda: ensure_demo(path), done, failed)
        progress.exec()
        if "error" in outcome:
            from cocm_desktop.gui.errors import show_error

            show_error(None, outcome["error"])  # type: ignore[arg-type]
            return None
        return outcome.get("path")  # type: ignore[return-value]

    # ---- main window -----------------------------------------------------------------------
    def open_main(self, db: Clinic, *, demo: bool) -> None:
        from cocm_desktop.gui.main_window import MainWindow

        self.context = AppContext(db, demo=demo)
        window = MainWindow(self.context)
        window.signOutRequested.connect(self._signed_out)
        window.switchUserRequested.connect(self._switch_user)
        window.openClinicRequested.connect(self._switch_clinic)
        window.restoreRequested.connect(self.restore_backup)
        self.window = window
        window.show()
        if db.actor is not None and db.actor.role == "clinic_lead":
            if db.integrity_alarms:
                QMessageBox.warning(window, "Records changed outside CoCM Desktop",
                                    integrity_alarm_text(db.integrity_alarms))
            self._full_check_in_background(window, db)

    def _full_check_in_background(self, window: QWidget, db: Clinic) -> None:
        """The whole signed log and every clinical row against it (seconds on a large clinic):
        off the GUI thread once the window shows; what it finds beyond the sign-in's alarms is
        shown to the clinic lead the same way."""
        from cocm_desktop.gui.worker import run_in_background

        def done(report) -> None:  # type: ignore[no-untyped-def]
            found = list(report.row_problems)
            if report.problem is not None and not db.integrity_alarms:
                found.insert(0, report.describe())
            if found and self.window is window:
                QMessageBox.warning(window, "Records changed outside CoCM Desktop", integrity_alarm_text(found))

        def failed(exc: BaseException) -> None:  # locked or closed meanwhile: `audit verify` remains
            logging.getLogger(__name__).info("background audit check not finished: %s", type(exc).__name__)

        run_in_background(db.full_check, done, failed)

    def _close_current(self) -> Path | None:
        from cocm_desktop.gui.worker import wait_all

        path = None
        if self.window is not None:
            self.window.shutdown()
        wait_all(30_000)  # no background read may still be using the database being closed
        if self.window is not None:
            self.window.deleteLater()
            self.window = None
        if self.context is not None:
            path = self.context.db.path
            self.context.close()
            self.context = None
        return path

    def _signed_out(self) -> None:
        self.app.setQuitOnLastWindowClosed(False)
        path = self._close_current()
        if path is None or not self.sign_in(path, demo=is_demo_path(path)):
            self.app.quit()
        self.app.setQuitOnLastWindowClosed(True)

    def restore_backup(self, request) -> bool:  # type: ignore[no-untyped-def]
        """Close the clinic, replace its database with the (already checked) backup, sign in again.

        `services.backups.restore_backup` checks the backup once more before touching anything and keeps the
        current database as NAME.replaced-<time>. On refusal nothing changed: the same sign-in follows.
        """
        from cocm_desktop.gui.admin.restore import show_restore_result
        from cocm_desktop.gui.errors import show_error
        from cocm_desktop.services.backups import restore_backup

        self.app.setQuitOnLastWindowClosed(False)
        path = self._close_current()
        restored = False
        if path is not None:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                result = restore_backup(path, request.source, request.username, request.password)
            except Exception as exc:  # a refusal or fault: nothing was replaced
                QApplication.restoreOverrideCursor()
                show_error(None, exc)
            else:
                QApplication.restoreOverrideCursor()
                restored = True
                show_restore_result(None, result, request.source)  # names who stays removed
        if path is None or not self.sign_in(path, demo=is_demo_path(path)):
            self.app.quit()
        self.app.setQuitOnLastWindowClosed(True)
        return restored

    def _switch_user(self) -> None:
        """From the lock screen: close this session cleanly, then an empty sign-in for the next person."""
        self.app.setQuitOnLastWindowClosed(False)
        path = self._close_current()
        if path is None or not self.sign_in(path, demo=is_demo_path(path), username=""):
            self.app.quit()
        self.app.setQuitOnLastWindowClosed(True)

    def _switch_clinic(self) -> None:
        self.app.setQuitOnLastWindowClosed(False)
        self._close_current()
        if not self.choose_clinic():
            self.app.quit()
        self.app.setQuitOnLastWindowClosed(True)


def run_gui(demo: bool = False, db_path: str | None = None) -> int:
    logging.getLogger("cocm_desktop").setLevel(logging.INFO)
    app = create_app()
    install_excepthook()
    controller = AppController(app)
    app.setQuitOnLastWindowClosed(False)
    if not controller.start(demo=demo, db_path=db_path):
        return 0
    app.setQuitOnLastWindowClosed(True)
    code = app.exec()
    controller._close_current()
    return int(code)


def integrity_alarm_text(alarms: list[str]) -> str:
    """What the clinic lead is told at sign-in when the signed audit log disagrees with the data."""
    found = "\n".join(f"• {alarm[:1].upper()}{alarm[1:]}." for alarm in alarms[:12])
    more = f"\n… and {len(alarms) - 12} more." if len(alarms) > 12 else ""
    return (
        "CoCM Desktop found changes that were not made through the app:\n\n"
        f"{found}{more}\n\n"
        "Someone with a password and access to the database file changed it directly. Run "
        "“cocm-desktop audit verify” for the full check, look in the audit report for who was "
        "signed in around then, and restore the last backup from before the change if records "
        "were altered. Change the passwords of anyone who may be involved."
    )


def about_text() -> str:
    return (f"<h3>{APP_NAME} {__version__}</h3>"
            "<p>Psychiatric collaborative care management for primary-care clinics: registry, "
            "measurement-based care, case review and CoCM/BHI time, kept in an encrypted database "
            "on this computer.</p>"
            "<p>PHQ-9 and GAD-7 were developed by Drs. Robert L. Spitzer, Janet B.W. Williams, "
            "Kurt Kroenke and colleagues, with an educational grant from Pfizer Inc.</p>")


def show_about(parent) -> None:  # type: ignore[no-untyped-def]
    QMessageBox.about(parent, f"About {APP_NAME}", about_text())
