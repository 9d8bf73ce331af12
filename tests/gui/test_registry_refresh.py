"""How the registry follows changes without re-reading the whole clinic each time: a change to a
few patients re-reads only their rows (the same rows a full read gives), a change naming no patient
re-reads everything, and a burst of events while a read runs merges into one more read — a busy
team's stream of saves never piles up reads behind each other."""

from __future__ import annotations

from datetime import date, datetime

from cocm_desktop.services.changes import Change, event
from cocm_desktop.services.contacts import record_contact
from cocm_desktop.services.registry import build_registry


def _row(w, pid: int):  # type: ignore[no-untyped-def]
    return next(r for r in w.registry.model.rows if r.patient_id == pid)


def test_a_contact_re_reads_only_its_patients_row(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    registry = w.registry
    row = next(r for r in registry.model.rows if r.care_manager_id == w.ctx.actor.user_id and r.status == "active")
    total, full = len(registry.model.rows), registry.full_loads
    before = _row(w, row.patient_id)
    w.ctx.write(record_contact, row.episode_id, patient_id=row.patient_id, changes=(Change.CONTACT, Change.TIME),
                contact_at=datetime.now().replace(second=0, microsecond=0), mode="phone", kind="follow_up",
                reached=True, minutes=17, summary="Checked in on sleep", next_step="Call next week",
                next_step_on=date.today())
    wait_idle()
    after = _row(w, row.patient_id)
    assert registry.full_loads == full  # only this patient's row was read
    assert after.last_contact_on == date.today() and after != before
    assert len(registry.model.rows) == total
    # and it is the row a whole read gives
    assert after == next(r for r in w.ctx.read(build_registry) if r.patient_id == row.patient_id)


def test_an_event_naming_no_patient_re_reads_everything(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    full = w.registry.full_loads
    w.ctx.publish(event(Change.POLICY))  # thresholds may move every flag
    wait_idle()
    assert w.registry.full_loads == full + 1


def test_a_burst_of_events_while_a_read_runs_makes_one_more_read(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    registry = w.registry
    loads, full = registry.load_count, registry.full_loads
    pids = [r.patient_id for r in registry.model.rows[:30]]
    registry.reload()  # a whole read is running…
    assert registry.loads.running
    for pid in pids:  # …while thirty saves from colleagues arrive
        w.ctx.publish(event(Change.CONTACT, Change.TIME, patients=pid))
    w.ctx.publish(event(Change.PATIENT, patients=None))  # and one naming nobody
    wait_idle()
    assert registry.load_count == loads + 2 and registry.full_loads == full + 2  # not 32 reads
    w.ctx.publish(event(Change.MEASURE, patients=pids[0]))
    for pid in pids[1:4]:
        w.ctx.publish(event(Change.MEASURE, patients=pid))
    wait_idle()
    assert registry.load_count == loads + 4 and registry.full_loads == full + 2  # one read of one, one of three
