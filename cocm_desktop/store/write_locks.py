"""Advisory locks that keep the derived tables exact with many writers at once on the clinic server.

The file engine serialises every writer (BEGIN IMMEDIATE), so none of this runs there. On the
server (READ COMMITTED) two races would otherwise corrupt the derived tables:

- `registry_facts`: a registry read computes an episode's facts, another workstation commits a
  contact for that patient and deletes the cached rows, then the read stores what it computed
  from before the contact: a stale row nobody deletes again.
- `time_overlap_day`: two writers on one staff day each delete that day's row and insert what
  their own snapshot shows; neither sees the other's entry, so an overlap between the two goes
  missing (or the second insert fails on the key).

The fix is per-patient and per-staff transaction-scoped advisory locks
(`pg_advisory_xact_lock`), released by the server at commit or rollback:

- A writer, at commit (store.invalidation's before_commit), takes its staff members' locks,
  works out their overlap days and which patients' facts its write can change, then takes those
  patients' locks *exclusively* and deletes their cached rows. Every audited write already holds
  the audit chain's head row (FOR UPDATE) from its first audit record to its commit, so writers
  reach this point one at a time: the locks add no writer-to-writer waiting and cannot deadlock
  among writers.
- A registry read, before it computes anything, *tries* the same patients' locks in *shared*
  mode (`pg_try_advisory_xact_lock_shared`: it never waits, so it never deadlocks either) and
  stores facts only for the patients it got. A writer that committed earlier is seen by every
  later statement (READ COMMITTED); one that comes later waits for the read's commit and then
  deletes what it stored. The patients it did not get are computed and shown, just not cached.
- A read tries at most `READ_PATIENT_LOCKS` patients (the lock table is bounded) and computes
  the rest first, unlocked and not stored, so the locks it holds cover a short computation; a
  cold cache fills over a few reads.
- A write whose effect is everyone (a role, the payer rules, a bulk import) takes one "all"
  lock exclusively; every read tries it in shared mode.

Chosen over a generation counter per patient (a new table and a write per patient per commit)
and over SERIALIZABLE (every write could fail with a serialization error and every unit of work
would need a retry loop): the locks need no schema and cost a few short statements per write
commit and one per registry read that fills the cache. What a writer may wait for is a read's
computation of at most READ_PATIENT_LOCKS patients (tests/benchmarks/team_load.py measures it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

# The lock keys' first half: a namespace of our own (the second half is a patient, a staff
# member). int4 values, as pg_advisory_xact_lock(int, int) takes.
FACTS_PATIENT = 0x434F0001
FACTS_ALL = 0x434F0003
OVERLAP_STAFF = 0x434F0004
OVERLAP_ALL = 0x434F0005
# The most patients one registry read locks (and so caches).
READ_PATIENT_LOCKS = 64


def on_server(bind: Session | Connection) -> bool:
    """True on the clinic server (PostgreSQL), where writers are not serialised."""
    conn = bind.connection() if isinstance(bind, Session) else bind
    return conn.dialect.name == "postgresql"


def _take(conn: Connection, locks: list[Any]) -> list[Any]:
    """Run these lock calls in one statement, in list order (the server evaluates a select list
    left to right); their results."""
    if not locks:
        return []
    return list(conn.execute(select(*locks)).one())


def lock_staff(conn: Connection, staff_ids: Iterable[int], *, everyone: bool = False) -> None:
    """Serialise writers of these staff members' overlap days (`everyone`: a rebuild of all)."""
    locks = [func.pg_advisory_xact_lock(OVERLAP_ALL, 0) if everyone
             else func.pg_advisory_xact_lock_shared(OVERLAP_ALL, 0)]
    if not everyone:
        locks += [func.pg_advisory_xact_lock(OVERLAP_STAFF, s) for s in sorted(set(staff_ids))]
    _take(conn, locks)


def lock_patients_for_writing(conn: Connection, patients: Collection[int], *, everyone: bool = False) -> None:
    """Before a writer deletes these patients' cached facts (`everyone`: all of them)."""
    if everyone:
        _take(conn, [func.pg_advisory_xact_lock(FACTS_ALL, 0)])
        return
    _take(conn, [func.pg_advisory_xact_lock(FACTS_PATIENT, p) for p in sorted(set(patients))])


def cacheable(conn: Connection, patients: Collection[int]) -> set[int]:
    """The patients whose facts a registry read may store: no write on them is under way and
    none can commit before this read does. Never waits."""
    ids = sorted(set(patients))
    if not ids:
        return set()
    # First the writers' queue (store.server_write_order), without waiting: holding patients'
    # shared locks and then queueing behind a writer that waits for them would deadlock when
    # this unit of work writes later (a chart opened is audited).
    if not _take(conn, [func.cocm_write_try_lock()])[0]:
        return set()
    if not _take(conn, [func.pg_try_advisory_xact_lock_shared(FACTS_ALL, 0)])[0]:
        return set()
    if len(ids) > READ_PATIENT_LOCKS:
        raise ValueError("A registry read locks at most READ_PATIENT_LOCKS patients.")
    got = _take(conn, [func.pg_try_advisory_xact_lock_shared(FACTS_PATIENT, p) for p in ids])
    return {p for p, ok in zip(ids, got, strict=True) if ok}
