"""Run slow work off the GUI thread and get the result back on it.

`run_in_background(fn, on_done, on_error)` runs `fn()` on a small thread pool (writes: on
`WRITE_POOL`, see gui.operations); the callbacks run on the GUI thread. Callbacks that are bound methods of a QObject are skipped when that object has
been deleted meanwhile. `BusyOverlay` greys a pane and spins while its data loads; `PaneLoad` is
what a pane does when its load fails.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QObject, QRectF, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cocm_desktop.services.errors import SessionLocked

POOL = QThreadPool()
POOL.setMaxThreadCount(2)
#: writes (gui.operations) run here, one at a time in the order they were made
WRITE_POOL = QThreadPool()
WRITE_POOL.setMaxThreadCount(1)
_pending: set[Task] = set()


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)


class Task(QRunnable):
    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.signals = _Signals()

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as exc:  # handed to the GUI thread, shown there
            self.signals.failed.emit(exc)
        else:
            self.signals.done.emit(result)


def callback_alive(callback: Callable[..., Any] | None) -> bool:
    owner = getattr(callback, "__self__", None)
    return not (isinstance(owner, QObject) and not shiboken6.isValid(owner))


def run_in_background(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None] | None = None,
    *,
    pool: QThreadPool | None = None,
) -> Task:
    task = Task(fn)
    _pending.add(task)

    def finished_ok(result: Any) -> None:
        _pending.discard(task)
        if callback_alive(on_done):
            on_done(result)

    def finished_bad(exc: BaseException) -> None:
        _pending.discard(task)
        if on_error is not None:
            if callback_alive(on_error):
                on_error(exc)
        else:
            from cocm_desktop.gui.errors import show_error

            show_error(None, exc)

    task.signals.done.connect(finished_ok, Qt.ConnectionType.QueuedConnection)
    task.signals.failed.connect(finished_bad, Qt.ConnectionType.QueuedConnection)
    (pool or POOL).start(task)
    return task


class PaneLoad:
    """Mixin of a pane that loads its data with `run_in_background`, each load stamped with
    `self._generation` (a newer load or a lock bumps it); `self.loading` is True meanwhile and
    `self.busy` is the pane's `BusyOverlay`."""

    def _failed(self, generation: int, exc: BaseException) -> None:
        """The load's error callback: a superseded load is ignored; otherwise the pane stops loading
        and shows the error, unless the session locked meanwhile (the lock screen is showing)."""
        if generation != self._generation:
            return
        self.loading = False
        self.busy.stop()
        if not isinstance(exc, SessionLocked):
            from cocm_desktop.gui.errors import show_error

            show_error(self, exc)


class LoadQueue:
    """A pane's loads, one at a time. A load asked for while one runs waits for it, and any number
    of asks meanwhile merge into one: a whole-list load swallows the few-patient ones (a busy team's
    stream of change events costs at most one extra read, never one per event)."""

    def __init__(self, start_all: Callable[[], None],
                 start_some: Callable[[frozenset[int]], None] | None = None) -> None:
        self._start_all = start_all
        self._start_some = start_some
        self.running = False
        self._all = False
        self._some: set[int] = set()

    def all(self) -> None:
        self._all = True
        self._next()

    def some(self, patient_ids: frozenset[int]) -> None:
        if self._start_some is None:
            self.all()
            return
        self._some |= patient_ids
        self._next()

    def ended(self) -> None:
        """The running load's result or failure arrived (applied or not): start the next one."""
        self.running = False
        self._next()

    def drop(self) -> None:
        """Forget what was asked for (the pane was cleared for the lock)."""
        self._all = False
        self._some.clear()

    def _next(self) -> None:
        if self.running:
            return
        if self._all:
            self._all = False
            self._some.clear()
            self.running = True
            self._start_all()
        elif self._some and self._start_some is not None:
            ids = frozenset(self._some)
            self._some.clear()
            self.running = True
            self._start_some(ids)


def busy() -> bool:
    """True while any background task has not yet delivered its result (tests wait on this)."""
    return bool(_pending)


def wait_all(timeout_ms: int = 30_000) -> bool:
    """Block until every background task has finished and delivered its result (sign-out,
    closing a clinic, test teardown): no worker may still use a database being closed.
    Results delivered meanwhile may start new tasks; those are waited for too. False on timeout."""
    from PySide6.QtCore import QCoreApplication, QDeadlineTimer

    deadline = QDeadlineTimer(timeout_ms)
    while True:
        for pool in (WRITE_POOL, POOL):
            if not pool.waitForDone(max(0, deadline.remainingTime())):
                return False
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents()
        if not _pending and POOL.activeThreadCount() == 0 and WRITE_POOL.activeThreadCount() == 0:
            return True
        if deadline.hasExpired():
            return False


class Spinner(QWidget):
    """A small rotating arc (no GIFs, crisp at any DPI)."""

    def __init__(self, parent: QWidget | None = None, size: int = 28, color: str = "#1F6F8B") -> None:
        super().__init__(parent)
        self.setFixedSize(size, size)
        self._angle = 0
        self._color = QColor(color)
        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self._tick)

    def showEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QEvent) -> None:  # noqa: N802
        self._timer.stop()
        super().hideEvent(event)

    def _tick(self) -> None:
        self._angle = (self._angle + 12) % 360
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w = max(2.0, self.width() / 9)
        rect = QRectF(w, w, self.width() - 2 * w, self.height() - 2 * w)
        track = QColor(self._color)
        track.setAlpha(40)
        p.setPen(QPen(track, w))
        p.drawEllipse(rect)
        p.setPen(QPen(self._color, w, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawArc(rect, int(-self._angle * 16), int(-100 * 16 - 40 * 16 * math.sin(math.radians(self._angle))))
        p.end()


class BusyOverlay(QWidget):
    """Covers its parent with a translucent veil, a spinner and a short message."""

    def __init__(self, parent: QWidget, text: str = "Loading…") -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setObjectName("BusyOverlay")
        layout = QVBoxLayout(self)
        layout.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.spinner = Spinner(self)
        self.label = QLabel(text, self)
        self.label.setProperty("role", "muted")
        layout.addWidget(self.spinner, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.label, 0, Qt.AlignmentFlag.AlignHCenter)
        parent.installEventFilter(self)
        self.hide()

    def start(self, text: str | None = None) -> None:
        if text:
            self.label.setText(text)
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        self.show()

    def stop(self) -> None:
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self.setGeometry(self.parentWidget().rect())
        return False

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(244, 246, 249, 200))
        p.end()
