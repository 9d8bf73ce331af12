"""File › Restore from backup: choose, check the backup with the lead's password
(`store.backup.verify_backup`), explain, and hand a `RestoreRequest` to the controller (which
closes the clinic, restores with `store.backup.restore`, and signs in again)."""


from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QWidget,
)

from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import is_expected, show_error


@dataclass(frozen=True)
class RestoreRequest:
    source: Path
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password
        return f"RestoreRequest({self.source.name!r}, {self.username!r})"


def verify_backup(source: Path, username: str, password: str) -> Any:
    """Open the backup with this password and run every check on it, without writing to it.

    Returns store.backup.Verification; WrongCredentials / RestoreRefused / PermissionDenied when it
    cannot be used. (`restore` repeats these checks before it touches anything.)
    """
    from cocm_desktop.store.backup import verify_backup as verify

    return verify(Path(source), username, password)


def ask_restore(context: AppContext, parent: QWidget) -> RestoreRequest | None:
    """Choose a backup, check it with the lead's password, explain what happens. None = cancelled."""
    db_path = context.db.path
    name, _ = QFileDialog.getOpenFileName(parent, "Restore from backup", str(db_path.parent),
                                          "Clinic databases (*.db *.cocm);;All files (*)")
    if not name:
        return None
    source = Path(name)
    password, ok = QInputDialog.getText(parent, "Restore from backup",
                                        f"Your password ({context.actor.username}) — it must open the backup:",
                                        QLineEdit.EchoMode.Password)
    if not ok or not password:
        return None
    try:
        from PySide6.QtGui import QGuiApplication

        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            verification = verify_backup(source, context.actor.username, password)
        finally:
            QGuiApplication.restoreOverrideCursor()
    except Exception as exc:
        if not is_expected(exc):
            raise
        show_error(parent, exc)
        return None
    if not verification.ok:
        QMessageBox.warning(parent, "Backup not usable",
                            f"“{source.name}” failed its checks, so nothing was changed:\n{verification.describe()}")
        return None
    return confirm_restore(parent, RestoreRequest(source, context.actor.username, password), verification, db_path)


def confirm_restore(parent: QWidget, request: RestoreRequest, verification: Any, db_path: Path) -> RestoreRequest | None:
    answer = QMessageBox.question(
        parent, "Restore from backup",
        f"“{request.source.name}” passed every check: {verification.describe()}\n\n"
        "To restore, CoCM Desktop closes this clinic, replaces the database with the backup, and opens it "
        "again; you then sign in again. Everything entered after the backup was made will be gone from the "
        f"restored database. The current database is kept, renamed “{db_path.name}.replaced-<date-time>”.\n\n"
        "Restore now?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
    return request if answer == QMessageBox.StandardButton.Yes else None
