"""Failed sign-ins: the growing delay after repeated failures, and their bookkeeping.

The key file (readable before the database is unlocked) counts failures per slot and keeps the
clinic's login-delay numbers; failures wait there until a good sign-in writes them to the audit
log. Callers hold the key file's lock (store.keyfile_lock) from reading the file to saving it, so
attempts from many programs at once are each counted, and each one sees the ones before it.
Callers pass the current UTC time (store.database owns the clock tests move).
"""

from __future__ import annotations

import contextlib
import math
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from cocm_desktop.domain.policy import DEFAULT_POLICY, Policy, login_delay_seconds

from . import audit
from .errors import TooManyAttempts
from .keyslots import KeyFile, keyfile_path
from .models import ClinicSetting

LOGIN_POLICY_FIELDS = ("failed_login_free_attempts", "failed_login_delay_seconds",
                       "failed_login_max_delay_seconds")


def check_delay(keyfile: KeyFile, slot: str, now: datetime) -> None:
    """The growing delay after repeated failed sign-ins (domain.policy.login_delay_seconds)."""
    failures = keyfile.failures.get(slot, 0)
    policy = DEFAULT_POLICY
    if keyfile.login_policy:
        with contextlib.suppress(ValueError, TypeError):
            policy = Policy.from_mapping(keyfile.login_policy)
    delay = login_delay_seconds(failures, policy)
    if delay <= 0:
        return
    try:
        last = datetime.fromisoformat(keyfile.failure_at[slot])
    except (KeyError, ValueError):
        return
    elapsed = (now - last).total_seconds()
    remaining = min(delay, math.ceil(delay - elapsed))
    if remaining > 0:
        raise TooManyAttempts(remaining)


def sync_login_policy(session: Session, keyfile: KeyFile) -> bool:
    """Copy the clinic policy's login-delay numbers into the sidecar (readable before unlock)."""
    row = session.get(ClinicSetting, "policy")
    try:
        policy = Policy.from_mapping(row.value if row is not None and isinstance(row.value, dict) else {})
    except (ValueError, TypeError):
        policy = DEFAULT_POLICY
    wanted = {name: getattr(policy, name) for name in LOGIN_POLICY_FIELDS}
    if wanted == {name: getattr(DEFAULT_POLICY, name) for name in LOGIN_POLICY_FIELDS}:
        wanted_or_none = None
    else:
        wanted_or_none = wanted
    if keyfile.login_policy != wanted_or_none:
        keyfile.login_policy = wanted_or_none
        return True
    return False


def note_failure(path: Path, keyfile: KeyFile, slot: str, now: datetime) -> None:
    keyfile.note_failure(slot, now.isoformat())
    _save_quietly(path, keyfile)


def note_throttled(path: Path, keyfile: KeyFile, slot: str, now: datetime) -> None:
    keyfile.note_throttled(slot, now.isoformat())
    _save_quietly(path, keyfile)


def _save_quietly(path: Path, keyfile: KeyFile) -> None:
    with contextlib.suppress(OSError):  # a read-only folder must not hide "wrong password"
        keyfile.save(keyfile_path(path))


_SUMMARIES = {"login.failure": "Failed sign-in", "login.throttled": "Sign-in refused during the delay"}


def flush_failures(session: Session, keyfile: KeyFile) -> None:
    """Failed sign-ins cannot be written while locked; they wait in the key file until now."""
    for item in keyfile.pending:
        action = item.get("action", "login.failure")
        audit.append(session, user_id=None, username=str(item.get("username", "?"))[:64],
                     action=action, summary=_SUMMARIES.get(action, "Failed sign-in"),
                     at_utc=datetime.fromisoformat(str(item["at_utc"])))
    if keyfile.pending_dropped:
        audit.append(session, user_id=None, username="?", action="login.failure",
                     summary=f"{keyfile.pending_dropped} more failed sign-ins (not listed one by one)",
                     detail={"count": keyfile.pending_dropped})
