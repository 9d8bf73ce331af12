"""Whether the clinic server is reachable, said in the status bar while it is not.

Any save or read that meets `ServerUnreachable` reports it here (`notice(exc)`; gui.errors does it
for every error shown). From then on a light ping (services.clinic.ping, off the GUI thread)
runs every few seconds; when it answers, the status bar clears and `changed(True)` tells the
forms and the timer bar that saving resumes. Nothing is checked while the server answers: the
work itself notices a fault first. The encrypted file never goes away, so a file clinic has none.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

from cocm_desktop.gui.worker import run_in_background
from cocm_desktop.services.errors import ServerUnreachable

AWAY_TEXT = ("Clinic server not reachable — your unsaved forms stay open; saving resumes when it is back")
BACK_TEXT = "The clinic server is back; saving works again."
PING_MS = 5_000


class ServerStatus(QObject):
    #: True when the server answers again, False when it went away
    changed = Signal(bool)

    def __init__(self, ping: Callable[[], None], *, interval_ms: int = PING_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ping = ping
        self.reachable = True
        self._checking = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check_now)

    def went_away(self) -> None:
        """A save or read met ServerUnreachable: say so and start pinging until it answers."""
        if not self.reachable:
            return
        self.reachable = False
        self._timer.start()
        self.changed.emit(False)

    def check_now(self) -> None:
        """One ping off the GUI thread (never two at once); its answer updates the state."""
        if self._checking:
            return
        window = self.parent()
        if isinstance(window, QWidget) and not window.isVisible():  # signed out or closed: stop
            self._timer.stop()
            return
        self._checking = True
        run_in_background(self._ping, self._answered, self._unanswered)

    def _answered(self, _result: object) -> None:
        self._checking = False
        if not self.reachable:
            self.reachable = True
            self._timer.stop()
            self.changed.emit(True)

    def _unanswered(self, exc: BaseException) -> None:
        self._checking = False
        if isinstance(exc, ServerUnreachable):
            self.went_away()
        # any other failure (e.g. locked meanwhile) says nothing about the network: keep pinging

    def stop(self) -> None:
        self._timer.stop()


_current: ServerStatus | None = None


def current() -> ServerStatus | None:
    """The open clinic's status (None on the encrypted file, before a window installed it, or
    once that window is gone, e.g. after signing out)."""
    global _current
    if _current is not None and not shiboken6.isValid(_current):
        _current = None
    return _current


def notice(exc: BaseException) -> None:
    """Report a failure: a ServerUnreachable marks the server away (anything else is ignored)."""
    status = current()
    if isinstance(exc, ServerUnreachable) and status is not None:
        status.went_away()


def install(window: QMainWindow, ping: Callable[[], None]) -> ServerStatus:
    """The status for the window's clinic server: a status-bar label shown while it is away."""
    global _current
    if current() is not None:
        _current.stop()  # type: ignore[union-attr]
    status = ServerStatus(ping, parent=window)
    label = QLabel(AWAY_TEXT, window)
    label.setObjectName("ServerAway")
    label.setProperty("role", "error")
    label.hide()
    bar = window.statusBar()
    bar.insertPermanentWidget(0, label, 1)

    def show(reachable: bool) -> None:
        label.setVisible(not reachable)
        if reachable:
            bar.showMessage(BACK_TEXT, 8000)

    status.changed.connect(show)
    status.label = label  # type: ignore[attr-defined]
    _current = status
    from cocm_desktop.gui import errors

    if notice not in errors.FAILURE_LISTENERS:
        errors.FAILURE_LISTENERS.append(notice)
    return status


def for_window(window: QMainWindow, ctx: object) -> ServerStatus | None:
    """The main window's hook: on the clinic server, the status-bar state and the timer bar
    following it; on the encrypted file nothing (and no status left from an earlier clinic)."""
    global _current
    from cocm_desktop.services.clinic import is_server, ping

    db = ctx.db  # type: ignore[attr-defined]
    if not is_server(db):
        if current() is not None:
            _current.stop()  # type: ignore[union-attr]
        _current = None
        return None
    status = install(window, lambda: ping(db))
    timer = getattr(window, "timer", None)
    if timer is not None:
        timer.watch(status)
    return status
