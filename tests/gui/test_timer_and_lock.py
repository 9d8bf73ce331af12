"""Timer bar (start/stop writes a time entry, crash recovery) and the idle lock with resume."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

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
    assert not timer.start_button.isEnabled()  # saving the start off the GUI thread: no second press
    wait_idle()
    assert timer.is_running and timer.stop_button.isEnabled() and not timer.patient.isEnabled()
    assert w.ctx.read(current_timer).patient_id == row.patient_id  # a database row from the first second
    before = {e.id for e in _entries(w, row.patient_id)}
    assert timer.stop()
    wait_idle()
    assert not timer.is_running and w.ctx.read(current_timer) is None
    # Six and a half minutes of work: a timer started earlier through the service clock (no sleeping).
    started = datetime.now().replace(microsecond=0) - timedelta(minutes=6, seconds=30)
    w.ctx.read(start_timer, patient_id=row.patient_id, activity="care_coordination", now=started)
    w.ctx.read(heartbeat)
    timer.check_recovery()  # a live (not stale) timer is adopted as running
    assert timer.is_running and timer.seconds() >= 6 * 60 + 25
    assert timer.activity.currentData() == "care_coordination" and not timer.activity.isEnabled()
    qtbot.mouseClick(timer.stop_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert not timer.is_running and w.ctx.read(current_timer) is None
    new = [e for e in _entries(w, row.patient_id) if e.id not in before]
    # (a timer running over midnight is split per local day, so add up the entries)
    assert sum(e.minutes for e in new if e.activity == "care_coordination") >= 6
    qtbot.waitUntil(lambda: "min this month" in timer.totals.text(), timeout=60_000)
    assert f"{timer.month_minutes} min this month" in timer.totals.text()


def test_crash_recovery_offers_three_choices_and_stops_at_heartbeat(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm2")
    row = _patient(w)
    # Yesterday 10:00–10:15, then the app "crashed" (fixed times: no midnight split, no race).
    started = datetime.combine(date.today() - timedelta(days=1), time(10, 0))
    w.ctx.read(start_timer, patient_id=row.patient_id, activity="outreach", now=started)
    w.ctx.read(heartbeat, now=started + timedelta(minutes=15))
    state = w.ctx.read(current_timer)
    assert state.stale
    box = w.timer.recovery_box(state)
    assert {b.objectName() for b in box.buttons()} == {"stop_at_heartbeat", "stop_now", "discard"}
    op = w.timer.recover("stop_at_heartbeat", row.patient_id)
    wait_idle()
    assert op.result.minutes == 15
    assert w.ctx.read(current_timer) is None
    assert any(e.minutes == 15 and e.activity == "outreach" for e in _entries(w, row.patient_id))


def test_idle_lock_hides_patient_data_and_resume_restores_it(open_window, demo_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1", idle_ms=400)
    clock = w.test_clock
    row = _patient(w)
    w.open_chart(row.patient_id)
    wait_idle()
    qtbot.mouseClick(w.timer.start_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert w.timer.is_running
    clock.advance(0.39)
    assert not w.idle.check() and not w.is_locked  # 390 ms idle: not yet
    clock.advance(0.02)
    assert w.idle.check() and w.is_locked
    # Patient data left the screen and the database refuses reads.
    assert w.ui.rootStack.currentWidget() is w.ui.lockPage
    assert w.registry.model.rowCount() == 0
    assert w.chart.chart is None and w.chart.name_label.text() == ""
    assert w.timer.patient.count() == 0 and not w.ui.timerToolBar.isVisible()
    assert w.ctx.db.locked
    assert not w.idle.enabled  # locked: the watcher rests until unlock
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
    assert w.idle.enabled and w.idle.idle_seconds() == 0  # the idle time counts afresh
    w.timer.stop()


def test_input_postpones_the_idle_lock(open_window, demo_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "doc1", idle_ms=600)
    clock = w.test_clock
    for _ in range(6):  # 3 s of typing, never 600 ms apart
        clock.advance(0.5)
        qtbot.keyClick(w.registry.search, Qt.Key.Key_Shift)
        assert not w.idle.check()
    clock.advance(0.59)
    assert not w.idle.check() and not w.is_locked
    clock.advance(0.01)
    assert w.idle.check() and w.is_locked


def test_idle_watcher_sleeps_until_the_limit_and_rearms(qapp) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.gui.lock import IdleWatcher

    now = [0.0]
    fired: list[bool] = []
    watcher = IdleWatcher(10 * 60_000, clock=lambda: now[0])
    watcher.idle.connect(lambda: fired.append(True))
    try:
        assert not watcher.check()  # not started: never fires
        watcher.start()
        now[0] = 599.0
        assert not watcher.check() and 1000 <= watcher._timer.interval() <= 1001
        now[0] = 600.0
        assert watcher.check() and fired == [True] and not watcher.enabled
        now[0] = 5000.0
        assert not watcher.check() and fired == [True]  # fires once per start
        watcher.start()
        watcher.set_interval_ms(60_000)  # the clinic lead shortened the policy
        now[0] = 5059.0
        assert not watcher.check()
        now[0] = 5060.0
        assert watcher.check() and fired == [True, True]
    finally:
        watcher.dispose()


def test_manual_lock_shortcut(open_window, demo_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "psych")
    w.ui.actionLock.trigger()
    assert w.is_locked and w.ctx.db.locked


def test_sign_in_as_someone_else_closes_the_session_and_keeps_the_running_timer(clinic_path, demo_path, qtbot, wait_idle, monkeypatch, open_window) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.gui.app import AppController, create_app
    from cocm_desktop.store.database import Database

    controller = AppController(create_app())
    db = Database.open(demo_path, "cm1", "demo", exclusive=True)
    controller.open_main(db, demo=False)
    w = controller.window
    qtbot.waitUntil(lambda: w.registry.load_count >= 1, timeout=90_000)
    wait_idle()
    row = _patient(w)
    w.open_chart(row.patient_id)
    wait_idle()
    qtbot.mouseClick(w.timer.start_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert w.timer.is_running
    w.lock()
    asked: list[tuple] = []
    monkeypatch.setattr(controller, "sign_in", lambda path, demo=False, username=None: asked.append((path, username)) or True)
    button = w.lock_screen.form.sign_out
    assert button.text() == "Sign in as someone else" and button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    # The session closed cleanly (database released) and the sign-in asks for a name afresh.
    assert controller.window is None and controller.context is None
    assert asked == [(demo_path, "")]
    # Someone else can use the clinic now; the timer's owner gets it back at their next sign-in.
    other = open_window(demo_path, "cm2")
    assert not other.timer.is_running
    other.shutdown()
    other.ctx.close()
    back = open_window(demo_path, "cm1")
    assert back.timer.is_running and back.timer.patient_id() == row.patient_id  # fresh: adopted as running
    assert back.ctx.read(current_timer).patient_id == row.patient_id
