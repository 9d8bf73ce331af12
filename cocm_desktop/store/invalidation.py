"""Keeps the derived registry facts honest: every write deletes the cached rows it can affect.

Installed on the store's sessionmaker, so no service can forget it:
- after each flush, the patients whose data the flushed objects belong to (old and new owner of
  a moved row) lose their `registry_facts` rows, in the same transaction as the write;
- bulk ORM statements (`session.execute(update(Contact).where(...))`) are resolved the same way
  by selecting the rows their WHERE clause touches before they run;
- a time entry also invalidates the other patients that staff member logged time for that day
  (overlapping timed entries are counted once across patients);
- a staff member's role, payer rule sets and unknown clinic settings may change the counting
  for everyone: all rows go (sign-ins, other staff edits and the audit chain's head do not).

On the clinic server, where writers are not serialised, the keys are gathered over the unit of
work and applied at commit under advisory locks (store.write_locks explains the races and the
locks); a registry read in the same unit of work as a write computes every row afresh
(`pending`). The file engine applies them at each flush, as its writers are serialised.

Invalidation works at patient level (billing months and consent span a patient's episodes).
Audit records, running timers and the cache itself do not invalidate anything. Writes that
bypass the ORM session (raw connection SQL) must call `invalidate_all` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from . import overlap_days, write_locks
from .models import (
    AgendaItem,
    AuditRecord,
    CaseReviewSession,
    ClinicSetting,
    Episode,
    Patient,
    PayerRuleSet,
    RegistryFacts,
    RunningTimer,
    TimeEntry,
    TimeOverlapDay,
    User,
)

_IGNORED = (AuditRecord, RunningTimer, RegistryFacts, TimeOverlapDay)
# Settings no cached fact depends on: the audit chain's head and key, the clinic's name, the
# installer's self-check marker, and the policy (its remission threshold is stored on each row;
# every other policy number is applied when a row is read).
_HARMLESS_SETTINGS = frozenset({"audit_head", "audit_chain_key", "clinic_name", "selfcheck_marker", "policy"})
_EVERYONE = (User, PayerRuleSet, ClinicSetting)
# Beyond this many keys one DELETE of everything is cheaper than a long IN list (bulk imports).
_MAX_KEYS = 500
_ALL = "all"


_PENDING = "cocm_pending_invalidation"  # session.info key: the server's keys gathered until commit


def install(factory: sessionmaker[Session]) -> None:
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "do_orm_execute", _before_bulk_statement)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_commit", _forget)
    event.listen(factory, "after_rollback", _forget)


def invalidate_all(session: Session) -> None:
    conn = session.connection()
    if write_locks.on_server(conn):
        write_locks.lock_patients_for_writing(conn, (), everyone=True)
    conn.execute(delete(RegistryFacts))


def pending(session: Session) -> bool:
    """True when this unit of work wrote something whose cached facts go only at commit (the
    server): a registry read inside it must not trust the cache."""
    return _PENDING in session.info


def _defer(session: Session, keys: _Keys) -> bool:
    """On the server, keep the keys for commit; False on the file engine (apply them now)."""
    if not write_locks.on_server(session):
        return False
    held = session.info.get(_PENDING)
    if held is None:
        session.info[_PENDING] = keys
    else:
        held.merge(keys)
    return True


def _before_commit(session: Session) -> None:
    if not write_locks.on_server(session):
        return
    session.flush()  # the last changes' keys (the commit flushes after this event)
    overlap_days.settle(session)  # staff locks before patient locks, in every writer
    keys = session.info.pop(_PENDING, None)
    if keys is not None:
        keys.apply_locked(session)


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


class _Keys:
    """Patients, episodes and (staff, day) pairs whose cached facts must go."""

    def __init__(self) -> None:
        self.all = False
        self.patients: set[int] = set()
        self.episodes: set[int] = set()
        self.staff_days: set[tuple[int, Any]] = set()
        self.review_sessions: set[int] = set()

    def add(self, cls: type, values: dict[str, Any]) -> None:
        if issubclass(cls, _IGNORED):
            return
        if issubclass(cls, _EVERYONE):
            self.all = True
        elif issubclass(cls, Patient):
            self._put(self.patients, values.get("id"))
        elif issubclass(cls, Episode):
            self._put(self.patients, values.get("patient_id"))
            self._put(self.episodes, values.get("id"))
        elif issubclass(cls, CaseReviewSession):
            self._put(self.review_sessions, values.get("id"))
        else:
            if "patient_id" in values:
                self._put(self.patients, values["patient_id"])
            if "episode_id" in values:
                self._put(self.episodes, values["episode_id"])
            if issubclass(cls, TimeEntry) and values.get("staff_id") is not None:
                self.staff_days.add((values["staff_id"], values.get("local_date")))
            elif not ({"patient_id", "episode_id"} & values.keys()):
                self.all = True  # a table we cannot place: be safe

    def merge(self, other: _Keys) -> None:
        self.all |= other.all
        self.patients |= other.patients
        self.episodes |= other.episodes
        self.staff_days |= other.staff_days
        self.review_sessions |= other.review_sessions

    def any(self) -> bool:
        return bool(self.all or self.patients or self.episodes or self.staff_days or self.review_sessions)

    @staticmethod
    def _put(target: set[int], value: Any) -> None:
        if value is not None:
            target.add(value)

    def apply(self, session: Session) -> None:
        if _defer(session, self):
            return
        conn = session.connection()
        patients = self._patients(conn)
        if patients is None:
            conn.execute(delete(RegistryFacts))
        elif patients:
            conn.execute(delete(RegistryFacts).where(RegistryFacts.patient_id.in_(patients)))

    def apply_locked(self, session: Session) -> None:
        """The server's commit: staff days, then patients, each locked in id order (writers
        reach here one at a time behind the audit chain's head; readers never wait)."""
        conn = session.connection()
        staff = {s for s, d in self.staff_days if s is not None and d is not None}
        if staff:  # the day's other patients, with every entry of the day committed before
            write_locks.lock_staff(conn, staff)
        patients = self._patients(conn)
        write_locks.lock_patients_for_writing(conn, patients or (), everyone=patients is None)
        if patients is None:
            conn.execute(delete(RegistryFacts))
        elif patients:
            conn.execute(delete(RegistryFacts).where(RegistryFacts.patient_id.in_(patients)))

    def resolve(self, session: Session) -> set[int] | None:
        """The patients these keys reach (None: everyone, or too many to list)."""
        return self._patients(session.connection())

    def _patients(self, conn: Connection) -> set[int] | None:
        """The patients whose cached facts go (None: everyone's)."""
        if self.all or _too_many(self.patients, self.episodes, self.staff_days, self.review_sessions):
            return None
        patients = set(self.patients)
        if self.review_sessions:
            self.episodes |= set(conn.execute(select(AgendaItem.episode_id).where(
                AgendaItem.session_id.in_(self.review_sessions))).scalars())
        if self.episodes:
            patients |= set(conn.execute(select(Episode.patient_id).where(
                Episode.id.in_(self.episodes))).scalars())
        for staff_id, day in self.staff_days:
            patients |= set(conn.execute(select(TimeEntry.patient_id).where(
                TimeEntry.staff_id == staff_id, TimeEntry.local_date == day).distinct()).scalars())
        return None if len(patients) > _MAX_KEYS else patients


