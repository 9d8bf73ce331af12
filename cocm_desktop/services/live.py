"""Live refresh: what other workstations save on the clinic server, as ChangeEvents.

`listen(db, on_event)` starts a listener (its own connection and thread) and returns it; the
callback runs on the listener's thread, so a GUI hands the event to its own thread (gui.live_bridge).
An event from this same open clinic (its own echo) is dropped: the window that wrote has refreshed
already. After the connection was lost and came back, one event with every kind and `many` says
"anything may have changed while we were not listening". The encrypted file has one writer at a
time on one computer: nothing to listen to there (`listen` returns None).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from cocm_desktop.store.server_database import ServerDatabase
from cocm_desktop.store.server_notify import NotifyListener

from .changes import CHANNEL, Change, ChangeEvent
from .clinic import Clinic


class LiveChanges:
    """A running listener; `close()` stops it (the window closes, the user signs out)."""

    def __init__(self, listener: NotifyListener) -> None:
        self._listener = listener

    @property
    def connected(self) -> bool:
        return self._listener.connected

    def wait_connected(self, timeout: float = 5.0) -> bool:
        return self._listener.wait_connected(timeout)

    def close(self) -> None:
        self._listener.close()


def everything_changed() -> ChangeEvent:
    """The event a gap in listening stands for: any kind, any patient."""
    return ChangeEvent(kinds=frozenset(Change), many=True, at=datetime.now(UTC))


def listen(db: Clinic, on_event: Callable[[ChangeEvent], None], *, own: bool = False,
           on_state: Callable[[bool], None] | None = None) -> LiveChanges | None:
    """Call `on_event` (on another thread) for each change other workstations commit.

    `own=True` also delivers this clinic connection's own writes (tests, a second view that did
    not write). `on_state(connected)` follows the listening connection.
    """
    if not isinstance(db, ServerDatabase):
        return None
    origin = db.origin

    def deliver(payload: str) -> None:
        change = ChangeEvent.from_payload(payload)
        if change is None or (not own and change.origin == origin):
            return
        on_event(change)

    listener = NotifyListener(db.listen_connection, deliver, channel=CHANNEL,
                              on_gap=lambda: on_event(everything_changed()), on_state=on_state)
    return LiveChanges(listener.start())
