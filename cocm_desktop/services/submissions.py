"""A form's save applied at most once, even when "Save again" follows a lost connection.

When the connection to the clinic server drops while it commits, the app cannot know whether the
save landed. Each form makes one request id when it opens (`once(fn)`); the save writes that id
into `submission` in the same transaction, and a later attempt with the same id finds it and
returns `AlreadySaved` instead of applying the write again. The row holds ids only, never what
was typed. Works the same on the encrypted file (where a lost connection cannot happen).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.store.reads import submission_reads

__all__ = ["AlreadySaved", "Once", "new_request_id", "once"]

T = TypeVar("T")


def new_request_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class AlreadySaved:
    """The earlier attempt with this request id was saved (its connection dropped at COMMIT)."""

    request_id: str
    action: str
    object_id: int | None
    message: str = ("It was already saved before the connection was lost; it was not saved a second time.")


class Once(Generic[T]):
    """`fn(session, actor, …)` applied at most once for `request_id`; a repeat returns AlreadySaved.

    The signature seen by `inspect` is `fn`'s (functools.update_wrapper), so callers that pass
    `patient_id` only to functions taking it keep working."""

    def __init__(self, fn: Callable[..., T], request_id: str | None = None) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.request_id = request_id or new_request_id()

    def __call__(self, session: Session, actor: Actor, *args: Any, **kwargs: Any) -> T | AlreadySaved:
        prior = submission_reads.find(session.connection(), self.request_id)
        if prior is not None:
            return AlreadySaved(self.request_id, prior.action, prior.object_id)
        result = self.fn(session, actor, *args, **kwargs)
        object_id = getattr(result, "id", None)
        # Written last, in the same transaction: it exists exactly when the save does. Two
        # attempts racing with one id cannot both commit (the id is the primary key).
        submission_reads.add(session, request_id=self.request_id, user_id=actor.user_id,
                             action=getattr(self.fn, "__name__", "save")[:64],
                             object_id=object_id if isinstance(object_id, int) else None)
        return result

    def __repr__(self) -> str:
        return f"<Once {getattr(self.fn, '__name__', '?')}>"


def once(fn: Callable[..., T], request_id: str | None = None) -> Once[T]:
    """Wrap a service write for one form: make it when the form opens, call it on every Save."""
    return Once(fn, request_id)
