"""File › Restore from backup: choose, check the backup with the lead's password
(`services.backups.check_restore`), explain — including who was removed since the backup (they
stay removed) and who was added since (to add again) — and hand a `RestoreRequest` to the
controller (which closes the clinic, restores, and signs in again). `restore_message` is the
text to show after the restore."""


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
    from cocm_desktop.services.backups import verify_backup as verify

    return verify(Path(source), username, password)


def ask_restore(context: AppContext, parent: QWidget) -> RestoreRequest | None:
    """Choose a backup, check it with the lead's password, explain what happens. None = cancelled."""
    from cocm_desktop.services.backups import check_restore

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
            preview = check_restore(db_path, source, context.actor.username, password)
        finally:
            QGuiApplication.restoreOverrideCursor()
    except Exception as exc:
        if not is_expected(exc):
            raise
        show_error(parent, exc)
        return None
    if not preview.verification.usable:
        QMessageBox.warning(parent, "Backup not usable",
                            f"“{source.name}” failed its checks, so nothing was changed:\n{preview.verification.describe()}")
        return None
    return confirm_restore(parent, RestoreRequest(source, context.actor.username, password), preview, db_path)


def confirm_text(request: RestoreRequest, preview: Any, db_path: Path) -> str:
    """The confirmation: the checks, who loses or lacks access afterwards, what happens."""
    from cocm_desktop.services.backups import AUDIT_ADVICE, describe_access

    verification = preview.verification
    checks = (f"“{request.source.name}” passed every check: {verification.describe()}" if verification.ok else
              f"“{request.source.name}”: {verification.describe()} {AUDIT_ADVICE}")
    access = "\n".join(describe_access(preview.access, done=False))
    return (
        f"{checks}\n\n"
        + (f"{access}\n\n" if access else "")
        + "To restore, CoCM Desktop closes this clinic, replaces the database with the backup, and opens it "
        "again; you then sign in again. Everything entered after the backup was made will be gone from the "
        f"restored database. The current database is kept, renamed “{db_path.name}.replaced-<date-time>”.\n\n"
        "Restore now?"
    )


def confirm_restore(parent: QWidget, request: RestoreRequest, preview: Any, db_path: Path) -> RestoreRequest | None:
    answer = QMessageBox.question(
        parent, "Restore from backup", confirm_text(request, preview, db_path),
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
    return request if answer == QMessageBox.StandardButton.Yes else None


def restore_message(result: Any, source: Path) -> str:
    """After the restore: what happened, who was kept removed, who must be added again."""
    from cocm_desktop.services.backups import describe_access

    kept = f" The previous database is kept as {result.replaced.name}." if result.replaced else ""
    access = "\n".join(describe_access(result.access, done=True))
    return (f"The clinic database was restored from {source.name}.{kept}\n\n"
            + (f"{access}\n\n" if access else "") + "Sign in again to continue.")


def show_restore_result(parent: QWidget | None, result: Any, source: Path) -> None:
    QMessageBox.information(parent, "Restore from backup", restore_message(result, source))
