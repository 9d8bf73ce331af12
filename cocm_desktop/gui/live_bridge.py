"""Live refresh in the window: changes other workstations commit, on the GUI thread.

`LiveBridge` owns the listener (services.live) and re-emits each ChangeEvent as a Qt signal, which
Qt queues to the thread the bridge lives in (the GUI thread). `LiveRefresh` is a window's use of
it: an open form for a patient someone else just changed gets a notice ("Changed by … at …") and
is never reloaded under the user — what they typed stays, the other person's change is already
saved, and saving adds theirs; then the window refreshes its panes (`deliver`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QBoxLayout, QDialog, QLabel, QWidget

from cocm_desktop.services import live
from cocm_desktop.services.changes import ChangeEvent
from cocm_desktop.services.clinic import Clinic

NOTICE_NAME = "LiveChangeNotice"


class LiveBridge(QObject):
    """The listener's events, re-emitted on the thread this object lives in."""

    received = Signal(object)  # ChangeEvent
    connectionChanged = Signal(bool)  # noqa: N815 - Qt's naming

    def __init__(self, db: Clinic, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._closed = False
        self._live = live.listen(db, self._from_listener, on_state=self._state)

    @property
    def listening(self) -> bool:
        return self._live is not None and self._live.connected

    def wait_connected(self, timeout: float = 5.0) -> bool:
        return self._live is not None and self._live.wait_connected(timeout)

    def _from_listener(self, change: ChangeEvent) -> None:  # the listener's thread
        if not self._closed:
            self.received.emit(change)  # queued to the GUI thread

    def _state(self, connected: bool) -> None:  # the listener's thread
        if not self._closed:
            self.connectionChanged.emit(connected)

    def close(self) -> None:
        self._closed = True
        if self._live is not None:
            self._live.close()
            self._live = None


class LiveRefresh(QObject):
    """A window's live refresh: notices in open forms, then `deliver(change)` refreshes panes."""

    def __init__(self, window: QWidget, db: Clinic, deliver: Callable[[ChangeEvent], None]) -> None:
        super().__init__(window)
        self._window = window
        self._db = db
        self._deliver = deliver
        self._names: dict[str, str] = {}
        self.bridge = LiveBridge(db, self)
        self.bridge.received.connect(self._arrived)

    def close(self) -> None:
        self.bridge.close()

    def _arrived(self, change: ChangeEvent) -> None:
        if change.by is not None:  # a gap after a reconnect names nobody: panes reload, forms stay
            for dialog in open_forms(self._window, change):
                show_notice(dialog, notice_text(self.name_of(change.by), change.at))
        self._deliver(change)

    def name_of(self, username: str) -> str:
        """A colleague's display name (staff names, not PHI); the username when unknown."""
        if username not in self._names:
            from cocm_desktop.services.users import list_staff

            try:
                self._names = {u.username: u.display_name for u in list_staff(self._db, include_inactive=True)}
            except Exception:  # noqa: BLE001 - a notice must not fail for want of a name
                return username
        return self._names.get(username, username)


def notice_text(name: str, at: datetime) -> str:
    when = at.astimezone().strftime("%H:%M")  # the writer's commit time, in this computer's zone
    return f"Changed by {name} at {when} — your edits are kept; save to add yours."


def form_patient(dialog: QWidget) -> int | None:
    """The patient a form works on: its own `patient_id`, else that of the pane that opened it."""
    widget: QObject | None = dialog
    while widget is not None:
        pid = getattr(widget, "patient_id", None)
        if isinstance(pid, int):
            return pid
        widget = widget.parent()
    return None


def open_forms(window: QWidget, change: ChangeEvent) -> list[QDialog]:
    """The visible dialogs of `window` (opened from it, at any depth) for a patient in `change`."""
    found = []
    for widget in QApplication.topLevelWidgets():
        if not (isinstance(widget, QDialog) and widget.isVisible() and _opened_from(widget, window)):
            continue
        pid = form_patient(widget)
        if pid is not None and change.touches(pid):
            found.append(widget)
    return found


def _opened_from(dialog: QWidget, window: QWidget) -> bool:
    parent = dialog.parentWidget()
    while parent is not None:
        if parent is window:
            return True
        parent = parent.parentWidget()
    return False


def show_notice(dialog: QWidget, text: str) -> QLabel:
    """A banner at the top of `dialog` (one; a later change updates its text). Nothing typed moves."""
    label = dialog.findChild(QLabel, NOTICE_NAME)
    if label is None:
        label = QLabel(dialog)
        label.setObjectName(NOTICE_NAME)
        label.setProperty("role", "notice")
        label.setWordWrap(True)
        layout = dialog.layout()
        if isinstance(layout, QBoxLayout):
            layout.insertWidget(0, label)
        elif layout is not None:
            layout.addWidget(label)
    label.setText(text)
    label.show()
    return label
