"""One lock order for every writer on the clinic server: the audit chain's head first.

Every audited write holds the audit head row (the trigger locks it FOR UPDATE) from its first
audit record to its commit, and at commit takes the derived tables' advisory locks
(store.write_locks). A writer that first locked another row — `SELECT … FOR UPDATE` on a record's
version (store.versions), an UPDATE, a flush — and only then reached the head could wait for the
head while the head's holder waited for its row: a deadlock the server breaks by failing one of
them. So on the server a unit of work takes the head lock before its first write of any kind
(a flush with changes, an INSERT/UPDATE/DELETE statement, a SELECT … FOR UPDATE): writers queue
in one place, in one order, and reads (which never take it) are not held up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

_HELD = "cocm_write_order_held"


def install(factory: sessionmaker[Session]) -> None:
    event.listen(factory, "before_flush", _before_flush)
    event.listen(factory, "do_orm_execute", _before_statement)
    event.listen(factory, "after_commit", _release)
    event.listen(factory, "after_rollback", _release)
    event.listen(factory, "after_soft_rollback", _release_soft)


def take(session: Session) -> None:
    """Queue behind the writer holding the audit head (once per transaction)."""
    if session.info.get(_HELD):
        return
    session.info[_HELD] = True
    session.connection().execute(text("SELECT cocm_write_lock()"))


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        take(session)


def _before_statement(state: ORMExecuteState) -> None:
    statement = state.statement
    writes = state.is_insert or state.is_update or state.is_delete
    locks = state.is_select and getattr(statement, "_for_update_arg", None) is not None
    if writes or locks:
        take(state.session)


def _release(session: Session) -> None:
    session.info.pop(_HELD, None)


def _release_soft(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction ended
        session.info.pop(_HELD, None)
