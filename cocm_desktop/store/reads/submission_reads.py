"""Saved form submissions by request id (services.submissions): ids only, no values."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from ..models import Submission

__all__ = ["SavedSubmission", "add", "find"]


class SavedSubmission(NamedTuple):
    request_id: str
    user_id: int
    action: str
    object_id: int | None


def find(conn: Connection, request_id: str) -> SavedSubmission | None:
    row = conn.execute(select(Submission.request_id, Submission.user_id, Submission.action, Submission.object_id)
                       .where(Submission.request_id == request_id)).first()
    if row is None:
        return None
    return SavedSubmission(str(row.request_id), int(row.user_id), str(row.action),
                           None if row.object_id is None else int(row.object_id))


def add(session: Session, *, request_id: str, user_id: int, action: str, object_id: int | None) -> None:
    session.add(Submission(request_id=request_id, user_id=user_id, action=action, object_id=object_id))
    session.flush()
