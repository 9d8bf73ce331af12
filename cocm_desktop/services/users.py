"""Staff users: each has a row in the database and a key slot in the sidecar.

These calls take the open `Database` (not just a session) because a user is two things that
must change together: the row and the key slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.store.database import Database
from cocm_desktop.store.keyslots import normalize_username
from cocm_desktop.store.models import User

from .common import ValidationError, check, record

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 4  # the demo uses "demo"; set-up screens ask for more (see gui)


@dataclass(frozen=True)
class StaffUser:
    id: int
    username: str
    display_name: str
    role: str
    credentials: str | None
    active: bool


def _to_staff(u: User) -> StaffUser:
    return StaffUser(u.id, u.username, u.display_name, u.role, u.credentials, u.active)


def add_staff_user(
    db: Database,
    actor: Actor,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    credentials: str | None = None,
    npi: str | None = None,
) -> StaffUser:
    check(actor, Permission.MANAGE_USERS)
    name = normalize_username(username)
    if not USERNAME_RE.match(name):
        raise ValidationError(
            "A username is 2–32 characters: letters, digits, dot, dash or underscore, starting with a letter."
        )
    try:
        role = Role(role).value
    except ValueError:
        raise ValidationError(f"Unknown role “{role}”.") from None
    if not display_name.strip():
        raise ValidationError("Give the person's full name.")
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"A password needs at least {MIN_PASSWORD} characters.")
    with db.session() as s:
        if s.scalar(select(User.id).where(User.username == name)) is not None:
            raise ValidationError(f"The username “{name}” is taken.")
        user = User(username=name, display_name=display_name.strip(), role=role,
                    credentials=credentials, npi=npi)
        s.add(user)
        s.flush()
        record(s, actor, "user.create", object_type="user", object_id=user.id,
               summary=f"User {name} added as {role}")
        # The slot is written inside the transaction: if it fails, the row is rolled back too.
        db.add_key_slot(name, password)
        return _to_staff(user)


def list_staff(db: Database, include_inactive: bool = False) -> list[StaffUser]:
    with db.session() as s:
        q = select(User).order_by(User.role, User.display_name)
        if not include_inactive:
            q = q.where(User.active.is_(True))
        return [_to_staff(u) for u in s.scalars(q)]
