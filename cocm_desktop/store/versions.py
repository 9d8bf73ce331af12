"""Record versions (optimistic concurrency): the version a record holds now, and its last change.

Every record edited in place carries `row_version` (models.Versioned); the ORM raises it on each
UPDATE and refuses one whose row moved on since this session read it. A form, though, read the
record in an earlier session: services compare the version it showed with `locked_version`, which
also holds the row against other writers until the transaction ends, so nothing can slip in
between that check and the UPDATE. `last_change` says who changed the record last, when and what,
for the plain message the second writer gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditRecord, Correction, User


def locked_version(session: Session, row: Any) -> int:
    """The version `row` holds now (committed), its row locked until this transaction ends:
    SELECT … FOR UPDATE on the server (it waits for a writer holding it and then sees that
    writer's commit); the file engine has one writer at a time, so there it is a plain read.
    When the row moved on since this session loaded it, the session's copy is reloaded, so the
    UPDATE that follows starts from what is stored."""
    model = type(row)
    pk = model.__mapper__.primary_key[0]
    current = session.scalar(
        select(model.row_version).where(pk == getattr(row, pk.key)).with_for_update()
    )
    if current is None:
        raise LookupError("the record is gone")  # callers read it in this session: never happens
    if current != row.row_version:
        session.refresh(row)
    return int(current)


@dataclass(frozen=True)
class LastChange:
    """The newest audit record about one record, with the values a correction replaced."""

    user_id: int | None
    by: str  # display name (the username when the person is unknown)
    at_utc: datetime
    action: str
    summary: str | None
    fields: tuple[str, ...]  # the fields the record names (a correction's, or detail["fields"])
    changes: dict[str, tuple[Any, Any]]  # field → (before, after) when it was a correction


def last_change(session: Session, object_type: str, object_id: int | None, *,
                action: str | None = None) -> LastChange | None:
    """The newest audit record about `object_type`/`object_id` (records without an id, such as
    the clinic policy: the newest with `action`), or None when there is none."""
    query = select(AuditRecord.seq, AuditRecord.user_id, AuditRecord.username, AuditRecord.at_utc,
                   AuditRecord.action, AuditRecord.summary, AuditRecord.detail)
    query = query.where(AuditRecord.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditRecord.object_id == object_id)
    if action is not None:
        query = query.where(AuditRecord.action == action)
    rec = session.execute(query.order_by(AuditRecord.seq.desc()).limit(1)).one_or_none()
    if rec is None:
        return None
    name = None
    if rec.user_id is not None:
        name = session.scalar(select(User.display_name).where(User.id == rec.user_id))
    detail = rec.detail if isinstance(rec.detail, dict) else {}
    fields = tuple(str(f) for f in detail.get("fields", ()) or ()) if isinstance(detail.get("fields"), list) else ()
    changes: dict[str, tuple[Any, Any]] = {}
    if "reason" in detail and object_id is not None:  # a correction: its history row has before → after
        newest = session.scalar(
            select(Correction.changes).where(Correction.object_type == object_type, Correction.object_id == object_id)
            .order_by(Correction.id.desc()).limit(1)
        )
        if isinstance(newest, dict):
            changes = {str(k): (v[0], v[1]) for k, v in newest.items() if isinstance(v, list) and len(v) == 2}
    return LastChange(rec.user_id, name or rec.username, rec.at_utc, rec.action, rec.summary,
                      fields or tuple(changes), changes)
