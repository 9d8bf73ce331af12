"""The signed-in user's working context: the open database, who acts, clinic policy, and one
change broadcast (Anki's pattern: every write is an operation, `write()`, run off the GUI thread;
its typed `ChangeEvent` goes out once on `changes`, and each pane decides from it what to refresh
instead of anyone calling the panes).
"""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtWidgets import QWidget

from cocm_desktop import APP_ID, APP_NAME
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.policy import DEFAULT_POLICY, Policy
from cocm_desktop.domain.roles import Permission, Role, can
from cocm_desktop.reports.output import remove_leftovers
from cocm_desktop.services.changes import Change, ChangeEvent
from cocm_desktop.services.clinic import Clinic

if TYPE_CHECKING:
    from cocm_desktop.gui.operations import Changes, Operation

T = TypeVar("T")


@functools.cache
def _takes_patient_id(fn: Callable[..., Any]) -> bool:
    try:
        return "patient_id" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def settings() -> QSettings:
    """Per-user app settings (window state, last clinic path). Never patient data."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, APP_NAME, APP_ID)


class AppContext(QObject):
    #: a ChangeEvent: after each write of this window, and (from `publish`) from other workstations
    changes = Signal(object)
    #: True while a write has run longer than BUSY_AFTER_MS (the status bar spins); False when none runs
    busyChanged = Signal(bool)
    #: the clinic policy was read again after a POLICY change (the idle lock follows it)
    policyReloaded = Signal()

    def __init__(self, db: Clinic, *, demo: bool = False) -> None:
        super().__init__()
        self.db = db
        #: this app instance, the `origin` of its events (its own events coming back are not news)
        self.instance_id = uuid.uuid4().hex
        self._running: list[Operation] = []
        self._busy = False
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.timeout.connect(self._check_busy)
        self.demo = demo
        assert db.actor is not None
        self.actor: Actor = db.actor
        self.policy: Policy = DEFAULT_POLICY
        self.clinic_name = "Clinic"
        self.reload_settings()
        # Every GUI session on a database starts here: temp copies of saves killed earlier go.
        remove_leftovers(db.path.parent)

    @property
    def on_server(self) -> bool:
        """The clinic is on the clinic server (not the encrypted file on this computer)."""
        from cocm_desktop.services.clinic import is_server

        return is_server(self.db)

    def reload_settings(self) -> None:
        from cocm_desktop.services.common import clinic_name, load_policy

        with self.db.session() as s:
            self.policy = load_policy(s)
            self.clinic_name = clinic_name(s)

    # ---- permissions (for enabling buttons; services enforce) -------------------------------
    @property
    def role(self) -> Role:
        return Role(self.actor.role)

    def can(self, permission: Permission | str) -> bool:
        return can(self.actor.role, permission)

    # ---- units of work --------------------------------------------------------------------
    def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(session, actor, …)` in one session (safe from a worker thread)."""
        with self.db.session() as s:
            return fn(s, self.actor, *args, **kwargs)

    def write(self, fn: Callable[..., Any], *args: Any, changes: Changes, patient_id: int | None = None,
              done: Callable[[Any], None] | None = None, failed: Callable[[BaseException], None] | None = None,
              parent: QWidget | None = None, **kwargs: Any) -> Operation:
        """Start `fn(session, actor, *args, **kwargs)` as an operation: one session on the write
        thread; then, on the GUI thread, `done(result)` and the `changes` event (the kinds it
        changed, for `patient_id`). Returns at once; `failed(exc)` (else the error dialog over
        `parent`) hears of a refusal or failure, and nothing is published then.

        `patient_id` is passed on to `fn` too when `fn` takes a `patient_id` parameter.
        """
        if patient_id is not None and _takes_patient_id(fn):
            kwargs["patient_id"] = patient_id
        db, actor = self.db, self.actor

        def work() -> Any:  # run again from its start if the clinic server rolled it back (a deadlock)
            return db.run(lambda s: fn(s, actor, *args, **kwargs))

        return self.perform(work, changes=changes, patient_id=patient_id, done=done, failed=failed, parent=parent)

    def perform(self, work: Callable[[], Any], *, changes: Changes, patient_id: int | None = None,
                done: Callable[[Any], None] | None = None, failed: Callable[[BaseException], None] | None = None,
                parent: QWidget | None = None) -> Operation:
        """`write` for a service that opens its own sessions (`work()` runs on the write thread)."""
        from cocm_desktop.gui.operations import Operation

        op = Operation(self, work, changes, patient_id=patient_id, parent=parent)
        return op.on_done(done).on_failed(failed).start()

    def publish(self, event: ChangeEvent) -> None:
        """Tell every pane about a change: this window's writes, and (live refresh) other
        workstations'. A POLICY change reloads the policy first, so panes refresh with the new one."""
        if event.has(Change.POLICY) and not self.db.locked:
            self.reload_settings()
            self.policyReloaded.emit()
        self.changes.emit(event)

    # ---- running operations (the busy indicator) ---------------------------------------------
    @property
    def busy(self) -> bool:
        """A write is running (the status bar shows it once it takes longer than BUSY_AFTER_MS)."""
        return bool(self._running)

    def operation_started(self, op: Operation) -> None:
        from cocm_desktop.gui.operations import BUSY_AFTER_MS

        self._running.append(op)
        if not self._busy_timer.isActive() and not self._busy:
            self._busy_timer.start(BUSY_AFTER_MS)

    def operation_finished(self, op: Operation) -> None:
        if op in self._running:
            self._running.remove(op)
        if not self._running:
            self._busy_timer.stop()
            if self._busy:
                self._busy = False
                self.busyChanged.emit(False)

    def _check_busy(self) -> None:
        if self._running and not self._busy:
            self._busy = True
            self.busyChanged.emit(True)

    def close(self) -> None:
        self.db.close()
