"""The signed-in user's working context: the open database, who acts, clinic policy, and one
change broadcast (Anki's pattern: every write goes through `write()`, which emits `changed`
once; panes refresh from it instead of calling each other).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QSettings, Signal

from cocm_desktop import APP_ID, APP_NAME
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.policy import DEFAULT_POLICY, Policy
from cocm_desktop.domain.roles import Permission, Role, can
from cocm_desktop.reports.output import remove_leftovers
from cocm_desktop.services.clinic import Clinic

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
    #: (what, patient_id or None) after a write: what ∈ {"patient", "registry", "case_review", "timer", …}
    changed = Signal(str, object)

    def __init__(self, db: Clinic, *, demo: bool = False) -> None:
        super().__init__()
        self.db = db
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

    def write(self, fn: Callable[..., T], *args: Any, what: str = "patient",
              patient_id: int | None = None, **kwargs: Any) -> T:
        """One user action = one session; broadcasts `changed` after the commit.

        `patient_id` names the patient for the broadcast; it is passed on to `fn` too when `fn`
        takes a `patient_id` parameter.
        """
        if patient_id is not None and _takes_patient_id(fn):
            kwargs["patient_id"] = patient_id
        with self.db.session() as s:
            result = fn(s, self.actor, *args, **kwargs)
        self.changed.emit(what, patient_id)
        return result

    def close(self) -> None:
        self.db.close()
