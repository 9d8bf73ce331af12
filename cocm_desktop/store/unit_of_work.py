"""One unit of work on either engine, the way the app's writes should run it.

`run(db, work)` calls `work(session)` in one session and commits. On the clinic server a unit of
work the server rolled back to break a deadlock or a serialization conflict is run again from its
start (ServerDatabase.run: a few attempts, jittered waits), so a collision between workstations
costs a few milliseconds instead of a "try again" dialog. The encrypted file has one writer at a
time and nothing to retry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from .clinic_db import ClinicDatabase

T = TypeVar("T")


def run(db: ClinicDatabase, work: Callable[[Session], T]) -> T:
    """`work(session)` committed once; ServerBusy only when the server stayed busy."""
    return db.run(work)
