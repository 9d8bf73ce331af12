"""Staff users: each has a row in the database and a key slot in the sidecar.

These calls take the open `Database` (not just a session) because a user is two things that
must change together: the row and the key slot.

Every new password follows services.passwords (NIST SP 800-63B). A password the clinic lead
chose for someone (new user, reset, reactivation) is marked `password_must_change` in the same
transaction; `password_change_due` tells the sign-in (GUI and commands) to ask for a new one,
and `change_own_password` clears the mark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.npi import problem as npi_problem
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.store.database import Database
from cocm_desktop.store.keyslots import RekeyRefused, normalize_username
from cocm_desktop.store.models import User, utcnow

from ._text import has_hidden_characters as _has_hidden_characters
from .common import NotFound, ValidationError, check, clinic_name, is_demo_clinic, record
from .passwords import PasswordListMissing, check_new_password, password_problem
from .versions import expect_version

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
USERNAME_RULE = "A username is 2–32 characters: letters, digits, dot, dash or underscore, starting with a letter."
MAX_DISPLAY_NAME = 200
MAX_CLINIC_NAME = 200
LEAD_SET_PASSWORD = ("The clinic lead chose your password. Choose a new one that only you know "
                     "before you continue.")


@dataclass(frozen=True)
class StaffUser:
    id: int
    username: str
    display_name: str
    role: str
    credentials: str | None
    active: bool
    password_must_change: bool = False  # the clinic lead chose it; changed at the next sign-in
    row_version: int = 1  # passed back as `expected_version` by the admin page (services.versions)


def _to_staff(u: User) -> StaffUser:
    return StaffUser(u.id, u.username, u.display_name, u.role, u.credentials, u.active,
                     bool(u.password_must_change), u.row_version)


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
    name = _valid_username(username)
    try:
        role = Role(role).value
    except ValueError:
        raise ValidationError(f"Unknown role “{role}”.") from None
    display_name = _clean_display_name(display_name)
    credentials = _optional_text(credentials, "Credentials", 64)
    npi = _optional_text(npi, "NPI", 10)
    if npi is not None and (why := npi_problem(npi)) is not None:
        raise ValidationError(why)
    with db.key_file_lock(), db.session() as s:  # key file lock first, as sign-in and re-key
        if s.scalar(select(User.id).where(User.username == name)) is not None:
            raise ValidationError(f"The username “{name}” is taken.")
        _check_password(s, password, name)
        user = User(username=name, display_name=display_name, role=role,
                    credentials=credentials, npi=npi, password_must_change=True)
        s.add(user)
        s.flush()
        record(s, actor, "user.create", object_type="user", object_id=user.id,
               summary=f"User {name} added as {role}")
        # The slot is written inside the transaction: if it fails, the row is rolled back too.
        db.add_key_slot(name, password, session=s)
        return _to_staff(user)


def create_clinic(
    path: Path | str,
    *,
    clinic_name: str,
    lead_username: str,
    lead_display_name: str,
    lead_password: str,
    kdf: dict[str, int] | None = None,
) -> tuple[Database, str]:
    """A new clinic, open for its lead, and the recovery code (shown once). The lead chooses
    their own password, so it is not marked for a change."""
    name = _required_text(clinic_name, "clinic name", MAX_CLINIC_NAME, missing="Give the clinic's name.")
    username = _valid_username(lead_username)
    display_name = _clean_display_name(lead_display_name)
    check_new_password(lead_password, username=username, clinic_name=name)
    return Database.create(path, clinic_name=name, lead_username=username,
                           lead_display_name=display_name, lead_password=lead_password, kdf=kdf)


def _valid_username(username: str) -> str:
    name = normalize_username(username)
    if not USERNAME_RE.match(name):
        raise ValidationError(USERNAME_RULE)
    return name


def _clean_display_name(display_name: str) -> str:
    return _required_text(display_name, "name", MAX_DISPLAY_NAME, missing="Give the person's full name.")


def _required_text(value: str, noun: str, limit: int, *, missing: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise ValidationError(missing)
    if len(cleaned) > limit:
        raise ValidationError(f"A {noun} can have at most {limit} characters.")
    if _has_hidden_characters(cleaned):
        raise ValidationError(f"The {noun} contains invisible or control characters; retype it.")
    return cleaned


def _optional_text(value: str | None, label: str, limit: int) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(f"{label} can have at most {limit} characters.")
    if _has_hidden_characters(value):
        raise ValidationError(f"{label} contains invisible or control characters; retype it.")
    return value


def list_staff(db: Database, include_inactive: bool = False) -> list[StaffUser]:
    with db.session() as s:
        q = select(User).order_by(User.role, User.display_name)
        if not include_inactive:
            q = q.where(User.active.is_(True))
        return [_to_staff(u) for u in s.scalars(q)]


def _find_user(s, username: str) -> User:  # type: ignore[no-untyped-def]
    user = s.scalar(select(User).where(User.username == normalize_username(username)))
    if user is None:
        raise NotFound(f"There is no user “{normalize_username(username)}”.")
    return user


def _check_password(s: Session, password: str, username: str) -> None:
    check_new_password(password, username=username, clinic_name=clinic_name(s))


def password_change_due(db: Database, password: str) -> str | None:
    """After a sign-in with `password`: why the person must choose a new password first, or None.

    Due when the clinic lead chose it, or when it breaks today's rules (a clinic made before them
    may hold a 4-character password; the sign-in is the only moment it is seen). The demo
    clinic's logins keep "demo".
    """
    assert db.actor is not None
    with db.session() as s:
        user = s.get(User, db.actor.user_id)
        if user is not None and user.password_must_change:
            return LEAD_SET_PASSWORD
        if is_demo_clinic(s):
            return None
        clinic = clinic_name(s)
    try:
        problem = password_problem(password, username=db.actor.username, clinic_name=clinic)
    except PasswordListMissing:  # a broken install must not lock everyone out
        problem = password_problem(password, username=db.actor.username, clinic_name=clinic, check_list=False)
    if problem is None:
        return None
    return f"Your password no longer meets the clinic's rules: {problem} Choose a new one before you continue."


def _active_leads(s) -> int:  # type: ignore[no-untyped-def]
    return len(s.scalars(select(User.id).where(User.role == Role.CLINIC_LEAD.value, User.active.is_(True))).all())


def deactivate_user(db: Database, actor: Actor, username: str, *, reason: str,
                    expected_version: int | None = None) -> StaffUser:
    """Someone leaves: the row stays (history, audit) but is inactive; the key slot is deleted and
    the database re-keyed, so the person's old password opens nothing current (old backups
    excepted — see store.keyslots). `expected_version`: the account's `row_version` the admin
    page showed — an account another lead changed since is not removed unseen (services.versions)."""
    check(actor, Permission.MANAGE_USERS)
    if not reason.strip():
        raise ValidationError("Say why the user is being removed; the reason is kept in the audit log.")
    name = normalize_username(username)
    if name == actor.username:
        raise ValidationError("You cannot remove yourself; another clinic lead has to do it.")
    # Under the key file's lock from the check to the re-key: no other change falls between. A
    # slot that would stop the re-key refuses the removal before anything changes.
    with db.key_file_lock():
        problems = db.rekey_problems(removing=name)
        if problems:
            raise RekeyRefused(problems)
        with db.session() as s:
            user = _find_user(s, name)
            expect_version(s, actor, user, expected_version)
            if not user.active:
                if name not in db.slots():
                    raise ValidationError(f"“{name}” is already removed.")
                # Removed, but the re-key did not happen (a crash, a refused re-key): finish it.
                result = _to_staff(user)
            else:
                if user.role == Role.CLINIC_LEAD.value and _active_leads(s) <= 1:
                    raise ValidationError("The last clinic lead cannot be removed.")
                user.active = False
                user.deactivated_at = utcnow()
                record(s, actor, "user.deactivate", object_type="user", object_id=user.id,
                       summary=f"User {name} removed", detail={"reason": reason.strip()})
                result = _to_staff(user)
        # After the commit: the re-key reads the active users, and cannot run inside a transaction.
        db.remove_key_slot(name, reason=f"user {name} removed")
    return result


def reactivate_user(db: Database, actor: Actor, username: str, *, password: str) -> StaffUser:
    check(actor, Permission.MANAGE_USERS)
    name = normalize_username(username)
    with db.key_file_lock(), db.session() as s:  # key file lock first, as sign-in and re-key
        user = _find_user(s, name)
        if user.active:
            raise ValidationError(f"“{name}” is already active.")
        _check_password(s, password, name)
        user.active = True
        user.deactivated_at = None
        user.password_must_change = True
        record(s, actor, "user.reactivate", object_type="user", object_id=user.id,
               summary=f"User {name} reactivated with a new password")
        db.add_key_slot(name, password, session=s)
        return _to_staff(user)


def reset_password(db: Database, actor: Actor, username: str, *, new_password: str) -> None:
    """The clinic lead sets a new password for someone who forgot theirs; they must change it at
    their next sign-in (unless the lead reset their own)."""
    check(actor, Permission.MANAGE_USERS)
    name = normalize_username(username)
    with db.key_file_lock(), db.session() as s:  # key file lock first, as sign-in and re-key
        user = _find_user(s, name)
        if not user.active:
            raise ValidationError(f"“{name}” is removed; reactivate the user instead.")
        _check_password(s, new_password, name)
        user.password_must_change = name != actor.username
        record(s, actor, "user.password_reset", object_type="user", object_id=user.id,
               summary=f"Password of {name} reset by the clinic lead")
        db.add_key_slot(name, new_password, session=s)


def change_own_password(db: Database, actor: Actor, *, current_password: str, new_password: str) -> None:
    """Everyone changes their own password (re-wraps only their own key slot); a password the
    clinic lead chose no longer has to be changed afterwards."""
    with db.session() as s:
        _check_password(s, new_password, actor.username)
    if not db.check_password(actor.username, current_password):
        raise ValidationError("The current password is not right; the password was not changed.")
    if new_password == current_password:
        raise ValidationError("The new password must differ from the current one.")
    with db.key_file_lock(), db.session() as s:  # key file lock first, as sign-in and re-key
        user = _find_user(s, actor.username)
        user.password_must_change = False
        record(s, actor, "user.password_change", object_type="user", object_id=actor.user_id,
               summary="Changed own password")
        db.add_key_slot(actor.username, new_password, session=s)


def change_role(db: Database, actor: Actor, username: str, *, role: str,
                expected_version: int | None = None) -> StaffUser:
    """`expected_version`: the account's `row_version` the form showed (services.versions): a
    role another lead changed meanwhile is not overwritten unseen."""
    check(actor, Permission.MANAGE_USERS)
    name = normalize_username(username)
    try:
        new_role = Role(role).value
    except ValueError:
        raise ValidationError(f"Unknown role “{role}”.") from None
    with db.session() as s:
        user = _find_user(s, name)
        expect_version(s, actor, user, expected_version)
        if user.role == new_role:
            return _to_staff(user)
        if user.role == Role.CLINIC_LEAD.value and user.active and _active_leads(s) <= 1:
            raise ValidationError("The last clinic lead cannot be given another role.")
        old = user.role
        user.role = new_role
        record(s, actor, "user.role_change", object_type="user", object_id=user.id,
               summary=f"Role of {name} changed from {old} to {new_role}", detail={"from": old, "to": new_role})
        return _to_staff(user)


def replace_recovery_code(db: Database, actor: Actor) -> str:
    """A new recovery code (the old one lost, leaked, or its key slot damaged); shown once."""
    check(actor, Permission.MANAGE_USERS)
    with db.key_file_lock(), db.session() as s:
        record(s, actor, "key.recovery_code_replaced", summary="New recovery code made; the old one no longer works")
        return db.replace_recovery_code(session=s)
