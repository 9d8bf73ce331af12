"""The main window's menu actions: sign out, switch user, open another clinic, back up and restore,
password, users, policy, audit report, help, reports (a mixin of gui.main_window.MainWindow)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from cocm_desktop.gui.errors import show_error
from cocm_desktop.gui.worker import run_in_background


class WindowMenus:
    """What the menus do (uses the window's context, timer and backup status)."""

    def sign_out(self) -> None:
        self._confirm_leave("sign out", self.signOutRequested.emit)

    def switch_user(self) -> None:
        """Lock screen › Sign in as someone else: the session closes without asking anything (the
        owner is away). A running timer keeps its database row; its owner gets it back at their
        next sign-in (adopted while fresh, else the three recovery choices)."""
        if not self._locked:
            self.lock()
        self.timer.shutdown()
        self.switchUserRequested.emit()

    def _open_clinic(self) -> None:
        self._confirm_leave("open another clinic", self.openClinicRequested.emit)

    def _confirm_leave(self, what: str, then: Callable[[], None]) -> None:
        """`then()` once the user may leave: at once, or after a running timer's time is saved
        (off the GUI thread; a failed save is shown and the user stays). Cancel: never."""
        if self.timer.is_running and not self._locked:
            answer = QMessageBox.question(
                self, "Timer running",
                f"A timer is running. Stop it and save the time before you {what}?\n\n"
                "Yes: stop and save.  No: leave it running (it is offered back at your next sign-in).",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Yes)
            if answer == QMessageBox.StandardButton.Cancel:
                return
            if answer == QMessageBox.StandardButton.Yes:
                self.timer.stop(done=then)
                return
        then()

    def _back_up(self) -> None:
        """An encrypted, verified copy (services.backups.make_backup) saved where the clinic lead chooses."""
        from datetime import date
        from pathlib import Path

        from cocm_desktop.services.backups import audit_altered_message, make_backup

        db = self.ctx.db
        suggested = db.path.with_name(f"{db.path.stem}-backup-{date.today().isoformat()}{db.path.suffix}")
        name, _ = QFileDialog.getSaveFileName(self, "Back up the clinic database", str(suggested),
                                              "Clinic databases (*.db *.cocm)")
        if not name:
            return
        dest = Path(name)

        def done(result) -> None:  # type: ignore[no-untyped-def]
            altered = audit_altered_message(result)
            if altered:
                QMessageBox.warning(self, "Back up", f"Backup saved: {result.path}\n\n{altered}")
            else:
                QMessageBox.information(self, "Back up", f"Backup saved and verified:\n{result.path}\n"
                                        "Keep it with its .keys file; both are needed to restore.")
            self.backups.refresh()

        run_in_background(lambda: make_backup(db, dest), done, lambda e: show_error(self, e))

    def _change_password(self) -> None:
        from cocm_desktop.gui.admin import ChangePasswordDialog

        ChangePasswordDialog(self.ctx, self).exec()

    def _users(self) -> None:
        from cocm_desktop.gui.admin import UsersDialog

        UsersDialog(self.ctx, self).exec()

    def _policy(self) -> None:
        from cocm_desktop.gui.admin import PolicyDialog

        PolicyDialog(self.ctx, self).exec()  # its POLICY event reloads the policy and every pane

    def _policy_reloaded(self) -> None:
        """A saved policy (here or on another workstation) takes effect at once: the idle lock."""
        if self._idle_override is None:
            self.idle.set_interval_ms(self.ctx.policy.idle_lock_minutes * 60_000)

    def _audit_report(self) -> None:
        from cocm_desktop.gui.admin import AuditReportDialog

        AuditReportDialog(self.ctx, self).exec()

    def _restore(self) -> None:
        from cocm_desktop.gui.admin import ask_restore

        request = ask_restore(self.ctx, self)
        if request is not None:
            self._confirm_leave("restore the backup", lambda: self.restoreRequested.emit(request))

    def show_help(self, which: str) -> QDialog:
        """Help → the user guide, the keyboard shortcuts, or where the files and backups are."""
        from cocm_desktop.gui.help import HelpDialog, files_html, guide_html, shortcuts_html
        from cocm_desktop.services.backups import backup_folder, get_second_folder

        if which == "files":
            folder = backup_folder(self.ctx.db)
            second = self.ctx.read(get_second_folder)
            dialog = HelpDialog("Where are my files and backups?", files_html(self.ctx.db.path, folder, second),
                                self, folder=folder)
        elif which == "shortcuts":
            dialog = HelpDialog("Keyboard shortcuts", shortcuts_html(self), self)
        else:
            dialog = HelpDialog("How collaborative care works here", guide_html(), self)
        self.help_dialog = dialog
        dialog.exec()
        return dialog

    def _about(self) -> None:
        from cocm_desktop.gui.app import show_about

        show_about(self)

    def _billing_report(self) -> None:
        from cocm_desktop.gui.reports import run_billing_report

        run_billing_report(self, self.ctx)

    def _mark_submitted(self) -> None:
        from cocm_desktop.gui.reports import mark_month_submitted_dialog

        mark_month_submitted_dialog(self, self.ctx)

    def _quality_report(self) -> None:
        from cocm_desktop.gui.reports import run_quality_report

        run_quality_report(self, self.ctx)
