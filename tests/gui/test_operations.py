"""Operations (issue 17 item 1): writes run off the GUI thread, a slow one leaves the window
responsive with a busy indicator and its form's buttons disabled, and every pane refreshes from the
typed change event only when the event concerns what it shows. Real encrypted demo clinic, real
services (slowed or observed by test-only wrappers around the real function)."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from sqlalchemy import func, select

from cocm_desktop.gui.contact_dialog import ContactDialog
from cocm_desktop.services.changes import Change, ChangeEvent, event
from cocm_desktop.store.models import Contact

SHOTS = Path("/tmp/ops/shots")  # screenshots for a person to look at, when that folder exists


def _own_active_row(w: Any) -> Any:
    me = w.ctx.actor.user_id
    return next(r for r in w.registry.model.rows if r.care_manager_id == me and r.status == "active")


def _contacts(w: Any, episode_id: int) -> int:
    with w.ctx.db.session() as s:
        return s.scalar(select(func.count()).select_from(Contact).where(Contact.episode_id == episode_id))


def _fill(dialog: ContactDialog) -> None:
    dialog.ui.summaryEdit.setPlainText("Phone check-in; sleeping better.")
    dialog.ui.minutesEdit.setValue(12)
    dialog.ui.nextStepEdit.setText("Call in two weeks")


def test_a_write_runs_off_the_gui_thread_and_publishes_its_change(open_window, demo_path, wait_idle,  # type: ignore[no-untyped-def]
                                                                 monkeypatch) -> None:
    from cocm_desktop.services import contacts

    w = open_window(demo_path, "cm1")
    row = _own_active_row(w)
    real = contacts.record_contact
    threads: list[int] = []

    def observed(*args: Any, **kwargs: Any) -> Any:  # the real service, noting the thread it runs on
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(contacts, "record_contact", observed)
    events: list[ChangeEvent] = []
    w.ctx.changes.connect(events.append)
    dialog = ContactDialog(w.ctx, episode_id=row.episode_id, patient_id=row.patient_id, parent=w,
                           now=datetime.now().replace(second=0, microsecond=0))
    _fill(dialog)
    dialog.save()
    assert not events  # nothing has run yet on the GUI thread
    wait_idle()
    assert dialog.result_value is not None
    assert threads and threads[0] != threading.get_ident()  # the service ran on a worker thread
    (e,) = events
    assert e.kinds == {Change.CONTACT, Change.TIME} and e.patient_ids == {row.patient_id}
    assert e.by == "cm1" and e.origin == w.ctx.instance_id


def test_a_slow_save_leaves_the_window_responsive_and_shows_it_is_saving(open_window, demo_path, wait_idle,  # type: ignore[no-untyped-def]
                                                                        qtbot, monkeypatch) -> None:
    from cocm_desktop.services import contacts

    w = open_window(demo_path, "cm1")
    row = _own_active_row(w)
    before = _contacts(w, row.episode_id)
    real = contacts.record_contact
    release = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:  # a slow server or disk: the save takes its time
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(contacts, "record_contact", slow)
    dialog = ContactDialog(w.ctx, episode_id=row.episode_id, patient_id=row.patient_id, parent=w,
                           now=datetime.now().replace(second=0, microsecond=0))
    _fill(dialog)
    dialog.show()
    ticks: list[float] = []
    beat = QTimer()
    beat.setInterval(20)
    beat.timeout.connect(lambda: ticks.append(time.monotonic()))
    beat.start()
    qtbot.mouseClick(dialog.ui.saveButton, Qt.MouseButton.LeftButton)
    try:
        # Nothing saved twice, the form not closed under its save; after 150 ms the status bar spins.
        assert not dialog.ui.saveButton.isEnabled() and not dialog.ui.cancelButton.isEnabled()
        assert not w.status_busy.isVisible()
        qtbot.waitUntil(lambda: w.status_busy.isVisible(), timeout=5_000)
        qtbot.wait(400)  # the event loop goes on meanwhile: the timer keeps ticking
        assert len(ticks) >= 10 and w.ctx.busy
        dialog.reject()  # Esc while saving: the form stays
        assert dialog.isVisible()
        if SHOTS.is_dir():
            w.grab().save(str(SHOTS / "saving-indicator.png"))
            w.statusBar().grab().save(str(SHOTS / "saving-indicator-status-bar.png"))
    finally:
        release.set()
        beat.stop()
    wait_idle()
    assert not w.status_busy.isVisible() and not w.ctx.busy
    assert dialog.result_value is not None and not dialog.isVisible()
    assert _contacts(w, row.episode_id) == before + 1


def test_a_quick_save_shows_no_indicator(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.referrals import add_referral

    w = open_window(demo_path, "cm1")
    row = _own_active_row(w)
    shown: list[bool] = []
    w.ctx.busyChanged.connect(shown.append)
    op = w.ctx.write(add_referral, row.episode_id, to_whom="Sleep clinic", reason="Insomnia",
                     referred_on=datetime.now().date(), patient_id=row.patient_id, changes=Change.REFERRAL)
    wait_idle()
    assert op.error is None and op.event is not None and op.event.kinds == {Change.REFERRAL}
    assert True not in shown or shown == [True, False]  # a slow machine may show it; then it goes


def test_the_open_chart_reloads_only_for_its_patient(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    row = _own_active_row(w)
    other = next(r for r in w.registry.model.rows if r.patient_id != row.patient_id)
    w.open_chart(row.patient_id)
    wait_idle()
    loads: list[bool] = []
    w.chart.loaded.connect(lambda: loads.append(True))
    w.ctx.publish(event(Change.MEASURE, patients=other.patient_id))
    wait_idle()
    assert loads == []  # another patient's score: the chart keeps its place
    w.ctx.publish(event(Change.BILLING, patients=row.patient_id))
    wait_idle()
    assert loads == []  # a billing submission is not on the chart
    w.ctx.publish(event(Change.MEASURE, patients=row.patient_id))
    wait_idle()
    assert loads == [True]
    w.ctx.publish(event(Change.USERS))  # staff names are on every chart
    wait_idle()
    assert loads == [True, True]


def test_registry_and_case_review_refresh_on_what_they_show(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    registry = w.registry
    w.show_case_review()
    wait_idle()
    review_loads: list[bool] = []
    w.case_review.loaded.connect(lambda: review_loads.append(True))
    count = registry.load_count
    w.ctx.publish(event(Change.BILLING, patients=1))
    wait_idle()
    assert registry.load_count == count  # submissions are not on the registry
    w.ctx.publish(event(Change.CONTACT, Change.TIME, patients=1))
    wait_idle()
    assert registry.load_count == count + 1
    assert review_loads == []  # a contact does not change an agenda
    w.ctx.publish(event(Change.CASE_REVIEW))
    wait_idle()
    assert review_loads == [True] and registry.load_count == count + 2


def test_events_while_locked_wait_for_the_unlock(open_window, demo_path, wait_idle, qtbot) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    count = w.registry.load_count
    w.lock()
    w.ctx.publish(ChangeEvent(frozenset(Change), many=True))
    wait_idle()
    assert w.registry.load_count == count and w.registry.model.rowCount() == 0  # nothing back on screen
    w.lock_screen.form.password.setText("demo")
    qtbot.mouseClick(w.lock_screen.form.unlock, Qt.MouseButton.LeftButton)
    wait_idle()
    assert w.registry.model.rowCount() > 0


def test_a_policy_event_reloads_the_policy_and_the_idle_lock_follows(open_window, clinic_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.policy import update_policy

    w = open_window(clinic_path, "lead")
    assert w.ctx.policy.idle_lock_minutes != 4
    # saved elsewhere (another workstation): nothing changes here until its event arrives
    with w.ctx.db.session() as s:
        update_policy(s, w.ctx.actor, {"idle_lock_minutes": 4})
    assert w.ctx.policy.idle_lock_minutes != 4
    count = w.registry.load_count
    w.ctx.publish(event(Change.POLICY))
    wait_idle()
    assert w.ctx.policy.idle_lock_minutes == 4 and w.idle.interval_ms == 4 * 60_000
    assert w.registry.load_count == count + 1  # figures computed with the new policy


def test_time_logged_on_the_chart_updates_the_timer_totals(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.time_log import add_manual_time

    w = open_window(demo_path, "cm1")
    row = _own_active_row(w)
    w.open_chart(row.patient_id)
    wait_idle()
    month = w.timer.month_minutes
    w.ctx.write(add_manual_time, patient_id=row.patient_id, activity="care_coordination", minutes=7,
                local_date=datetime.now().date(), changes=Change.TIME)
    wait_idle()
    assert w.timer.month_minutes == month + 7
    assert "min this month" in w.timer.totals.text()
