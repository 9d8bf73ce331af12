"""The key file's inter-process lock: every change to `<db>.keys` happens while holding it.

Two programs that each read the key file, change their copy and write it back undo each other's
change (a user added by one loses their slot; a password changed by one comes back). So every
change — a slot added, replaced or removed, a re-key, a failed sign-in counted — takes this lock,
reads the file fresh under it and replaces it atomically before letting go. Sign-in holds it too,
from reading the key file until the database has opened, so it sees a re-key either not yet begun
or finished, never half done.

The lock is an OS lock (released by the OS if the holder dies) on `<db>.keys.lock`, taken through
the `filelock` library (flock on Unix, LockFileEx on Windows). It is reentrant within one thread:
a re-key started from inside a sign-in does not wait for itself.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import StoreError

# Long enough for a re-key of a large clinic (seconds) or a migration at sign-in; short enough
# that a program stuck while holding it does not leave the others waiting without a word.
LOCK_TIMEOUT_S = 120.0


class KeyFileBusy(StoreError):
    title = "Please wait"

    def __init__(self) -> None:
        super().__init__(
            "Another CoCM Desktop program is changing this clinic's key file (a user being added "
            "or removed, or a re-key) and has not finished. Try again in a minute."
        )


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".keys.lock")


@contextlib.contextmanager
def key_file_lock(db_path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the key file's exclusive lock for the block.

    In a folder we may not write to, no lock file can be made; nothing can change the key file
    there either, so reading it unlocked is safe (it is only ever replaced whole).
    """
    path = lock_path(db_path)
    lock = FileLock(path, timeout=timeout, mode=0o600, is_singleton=True)
    try:
        lock.acquire()
    except Timeout:
        raise KeyFileBusy() from None
    except OSError:
        if os.access(db_path.parent, os.W_OK | os.X_OK):
            raise
        yield  # read-only folder
        return
    try:
        yield
    finally:
        lock.release()