def _too_many(*sets: Iterable[object]) -> bool:
    return sum(len(s) for s in sets) > _MAX_KEYS  # type: ignore[arg-type]


def _owner_values(obj: object, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The object's current owner keys, and the previous ones when a flush changed them."""
    state = inspect(obj)
    current = {k: getattr(obj, k) for k in keys if k in state.mapper.columns}
    out = [current]
    previous = dict(current)
    changed = False
    for k in current:
        hist = state.attrs[k].history
        if hist.deleted and hist.deleted[0] is not None:
            previous[k] = hist.deleted[0]
            changed = True
    if changed:
        out.append(previous)
    return out


_OWNER_KEYS = ("id", "patient_id", "episode_id", "staff_id", "local_date")


def _flushed_keys(session: Session) -> _Keys:
    keys = _Keys()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, User) and obj in session.dirty and not inspect(obj).attrs.role.history.has_changes():
            continue  # sign-ins, password and name changes: only a role changes what counts
        if isinstance(obj, ClinicSetting) and obj.key in _HARMLESS_SETTINGS:
            continue
        for values in _owner_values(obj, _OWNER_KEYS):
            keys.add(type(obj), values)
    return keys


def _after_flush(session: Session, _flush_context: Any) -> None:
    keys = _flushed_keys(session)
    if keys.any():
        keys.apply(session)


def flushed_patients(session: Session) -> set[int] | None:
    """The patients whose registry facts the objects of the flush under way touch (old and new
    owners, a time entry's other patients that staff day); None when they may touch everyone's.
    Call it from an `after_flush` hook (live refresh names these patients to other workstations)."""
    keys = _flushed_keys(session)
    return keys.resolve(session) if keys.any() else set()


def _before_bulk_statement(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    cls = mapper.class_ if mapper is not None else None
    if cls is None or issubclass(cls, _IGNORED):
        return
    keys = _Keys()
    cols = [c for c in _OWNER_KEYS if c in mapper.columns]  # type: ignore[union-attr]
    if state.is_insert:
        params = state.parameters
        rows = params if isinstance(params, list) else [params or {}]
        if len(rows) > _MAX_KEYS:  # a bulk import (the demo generator): start the cache afresh
            invalidate_all(state.session)
            return
        for row in rows:
            keys.add(cls, {k: row.get(k) for k in cols} if cols else {})
    else:
        stmt = state.statement
        values = getattr(stmt, "_values", None) or {}
        if issubclass(cls, User) and state.is_update and not any(getattr(k, "key", k) == "role" for k in values):
            return
        if any(getattr(k, "key", k) in _OWNER_KEYS for k in values):
            keys.all = True  # rows move between owners in bulk: not worth resolving
        else:
            where = stmt.whereclause  # type: ignore[attr-defined]
            q = select(*(getattr(cls, c) for c in cols))
            if where is not None:
                q = q.where(where)
            for row in state.session.connection().execute(q):
                keys.add(cls, dict(zip(cols, row, strict=True)))
            if not cols:
                keys.all = True
    keys.apply(state.session)
