"""Network faults on the clinic server (issue 17 item 5), against a real server stopped and
restarted under a running session.

What staff rely on: signing in while the server is down says so in one plain sentence; work
with the server gone fails plainly (nothing half-saved) and works again once it is back, on the
same open session (dead pooled connections are replaced); a save whose connection dropped while
the server committed it is not saved a second time by "Save again"; a running timer loses no
time across the outage.

These tests stop their own server, so they use their own cluster (not the session's).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select

from cocm_desktop.services import timer
from cocm_desktop.services.clinic import open_clinic, open_server_clinic
from cocm_desktop.services.contacts import record_contact
from cocm_desktop.services.submissions import AlreadySaved, once
from cocm_desktop.store.models import Contact, Submission, TimeEntry
from cocm_desktop.store.pg_cluster import HOST, PgCluster
from cocm_desktop.store.server_database import ServerDatabase
from cocm_desktop.store.server_engine import ServerUnreachable
from cocm_desktop.store.server_profile import ServerProfile

PASSWORD = "demo"
T0 = datetime(2026, 11, 24, 10, 0)


@dataclass
class OwnServer:
    cluster: PgCluster
    admin_password: str
    profile: ServerProfile

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.cluster.admin_dsn(self.profile.dbname), password=self.admin_password,
                               autocommit=True)

    def down(self) -> contextlib.AbstractContextManager[None]:
        """The server is stopped inside the block and running again after it, whatever happens."""
        return self.cluster.stopped()


@pytest.fixture(scope="module")
def own_server(pg_bin: Path, pg_dir_factory) -> Iterator[OwnServer]:  # type: ignore[no-untyped-def]
    from cocm_desktop.demo.server_demo import create_server_demo

    password = secrets.token_urlsafe(18)
    cluster = PgCluster.init(pg_dir_factory() / "faults", admin_password=password, durable=False, bin_dir=pg_bin)
    cluster.start()
    profile = ServerProfile(host=cluster.host, port=cluster.port, dbname="clinic", ca_cert=cluster.ca_cert_path)
    create_server_demo(cluster.admin_dsn(), password, profile, clinic_name="Faults Clinic", password=PASSWORD)
    try:
        yield OwnServer(cluster, password, profile)
    finally:
        cluster.stop()


_mrn = iter(range(1, 10_000))


def _enrolled(profile: ServerProfile) -> tuple[int, int]:
    """(patient id, episode id): one patient enrolled through the services as cm1 / doc1."""
    from cocm_desktop.domain.episode import TargetCondition
    from cocm_desktop.services.enrollment import ConsentIn, enroll
    from cocm_desktop.services.patients import add_patient

    with ServerDatabase.open(profile, "cm1", PASSWORD) as cm:
        assert cm.actor is not None
        cm1 = cm.actor.user_id
        with cm.session() as s:
            pid = add_patient(s, cm.actor, mrn=f"F-{next(_mrn)}-{secrets.token_hex(3)}", family_name="Rivera",
                              given_name="Ana", date_of_birth=date(1970, 3, 4), last_seen_on=date(2026, 10, 1),
                              today=date(2026, 11, 24)).id
    with ServerDatabase.open(profile, "doc1", PASSWORD) as doc:
        assert doc.actor is not None
        with doc.session() as s:
            res = enroll(s, doc.actor, patient_id=pid, enrolled_on=date(2026, 10, 1), program="cocm",
                         primary_scale="PHQ-9", target_conditions=[TargetCondition("F32.1", "Major depression")],
                         treating_clinician_id=doc.actor.user_id, care_manager_id=cm1,
                         urgent_risk_ruled_out=True, risk_ruled_out_by_id=doc.actor.user_id,
                         consent=ConsentIn(True, True, True, True, date(2026, 10, 1)),
                         baseline_items=None, baseline_taken_at=None)
    return pid, res.episode_id


def _contact_values(summary: str) -> dict[str, object]:
    return dict(contact_at=datetime(2026, 11, 24, 9, 0), mode="phone", kind="follow_up",
                next_step="Call again", next_step_on=date(2026, 12, 8), summary=summary, minutes=7)


def _count(server: OwnServer, table: str, where: str = "", params: tuple[object, ...] = ()) -> int:
    with server.admin() as conn:
        row = conn.execute(f"SELECT count(*) FROM {table} {where}", params).fetchone()  # test-only SQL
    assert row is not None
    return int(row[0])


# ---- sign-in -------------------------------------------------------------------------------------
def test_sign_in_while_the_server_is_down_is_one_plain_sentence(own_server: OwnServer, tmp_path: Path) -> None:
    profile_path = tmp_path / "clinic.json"
    own_server.profile.save(profile_path)
    with own_server.down():
        for attempt in (lambda: open_server_clinic(own_server.profile, "cm1", PASSWORD),
                        lambda: open_clinic(profile_path, "cm1", PASSWORD)):  # the sign-in window's path
            with pytest.raises(ServerUnreachable) as err:
                attempt()
            message = str(err.value)
            assert message.startswith(f"The clinic server at {own_server.profile.host}:{own_server.profile.port} "
                                      "does not answer.")
            assert PASSWORD not in message and "Traceback" not in message and "\n" not in message
            assert err.value.title == "Clinic server not reachable"
    open_server_clinic(own_server.profile, "cm1", PASSWORD).close()  # and it works once it is back


# ---- mid-work ----------------------------------------------------------------------------------
def test_server_restarted_under_a_running_session_fails_plainly_then_works_again(own_server: OwnServer) -> None:
    _pid, eid = _enrolled(own_server.profile)
    with ServerDatabase.open(own_server.profile, "cm1", PASSWORD) as db:
        assert db.actor is not None
        db.ping()
        save = once(record_contact)  # the contact form, opened before the server went away
        with own_server.down():
            with pytest.raises(ServerUnreachable) as err, db.session() as s:
                save(s, db.actor, eid, **_contact_values("first try"))
            assert not err.value.maybe_saved  # it never reached a commit: certainly not saved
            assert "nothing was saved" in str(err.value) and "stays in its form" in str(err.value)
            with pytest.raises(ServerUnreachable):
                db.ping()  # the status bar's light check while it is away
        # Back: the same open session works; the pool's dead connections are replaced, not used.
        db.ping()
        with db.session() as s:
            first = save(s, db.actor, eid, **_contact_values("first try"))
        assert not isinstance(first, AlreadySaved)
        with db.session() as s:  # "Save again" pressed once more by mistake: not a second contact
            again = save(s, db.actor, eid, **_contact_values("first try"))
        assert isinstance(again, AlreadySaved) and again.object_id == first.id
    assert _count(own_server, "contact", "WHERE episode_id = %s", (eid,)) == 1
    assert _count(own_server, "submission", "WHERE request_id = %s", (save.request_id,)) == 1


class CutProxy:
    """A TCP relay in front of the server that the test cuts at a moment it chooses (a pulled
    network cable): every open connection through it dies; new connections get through again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server((HOST, 0))
        self.port = int(self.listener.getsockname()[1])
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._socks += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def test_a_save_whose_answer_was_lost_is_not_saved_twice_by_save_again(own_server: OwnServer) -> None:
    """The worst case: the server committed the contact, but the connection died before the
    answer reached the workstation. The form says it may have been saved; Save again (same
    submission id) finds it and does not write a second contact or a second time entry."""
    _pid, eid = _enrolled(own_server.profile)
    proxy = CutProxy(own_server.profile.host, own_server.profile.port)
    trigger = f"slow_commit_{secrets.token_hex(3)}"
    with own_server.admin() as conn:  # test-only: the commit of a contact takes a moment
        conn.execute(f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$")
        conn.execute(f"GRANT EXECUTE ON FUNCTION {trigger}() TO cocm_staff")
        conn.execute(f"CREATE CONSTRAINT TRIGGER {trigger} AFTER INSERT ON contact DEFERRABLE INITIALLY "
                     f"DEFERRED FOR EACH ROW EXECUTE FUNCTION {trigger}()")

    def cut_while_committing() -> None:
        deadline = time.monotonic() + 30
        with own_server.admin() as conn:
            while time.monotonic() < deadline:
                row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                                   "AND datname = %s", (own_server.profile.dbname,)).fetchone()
                if row and row[0]:
                    proxy.cut()
                    return
                time.sleep(0.02)

    try:
        with ServerDatabase.open(replace(own_server.profile, port=proxy.port), "cm1", PASSWORD) as db:
            assert db.actor is not None
            save = once(record_contact)
            cutter = threading.Thread(target=cut_while_committing)
            cutter.start()
            with pytest.raises(ServerUnreachable) as err, db.session() as s:
                save(s, db.actor, eid, **_contact_values("said on the phone"))
            cutter.join()
            assert err.value.maybe_saved
            assert "may or may not have been saved" in str(err.value)
            time.sleep(1.6)  # the server finishes the commit nobody hears about
            assert _count(own_server, "contact", "WHERE episode_id = %s", (eid,)) == 1
            with db.session() as s:  # Save again, through a new connection
                again = save(s, db.actor, eid, **_contact_values("said on the phone"))
            assert isinstance(again, AlreadySaved)
            with db.session() as s:
                assert s.scalar(select(func.count()).select_from(Contact).where(Contact.episode_id == eid)) == 1
                contact_id = s.scalar(select(Contact.id).where(Contact.episode_id == eid))
                assert again.object_id == contact_id
                assert s.scalar(select(func.count()).select_from(TimeEntry)
                                .where(TimeEntry.contact_id == contact_id)) == 1
                assert s.scalar(select(Submission.action).where(Submission.request_id == save.request_id)) \
                    == "record_contact"
    finally:
        proxy.close()
        with own_server.admin() as conn:
            conn.execute(f"DROP TRIGGER {trigger} ON contact")
            conn.execute(f"DROP FUNCTION {trigger}()")


