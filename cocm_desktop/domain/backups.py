"""When an automatic backup is due, when the last one is too old, and how its age reads.

Pure rules (no I/O): the store finds the newest backup on disk, the GUI and commands show what
these functions say about it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

KEEP = 7  # automatic backups kept per folder
DUE_AFTER = timedelta(hours=24)  # a new one is made once the newest is this old
STALE_AFTER = timedelta(days=2)  # older than this: the status bar warns


def backup_due(last_made: datetime | None, now: datetime) -> bool:
    """True when there is no backup yet or the newest one is 24 hours old or more."""
    return last_made is None or now - last_made >= DUE_AFTER


def backup_stale(last_made: datetime | None, now: datetime) -> bool:
    """True when there is no backup at all or the newest one is older than two days."""
    return last_made is None or now - last_made > STALE_AFTER


def describe_when(made: datetime, now: datetime) -> str:
    """'today 09:14', 'yesterday 17:02', '3 days ago (Mon 24 Nov)' — in the clock's own zone."""
    days = (now.date() - made.date()).days
    clock = made.strftime("%H:%M")
    if days <= 0:
        return f"today {clock}"
    if days == 1:
        return f"yesterday {clock}"
    return f"{days} days ago ({made.strftime('%a %d %b')})"
