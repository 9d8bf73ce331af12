"""The main window's lock: patient data leaves the screen, then the database refuses every read
until the password is typed again (a mixin of gui.main_window.MainWindow)."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QDialog

from cocm_desktop.domain.roles import Role
from cocm_desktop.gui.errors import show_error
from cocm_desktop.gui.lock import DialogVeil
from cocm_desktop.gui.worker import run_in_background
from cocm_desktop.services.errors import StoreError, WrongCredentials


class WindowLock:
    """Lock and unlock (uses the window's panes, timer, idle watcher and lock screen)."""

    @property
    def is_locked(self) -> bool:
        return self._locked

    def lock(self) -> None:
        if self._locked:
            return
        self._locked = True
        self.idle.stop()
        self._page_before_lock = self.ui.paneStack.currentWidget()
        # Patient data leaves the screen first, then the database refuses every read.
        for pane in self._built_panes():
            pane.clear_for_lock()  # type: ignore[attr-defined]
        self.timer.set_locked(True)
        self.ui.timerToolBar.setVisible(False)
        self.ui.rootStack.setCurrentWidget(self.ui.lockPage)
        self.menuBar().setEnabled(False)
        self.lock_screen.form.reset()
        who = f"Signed in as {self.ctx.actor.display_name} ({self.ctx.actor.username})."
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QDialog) and widget.isVisible():
                veil = DialogVeil(widget, who)
                veil.form.unlockRequested.connect(self.unlock)
                self._veils.append(veil)
        try:
            self.ctx.db.lock()
        except StoreError as exc:  # the lock itself failed to write its audit row: still locked on screen
            show_error(self, exc)
        self.lock_screen.form.password.setFocus()
        self.locked.emit()

    def _forms(self):  # type: ignore[no-untyped-def]
        return [self.lock_screen.form] + [v.form for v in self._veils]

    def unlock(self, password: str) -> None:
        if not self._locked:
            return
        for form in self._forms():
            form.set_busy(True)
        username = self.ctx.actor.username
        db = self.ctx.db
        run_in_background(lambda: db.unlock(username, password) if db.locked else db.actor,
                          self._unlocked, self._unlock_failed)

    def _unlock_failed(self, exc: BaseException) -> None:
        from cocm_desktop.gui.login import delay_seconds

        for form in self._forms():
            form.set_busy(False)
            if isinstance(exc, WrongCredentials):
                form.show_error("Wrong password. Try again.")
            elif delay_seconds(exc):
                form.show_error(str(exc))
            else:
                form.show_error(str(exc) if isinstance(exc, StoreError) else "Could not unlock; try again.")

    def _unlocked(self, _actor: object) -> None:
        self._locked = False
        for veil in self._veils:
            veil.deleteLater()
        self._veils.clear()
        self.menuBar().setEnabled(True)
        self.ui.rootStack.setCurrentWidget(self.ui.workPage)
        if self.ctx.role is not Role.CLINIC_LEAD:
            self.ui.timerToolBar.setVisible(True)
        self.timer.set_locked(False)
        self.reload_panes(case_review_when_shown=True)
        if self._page_before_lock is self.ui.caseReviewPage:
            self.show_case_review()
        elif self._page_before_lock is self.ui.chartPage and self._chart_patient() is not None:
            self._go(self.ui.chartPage, self.ui.chartNav)
        elif self._page_before_lock is self.ui.registryPage:
            self.show_registry()
        else:
            self.show_worklist()
        self.idle.start()
        self.backups.check()  # a backup that fell due while locked is made now
        self.unlocked.emit()
