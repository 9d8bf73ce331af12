"""The main window: navigation rail, registry / chart / case-review panes, the always-visible
timer bar, menus per role, status bar, and the idle lock.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from cocm_desktop import APP_NAME
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.gui.context import AppContext, settings
from cocm_desktop.gui.forms.ui_main_window import Ui_MainWindow
from cocm_desktop.gui.lock import DialogVeil, IdleWatcher, LockScreen
from cocm_desktop.gui.resources import ON_DARK, app_icon, icon
from cocm_desktop.gui.window_lock import WindowLock
from cocm_desktop.gui.window_menus import WindowMenus
from cocm_desktop.gui.worker import Spinner, run_in_background
from cocm_desktop.services.changes import ChangeEvent
from cocm_desktop.services.errors import SessionLocked

if TYPE_CHECKING:
    from cocm_desktop.gui.case_review_pane import CaseReviewPane
    from cocm_desktop.gui.chart_pane import ChartPane
    from cocm_desktop.services.worklists import BackupState, WorkItem

PACKET_MODULE = "cocm_desktop.reports.case_review_packet"


def module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


class MainWindow(WindowLock, WindowMenus, QMainWindow):
    signOutRequested = Signal()
    switchUserRequested = Signal()  # from the lock screen: close this session, sign-in with no name filled in
    openClinicRequested = Signal()
    restoreRequested = Signal(object)  # gui.admin.RestoreRequest: the controller closes, restores, reopens
    locked = Signal()
    unlocked = Signal()

    def __init__(self, context: AppContext, *, idle_ms: int | None = None,
                 idle_clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        from cocm_desktop.gui.registry_pane import RegistryPane
        from cocm_desktop.gui.timer_widget import TimerWidget, read_timer_state
        from cocm_desktop.gui.worklist_pane import WorklistPane

        self.ctx = context
        self.ui = Ui_MainWindow()
        self.ui.setupUi(self)
        self.setWindowIcon(app_icon())
        self.setWindowTitle(f"{context.clinic_name} — {APP_NAME}" + ("  (demo)" if context.demo else ""))
        ui = self.ui
        ui.timerToolBar.toggleViewAction().setEnabled(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)

        # Panes: "My work" is the first screen after sign-in
        self.worklist = WorklistPane(context, self, backup_state=self._backup_state
                                     if context.role is Role.CLINIC_LEAD else None)
        ui.worklistPageLayout.addWidget(self.worklist)
        self.registry = RegistryPane(context, self)
        ui.registryPageLayout.addWidget(self.registry)
        # Start the registry load now: its queries run off the GUI thread while the rest of the
        # window is built and first painted. The timer check reads first: every session takes
        # the database's write lock, so a read queued behind the load would wait for all of it.
        timer_state = read_timer_state(context)
        self.registry.reload()
        self.worklist.reload()
        # The chart and case-review panes are built on first use (`chart`, `case_review`): the
        # first paint only needs the registry.
        self._chart: ChartPane | None = None
        self._case_review: CaseReviewPane | None = None
        self.timer = TimerWidget(context, self, name_of=self._patient_name)
        ui.timerToolBar.addWidget(self.timer)
        who = f"Signed in as {context.actor.display_name} ({context.actor.username})."
        self.lock_screen = LockScreen(who, context.clinic_name, self)
        ui.lockPageLayout.addWidget(self.lock_screen)
        self.lock_screen.form.unlockRequested.connect(self.unlock)
        self.lock_screen.form.signOutRequested.connect(self.switch_user)
        self._veils: list[DialogVeil] = []
        self._may_close = False  # the running timer was dealt with: closing asks nothing more
        self._locked = False
        self._page_before_lock = None

        # Navigation
        for button, name in ((ui.worklistNav, "check"), (ui.registryNav, "registry"), (ui.chartNav, "chart"),
                             (ui.caseReviewNav, "case_review"), (ui.lockNav, "lock")):
            button.setIcon(icon(name, ON_DARK))
        ui.worklistNav.clicked.connect(self.show_worklist)
        ui.registryNav.clicked.connect(self.show_registry)
        ui.chartNav.clicked.connect(self.show_chart)
        ui.caseReviewNav.clicked.connect(self.show_case_review)
        ui.lockNav.clicked.connect(self.lock)
        ui.actionGoWorklist.triggered.connect(self.show_worklist)
        ui.actionGoRegistry.triggered.connect(self.show_registry)
        ui.actionGoChart.triggered.connect(self.show_chart)
        ui.actionGoCaseReview.triggered.connect(self.show_case_review)
        ui.actionFind.triggered.connect(self._find)
        ui.actionRefresh.triggered.connect(self.refresh)
        ui.actionLock.triggered.connect(self.lock)
        ui.actionSignOut.triggered.connect(self.sign_out)
        ui.actionQuit.triggered.connect(self.close)
        ui.actionOpenClinic.triggered.connect(self._open_clinic)
        ui.actionBackUp.triggered.connect(self._back_up)
        ui.actionAbout.triggered.connect(self._about)
        ui.actionUserGuide.triggered.connect(lambda: self.show_help("guide"))
        ui.actionShortcuts.triggered.connect(lambda: self.show_help("shortcuts"))
        ui.actionWhereFiles.triggered.connect(lambda: self.show_help("files"))
        ui.actionCaseReviewPacket.triggered.connect(lambda: self.case_review.print_packet())
        ui.actionBillingReport.triggered.connect(self._billing_report)
        ui.actionMarkSubmitted.triggered.connect(self._mark_submitted)
        ui.actionQualityReport.triggered.connect(self._quality_report)
        ui.actionQuit.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        ui.actionNewPatient.triggered.connect(self.new_patient)
        ui.actionChangePassword.triggered.connect(self._change_password)
        ui.actionRestore.triggered.connect(self._restore)
        ui.actionUsers.triggered.connect(self._users)
        ui.actionPolicy.triggered.connect(self._policy)
        ui.actionAuditReport.triggered.connect(self._audit_report)
        ui.actionVoidedPatients.triggered.connect(self._voided_patients)
        ui.actionNewPatient.setIcon(icon("plus"))
        self.registry.newPatientRequested.connect(self.new_patient)

        self.registry.openChart.connect(self.open_chart)
        self.worklist.openItem.connect(self.open_work_item)
        self.worklist.countsChanged.connect(self._show_work_count)
        # No central change handler: each pane listens to `context.changes` and decides what to
        # refresh; the window only follows the policy (idle lock) and shows running writes.
        context.policyReloaded.connect(self._policy_reloaded)
        context.busyChanged.connect(self._show_busy)

        self._apply_role()
        self._build_status_bar()
        # ---- faults (issue 17 item 5): "Clinic server not reachable" in the status bar, a light
        # ping while it is away, the timer bar resuming when it is back (gui/server_status.py).
        from cocm_desktop.gui import server_status

        self.server_status = server_status.for_window(self, context)
        # ---- end faults
        # Automatic backups: a check a few seconds after sign-in, then hourly (one is made when the
        # newest is 24 h old), off the GUI thread; the status bar shows the last good one.
        from cocm_desktop.gui.auto_backup import AutoBackups

        self.backups = AutoBackups(self)
        self.backups.start()
        ui.chartNav.setEnabled(False)
        ui.actionGoChart.setEnabled(True)
        self.show_worklist()

        # Idle lock
        self._idle_override = idle_ms
        minutes = context.policy.idle_lock_minutes
        self.idle = IdleWatcher(idle_ms if idle_ms is not None else minutes * 60_000, self,
                                **({"clock": idle_clock} if idle_clock is not None else {}))
        self.idle.idle.connect(self.lock)
        self.idle.start()
        # Live refresh (clinic server): what other workstations save reaches the panes in a second.
        from cocm_desktop.gui.live_bridge import LiveRefresh

        self.live = LiveRefresh(self, context.db, self._live_change) if context.on_server else None
        self._warming = False
        if context.on_server:
            self._warm_registry()
        self._restore_geometry()
        # Adopting a live timer or offering recovery (a dialog) waits for the window to show.
        QTimer.singleShot(0, lambda: self.timer.check_recovery(timer_state))

    # ---- panes built on first use ----------------------------------------------------------------
    @property
    def chart(self) -> ChartPane:
        if self._chart is None:
            from cocm_desktop.gui.chart_pane import ChartPane

            pane = ChartPane(self.ctx, self)
            self.ui.chartPageLayout.addWidget(pane)
            pane.patientChanged.connect(self.timer.set_default_patient)
            pane.patientChanged.connect(lambda _pid, _name: self.ui.chartNav.setEnabled(True))
            self._chart = pane
        return self._chart

    @property
    def case_review(self) -> CaseReviewPane:
        if self._case_review is None:
            from cocm_desktop.gui.case_review_pane import CaseReviewPane

            pane = CaseReviewPane(self.ctx, self, registry_rows=lambda: self.registry.model.rows)
            self.ui.caseReviewPageLayout.addWidget(pane)
            pane.openChart.connect(self.open_chart)
            self._case_review = pane
        return self._case_review

    def _chart_patient(self) -> int | None:
        """The patient open in the chart (None when the chart pane was never built)."""
        return self._chart.patient_id if self._chart is not None else None

    def _built_panes(self) -> list[QWidget]:
        return [p for p in (self.worklist, self.registry, self._chart, self._case_review) if p is not None]

    # ---- set-up ------------------------------------------------------------------------------
    def _apply_role(self) -> None:
        ui, ctx = self.ui, self.ctx
        for action, perm, who in (
            (ui.actionBillingReport, Permission.RUN_BILLING_REPORT, "the clinic lead"),
            (ui.actionMarkSubmitted, Permission.RUN_BILLING_REPORT, "the clinic lead"),
            (ui.actionQualityReport, Permission.RUN_QUALITY_REPORT, "the clinic lead"),
            (ui.actionBackUp, Permission.BACKUP, "the clinic lead"),
            (ui.actionRestore, Permission.BACKUP, "the clinic lead"),
            (ui.actionUsers, Permission.MANAGE_USERS, "the clinic lead"),
            (ui.actionPolicy, Permission.EDIT_POLICY, "the clinic lead"),
            (ui.actionAuditReport, Permission.VIEW_AUDIT, "the clinic lead"),
            (ui.actionNewPatient, Permission.ENROLL, "a care manager or treating clinician"),
        ):
            allowed = ctx.can(perm)
            action.setEnabled(allowed)
            action.setToolTip("" if allowed else f"Only {who} can do this.")
        packet_ready = module_available(PACKET_MODULE)
        ui.actionCaseReviewPacket.setEnabled(packet_ready and ctx.role is not Role.CLINIC_LEAD)
        ui.menuReports.setToolTipsVisible(True)
        ui.menuFile.setToolTipsVisible(True)
        ui.menuClinic.setToolTipsVisible(True)
        ui.menuClinic.menuAction().setEnabled(ctx.role is Role.CLINIC_LEAD)
        if not packet_ready:
            ui.actionCaseReviewPacket.setToolTip("The case-review packet is not available in this version yet.")
        if ctx.role is Role.CLINIC_LEAD:
            ui.timerToolBar.setVisible(False)  # the clinic lead does not log patient time
        if ctx.on_server:  # the server's backups are the IT person's (backup --server, scheduled)
            for action in (ui.actionBackUp, ui.actionRestore):
                action.setEnabled(False)
                action.setToolTip("The clinic server is backed up on the server itself "
                                  "(cocm-desktop backup --server, run by your IT person).")

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        actor = self.ctx.actor
        self.status_clinic = QLabel(self.ctx.clinic_name + ("  · demo data, all patients invented" if self.ctx.demo else ""))
        self.status_user = QLabel(f"{actor.display_name} ({actor.username})")
        self.status_role = QLabel(Role(actor.role).label)
        # A write taking longer than a moment: a spinner and "Saving…" (gui.operations.BUSY_AFTER_MS)
        self.status_busy = QWidget(self)
        self.status_busy.setObjectName("savingIndicator")
        row = QHBoxLayout(self.status_busy)
        row.setContentsMargins(0, 0, 8, 0)
        row.setSpacing(6)
        row.addWidget(Spinner(self.status_busy, size=16))
        row.addWidget(QLabel("Saving…", self.status_busy))
        self.status_busy.hide()
        bar.addPermanentWidget(self.status_busy)
        for w in (self.status_clinic, self.status_user, self.status_role):
            bar.addPermanentWidget(w)
        bar.setSizeGripEnabled(False)

    def _show_busy(self, busy: bool) -> None:
        self.status_busy.setVisible(busy)
        if busy:
            self.setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.unsetCursor()

    def _restore_geometry(self) -> None:
        s = settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geometry))
        else:
            self.resize(1440, 900)

    def _patient_name(self, patient_id: int) -> str | None:
        row = self.registry.model.row_for_patient(patient_id)
        return self.registry.model.rows[row].patient_name if row is not None else None

    # ---- navigation ----------------------------------------------------------------------------
    def _go(self, page, nav) -> None:  # type: ignore[no-untyped-def]
        if self._locked:
            return
        self.ui.paneStack.setCurrentWidget(page)
        nav.setChecked(True)

    def show_worklist(self) -> None:
        self._go(self.ui.worklistPage, self.ui.worklistNav)

    def show_registry(self) -> None:
        self._go(self.ui.registryPage, self.ui.registryNav)

    def show_chart(self) -> None:
        if self._chart_patient() is None:
            self.show_registry()
            self.statusBar().showMessage("Open a patient from the registry first (double-click or Enter).", 5000)
            return
        self._go(self.ui.chartPage, self.ui.chartNav)

    def show_case_review(self) -> None:
        self._go(self.ui.caseReviewPage, self.ui.caseReviewNav)
        self.case_review.ensure_loaded()

    def open_chart(self, patient_id: int) -> None:
        if self._locked:
            return
        self.chart.open_patient(patient_id)
        self.ui.chartNav.setEnabled(True)
        self._go(self.ui.chartPage, self.ui.chartNav)

    def _show_work_count(self, total: int) -> None:
        """The rail shows how much needs the user's action; the tooltip says what."""
        nav = self.ui.worklistNav
        nav.setText(f"My work\n{total}" if total else "My work")
        wl = self.worklist.worklist
        lines = [f"{k.label}: {n}" for k, n in (wl.counts.items() if wl is not None else ()) if n]
        nav.setToolTip("My work: what needs your action (Ctrl+0)" + ("\n" + "\n".join(lines) if lines else ""))

    def _backup_state(self) -> BackupState:
        """The clinic lead's backup line (reads the backups folder; called off the GUI thread)."""
        from cocm_desktop.services.backups import backup_status
        from cocm_desktop.services.worklists import BackupState

        status = backup_status(self.ctx.db, lead=True)
        return BackupState(status.stale, status.text, status.advice)

    def open_work_item(self, item: WorkItem) -> None:
        """Double-click in My work: the chart, the case review, the billing adjustment, users, backup."""
        from cocm_desktop.services.worklists import Target

        if self._locked:
            return
        if item.target is Target.CHART and item.patient_id is not None:
            self.open_chart(item.patient_id)
        elif item.target is Target.CASE_REVIEW:
            pane = self.case_review
            if item.ref_id is not None and pane.review_id != item.ref_id:
                pane.review_id = item.ref_id  # the session the pane loads (its own choice otherwise)
                pane.mark_stale()
            self.show_case_review()
        elif item.target is Target.BILLING:
            from cocm_desktop.gui.reports import acknowledge_adjustment_dialog

            acknowledge_adjustment_dialog(self, self.ctx, item)
        elif item.target is Target.USERS:
            self._users()
        elif item.target is Target.BACKUP:
            self._back_up()

    def new_patient(self) -> None:
        """Patient form → enrollment → the new chart (care manager / treating clinician)."""
        from cocm_desktop.gui.patient_dialog import new_patient_flow

        if self._locked or not self.ui.actionNewPatient.isEnabled():
            return
        patient_id = new_patient_flow(self.ctx, self)
        if patient_id is not None:
            self.open_chart(patient_id)
            self.statusBar().showMessage("Patient added and enrolled.", 8000)

    def _find(self) -> None:
        self.show_registry()
        self.registry.focus_search()

    def _voided_patients(self) -> None:
        """Records voided as entered twice: choose one to open its chart (where the person who
        added it or a treating clinician can restore one voided in error)."""
        from cocm_desktop.gui.form_dialog import Field, FormDialog
        from cocm_desktop.gui.registry_model import fmt_date
        from cocm_desktop.services.patients import voided_patients

        rows = self.ctx.read(voided_patients)
        if not rows:
            QMessageBox.information(self, "Voided patient records", "No patient record is voided.")
            return
        choices = [(f"{p.display_name} · MRN {p.mrn} · voided {fmt_date(p.voided_at.date()) if p.voided_at else ''}"
                    f" — {p.void_reason or ''}", p.id) for p in rows]
        dialog = FormDialog("Voided patient records", [Field("patient", "Record", "choice", True, rows[0].id,
                                                             choices=choices)], self, ok_text="Open chart",
                            intro="Records voided as entered twice count nowhere; their charts stay readable. "
                                  "One voided in error is restored from its chart's Details tab.")
        dialog.setObjectName("voidedPatientsDialog")
        self.voided_dialog = dialog  # tests drive it
        values = dialog.ask()
        if values is not None:
            self.open_chart(values["patient"])

    def refresh(self) -> None:
        if not self._locked:
            self.reload_panes()

    def reload_panes(self, *, case_review_when_shown: bool = False) -> None:
        """Every built pane reads its data again (the case review, when asked, only once shown)."""
        self.worklist.reload()
        self.registry.reload()
        if self._chart_patient() is not None:
            self.chart.reload()
        if self._case_review is not None:
            if case_review_when_shown:
                self.case_review.mark_stale()
            else:
                self.case_review.reload()

    def _live_change(self, change: ChangeEvent) -> None:
        """Another workstation's committed change (gui.live_bridge; open forms got their notice):
        every pane hears it as it hears this window's own writes."""
        self.ctx.publish(change)

    # ---- closing -----------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.timer.is_running and not self._locked and not self._may_close:
            event.ignore()  # asked first; closed again once the time is saved (or left running)
            self._confirm_leave("quit", self._close_now)
            return
        settings().setValue("window/geometry", self.saveGeometry())
        self.shutdown()
        event.accept()

    def _close_now(self) -> None:
        self._may_close = True
        self.close()

    def _warm_registry(self) -> None:
        """On the clinic server, fill the registry's facts cache in the background after sign-in
        (services.registry.warm_cache): at the start of a month, or after a bulk change, the first
        whole-clinic reads would otherwise each compute most facts afresh. Usually one quick look."""
        from cocm_desktop.services.registry import warm_cache

        db = self.ctx.db
        self._warming = True

        def done(_rounds: object) -> None:
            self._warming = False

        def failed(_exc: BaseException) -> None:  # locked, signed out or the server away: the
            self._warming = False                  # registry computes what it needs, as always

        run_in_background(lambda: warm_cache(db, stop=lambda: not self._warming or db.locked), done, failed)

    def shutdown(self) -> None:
        """Stop timers and background refreshes; the controller closes the database."""
        self._warming = False  # a registry warm-up ends after its current round
        self.idle.dispose()
        if self.live is not None:
            self.live.close()
        self.backups.stop()
        self.timer.shutdown()
        self.hide()


__all__ = ["MainWindow", "SessionLocked"]
