"""The store's errors under the names the GUI and the commands catch (they never import `store`).

Each carries a one-sentence message and a `title` (e.g. "Wrong username or password"); see
store.errors for what tells them apart. Light to import: the command line's top level uses it.
"""

from __future__ import annotations

from cocm_desktop.store.errors import (
    DatabaseLocked,
    EditConflict,
    RestoreRefused,
    ServerUnreachable,
    SessionLocked,
    StoreError,
    WrongCredentials,
)

__all__ = [
    "DatabaseLocked", "EditConflict", "RestoreRefused", "ServerUnreachable", "SessionLocked", "StoreError",
    "WrongCredentials",
]
