"""Automatic lock after the policy's idle minutes, and the lock screen.

`IdleWatcher` is an application-wide event filter: any keyboard, mouse, wheel or touch input
stamps the time; when the policy's idle minutes have passed since the last stamp the main window
locks. Tests inject a fake clock and call `IdleWatcher.check()`.
`UnlockForm` asks the signed-in user's password (shown on the lock page and over any open dialog,
so a half-written note survives the lock without showing on screen).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.gui.resources import icon

INPUT_EVENTS = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.Wheel,
    QEvent.Type.TouchBegin, QEvent.Type.TabletPress, QEvent.Type.MouseButtonDblClick,
})


class IdleWatcher(QObject):
    """Emits `idle` once the user has given no input for `interval_ms`.

    Input only stamps the time (`clock()`, monotonic seconds): nothing is restarted per mouse
    move. One single-shot QTimer wakes up when the limit could first be reached and calls
    `check()`, which either emits `idle` or sleeps again for the time still left. `check()` is
    public and the clock injectable, so tests drive the lock with a fake clock instead of racing
    the wall clock.
    """

    idle = Signal()

    def __init__(self, interval_ms: int, parent: QObject | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._clock = clock
        self._interval = max(50, int(interval_ms)) / 1000.0
        self._last_input = clock()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.check)
        self._enabled = False
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    @property
    def interval_ms(self) -> int:
        return int(round(self._interval * 1000))

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_interval_ms(self, interval_ms: int) -> None:
        self._interval = max(50, int(interval_ms)) / 1000.0
        if self._enabled:
            self.check()

    def idle_seconds(self) -> float:
        return max(0.0, self._clock() - self._last_input)

    def start(self) -> None:
        """(Re)start watching; the idle time counts from now."""
        self._enabled = True
        self._last_input = self._clock()
        self._sleep(self._interval)

    def stop(self) -> None:
        self._enabled = False
        self._timer.stop()

    def poke(self) -> None:
        """Count as input (e.g. a long background action the user is waiting for)."""
        self._last_input = self._clock()

    def check(self) -> bool:
        """Lock now if the user has been idle long enough; True when `idle` was emitted."""
        if not self._enabled:
            return False
        remaining = self._interval - self.idle_seconds()
        if remaining <= 0:
            self.stop()
            self.idle.emit()
            return True
        self._sleep(remaining)
        return False

    def _sleep(self, seconds: float) -> None:
        self._timer.start(max(50, int(seconds * 1000) + 1))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if self._enabled and event.type() in INPUT_EVENTS:
            self._last_input = self._clock()
        return False

    def dispose(self) -> None:
        self.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)


class UnlockForm(QFrame):
    """Password box + Unlock; `unlockRequested(password)`; `signOutRequested` (“Sign in as someone else”)."""

    unlockRequested = Signal(str)
    signOutRequested = Signal()

    def __init__(self, who: str, parent: QWidget | None = None, *, compact: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("LockCard")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 22)
        layout.setSpacing(10)
        head = QHBoxLayout()
        badge = QLabel(self)
        badge.setPixmap(icon("lock", "#1F6F8B", 32).pixmap(32, 32))
        head.addWidget(badge, 0, Qt.AlignmentFlag.AlignTop)
        titles = QVBoxLayout()
        title = QLabel("CoCM Desktop is locked", self)
        title.setProperty("role", "subtitle")
        self.who_label = QLabel(who, self)
        self.who_label.setProperty("role", "muted")
        self.who_label.setWordWrap(True)
        titles.addWidget(title)
        titles.addWidget(self.who_label)
        head.addLayout(titles, 1)
        layout.addLayout(head)
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Password")
        self.password.setObjectName("unlockPassword")
        self.password.returnPressed.connect(self._submit)
        layout.addWidget(self.password)
        self.error = QLabel("", self)
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        row = QHBoxLayout()
        self.sign_out = QPushButton("Sign in as someone else", self)
        self.sign_out.setObjectName("switchUserButton")
        self.sign_out.setProperty("flat", True)
        self.sign_out.setToolTip("Closes this session. A running timer is kept and offered back at the "
                                 "next sign-in of its owner.")
        self.sign_out.clicked.connect(self.signOutRequested)
        self.sign_out.setVisible(not compact)
        self.unlock = QPushButton("Unlock", self)
        self.unlock.setProperty("primary", True)
        self.unlock.setObjectName("unlockButton")
        self.unlock.clicked.connect(self._submit)
        row.addWidget(self.sign_out)
        row.addStretch(1)
        row.addWidget(self.unlock)
        layout.addLayout(row)
        self.setMaximumWidth(420)

    def _submit(self) -> None:
        if self.password.text():
            self.unlockRequested.emit(self.password.text())

    def set_busy(self, busy: bool) -> None:
        self.unlock.setEnabled(not busy)
        self.password.setEnabled(not busy)
        self.unlock.setText("Checking…" if busy else "Unlock")

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        self.password.clear()
        self.password.setFocus()

    def reset(self) -> None:
        self.password.clear()
        self.error.hide()
        self.set_busy(False)


class LockScreen(QWidget):
    """Full-window lock page: nothing about patients, only who may unlock."""

    def __init__(self, who: str, clinic: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LockScreen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        outer = QVBoxLayout(self)
        outer.addStretch(2)
        self.clinic_label = QLabel(clinic, self)
        self.clinic_label.setProperty("role", "title")
        self.clinic_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(self.clinic_label)
        hint = QLabel("Patient information is hidden. A running timer keeps running.", self)
        hint.setProperty("role", "muted")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(hint)
        outer.addSpacing(18)
        self.form = UnlockForm(who, self)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.form, 2)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(3)


class DialogVeil(QWidget):
    """An opaque cover over an open dialog while locked (keeps what was typed, hides it)."""

    def __init__(self, dialog: QWidget, who: str) -> None:
        super().__init__(dialog)
        self.setObjectName("LockScreen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        self.form = UnlockForm(who, self, compact=True)
        layout.addWidget(self.form, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        dialog.installEventFilter(self)
        self.setGeometry(dialog.rect())
        self.raise_()
        self.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.parentWidget().rect())
        return False
