"""The automatic backup while the app is open, and the status-bar line that shows the last one.

`AutoBackups(window)` checks a few seconds after sign-in, again every hour and after each
unlock; each check runs `services.backups.run_auto_backup` off the GUI thread (it makes a backup
only when the newest is 24 hours old, under a lock shared with `backup --auto`). Meanwhile the
status bar spins "Backing up…"; afterwards it shows the last good backup, with a warning when it
is older than 2 days. The clinic lead is told in words when something needs them (an altered
audit log, a backup that failed, a second folder out of reach); others see it in the status bar.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QWidget

from cocm_desktop.domain.roles import Role
from cocm_desktop.gui.worker import Spinner, run_in_background
from cocm_desktop.services.errors import SessionLocked

if TYPE_CHECKING:
    from cocm_desktop.gui.main_window import MainWindow
    from cocm_desktop.services.backups import AutoRun


class AutoBackups(QObject):
    START_DELAY_MS = 3_000  # after the first paint and the registry's load have had their turn
    CHECK_EVERY_MS = 60 * 60 * 1000  # due only every 24 h; hourly checks catch that soon enough

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.ctx = window.ctx
        self.lead = self.ctx.role is Role.CLINIC_LEAD
        self.running = False
        self.runs = 0  # finished runs (tests wait on this)
        self.last_run: AutoRun | None = None
        self._stopped = False
        self._told: set[str] = set()  # what the lead was already told this session
        box = QWidget(window)
        box.setObjectName("backupStatus")
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 8, 0)
        layout.setSpacing(6)
        self.spinner = Spinner(box, size=14)
        self.spinner.hide()
        self.label = QLabel(box)
        self.label.setObjectName("backupStatusLabel")
        layout.addWidget(self.spinner)
        layout.addWidget(self.label)
        self.widget = box
        window.statusBar().insertPermanentWidget(0, box)
        self.timer = QTimer(self)
        self.timer.setInterval(self.CHECK_EVERY_MS)
        self.timer.timeout.connect(self.check)
        self.refresh()

    def start(self) -> None:
        if self.ctx.on_server:  # nothing to back up on this computer
            return
        QTimer.singleShot(self.START_DELAY_MS, self, self.check)  # cancelled with this object
        self.timer.start()

    def stop(self) -> None:
        self._stopped = True
        self.timer.stop()

    # ---- one run ----------------------------------------------------------------------------
    def check(self) -> None:
        """Start a run unless one is running, the window is locked or closing."""
        if self.running or self._stopped or self.window.is_locked or self.ctx.on_server:
            return
        from cocm_desktop.services.backups import run_auto_backup

        self.running = True
        self.spinner.show()
        self.label.setText("Backing up…")
        self._mark(warning=False)
        self.label.setToolTip("The automatic backup is being made and checked; keep working.")
        db = self.ctx.db
        run_in_background(lambda: run_auto_backup(db), self._done, self._failed)

    def _finish(self) -> None:
        self.running = False
        self.runs += 1
        self.spinner.hide()

    def _done(self, run: AutoRun) -> None:
        from cocm_desktop.services.backups import audit_altered_message

        self._finish()
        self.last_run = run
        self.refresh()
        altered = audit_altered_message(run.made) if run.made is not None else None
        if altered:
            self._tell("altered", "Backup made — audit log altered", altered)
        if run.second_warning:
            self.window.statusBar().showMessage(run.second_warning, 20_000)
            self._tell("second", "Second backup folder", run.second_warning)

    def _failed(self, exc: BaseException) -> None:
        from cocm_desktop.gui.errors import describe

        self._finish()
        self.refresh()
        if isinstance(exc, SessionLocked):  # locked meanwhile: the next check after unlock tries again
            return
        message = describe(exc)[1]
        self.label.setText("⚠ Automatic backup failed")
        self._mark(warning=True)
        what = ("Make one now (File › Back up…) to another drive, and call your IT support if it "
                "fails again." if self.lead else "Tell the clinic lead.")
        self.label.setToolTip(f"{message}\n{what}")
        self._tell("failed", "Automatic backup failed", f"The automatic backup was not made: {message}\n\n{what}")

    def _tell(self, key: str, title: str, text: str) -> None:
        """The clinic lead is told once per session in a message; others see the status bar."""
        if self.lead and key not in self._told:
            self._told.add(key)
            QMessageBox.warning(self.window, title, text)

    # ---- the status line --------------------------------------------------------------------
    def refresh(self, now: datetime | None = None) -> None:
        from cocm_desktop.services.backups import backup_status

        if self.running:
            return
        try:
            status = backup_status(self.ctx.db, lead=self.lead, now=now)
        except OSError:  # the folder cannot be read: say so rather than fail
            self.label.setText("⚠ Backups folder cannot be read")
            return
        self.label.setText(status.text)
        self.label.setToolTip(status.advice)
        self._mark(warning=status.stale or (status.last is not None and status.last.audit_altered))

    def _mark(self, *, warning: bool) -> None:
        """Red and bold when something needs doing; muted otherwise (no padded box: the status
        bar is one line high)."""
        self.label.setProperty("warning", warning)
        self.label.setStyleSheet("QLabel { color: #B71C1C; font-weight: 600; }" if warning
                                 else "QLabel { color: #627D98; }")
        self.label.updateGeometry()
