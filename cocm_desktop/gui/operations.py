"""Operations: every write runs off the GUI thread and ends in one typed change event.

Learnt from Anki's `aqt.operations` (CollectionOp + OpChanges + `operation_did_execute`): a write is
an `Operation` — `work()` on the write thread (one session per operation, opened there), then on
the GUI thread the caller's `done(result)` and `AppContext.publish(event)`; every pane listens to
the one `AppContext.changes` signal and decides from the event's kinds and patient ids what to
refresh. A failure goes to the caller's `failed(exc)`, else to `gui.errors.show_error`.

Writes of one workstation run one at a time, in the order they were made (their own pool of one
thread): a fast second write never overtakes a slow first one, and reads (pane loads) never queue
behind a slow save.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from cocm_desktop.services.changes import Change, ChangeEvent
from cocm_desktop.services.errors import EditConflict

if TYPE_CHECKING:
    from cocm_desktop.gui.context import AppContext

#: an operation runs longer than this before the busy indicator shows (shorter saves never flicker)
BUSY_AFTER_MS = 150

#: what a write changed: a kind, several kinds, a whole event, or a function of the result
Changes: TypeAlias = Change | Iterable[Change] | ChangeEvent | Callable[[Any], "Change | Iterable[Change] | ChangeEvent"]


def change_event(changes: Changes, result: Any, patient_id: int | None, *, by: str | None,
                 origin: str | None) -> ChangeEvent:
    """The event of a finished write: `changes` (resolved against the result when callable) with
    the patient the write was for, the writer and this app instance filled in."""
    spec: Any = changes(result) if callable(changes) else changes
    if isinstance(spec, ChangeEvent):
        ids = spec.patient_ids | ({patient_id} if patient_id is not None else set())
        return ChangeEvent(kinds=spec.kinds, patient_ids=frozenset(ids), many=spec.many,
                           by=spec.by or by, at=spec.at, origin=spec.origin or origin)
    kinds = frozenset({spec}) if isinstance(spec, Change) else frozenset(spec)
    if not kinds:
        raise ValueError("an operation must say what it changes")
    ids = frozenset({patient_id}) if patient_id is not None else frozenset()
    return ChangeEvent(kinds=kinds, patient_ids=ids, by=by, origin=origin)


class Operation(QObject):
    """One write. `on_done` / `on_failed` may be added until it finishes (results arrive through
    the GUI event loop, never during the call that started it)."""

    ended = Signal()  # after the callbacks and the event, success or not

    def __init__(self, ctx: AppContext, work: Callable[[], Any], changes: Changes, *,
                 patient_id: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.work = work
        self.changes = changes
        self.patient_id = patient_id
        self.parent_widget = parent  # where a failure is shown when nobody handles it
        self.running = False
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.event: ChangeEvent | None = None
        self._done: list[Callable[[Any], None]] = []
        self._failed: list[Callable[[BaseException], None]] = []

    def on_done(self, callback: Callable[[Any], None] | None) -> Operation:
        if callback is not None:
            self._done.append(callback)
        return self

    def on_failed(self, callback: Callable[[BaseException], None] | None) -> Operation:
        if callback is not None:
            self._failed.append(callback)
        return self

    def start(self) -> Operation:
        from cocm_desktop.gui.worker import WRITE_POOL, run_in_background

        assert not self.running and not self.finished, "an operation runs once"
        self.running = True
        self.ctx.operation_started(self)
        by, origin = self.ctx.actor.username, self.ctx.instance_id

        def run() -> tuple[Any, ChangeEvent]:
            result = self.work()  # commits before the event is made: an event is news of a commit
            return result, change_event(self.changes, result, self.patient_id, by=by, origin=origin)

        run_in_background(run, self._succeeded, self._failed_with, pool=WRITE_POOL)
        return self

    def _succeeded(self, outcome: tuple[Any, ChangeEvent]) -> None:
        self.result, self.event = outcome
        self._finish()
        try:
            for callback in self._done:
                if _alive(callback):
                    callback(self.result)
        finally:  # the caller has taken its result (e.g. chosen the new row); now everyone refreshes
            self.ctx.publish(self.event)
            self.ended.emit()

    def _failed_with(self, exc: BaseException) -> None:
        self.error = exc
        self._finish()
        handlers = [c for c in self._failed if _alive(c)]
        if not handlers:
            from cocm_desktop.gui.errors import show_error

            parent = self.parent_widget if _alive_widget(self.parent_widget) else None
            show_error(parent, exc)
        try:
            for callback in handlers:
                callback(exc)
        finally:
            if isinstance(exc, EditConflict):
                self._show_theirs()
            self.ended.emit()

    def _show_theirs(self) -> None:
        """Refused because someone else changed the record: the panes showing it reload, so the
        person sees the change the message names (on the file engine no live event brings it)."""
        if callable(self.changes):
            return  # its kinds depend on a result there is not
        try:
            event = change_event(self.changes, None, self.patient_id, by=None, origin=None)
        except ValueError:
            return
        self.ctx.publish(event)

    def _finish(self) -> None:
        self.running = False
        self.finished = True
        self.ctx.operation_finished(self)


def hold_while_running(op: Operation, *widgets: QWidget) -> Operation:
    """Disable `widgets` (a form's Save and Cancel) until `op` has ended: nothing is saved twice
    and a form is not closed under its save."""
    for w in widgets:
        w.setEnabled(False)

    def release() -> None:
        for w in widgets:
            if _alive_widget(w):
                w.setEnabled(True)

    op.ended.connect(release)
    return op


def _alive(callback: Callable[..., Any]) -> bool:
    from cocm_desktop.gui.worker import callback_alive

    return callback_alive(callback)


def _alive_widget(widget: QWidget | None) -> bool:
    import shiboken6

    return widget is not None and shiboken6.isValid(widget)
