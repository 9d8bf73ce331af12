"""Live refresh on the clinic server: NOTIFY after each committed write, LISTEN for the others'.

Publishing is installed on the server's sessionmaker, so no service can forget it: every flush
notes the kinds of record it wrote and the patients they belong to (store.invalidation resolves
owners the same way the registry cache does), and just before the commit one
`pg_notify(CHANNEL, payload)` joins the transaction. PostgreSQL delivers it only if the commit
succeeds, so a rolled-back write is never announced. The payload is domain.changes.ChangeEvent's
wire form: kinds, patient ids, the writer's username, a time and the writing instance — never PHI.

Listening (`NotifyListener`) uses its own autocommit connection in its own thread, reconnects with
backoff when the server goes away, and reports a gap after a reconnect (whatever was committed
while nobody listened must be assumed changed).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from cocm_desktop.domain.changes import CHANNEL, Change, ChangeEvent

from . import invalidation
from .models import (
    AgendaItem,
    BillingAdjustmentAck,
    BillingSubmission,
    BillingSubmissionLine,
    CarePlanVersion,
    CaseReviewSession,
    ClinicSetting,
    Consent,
    Contact,
    Correction,
    Diagnosis,
    Episode,
    EpisodeStatusChange,
    Measure,
    Medication,
    MedicationProposal,
    Patient,
    PayerRuleSet,
    Recommendation,
    Referral,
    RiskEvent,
    RunningTimer,
    TimeEntry,
    User,
)

log = logging.getLogger(__name__)

ORIGIN_INFO = "cocm_origin"  # session.info: the writing app instance
BY_INFO = "cocm_by"  # session.info: the writer's username
_PENDING = "cocm_changes_pending"

# Model class -> the kind of change it is. Audit records, saves' request ids (Submission),
# the registry cache and overlap days are bookkeeping of other writes, not news; a table missing
# here fails a test.
KIND_OF: dict[type, Change] = {
    Patient: Change.PATIENT,
    Episode: Change.EPISODE, EpisodeStatusChange: Change.EPISODE, Diagnosis: Change.EPISODE, Consent: Change.EPISODE,
    Measure: Change.MEASURE,
    Contact: Change.CONTACT,
    TimeEntry: Change.TIME, RunningTimer: Change.TIME,
    CarePlanVersion: Change.CARE_PLAN,
    Medication: Change.MEDICATION, MedicationProposal: Change.MEDICATION,
    Referral: Change.REFERRAL,
    RiskEvent: Change.RISK,
    CaseReviewSession: Change.CASE_REVIEW, AgendaItem: Change.CASE_REVIEW,
    Recommendation: Change.RECOMMENDATION,
    Correction: Change.CORRECTION,
    BillingSubmission: Change.BILLING, BillingSubmissionLine: Change.BILLING, BillingAdjustmentAck: Change.BILLING,
    PayerRuleSet: Change.BILLING,
    User: Change.USERS,
    ClinicSetting: Change.POLICY,
}
# Settings written as a side effect of other work (the audit chain's head, the self-check marker).
_QUIET_SETTINGS = frozenset({"audit_head", "audit_chain_key", "selfcheck_marker", "database_id"})


@dataclass
class _Pending:
    kinds: set[Change] = field(default_factory=set)
    patients: set[int] = field(default_factory=set)
    many: bool = False


def kind_of(obj: object) -> Change | None:
    """The kind of change a flushed object is (None: not news for other workstations)."""
    kind = KIND_OF.get(type(obj))
    if kind is Change.POLICY and getattr(obj, "key", None) in _QUIET_SETTINGS:
        return None
    return kind


def install_publisher(factory: sessionmaker[Session]) -> None:
    """Announce every committed write of this sessionmaker's sessions on CHANNEL."""
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "do_orm_execute", _bulk_statement)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_rollback", _forget)


def _pending(session: Session) -> _Pending:
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = _Pending()
    return pending  # type: ignore[no-any-return]


def _after_flush(session: Session, _flush_context: Any) -> None:
    kinds: set[Change] = set()
    timers: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        kind = kind_of(obj)
        if kind is None:
            continue
        kinds.add(kind)
        if isinstance(obj, RunningTimer):  # no cached fact depends on it, so invalidation skips it
            timers.add(obj.patient_id)
    if not kinds:
        return
    pending = _pending(session)
    pending.kinds |= kinds
    pending.patients |= timers
    patients = invalidation.flushed_patients(session)
    if patients is None:
        pending.many = True
    else:
        pending.patients |= patients


