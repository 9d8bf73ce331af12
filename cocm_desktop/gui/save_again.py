"""A form's save across a lost connection to the clinic server: the form stays open with what was
typed, its Save button becomes "Save again", and the save is applied once.

`SaveOnce(dialog, button, show_error, fn)` wraps the form's service write in
services.submissions.once (one submission id for the form's life; a FormDialog's caller wraps its
own submit and passes fn=None): when the connection dropped
while the server committed, the next attempt finds the first one saved and returns
AlreadySaved instead of writing twice. When the server is back (gui.server_status) the form says
so. If what was typed changed between a possibly-saved attempt and the one that found it saved,
the form says the later changes were not saved (they are corrected in the chart).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from cocm_desktop.gui import server_status
from cocm_desktop.gui.errors import describe, note_failure
from cocm_desktop.services.errors import ServerUnreachable
from cocm_desktop.services.submissions import AlreadySaved, once

SAVE_AGAIN = "Save again"
BACK_NOTE = "The clinic server is back: press Save again (it is saved once, never twice)."
CHANGED_NOTE = ("It was saved as it stood when the connection was lost; the changes made since were not "
                "saved. Correct the saved entry in the chart.")


class SaveOnce(QObject):
    def __init__(self, dialog: QWidget, button: QAbstractButton, show_error: Callable[[str], None],
                 fn: Callable[..., Any] | None = None) -> None:
        super().__init__(dialog)
        self.dialog = dialog
        self.button = button
        self.show_error = show_error
        self.call = once(fn) if fn is not None else None
        self.waiting = False  # the last attempt met a lost server
        self._maybe_saved: object = None  # what was sent when the server may have saved it
        status = server_status.current()
        if status is not None:
            status.changed.connect(self._server_changed)

    def failed(self, exc: BaseException, sent: object = None) -> None:
        """Show why the save failed; a lost server keeps the form for Save again."""
        note_failure(exc)
        if isinstance(exc, ServerUnreachable):
            self.waiting = True
            self.button.setText(SAVE_AGAIN)
            if exc.maybe_saved and self._maybe_saved is None:
                self._maybe_saved = sent
            self.show_error(str(exc))
        else:
            self.show_error(describe(exc)[1])

    def saved(self, result: Any, sent: object = None) -> None:
        """After a save that went through (maybe found already saved): say what a user must know."""
        self.waiting = False
        if isinstance(result, AlreadySaved) and self._maybe_saved is not None and sent != self._maybe_saved:
            QMessageBox.information(self.dialog, "Saved before the connection was lost", CHANGED_NOTE)

    def _server_changed(self, reachable: bool) -> None:
        if reachable and self.waiting:
            self.show_error(BACK_NOTE)
