"""The always-visible timer bar: patient, activity, start / pause / stop, elapsed time, and this
patient's logged minutes today and this month.

The running timer is a database row from its first second (`services.timer`); this widget shows
it, sends a heartbeat every 30 s, and after a crash offers recovery: stop at the last heartbeat,
stop now, or discard. Locking hides the bar; the timer keeps running and is shown again after
unlock.

The clinic server away (issue 17): the bar keeps counting on this computer's clock and the
heartbeat resumes when the server is back (the row's segment is open, so no time is lost).
Stop pressed while it is away is kept with its exact time and written when it is back (once:
services.submissions) — rather than refused, because refusing would keep a timer running that
the person has stopped working on, and log minutes not worked. Until then the bar shows
"stopped at …" and starts nothing new (one timer per person). A timer running on another of
this person's computers is named ("running on FRONT-DESK-2 since 10:05") and can be taken over
or stopped; the computer it moved away from stops showing it at its next heartbeat.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from cocm_desktop.domain.activities import ACTIVITIES
from cocm_desktop.domain.roles import Permission
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import is_expected, note_failure, show_error
from cocm_desktop.gui.resources import ACCENT, MUTED, SAFETY, icon
from cocm_desktop.gui.worker import run_in_background
from cocm_desktop.services.changes import Change, ChangeEvent
from cocm_desktop.services.errors import ServerUnreachable

HEARTBEAT_MS = 30_000


def fmt_elapsed(seconds: int) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


_UNREAD: Any = object()


def read_timer_state(ctx: AppContext) -> Any:
    """This user's timer (`services.timer.TimerState`), or None: none running, not allowed to
    log time, or the read refused (locked meanwhile)."""
    from cocm_desktop.services.timer import current_timer

    if not ctx.can(Permission.LOG_TIME):
        return None
    try:
        return ctx.read(current_timer)
    except Exception as exc:
        if not is_expected(exc):
            raise
        return None


class TimerWidget(QWidget):
    stopped = Signal(object)  # StopResult

    def __init__(self, context: AppContext, parent: QWidget | None = None,
                 name_of: Callable[[int], str | None] | None = None) -> None:
        super().__init__(parent)
        self.ctx = context
        self.state: Any = None  # services.timer.TimerState while a timer exists
        self._state_at = datetime.now()
        self._locked = False
        self._name_of = name_of
        self._names: dict[int, str] = {}
        self.today_minutes = 0
        self.month_minutes = 0
        self.offline = False  # the last heartbeat met a clinic server gone away
        self._beating = False  # a heartbeat is on its way
        self._generation = 0  # counts changes made here, so a late heartbeat cannot undo one
        #: a stop pressed while the server was away: (its once-wrapped call, the exact time)
        self.queued_stop: tuple[Any, datetime] | None = None
        self._stopping: Any = None  # the stop operation while it saves (gui.operations.Operation)
        self._after_stop: list[Callable[[], None]] = []  # what waits for the running stop to be saved
        self._changing: Any = None  # a start, resume, pause or take-over while it saves
        self._build()
        context.changes.connect(self.on_changes)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._refresh_elapsed)
        self._heartbeat = QTimer(self)
        self._heartbeat.setInterval(HEARTBEAT_MS)
        self._heartbeat.timeout.connect(self.send_heartbeat)
        self.setEnabled(context.can(Permission.LOG_TIME))
        self._sync_buttons()

    def _build(self) -> None:
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 4, 12, 4)
        lay.setSpacing(8)
        badge = QLabel(self)
        badge.setPixmap(icon("clock", ACCENT, 20).pixmap(20, 20))
        lay.addWidget(badge)
        title = QLabel("Timer", self)
        title.setProperty("role", "subtitle")
        lay.addWidget(title)
        self.patient = QComboBox(self)
        self.patient.setObjectName("timerPatient")
        self.patient.setMinimumWidth(220)
        self.patient.setToolTip("Patient the time is for (defaults to the open chart)")
        self.patient.setPlaceholderText("Open a chart to time work")
        self.patient.currentIndexChanged.connect(lambda _i: self.refresh_totals())
        lay.addWidget(self.patient)
        self.activity = QComboBox(self)
        self.activity.setObjectName("timerActivity")
        for value, label in ACTIVITIES.items():
            self.activity.addItem(label, value)
        self.activity.setCurrentIndex(max(0, self.activity.findData("follow_up_contact")))
        lay.addWidget(self.activity)
        self.start_button = QPushButton(icon("play", ACCENT, 16), "Start", self)
        self.start_button.setObjectName("timerStart")
        self.start_button.clicked.connect(self.start_or_resume)
        self.pause_button = QPushButton(icon("pause", MUTED, 16), "Pause", self)
        self.pause_button.setObjectName("timerPause")
        self.pause_button.clicked.connect(self.pause)
        self.stop_button = QPushButton(icon("stop", SAFETY, 16), "Stop", self)
        self.stop_button.setObjectName("timerStop")
        self.stop_button.clicked.connect(lambda: self.stop())
        for b in (self.start_button, self.pause_button, self.stop_button):
            lay.addWidget(b)
        self.elapsed = QLabel("0:00:00", self)
        self.elapsed.setObjectName("TimerElapsed")
        self.elapsed.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.elapsed)
        self.totals = QLabel("", self)
        self.totals.setObjectName("timerTotals")
        self.totals.setProperty("role", "muted")
        lay.addWidget(self.totals)
        lay.addStretch(1)

    # ---- patients ----------------------------------------------------------------------------
    def set_default_patient(self, patient_id: int | None, name: str = "") -> None:
        """The open chart's patient becomes the default (unless a timer is running for another)."""
        if patient_id is None:
            return
        self._names[patient_id] = name
        index = self.patient.findData(patient_id)
        if index < 0:
            self.patient.insertItem(0, name, patient_id)
            index = 0
            while self.patient.count() > 12:  # a short recent list, in memory only
                self.patient.removeItem(self.patient.count() - 1)
        if self.state is None:
            self.patient.setCurrentIndex(index)

    def patient_id(self) -> int | None:
        data = self.patient.currentData()
        return int(data) if data is not None else None

    def _name(self, patient_id: int) -> str:
        if patient_id in self._names:
            return self._names[patient_id]
        found = self._name_of(patient_id) if self._name_of else None
        return found or f"Patient #{patient_id}"

    # ---- state ---------------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        return self.state is not None

    @property
    def is_paused(self) -> bool:
        return bool(self.state is not None and self.state.paused)

    @property
    def stop_pending(self) -> bool:
        return self.queued_stop is not None

    def seconds(self) -> int:
        if self.state is None:
            return 0
        if self.queued_stop is not None and not self.state.paused:  # counted up to the moment of Stop
            return int(self.state.running_seconds) + max(0, int((self.queued_stop[1] - self._state_at).total_seconds()))
        extra = 0 if self.state.paused else int((datetime.now() - self._state_at).total_seconds())
        return int(self.state.running_seconds) + max(0, extra)

    def _set_state(self, state: Any) -> None:
        self.state = state
        self._state_at = datetime.now()
        self._generation += 1
        self.queued_stop = None
        if state is not None:
            self.set_default_patient(state.patient_id, self._name(state.patient_id))
            self.patient.setCurrentIndex(max(0, self.patient.findData(state.patient_id)))
            self.activity.setCurrentIndex(max(0, self.activity.findData(state.activity)))
            self._tick.start()
            self._heartbeat.start()
        else:
            self._tick.stop()
            self._heartbeat.stop()
        self._sync_buttons()
        self._refresh_elapsed()

    def _sync_buttons(self) -> None:
        running = self.state is not None
        paused = self.is_paused
        pending = self.queued_stop is not None
        self.start_button.setText("Resume" if paused else "Start")
        self.start_button.setEnabled((not running or paused) and not pending)
        self.pause_button.setEnabled(running and not paused and not pending)
        self.stop_button.setEnabled(running and not pending)
        self.patient.setEnabled(not running)
        self.activity.setEnabled(not running)
        self.elapsed.setProperty("running", running and not paused)
        self.elapsed.setProperty("paused", paused)
        self.elapsed.style().polish(self.elapsed)

    def _refresh_elapsed(self) -> None:
        self.elapsed.setText(fmt_elapsed(self.seconds()))

    # ---- actions ---------------------------------------------------------------------------------
    def _change(self, fn: Callable[..., Any], *args: Any, done: Callable[[Any], None] | None = None,
                failed: Callable[[BaseException], None] | None = None, **kwargs: Any) -> Any:
        """Start, resume, pause or take over: a write off the GUI thread (the buttons wait for it;
        a second press meanwhile does nothing); its new state is shown when it has ended."""
        if self._changing is not None and not self._changing.finished:
            return None
        for b in (self.start_button, self.pause_button, self.stop_button):
            b.setEnabled(False)
        self._changing = self.ctx.write(fn, *args, changes=Change.TIME, done=done or self._set_state,
                                        failed=failed or self._refused, parent=self, **kwargs)
        self._changing.ended.connect(self._sync_buttons)
        return self._changing

    def _refused(self, exc: BaseException) -> None:
        show_error(self, exc)

    def start_for(self, patient_id: int, name: str) -> None:
        if self.state is not None:
            QMessageBox.information(self, "Timer", "A timer is already running; stop it first.")
            return
        self.set_default_patient(patient_id, name)
        self.patient.setCurrentIndex(max(0, self.patient.findData(patient_id)))
        self.start_or_resume()

    def start_or_resume(self) -> None:
        from cocm_desktop.services.timer import resume_timer, start_timer

        if self.is_paused:
            self._change(resume_timer)
            return
        pid = self.patient_id()
        if pid is None:
            QMessageBox.information(self, "Timer", "Open a patient's chart first: the timer is for the open patient.")
            return
        self._change(start_timer, patient_id=pid, activity=self.activity.currentData(), failed=self._start_refused)

    def _start_refused(self, exc: BaseException) -> None:
        from cocm_desktop.services.timer import TimerAlreadyRunning

        state = getattr(exc, "timer", None) if isinstance(exc, TimerAlreadyRunning) else None
        if state is None:
            show_error(self, exc)
        elif state.runs_elsewhere():  # another of this person's computers: say where, offer
            self.offer_elsewhere(state)
        else:  # this computer's own (e.g. an earlier session): show it
            self._set_state(state)

    def pause(self) -> None:
        from cocm_desktop.services.timer import pause_timer

        self._change(pause_timer, failed=self._pause_refused)

    def _pause_refused(self, exc: BaseException) -> None:
        if isinstance(exc, ServerUnreachable):  # refused plainly: a pause needs the server now
            note_failure(exc)
            QMessageBox.information(
                self, "Timer not paused",
                "The clinic server is not reachable, so the timer cannot be paused now; it keeps running. "
                "Stop still works: it is kept with its exact time and logged when the server is back.")
            return
        show_error(self, exc)

    def stop(self, *, done: Callable[[], None] | None = None) -> bool:
        """Stop at this moment and write the time entries (services.timer) off the GUI thread;
        Stop stays disabled meanwhile. `done()` runs once nothing is left running (at once when no
        timer runs; not when the save fails: that is shown and the timer keeps running). With the
        clinic server away the stop is kept with its exact time and written when it is back. True
        when no timer runs or its save has started."""
        from cocm_desktop.services.submissions import once
        from cocm_desktop.services.timer import stop_timer

        if self.state is None:
            if done is not None:
                done()
            return True
        if self.queued_stop is None:
            self.queued_stop = (once(stop_timer), datetime.now().replace(microsecond=0))
        if done is not None:
            self._after_stop.append(done)
        self.write_queued_stop()
        return True

    def write_queued_stop(self) -> None:
        """Write the stop pressed at its time (one submission: never logged twice) unless its save
        is already on its way; on a lost server it stays queued (said in the bar)."""
        if self.state is None or self.queued_stop is None:
            return
        if self._stopping is not None and not self._stopping.finished:
            return
        call, stopped_at = self.queued_stop
        self._sync_buttons()
        self._stopping = self.ctx.write(call, changes=Change.TIME, patient_id=self.state.patient_id, now=stopped_at,
                                        done=self._stopped, failed=self._stop_failed, parent=self)

    def _stopped(self, result: Any) -> None:
        from cocm_desktop.services.submissions import AlreadySaved

        after, self._after_stop = self._after_stop, []
        self._set_state(None)
        if isinstance(result, AlreadySaved):
            self._say("The time was logged before the connection was lost (not logged twice).")
        else:
            self.stopped.emit(result)
            self._announce(result)
        for callback in after:
            callback()

    def _stop_failed(self, exc: BaseException) -> None:
        from cocm_desktop.services.common import NotFound

        after, self._after_stop = self._after_stop, []
        if isinstance(exc, ServerUnreachable) and self.queued_stop is not None:
            note_failure(exc)
            self._tick.stop()
            self._sync_buttons()
            self._refresh_elapsed()
            self.totals.setText(f"Stopped at {self.queued_stop[1]:%H:%M:%S}; the time is logged when the clinic "
                                "server is back.")
            return
        if isinstance(exc, NotFound):  # stopped on another computer meanwhile: nothing left to write
            self._set_state(None)
            self._say("The timer was already stopped on another computer.")
            self.refresh_totals()
            for callback in after:
                callback()
            return
        self.queued_stop = None  # refused (not a fault): the timer runs on as before; Stop is offered again
        self._sync_buttons()
        show_error(self, exc)

    def _say(self, message: str) -> None:
        window = self.window()
        bar = window.statusBar() if hasattr(window, "statusBar") else None
        if bar is not None:
            bar.showMessage(message, 10000)

    def _announce(self, result: Any) -> None:
        window = self.window()
        bar = window.statusBar() if hasattr(window, "statusBar") else None
        if bar is not None:
            bar.showMessage(getattr(result, "message", "Time logged."), 8000)

    def send_heartbeat(self) -> None:
        from cocm_desktop.services.timer import heartbeat

        if self.state is None or self._locked:
            return
        if self.queued_stop is not None:  # the stop waits for the server: try it instead
            self.write_queued_stop()
            return
        if self._beating:
            return
        # Off the GUI thread: a server that went silent must not freeze the window while the
        # connection gives up (server_engine.LIVENESS).
        self._beating = True
        ctx, generation = self.ctx, self._generation
        run_in_background(lambda: (ctx.read(heartbeat), generation), self._beat, self._beat_failed)

    def _beat_failed(self, exc: BaseException) -> None:
        self._beating = False
        if isinstance(exc, ServerUnreachable):  # keep counting here; the heartbeat resumes when it is back
            note_failure(exc)
            self.offline = True
            if self.queued_stop is None:
                self.totals.setText("Clinic server away: the timer keeps counting on this computer.")
            return
        if not is_expected(exc):  # a bug: the hook shows and logs it
            raise exc
        # locked meanwhile, or another refusal: a missed heartbeat only costs recovery precision

    def _beat(self, result: tuple[Any, int]) -> None:
        state, generation = result
        self._beating = False
        if generation != self._generation or self.state is None or self.queued_stop is not None:
            return  # the timer changed here while the heartbeat was on its way: this one is stale
        if self.offline:
            self.offline = False
            self.refresh_totals()
        if state is None:  # stopped elsewhere (another session of this user)
            self._set_state(None)
        elif state.runs_elsewhere():
            self._set_state(None)
            self._say(f"Your timer was taken over on the computer “{state.workstation}”.")
        else:
            self.state = state
            self._state_at = datetime.now()

    def watch(self, status: Any) -> None:
        """Follow the clinic server's status (gui.server_status): when it is back, the heartbeat
        and a stop pressed meanwhile go through at once."""
        status.changed.connect(self._server_changed)

    def _server_changed(self, reachable: bool) -> None:
        if reachable and self.state is not None:
            self.send_heartbeat()

    # ---- the same person's timer on another computer -------------------------------------
    def elsewhere_box(self, state: Any) -> QMessageBox:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Timer running on another computer")
        since = (f"{state.started_at:%H:%M}" if state.started_at.date() == date.today()
                 else f"{state.started_at:%b} {state.started_at.day} {state.started_at:%H:%M}")
        box.setText(f"Your timer for {self._name(state.patient_id)} ({state.activity_label}) is running on the "
                    f"computer “{state.workstation}” since {since}.")
        box.setInformativeText("Take it over here: it keeps its time and runs on this computer. Stop it: its time "
                               "is logged, then this timer starts. One timer per person.")
        box.addButton("Take it over here", QMessageBox.ButtonRole.AcceptRole).setObjectName("adopt")
        box.addButton("Stop it, start this one", QMessageBox.ButtonRole.AcceptRole).setObjectName("stop_and_start")
        box.addButton(QMessageBox.StandardButton.Cancel).setObjectName("cancel")
        return box

    def offer_elsewhere(self, state: Any) -> None:
        box = self.elsewhere_box(state)
        box.exec()
        clicked = box.clickedButton()
        self.resolve_elsewhere(clicked.objectName() if clicked is not None else "cancel", state)

    def resolve_elsewhere(self, choice: str, state: Any) -> None:
        from cocm_desktop.services.timer import adopt_timer, stop_timer

        if choice == "adopt":
            self._change(adopt_timer)
        elif choice == "stop_and_start":
            def stopped(result: Any) -> None:
                self._announce(result)
                self.start_or_resume()

            self.ctx.write(stop_timer, changes=Change.TIME, patient_id=state.patient_id, done=stopped, parent=self)

    # ---- recovery -----------------------------------------------------------------------------------
    def check_recovery(self, state: Any = _UNREAD) -> None:
        """At sign-in: adopt a live timer, or offer the three recovery choices for a stale one.

        `state` is what `read_timer_state` returned when the caller read it earlier; by default
        it is read now."""
        if state is _UNREAD:
            state = read_timer_state(self.ctx)
        if state is None:
            return
        if not state.stale and state.runs_elsewhere():  # in use on another computer: say so only
            self._say(f"Your timer is running on the computer “{state.workstation}”; Start offers to take it over.")
            return
        if not state.stale:
            self._set_state(state)
            return
        self.offer_recovery(state)

    def recovery_box(self, state: Any) -> QMessageBox:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Timer left running")
        minutes_hb = state.seconds_at_heartbeat // 60
        box.setText(f"A timer for {self._name(state.patient_id)} ({state.activity_label}) was left running "
                    f"since {state.started_at:%b} {state.started_at.day} {state.started_at:%H:%M}; the app last saw "
                    f"it at {state.heartbeat_at:%H:%M}.")
        box.setInformativeText(f"Stop at the last heartbeat logs {minutes_hb} min. Stop now logs the time up to now. "
                               "Discard logs nothing.")
        box.addButton("Stop at last heartbeat", QMessageBox.ButtonRole.AcceptRole).setObjectName("stop_at_heartbeat")
        box.addButton("Stop now", QMessageBox.ButtonRole.AcceptRole).setObjectName("stop_now")
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole).setObjectName("discard")
        return box

    def offer_recovery(self, state: Any) -> None:
        box = self.recovery_box(state)
        box.exec()
        clicked = box.clickedButton()
        choice = clicked.objectName() if clicked is not None else "stop_at_heartbeat"
        self.recover(choice, state.patient_id)

    def recover(self, choice: str, patient_id: int | None = None) -> Any:
        """The recovery choice, saved off the GUI thread (the returned operation's `result` is
        the StopResult once it has ended)."""
        from cocm_desktop.services.timer import recover_timer

        def recovered(result: Any) -> None:
            self._set_state(None)
            self._announce(result)

        return self.ctx.write(recover_timer, choice, changes=Change.TIME, patient_id=patient_id,
                              done=recovered, parent=self)

    # ---- totals -----------------------------------------------------------------------------------
    def on_changes(self, event: ChangeEvent) -> None:
        """Time logged, corrected or voided for the patient the totals are about: read them again."""
        pid = self.patient_id()
        if pid is not None and event.has(Change.TIME, Change.CONTACT, Change.CORRECTION) and event.touches(pid):
            self.refresh_totals()

    def refresh_totals(self) -> None:
        from cocm_desktop.services.time_log import list_time

        pid = self.patient_id()
        if pid is None or self._locked:
            self.totals.setText("")
            return
        today = date.today()
        ctx = self.ctx

        def work() -> tuple[int, int]:
            entries = ctx.read(list_time, patient_id=pid, month=today)
            live = [e for e in entries if not e.deleted]
            return (sum(e.minutes for e in live if e.local_date == today), sum(e.minutes for e in live))

        def done(result: tuple[int, int]) -> None:
            if self.patient_id() != pid:
                return
            self.today_minutes, self.month_minutes = result
            self.totals.setText(f"This patient: {self.today_minutes} min today · {self.month_minutes} min this month")

        run_in_background(work, done, lambda _e: None)

    # ---- lock and shutdown -----------------------------------------------------------------------------
    def set_locked(self, locked: bool) -> None:
        """Locked: the names leave the screen (the timer row keeps running in the database)."""
        self._locked = locked
        if locked:
            self._heartbeat.stop()
            self._kept = [(self.patient.itemText(i), self.patient.itemData(i)) for i in range(self.patient.count())]
            self.patient.clear()
            self.totals.clear()
        else:
            self.patient.blockSignals(True)
            for text, data in getattr(self, "_kept", []):
                self.patient.addItem(text, data)
            self.patient.blockSignals(False)
            if self.state is not None:
                self.patient.setCurrentIndex(max(0, self.patient.findData(self.state.patient_id)))
                self._heartbeat.start()
                self.send_heartbeat()
            self.refresh_totals()

    def shutdown(self) -> None:
        self._tick.stop()
        self._heartbeat.stop()
