"""What every service shares: the clock, validation errors, permission checks, audit, policy.

Conventions (every service module follows them):
- `fn(session, actor, ...)`: the caller opens one session per user action (`db.session()`),
  the service never commits; it checks permission first, validates, writes, then audits.
- Returns plain frozen dataclasses, never ORM objects bound to the session.
- Refusals are `ValidationError` (bad input) or `domain.roles.PermissionDenied`, with a
  message a clinician understands; nothing is written when either is raised.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.policy import Policy
from cocm_desktop.domain.roles import Permission, require
from cocm_desktop.store import audit
from cocm_desktop.store.errors import EditConflict as EditConflict  # caught from here (services.versions)
from cocm_desktop.store.models import ClinicSetting

POLICY_KEY = "policy"
DEMO_KEY = "demo"  # true in a clinic made by the demo generator (invented patients only)


class ValidationError(ValueError):
    """Bad input, refused with a plain-language message; nothing was saved."""


class NotFound(LookupError):
    """The record asked for does not exist (or no longer does)."""


def local_now() -> datetime:
    """The clinic's local wall-clock time (naive): clinical events keep local dates."""
    return datetime.now().replace(microsecond=0)


def local_today() -> date:
    return date.today()


def check(actor: Actor, permission: Permission) -> None:
    require(actor.role, permission)


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    patient_id: int | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    summary: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.append(
        session,
        user_id=actor.user_id,
        username=actor.username,
        action=action,
        patient_id=patient_id,
        object_type=object_type,
        object_id=object_id,
        summary=summary,
        detail=detail,
    )


def setting(session: Session, key: str, default: Any = None) -> Any:
    row = session.get(ClinicSetting, key)
    return default if row is None else row.value


def load_policy(session: Session) -> Policy:
    """Clinic policy numbers live in the database (the clinic lead edits them)."""
    return Policy.from_mapping(setting(session, POLICY_KEY, {}) or {})


def clinic_name(session: Session) -> str:
    return str(setting(session, "clinic_name", "Clinic"))


def is_demo_clinic(session: Session) -> bool:
    return setting(session, DEMO_KEY) is True


def not_in_future(when: date | datetime, what: str, now: datetime | None = None) -> None:
    """Clinical events cannot be dated in the future (a contact dated tomorrow is a typo)."""
    now = now or local_now()
    if isinstance(when, datetime):
        if when > now.replace(second=59):
            raise ValidationError(f"{what} is dated in the future ({when:%Y-%m-%d %H:%M}); check the date.")
    elif when > now.date():
        raise ValidationError(f"{what} is dated in the future ({when.isoformat()}); check the date.")


def users_by_role(session: Session, role: str) -> list[tuple[int, str]]:
    from cocm_desktop.store.models import User

    rows = session.execute(
        select(User.id, User.display_name).where(User.role == role, User.active.is_(True)).order_by(User.id)
    )
    return [(r[0], r[1]) for r in rows]