def _bulk_statement(state: ORMExecuteState) -> None:
    """A bulk insert/update/delete (the demo generator): its kind, for everyone."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    kind = KIND_OF.get(mapper.class_) if mapper is not None else None
    if kind is not None:
        pending = _pending(state.session)
        pending.kinds.add(kind)
        pending.many = True


def _before_commit(session: Session) -> None:
    # The commit flushes after this hook: flush first, so what it writes is announced too.
    if session.new or session.dirty or session.deleted:
        session.flush()
    pending = session.info.pop(_PENDING, None)
    if pending is None or not pending.kinds:
        return
    payload = encode_payload(pending.kinds, pending.patients, many=pending.many,
                             by=session.info.get(BY_INFO), origin=session.info.get(ORIGIN_INFO))
    session.connection().execute(text("SELECT pg_notify(:channel, :payload)"),
                                 {"channel": CHANNEL, "payload": payload})


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def encode_payload(kinds: set[Change], patients: set[int], *, many: bool, by: str | None,
                   origin: str | None, at: datetime | None = None) -> str:
    """The NOTIFY payload of one commit: the ChangeEvent's own wire form."""
    return ChangeEvent(kinds=frozenset(kinds), patient_ids=frozenset(patients), many=many, by=by,
                       at=at or datetime.now(UTC), origin=origin).to_payload()


# ---- listening ---------------------------------------------------------------------------------
_POLL_S = 0.25  # how often the thread looks up from waiting (a close takes at most this long)
_HEARTBEAT_S = 10.0  # a quiet connection is asked "SELECT 1" this often (a vanished server shows)
_BACKOFF_S = (0.2, 5.0)  # first and longest wait between reconnection attempts


class NotifyListener:
    """LISTEN on `channel` over a connection of its own, in a thread of its own.

    `deliver(payload)` is called on the listener's thread for each notification; `on_gap()` after
    a reconnect (changes committed while disconnected were not heard); `on_state(connected)` when
    the connection comes or goes. Exceptions from the callbacks are logged, never fatal.
    """

    def __init__(self, connect: Callable[[], psycopg.Connection], deliver: Callable[[str], None], *,
                 channel: str = CHANNEL, on_gap: Callable[[], None] | None = None,
                 on_state: Callable[[bool], None] | None = None) -> None:
        self._connect = connect
        self._deliver = deliver
        self._channel = channel
        self._on_gap = on_gap
        self._on_state = on_state
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cocm-listen", daemon=True)
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> NotifyListener:
        self._thread.start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Stop listening; returns once the thread is gone (or after `timeout`: it is a daemon)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = _BACKOFF_S[0]
        first = True  # the first attempt: the app has just read everything, there is no gap
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except Exception as exc:  # noqa: BLE001 - any failure to connect means: try again later
                log.info("listener cannot connect (%s); retrying", type(exc).__name__)
                first = False
                self._stop.wait(delay * random.uniform(0.8, 1.2))  # jitter: not every desk at once
                delay = min(delay * 2, _BACKOFF_S[1])
                continue
            try:
                with conn:
                    conn.autocommit = True
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    self._set_state(True)
                    if not first:
                        self.reconnects += 1
                        self._call(self._on_gap)
                    first = False
                    delay = _BACKOFF_S[0]
                    self._listen(conn)
            except psycopg.Error as exc:
                log.info("listener lost the server (%s); reconnecting", type(exc).__name__)
            finally:
                self._set_state(False)
            if not self._stop.is_set():
                self._stop.wait(delay)

    def _listen(self, conn: psycopg.Connection) -> None:
        quiet = 0.0
        while not self._stop.is_set():
            heard = False
            for note in conn.notifies(timeout=_POLL_S):
                heard = True
                self._call(self._deliver, note.payload)
            quiet = 0.0 if heard else quiet + _POLL_S
            if quiet >= _HEARTBEAT_S:
                conn.execute("SELECT 1")  # raises when the server is gone without a word
                quiet = 0.0

    def _set_state(self, up: bool) -> None:
        if up == self._connected.is_set():
            return
        if up:
            self._connected.set()
        else:
            self._connected.clear()
        self._call(self._on_state, up)

    @staticmethod
    def _call(fn: Callable[..., None] | None, *args: object) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception as exc:  # a broken receiver must not stop the listening
            log.error("live refresh receiver failed (%s)", type(exc).__name__)  # no message: no PHI
