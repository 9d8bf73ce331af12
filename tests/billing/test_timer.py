"""The crash-proof timer on a real encrypted database: start, heartbeat, pause, splits, recovery."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.services import timer
from cocm_desktop.services.common import NotFound, ValidationError
from cocm_desktop.services.time_log import list_time
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AuditRecord, RunningTimer, TimeEntry

T0 = datetime(2026, 11, 20, 10, 0)


@pytest.fixture
def patient(build):  # type: ignore[no-untyped-def]
    pid = build.patient()
    eid = build.episode(pid)
    return pid, eid


def test_timer_is_a_row_from_the_start_and_logs_on_stop(clinic, actors, patient) -> None:
    pid, eid = patient
    cm = actors["cm1"]
    with clinic.session() as s:
        state = timer.start_timer(s, cm, patient_id=pid, activity="care_coordination", now=T0)
    assert state.running_seconds == 0 and not state.paused
    with clinic.session() as s:  # visible to a fresh session: it is in the database
        assert s.scalar(select(func.count()).select_from(RunningTimer)) == 1
        timer.heartbeat(s, cm, now=T0 + timedelta(seconds=30))
    with clinic.session() as s:
        result = timer.stop_timer(s, cm, now=T0 + timedelta(minutes=22, seconds=59))
    assert result.minutes == 22 and len(result.entries) == 1
    e = result.entries[0]
    assert (e.local_date, e.minutes, e.episode_id, e.source, e.split_group) == (
        T0.date(),
        22,
        eid,
        "timer",
        None,
    )
    with clinic.session() as s:
        assert s.scalar(select(func.count()).select_from(RunningTimer)) == 0
        actions = list(s.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))
    assert actions[-3:] == ["timer.start", "timer.stop", "time.add"]


def test_one_timer_per_person(clinic, actors, patient) -> None:
    pid, _ = patient
    with clinic.session() as s:
        timer.start_timer(s, actors["cm1"], patient_id=pid, activity="outreach", now=T0)
    with pytest.raises(timer.TimerAlreadyRunning) as err, clinic.session() as s:
        timer.start_timer(
            s, actors["cm1"], patient_id=pid, activity="outreach", now=T0 + timedelta(minutes=5)
        )
    assert err.value.timer.started_at == T0
    with clinic.session() as s:  # another person may run their own
        timer.start_timer(s, actors["cm2"], patient_id=pid, activity="outreach", now=T0)


@pytest.mark.parametrize(
    ("start", "stop", "expected"),
    [
        # across midnight
        (
            datetime(2026, 11, 3, 23, 50),
            datetime(2026, 11, 4, 0, 15),
            [(date(2026, 11, 3), 10), (date(2026, 11, 4), 15)],
        ),
        # across month end: October and November each get their own minutes
        (
            datetime(2026, 10, 31, 23, 40),
            datetime(2026, 11, 1, 0, 25),
            [(date(2026, 10, 31), 20), (date(2026, 11, 1), 25)],
        ),
    ],
)
def test_timer_split_at_midnight_and_month_end(clinic, actors, patient, start, stop, expected) -> None:
    pid, _ = patient
    cm = actors["cm1"]
    with clinic.session() as s:
        timer.start_timer(s, cm, patient_id=pid, activity="follow_up_contact", now=start)
        result = timer.stop_timer(s, cm, now=stop)
    assert [(e.local_date, e.minutes) for e in result.entries] == expected
    groups = {e.split_group for e in result.entries}
    assert len(groups) == 1 and None not in groups
    with clinic.session() as s:
        by_month = {
            m: sum(e.minutes for e in list_time(s, cm, patient_id=pid, month=m))
            for m in (date(2026, 10, 1), date(2026, 11, 1))
        }
    assert by_month == {
        date(2026, 10, 1): sum(m for d, m in expected if d.month == 10),
        date(2026, 11, 1): sum(m for d, m in expected if d.month == 11),
    }


def test_pause_is_not_logged(clinic, actors, patient) -> None:
    pid, _ = patient
    cm = actors["cm1"]
    with clinic.session() as s:
        timer.start_timer(s, cm, patient_id=pid, activity="assessment", now=T0)
        timer.pause_timer(s, cm, now=T0 + timedelta(minutes=10))
        state = timer.current_timer(s, cm, now=T0 + timedelta(minutes=40))
        assert state is not None and state.paused and state.running_seconds == 600
        timer.resume_timer(s, cm, now=T0 + timedelta(minutes=40))
        result = timer.stop_timer(s, cm, now=T0 + timedelta(minutes=55))
    assert result.minutes == 25
    # the paused half hour is not covered by any entry (work on someone else then is not overlap)
    spans = [(e.started_at, e.ended_at) for e in result.entries]
    assert spans == [
        (T0, T0 + timedelta(minutes=10)),
        (T0 + timedelta(minutes=40), T0 + timedelta(minutes=55)),
    ]


def test_under_a_minute_is_kept_and_the_month_adds_exact_durations(clinic, actors, patient) -> None:
    """billing.md: no timed work is silently dropped; a month adds exact durations and rounds the
    month's total down. Three 11 min 50 s runs and a 50 s run: 36 min 20 s → 36 min, 99492 reached
    (the runs' whole minutes alone say 33, G2214), on the packet and in the registry alike."""
    from cocm_desktop.services.billing_month import compute_billing_month
    from cocm_desktop.services.billing_progress import billing_progress

    pid, eid = patient
    cm = actors["cm1"]
    with clinic.session() as s:
        timer.start_timer(s, cm, patient_id=pid, activity="outreach", now=T0)
        short = timer.stop_timer(s, cm, now=T0 + timedelta(seconds=50))
    assert len(short.entries) == 1 and short.entries[0].minutes == 0
    assert short.message.startswith("50 s logged: under a minute, kept exactly")
    with clinic.session() as s:
        (row,) = s.scalars(select(TimeEntry))
        assert (row.started_at, row.ended_at, row.minutes) == (T0, T0 + timedelta(seconds=50), 0)
        for n in range(3):
            start = T0 + timedelta(hours=n + 1)
            timer.start_timer(s, cm, patient_id=pid, activity="follow_up_contact", now=start)
            stopped = timer.stop_timer(s, cm, now=start + timedelta(minutes=11, seconds=50))
            assert stopped.message == "11 min 50 s logged."
    now = T0 + timedelta(days=4)
    with clinic.session() as s:
        for exact in (False, True):
            bm = compute_billing_month(s, T0.date(), now=now, today=now.date(), exact=exact)
            (r,) = [r for r in bm.rows if r.patient_id == pid]
            assert (r.logged_minutes, r.counted_minutes, r.excluded_minutes) == (36, 36, 0)
            assert sum(line.logged_minutes for line in r.time_log) == 36
            assert r.codes == (("99492", 1),)
        assert billing_progress(s, T0.date(), [eid])[eid].minutes == 36


def test_a_timer_across_midnight_keeps_its_seconds_on_both_days(clinic, actors, patient) -> None:
    pid, _ = patient
    cm = actors["cm1"]
    start = datetime(2026, 11, 20, 23, 59, 30)
    with clinic.session() as s:
        timer.start_timer(s, cm, patient_id=pid, activity="outreach", now=start)
        result = timer.stop_timer(s, cm, now=start + timedelta(minutes=1))
    spans = [(e.local_date, e.ended_at - e.started_at, e.minutes) for e in result.entries]
    assert spans == [(date(2026, 11, 20), timedelta(seconds=30), 0), (date(2026, 11, 21), timedelta(seconds=30), 0)]


def test_lead_cannot_run_a_timer_and_bad_activity_is_refused(clinic, actors, patient) -> None:
    pid, _ = patient
    with pytest.raises(PermissionDenied), clinic.session() as s:
        timer.start_timer(s, actors["lead"], patient_id=pid, activity="outreach", now=T0)
    with pytest.raises(ValidationError, match="not a known activity"), clinic.session() as s:
        timer.start_timer(s, actors["cm1"], patient_id=pid, activity="gardening", now=T0)
    with pytest.raises(NotFound), clinic.session() as s:
        timer.stop_timer(s, actors["cm1"], now=T0)
    with clinic.session() as s:
        assert s.scalar(select(func.count()).select_from(RunningTimer)) == 0


@pytest.mark.parametrize(
    ("choice", "minutes"),
    [
        (timer.RecoveryChoice.STOP_AT_HEARTBEAT, 25),  # last proof of life at 10:25
        (timer.RecoveryChoice.STOP_NOW, 70),  # reopened at 11:10
        (timer.RecoveryChoice.DISCARD, 0),
    ],
)
def test_crash_recovery(clinic_path, build, patient, choice, minutes) -> None:
    pid, _ = patient
    build.db.close()  # the lead's fixture connection is not part of this story
    db = Database.open(clinic_path, "cm1", "demo")
    with db.session() as s:
        timer.start_timer(s, db.actor, patient_id=pid, activity="care_plan", now=T0)
    for k in range(1, 51):  # heartbeats every 30 s up to 10:25
        with db.session() as s:
            timer.heartbeat(s, db.actor, now=T0 + timedelta(seconds=30 * k))
    db.engine.dispose()  # the app dies: no stop, no clean shutdown of the timer
    del db

    db = Database.open(clinic_path, "cm1", "demo")
    try:
        reopen = T0 + timedelta(minutes=70)
        with db.session() as s:
            state = timer.current_timer(s, db.actor, now=reopen)
            assert state is not None and state.stale
            assert state.heartbeat_at == T0 + timedelta(minutes=25)
            assert state.seconds_at_heartbeat == 25 * 60
            with pytest.raises(timer.TimerAlreadyRunning):
                timer.start_timer(s, db.actor, patient_id=pid, activity="outreach", now=reopen)
        with db.session() as s:
            result = timer.recover_timer(s, db.actor, choice, now=reopen)
        assert result.minutes == minutes
        assert result.discarded == (choice is timer.RecoveryChoice.DISCARD)
        with db.session() as s:
            assert timer.current_timer(s, db.actor, now=reopen) is None
            logged = s.scalar(
                select(func.coalesce(func.sum(TimeEntry.minutes), 0)).where(TimeEntry.patient_id == pid)
            )
            assert logged == minutes
            last = s.scalars(select(AuditRecord.action).order_by(AuditRecord.seq.desc())).first()
            assert last in {"timer.discard", "time.add"}
    finally:
        db.close()


def test_stop_now_after_more_than_a_day_is_refused(clinic, actors, patient) -> None:
    pid, _ = patient
    cm = actors["cm1"]
    with clinic.session() as s:
        timer.start_timer(s, cm, patient_id=pid, activity="care_plan", now=T0)
    with pytest.raises(ValidationError, match="more than 24 hours"), clinic.session() as s:
        timer.recover_timer(s, cm, "stop_now", now=T0 + timedelta(days=2))
    with clinic.session() as s:  # nothing written, the timer is still there to recover differently
        assert timer.current_timer(s, cm, now=T0) is not None
        assert s.scalar(select(func.count()).select_from(TimeEntry)) == 0
        assert timer.recover_timer(s, cm, "stop_at_heartbeat", now=T0 + timedelta(days=2)).minutes == 0
