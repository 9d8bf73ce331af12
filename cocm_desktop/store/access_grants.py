"""Every change to the user table is written to the audit log as a signed `access.grant`.

The store does it, not each service: an `after_flush` listener notes which users a transaction
added or changed (username, role, active), and `before_commit` appends one grant with their new
state, signed by the session's signer. `store.audit` counts a grant only when a clinic lead signed
it, so a role raised by anyone else — through the app or by editing the table — is named by
`audit verify` and at the next sign-in.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from . import audit
from .models import User

_CHANGED = "access_changed"
_WATCHED = ("username", "role", "active")


def install(factory: sessionmaker[Session]) -> None:
    event.listen(factory, "after_flush", _note_user_changes)
    event.listen(factory, "before_commit", _write_grant)


def _note_user_changes(session: Session, _context: Any) -> None:
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, User):
            continue
        state = inspect(obj)
        if obj in session.new or any(state.attrs[name].history.has_changes() for name in _WATCHED):
            session.info.setdefault(_CHANGED, set()).add(obj.id)


def _write_grant(session: Session) -> None:
    ids = session.info.pop(_CHANGED, None)
    signer: audit.Signer | None = session.info.get(audit.SIGNER_INFO)
    if not ids or signer is None:
        return
    users = {
        name: [role, bool(active)]
        for name, role, active in session.execute(
            select(User.username, User.role, User.active).where(User.id.in_(ids))
        )
    }
    summary = "Access changed: " + ", ".join(
        f"{name} {role}{'' if active else ' (removed)'}" for name, (role, active) in sorted(users.items())
    )
    audit.append(session, user_id=None, username=signer.name, action=audit.GRANT,
                 summary=summary[:500], detail={"users": users})
    session.info.pop(_CHANGED, None)  # the grant's own flush noted nothing new