# ---- the running timer ---------------------------------------------------------------------
def test_a_running_timer_loses_no_time_while_the_server_is_away(own_server: OwnServer) -> None:
    """Heartbeats fail while it is down; the timer row keeps its open segment, so when the
    heartbeat resumes nothing is missing, and a stop made while away (queued with its exact
    time by the timer bar) logs exactly the time worked."""
    pid, _eid = _enrolled(own_server.profile)
    with ServerDatabase.open(own_server.profile, "cm1", PASSWORD) as db:
        assert db.actor is not None
        with db.session() as s:
            timer.start_timer(s, db.actor, patient_id=pid, activity="outreach", now=T0, workstation="WS-1")
        with own_server.down(), pytest.raises(ServerUnreachable), db.session() as s:
            timer.heartbeat(s, db.actor, now=T0 + timedelta(minutes=3), workstation="WS-1")
        # back after 9 minutes: the heartbeat resumes and the time is all there
        with db.session() as s:
            state = timer.heartbeat(s, db.actor, now=T0 + timedelta(minutes=9), workstation="WS-1")
        assert state is not None and state.running_seconds == 9 * 60 and not state.stale
        # the person pressed Stop at 10:17 while the server was away again; it is written at 10:30
        stopped_at = T0 + timedelta(minutes=17)
        stop = once(timer.stop_timer)
        with own_server.down(), pytest.raises(ServerUnreachable), db.session() as s:
            stop(s, db.actor, now=stopped_at)
        with db.session() as s:
            result = stop(s, db.actor, now=stopped_at)
        assert not isinstance(result, AlreadySaved) and result.minutes == 17
        with db.session() as s:
            assert timer.current_timer(s, db.actor) is None
            assert s.scalar(select(func.sum(TimeEntry.minutes)).where(TimeEntry.patient_id == pid)) == 17
