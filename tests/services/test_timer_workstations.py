"""One timer per person across workstations (issue 17 item 6), on the file and on the server.

Two computers of the same person starting a timer at the same moment: exactly one wins, the
other is told where the running one is and since when; it may take it over or stop it, and the
computer it moved away from sees that at its next heartbeat.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from cocm_desktop.services import timer
from cocm_desktop.services.clinic import Clinic, is_server
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AuditRecord, RunningTimer
from cocm_desktop.store.server_database import ServerDatabase

T0 = datetime(2026, 11, 24, 10, 0)


def _open_as(clinic: Clinic, username: str) -> Clinic:
    """Another sign-in of `username` to the same clinic: another workstation."""
    if is_server(clinic):
        assert isinstance(clinic, ServerDatabase)
        return ServerDatabase.open(clinic.profile, username, "demo")
    return Database.open(clinic.path, username, "demo")


def test_starting_where_one_runs_elsewhere_says_where_and_since_when(clinic, build) -> None:
    pid = build.patient()
    with clinic.session() as s:
        timer.start_timer(s, build.actors["cm1"], patient_id=pid, activity="outreach", now=T0,
                          workstation="FRONT-DESK-2")
    with pytest.raises(timer.TimerAlreadyRunning) as err, clinic.session() as s:
        timer.start_timer(s, build.actors["cm1"], patient_id=pid, activity="outreach",
                          now=T0 + timedelta(minutes=5), workstation="EXAM-ROOM-4")
    message = str(err.value)
    assert "on the computer “FRONT-DESK-2”" in message and "since 2026-11-24 10:00" in message
    assert "Doe" not in message and "Jane" not in message  # the GUI adds the name for its owner
    assert err.value.timer.workstation == "FRONT-DESK-2"
    assert err.value.timer.runs_elsewhere("EXAM-ROOM-4")


def test_taking_it_over_keeps_its_time_and_the_other_computer_sees_it_moved(clinic, build) -> None:
    pid = build.patient()
    cm1 = build.actors["cm1"]
    with clinic.session() as s:
        timer.start_timer(s, cm1, patient_id=pid, activity="outreach", now=T0, workstation="A")
    with clinic.session() as s:
        state = timer.adopt_timer(s, cm1, now=T0 + timedelta(minutes=10), workstation="B")
    assert (state.workstation, state.started_at, state.running_seconds) == ("B", T0, 600)
    with clinic.session() as s:  # A's next heartbeat: not A's any more, and A does not move it
        seen_by_a = timer.heartbeat(s, cm1, now=T0 + timedelta(minutes=11), workstation="A")
    assert seen_by_a is not None and seen_by_a.runs_elsewhere("A")
    with clinic.session() as s:
        assert s.scalar(select(RunningTimer.heartbeat_at)) == T0 + timedelta(minutes=10)
        result = timer.stop_timer(s, cm1, now=T0 + timedelta(minutes=20))
    assert result.minutes == 20  # nothing lost by moving it
    with clinic.session() as s:
        assert "timer.adopt" in set(s.scalars(select(AuditRecord.action)))


def test_two_computers_racing_to_start_exactly_one_wins(clinic, build) -> None:
    """A's start is flushed but not yet committed when B starts: B cannot see A's row, so only the
    unique staff_id stops it (the server makes B wait for A's commit). B gets the plain message."""
    pid = build.patient()
    a, b = _open_as(clinic, "cm1"), _open_as(clinic, "cm1")
    a_inserted, b_started = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def start_a() -> None:
        try:
            with a.session() as s:
                outcome["a"] = timer.start_timer(s, a.actor, patient_id=pid, activity="outreach", now=T0,
                                                 workstation="A")
                a_inserted.set()
                b_started.wait(10)  # B is now trying; hold the commit a moment
                threading.Event().wait(0.5)
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["a"] = exc
            a_inserted.set()

    def start_b() -> None:
        a_inserted.wait(10)
        b_started.set()
        try:
            with b.session() as s:
                outcome["b"] = timer.start_timer(s, b.actor, patient_id=pid, activity="care_plan", now=T0,
                                                 workstation="B")
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["b"] = exc

    try:
        threads = [threading.Thread(target=start_a), threading.Thread(target=start_b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        a.close()
        b.close()
    assert isinstance(outcome["a"], timer.TimerState), outcome["a"]
    refused = outcome["b"]
    assert isinstance(refused, timer.TimerAlreadyRunning), refused
    assert refused.timer.workstation == "A" and "on the computer “A”" in str(refused)
    with clinic.session() as s:
        rows = s.execute(select(RunningTimer.workstation, RunningTimer.activity)).all()
        starts = s.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "timer.start"))
    assert [tuple(r) for r in rows] == [("A", "outreach")]
    assert starts == 1
