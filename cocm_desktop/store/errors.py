"""Errors the store tells apart, each with a message a clinician can act on.

Messages never carry a key, a password or anything identifying a patient: they may be shown
in a dialog, printed by the CLI or written to a log.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class: `str(err)` is the plain-language message for the user."""

    title = "Cannot open the clinic database"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DatabaseNotFound(StoreError):
    pass


class WrongCredentials(StoreError):
    title = "Sign-in failed"

    def __init__(self) -> None:
        super().__init__("Wrong username or password. Check both and try again.")


class NotACocmDatabase(StoreError):
    pass


class KeyFileMismatch(StoreError):
    pass


class DatabaseDamaged(StoreError):
    pass


class NewerSchema(StoreError):
    pass


class DatabaseLocked(StoreError):
    pass


class ReadOnlyLocation(StoreError):
    title = "Cannot save"


class DiskFull(StoreError):
    title = "Cannot save"

    def __init__(self) -> None:
        super().__init__(
            "The disk is full, so the last change was not saved. Nothing was half-saved. "
            "Free some space (or ask IT), then try again."
        )


class NetworkShare(StoreError):
    pass


class TooManyAttempts(StoreError):
    """Sign-in refused without trying the password: the growing delay after repeated failures."""

    title = "Sign-in paused"

    def __init__(self, wait_seconds: int) -> None:
        self.wait_seconds = wait_seconds
        unit = "second" if wait_seconds == 1 else "seconds"
        super().__init__(f"Too many failed sign-ins; wait {wait_seconds} {unit}, then try again.")


class SessionLocked(StoreError):
    """The session was locked (idle or by hand); nothing can be read or saved until unlocked."""

    title = "Locked"

    def __init__(self) -> None:
        super().__init__("CoCM Desktop is locked. Sign in again to continue; nothing was read or saved.")


class BackupFailed(StoreError):
    title = "Backup not made"


class RestoreRefused(StoreError):
    title = "Restore refused"


class EditConflict(StoreError):
    """Someone else saved this record after this person's form read it: nothing was saved.

    Services say who changed it, when and what (services.versions); the store's own check at
    flush time (a row that moved on between the read and the UPDATE) says it plainly."""

    title = "Changed by someone else"

    def __init__(self, message: str | None = None, *, current_version: int | None = None) -> None:
        super().__init__(message or (
            "Someone else changed this record while you were saving it. Your change was not saved; "
            "review theirs and save again."
        ))
        #: the version the record holds now: a form that showed the other change saves over it
        #: with this one (a third change meanwhile is refused again)
        self.current_version = current_version


class ServerUnreachable(StoreError):
    """The clinic server did not answer, or the connection to it was lost.

    `maybe_saved` is True only when the connection dropped while the server was committing: the
    change may have landed. A form that sends its submission id again ("Save again",
    services.submissions) is then not saved twice."""

    title = "Clinic server not reachable"

    def __init__(self, message: str, *, maybe_saved: bool = False) -> None:
        super().__init__(message)
        self.maybe_saved = maybe_saved
