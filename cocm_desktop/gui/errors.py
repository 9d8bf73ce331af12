"""Every refusal or fault becomes a plain dialog; never a traceback on a clinician's screen.

`describe(exc)` turns the errors users can cause into (title, message). Services and the store
already phrase their messages for a clinician and keep PHI out of them. Anything else is a bug:
`install_excepthook()` shows a generic "nothing was half-saved" dialog and logs the exception
type and the code location only (never its message or locals, which could hold patient data).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.services.common import NotFound, ValidationError
from cocm_desktop.services.errors import StoreError

log = logging.getLogger("cocm_desktop.gui")

GENERIC_TITLE = "Something went wrong"
GENERIC_MESSAGE = (
    "Something went wrong; nothing was half-saved. What you were doing was not completed — "
    "check it and try again. If it keeps happening, tell your clinic lead (the error was noted "
    "in the app log without any patient details)."
)

#: Called with every error shown (gui.server_status notes a clinic server gone away).
FAILURE_LISTENERS: list[Callable[[BaseException], None]] = []

#: Errors a user can cause (or meet) in normal work; shown as they are.
EXPECTED: tuple[type[BaseException], ...] = (StoreError, ValidationError, PermissionDenied, NotFound)


def _domain_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for module, name in (
        ("cocm_desktop.domain.episode", "TransitionError"),
        ("cocm_desktop.domain.case_review", "RecommendationError"),
        ("cocm_desktop.domain.billing", "RuleSetError"),
    ):
        try:
            mod = __import__(module, fromlist=[name])
            found.append(getattr(mod, name))
        except (ImportError, AttributeError):  # pragma: no cover - optional
            continue
    return tuple(found)


DOMAIN_REFUSALS = _domain_errors()


def is_expected(exc: BaseException) -> bool:
    return isinstance(exc, EXPECTED + DOMAIN_REFUSALS)


def describe(exc: BaseException) -> tuple[str, str]:
    """(title, message) for a dialog."""
    if isinstance(exc, PermissionDenied):
        return "Not allowed", str(exc)
    if isinstance(exc, StoreError):
        return exc.title, str(exc)
    if isinstance(exc, NotFound):
        return "Not found", str(exc) or "That record no longer exists; the view has been refreshed."
    if isinstance(exc, (ValidationError, *DOMAIN_REFUSALS)):
        return "Not saved", str(exc)
    return GENERIC_TITLE, GENERIC_MESSAGE


def log_without_phi(exc: BaseException, tb: TracebackType | None = None) -> None:
    """Exception type and where it happened (file:line:function), nothing else."""
    frames = traceback.extract_tb(tb or exc.__traceback__)
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in reversed(frames[-8:]))
    log.error("unexpected %s at %s", type(exc).__name__, where or "?")


def show_error(parent: QWidget | None, exc: BaseException, *, log_it: bool = True) -> None:
    """Show one error dialog; unexpected errors are logged without PHI first."""
    if log_it and not is_expected(exc):
        log_without_phi(exc)
    note_failure(exc)
    title, message = describe(exc)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning if is_expected(exc) else QMessageBox.Icon.Critical)
    box.setWindowTitle(title)
    box.setText(message)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setObjectName("ErrorDialog")
    box.exec()


def note_failure(exc: BaseException) -> None:
    """Tell the listeners (the server status) about an error, also one shown inside a form."""
    for listener in FAILURE_LISTENERS:
        listener(exc)


class _Relay(QObject):
    """Excepthooks can run outside the GUI thread: hop to it before touching widgets."""

    raised = Signal(object)


_relay: _Relay | None = None
_showing = False


def _show_from_hook(exc: BaseException) -> None:
    global _showing
    if _showing:  # an error inside the error dialog must not stack dialogs
        return
    _showing = True
    try:
        app = QApplication.instance()
        parent = app.activeWindow() if isinstance(app, QApplication) else None
        show_error(parent, exc, log_it=False)
    finally:
        _showing = False


def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    if not is_expected(exc):
        log_without_phi(exc, tb)
        exc.__traceback__ = None  # already logged; the dialog must not log again
        exc = _Unexpected()
    if _relay is not None:
        _relay.raised.emit(exc)


class _Unexpected(Exception):
    pass


def install_excepthook() -> None:
    global _relay
    if _relay is None:
        _relay = _Relay()
        _relay.raised.connect(lambda e: QTimer.singleShot(0, lambda: _show_from_hook(e)),
                              Qt.ConnectionType.QueuedConnection)
    sys.excepthook = excepthook
