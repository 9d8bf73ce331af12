"""Timer bar (start/stop writes a time entry, crash recovery) and the idle lock with resume."""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import Qt

from cocm_desktop.services.time_log import list_time
from cocm_desktop.services.timer import current_timer, heartbeat, start_timer


def _patient(window):  # type: ignore[no-untyped-def]
    return next(r for r in window.registry.model.rows if r.status == "active")


def _entries(window, pid):  # type: ignore[no-untyped-def]
    return [e for e in window.ctx.read(list_time, patient_id=pid) if e.source == "timer" and not e.deleted]


def test_start_and_stop_writes_a_time_entry(open_window, demo_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    row = _patient(w)
    w.open_chart(row.patient_id)
    wait_idle()
    timer = w.timer
    assert timer.patient_id() == row.patient_id  # defaults to the open chart
    qtbot.mouseClick(timer.start_button, Qt.MouseButton.LeftButton)
    assert timer.is_running and timer.stop_button.isEnabled() and not timer.patient.isEnabled()
    # Six minutes of work: move the running timer's start back through the service clock.
    w.ctx.read(heartbeat)
    before = _entries(w, row.patient_id)
    timer.stop()
    assert not timer.is_running
    w.ctx.read(start_timer, patient_id=row.patient_id, activity="care_coordination",
               now=datetime.now().replace(microsecond=0) - timedelta(minutes=6, seconds=30))
    w.ctx.read(heartbeat)
    timer.check_recovery()  # a live (not stale) timer is adopted as running
    assert timer.is_running and timer.seconds() >= 6 * 60 + 25
    qtbot.mouseClick(timer.stop_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert not timer.is_running and w.ctx.read(current_timer) is None
    after = _entries(w, row.patient_id)
    new = [e for e in after if e.id not in {b.id for b in before}]
    assert sum(e.minutes for e in new) >= 6
    assert any(e.activity == "care_coordination" and e.minutes >= 6 for e in new)
    assert "min this month" in timer.totals.text()


def test_crash_recovery_offers_three_choices_and_stops_at_heartbeat(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm2")
    row = _patient(w)
    now = datetime.now().replace(microsecond=0)
    w.ctx.read(start_timer, patient_id=row.patient_id, activity="outreach", now=now - timedelta(minutes=40))
    w.ctx.read(heartbeat, now=now - timedelta(minutes=25))  # then the app "crashed"
    state = w.ctx.read(current_timer)
    assert state.stale
    box = w.timer.recovery_box(state)
    assert {b.objectName() for b in box.buttons()} == {"stop_at_heartbeat", "stop_now", "discard"}
    result = w.timer.recover("stop_at_heartbeat", row.patient_id)
    wait_idle()
    assert result.minutes == 15
    assert w.ctx.read(current_timer) is None
    assert any(e.minutes == 15 and e.activity == "outreach" for e in _entries(w, row.patient_id))


def test_idle_lock_hides_patient_data_and_resume_restores_it(open_window, demo_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1", idle_ms=400)
    row = _patient(w)
    w.open_chart(row.patient_id)
    wait_idle()
    qtbot.mouseClick(w.timer.start_button, Qt.MouseButton.LeftButton)
    assert w.timer.is_running
    w.idle.poke()
    qtbot.waitUntil(lambda: w.is_locked, timeout=5000)
    # Patient data left the screen and the database refuses reads.
    assert w.ui.rootStack.currentWidget() is w.ui.lockPage
    assert w.registry.model.rowCount() == 0
    assert w.chart.chart is None and w.chart.name_label.text() == ""
    assert w.timer.patient.count() == 0 and not w.ui.timerToolBar.isVisible()
    assert w.ctx.db.locked
    form = w.lock_screen.form
    form.password.setText("wrong")
    qtbot.mouseClick(form.unlock, Qt.MouseButton.LeftButton)
    wait_idle()
    assert w.is_locked and "Wrong password" in form.error.text()
    form.password.setText("demo")
    qtbot.mouseClick(form.unlock, Qt.MouseButton.LeftButton)
    wait_idle()
    assert not w.is_locked and not w.ctx.db.locked
    # Resumed where the user was: the same chart, the registry back, the timer still running.
    assert w.ui.paneStack.currentWidget() is w.ui.chartPage
    assert w.chart.chart is not None and w.chart.chart.patient.id == row.patient_id
    assert w.registry.model.rowCount() > 0
    assert w.timer.is_running and w.timer.patient_id() == row.patient_id
    assert w.ctx.read(current_timer) is not None
    w.timer.stop()


def test_input_postpones_the_idle_lock(open_window, demo_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "doc1", idle_ms=600)
    for _ in range(6):
        qtbot.wait(200)
        qtbot.keyClick(w.registry.search, Qt.Key.Key_Shift)
    assert not w.is_locked
    qtbot.waitUntil(lambda: w.is_locked, timeout=5000)


def test_manual_lock_shortcut(open_window, demo_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "psych")
    w.ui.actionLock.trigger()
    assert w.is_locked and w.ctx.db.locked
