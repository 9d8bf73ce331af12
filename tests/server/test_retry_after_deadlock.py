"""A unit of work the server rolls back to break a deadlock is run again and commits exactly once.

Two connections lock in opposite orders: a care manager's unit of work (a contact with minutes)
holds the audit head and then wants the patient's row; another connection holds that row and then
wants the audit head. PostgreSQL breaks the cycle by rolling back the care manager's transaction.
`ServerDatabase.run` (store.unit_of_work.run) runs the unit of work again from its start: one
contact, one audit record for it, the audit chain and the derived tables exact.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cocm_desktop.services import registry_facts
from cocm_desktop.services.common import load_policy
from cocm_desktop.services.contacts import record_contact
from cocm_desktop.store import overlap_days, unit_of_work
from cocm_desktop.store.models import AuditRecord, Contact, Patient
from cocm_desktop.store.pg_cluster import PgCluster
from cocm_desktop.store.server_database import RUN_ATTEMPTS, ServerDatabase
from cocm_desktop.store.server_engine import ServerBusy
from cocm_desktop.store.server_profile import ServerProfile

DAY = date(2026, 11, 24)


def _waiting_for_a_lock(admin: psycopg.Connection, user: str) -> bool:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND wait_event_type = 'Lock'",
                        (user,)).fetchone()
    return bool(row and row[0])


def _wait_until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_unit_of_work_rolled_back_by_a_deadlock_is_run_again_and_saved_once(
    server_profile: ServerProfile, pg_cluster: PgCluster, pg_admin_password: str,
    clinic_with_patient: tuple[int, int],
) -> None:
    pid, eid = clinic_with_patient
    dsn = pg_cluster.admin_dsn(server_profile.dbname)
    attempts: list[int] = []
    outcome: dict[str, Any] = {}

    with ServerDatabase.open(server_profile, "cm1", "demo") as cm1, \
            psycopg.connect(dsn, password=pg_admin_password, autocommit=True) as watcher, \
            psycopg.connect(dsn, password=pg_admin_password) as other:
        actor = cm1.actor
        assert actor is not None

        def work(s: Session) -> int:
            attempts.append(len(attempts) + 1)
            contact = record_contact(s, actor, eid, contact_at=datetime(2026, 11, 24, 9), mode="phone",
                                     kind="follow_up", next_step="Call again", next_step_on=DAY + timedelta(days=7),
                                     minutes=25, now=datetime(2026, 11, 24, 12))
            s.flush()  # the contact and its audit record are written: this transaction holds the audit head
            s.execute(select(Patient.id).where(Patient.id == pid).with_for_update())  # waits for `other`
            return contact.id

        def save() -> None:
            try:
                outcome["id"] = unit_of_work.run(cm1, work)
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                outcome["error"] = exc

        # The other connection never waits long enough to be the one the server rolls back.
        other.execute("SET deadlock_timeout = '60s'")
        other.execute("SELECT 1 FROM patient WHERE id = %s FOR UPDATE", (pid,))
        saving = threading.Thread(target=save)
        saving.start()
        _wait_until(lambda: _waiting_for_a_lock(watcher, "cm1"))  # cm1 holds the head, waits for the patient
        other.execute("SELECT cocm_write_lock()")  # … and now the other waits for the head: a deadlock
        _wait_until(lambda: len(attempts) == 2)  # cm1's first attempt was rolled back; it runs again
        _wait_until(lambda: _waiting_for_a_lock(watcher, "cm1"))  # behind the other, at the head this time
        other.commit()
        saving.join(30)
        assert not saving.is_alive()
        assert "error" not in outcome, outcome.get("error")
        assert attempts == [1, 2] and cm1.retries == 1

        with cm1.session() as s:
            contacts = list(s.scalars(select(Contact).where(Contact.episode_id == eid)))
            assert [c.id for c in contacts] == [outcome["id"]] and contacts[0].minutes == 25
            audited = s.scalar(select(func.count()).select_from(AuditRecord).where(
                AuditRecord.object_type == "contact", AuditRecord.object_id == outcome["id"]))
            assert audited == 1
            assert registry_facts.cache_differences(s, load_policy(s)) == []
            assert overlap_days.differences(s.connection()) == (set(), set())
    with ServerDatabase.open(server_profile, "lead", "demo") as lead:  # only the lead may walk the chain
        assert list(lead.full_check().findings()) == []


def test_without_the_retry_the_same_deadlock_saves_nothing_and_says_so(
    server_profile: ServerProfile, pg_cluster: PgCluster, pg_admin_password: str,
    clinic_with_patient: tuple[int, int],
) -> None:
    """What `run` saves a person from: a plain session meets the deadlock as a "try again"."""
    pid, eid = clinic_with_patient
    dsn = pg_cluster.admin_dsn(server_profile.dbname)
    outcome: dict[str, Any] = {}
    with ServerDatabase.open(server_profile, "cm1", "demo") as cm1, \
            psycopg.connect(dsn, password=pg_admin_password, autocommit=True) as watcher, \
            psycopg.connect(dsn, password=pg_admin_password) as other:
        actor = cm1.actor
        assert actor is not None

        def save() -> None:
            try:
                with cm1.session() as s:
                    record_contact(s, actor, eid, contact_at=datetime(2026, 11, 24, 9), mode="phone",
                                   kind="follow_up", next_step="Call again", next_step_on=DAY + timedelta(days=7),
                                   minutes=25, now=datetime(2026, 11, 24, 12))
                    s.flush()
                    s.execute(select(Patient.id).where(Patient.id == pid).with_for_update())
            except BaseException as exc:  # noqa: BLE001 - the test looks at it
                outcome["error"] = exc

        other.execute("SET deadlock_timeout = '60s'")
        other.execute("SELECT 1 FROM patient WHERE id = %s FOR UPDATE", (pid,))
        saving = threading.Thread(target=save)
        saving.start()
        _wait_until(lambda: _waiting_for_a_lock(watcher, "cm1"))
        other.execute("SELECT cocm_write_lock()")
        saving.join(30)
        other.commit()
        error = outcome.get("error")
        assert isinstance(error, ServerBusy) and error.rolled_back
        assert "nothing was saved" in str(error)
        with cm1.session() as s:
            assert s.scalar(select(func.count()).select_from(Contact).where(Contact.episode_id == eid)) == 0
    with ServerDatabase.open(server_profile, "lead", "demo") as lead:
        assert list(lead.full_check().findings()) == []


def test_the_retry_is_bounded_and_never_repeats_what_may_have_been_saved(
    server_profile: ServerProfile, clinic_with_patient: tuple[int, int]
) -> None:
    """A server that keeps rolling back gets RUN_ATTEMPTS tries, then the plain ServerBusy; a
    ServerBusy the server did not roll back itself (a statement cancelled) is not run again."""
    with ServerDatabase.open(server_profile, "cm1", "demo") as cm1:
        calls: list[int] = []

        def always_rolled_back(s: Session) -> None:
            calls.append(1)
            s.execute(select(1))
            raise ServerBusy(rolled_back=True)

        with pytest.raises(ServerBusy):
            cm1.run(always_rolled_back)
        assert len(calls) == RUN_ATTEMPTS and cm1.retries == RUN_ATTEMPTS - 1

        cancelled: list[int] = []

        def statement_cancelled(s: Session) -> None:
            cancelled.append(1)
            s.execute(select(func.pg_sleep(0)).where(False))  # a round trip
            s.connection().exec_driver_sql("SET LOCAL statement_timeout = '50ms'")
            s.connection().exec_driver_sql("SELECT pg_sleep(1)")

        with pytest.raises(ServerBusy) as raised:
            cm1.run(statement_cancelled)
        assert not raised.value.rolled_back and len(cancelled) == 1
