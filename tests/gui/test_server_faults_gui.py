"""The app while the clinic server goes away and comes back (issue 17 items 5 and 6), on a real
private server this module stops and restarts under open windows.

What a care manager relies on: the status bar says the server is not reachable; a contact, a
PHQ-9 or a care plan being saved stays open with everything typed, its button says "Save again",
and once the server is back it saves exactly once; the timer bar keeps counting, a stop pressed
meanwhile is written with its exact time when the server is back; a timer running on another of
their computers is named with its patient and can be taken over.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog
from sqlalchemy import func, select

from cocm_desktop.gui import server_status
from cocm_desktop.gui.contact_dialog import ContactDialog
from cocm_desktop.gui.form_dialog import Field, FormDialog
from cocm_desktop.gui.measure_dialog import MeasureDialog
from cocm_desktop.gui.save_again import BACK_NOTE, SAVE_AGAIN
from cocm_desktop.services import timer as timer_service
from cocm_desktop.services.changes import Change
from cocm_desktop.services.submissions import once
from cocm_desktop.store.models import CarePlanVersion, Contact, Measure, RunningTimer, TimeEntry
from cocm_desktop.store.pg_cluster import PgCluster


class Server:
    def __init__(self, folder: Path, profile_path: Path) -> None:
        self.cluster = PgCluster.open(folder)
        self.profile_path = profile_path

    def down(self) -> contextlib.AbstractContextManager[None]:
        return self.cluster.stopped()


@pytest.fixture(scope="module")
def server(pg_bin, pg_dir_factory) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.server_setup import start_demo_server, stop_demo_server

    folder = pg_dir_factory() / "faults"
    demo = start_demo_server(folder, patients=8, port=None, seed=11)
    try:
        yield Server(folder, demo.profile_path)
    finally:
        stop_demo_server(folder)


def _window(open_window, server: Server, username: str = "cm1"):  # type: ignore[no-untyped-def]
    window = open_window(server.profile_path, username)
    assert window.server_status is not None
    window.server_status._timer.setInterval(100)  # ping often: the test waits for the server's return
    return window


def _active(window):  # type: ignore[no-untyped-def]
    return next(r for r in window.registry.model.rows if r.status == "active")


def _away_label(window):  # type: ignore[no-untyped-def]
    return window.server_status.label


def _wait_back(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: window.server_status.reachable, timeout=60_000)


def test_a_contact_form_stays_open_while_the_server_is_away_and_saves_once_when_back(
        open_window, server: Server, qtbot, wait_idle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = _window(open_window, server)
    row = _active(w)
    dialog = ContactDialog(w.ctx, episode_id=row.episode_id, patient_id=row.patient_id,
                           patient_name=row.patient_name, parent=w)
    dialog.show()
    summary = "Talked through the sleep diary; walks twice a week now."
    dialog.ui.summaryEdit.setPlainText(summary)
    dialog.ui.nextStepEdit.setText("Call on Friday")
    dialog.ui.minutesEdit.setValue(12)
    with server.down():
        dialog.save()
        wait_idle()  # the save runs off the GUI thread and meets the lost server there
        # still open, everything typed still there, and it says why and what to do
        assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
        assert dialog.ui.summaryEdit.toPlainText() == summary
        assert dialog.ui.nextStepEdit.text() == "Call on Friday" and dialog.ui.minutesEdit.value() == 12
        assert dialog.ui.saveButton.text() == SAVE_AGAIN
        assert "does not answer" in dialog.ui.errorLabel.text()
        assert not w.server_status.reachable
        assert _away_label(w).isVisible()
        assert _away_label(w).text() == server_status.AWAY_TEXT
        w.grab().save(str(tmp_path / "away-window.png"))
        dialog.grab().save(str(tmp_path / "away-contact.png"))
    _wait_back(qtbot, w)
    assert not _away_label(w).isVisible()
    assert dialog.ui.errorLabel.text() == BACK_NOTE
    dialog.save()
    wait_idle()
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.result_value is not None
    with w.ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact).where(Contact.summary == summary)) == 1


def test_a_phq9_already_saved_before_the_answer_was_lost_is_not_saved_twice_and_still_warns(
        open_window, server: Server, wait_idle) -> None:  # type: ignore[no-untyped-def]
    """The save landed on the server but the workstation never heard (the connection died at
    COMMIT, shown with a real cut in tests/server/test_server_faults.py): Save again finds it,
    writes nothing, and item 9's safety warning still reaches the chart."""
    w = _window(open_window, server)
    row = _active(w)
    dialog = MeasureDialog(w.ctx, episode_id=row.episode_id, patient_id=row.patient_id, instrument="PHQ-9",
                           patient_name=row.patient_name, parent=w)
    dialog.show()
    answers = [2, 2, 1, 1, 1, 1, 1, 1, 1]
    dialog.set_answers(answers)
    taken = datetime.now().replace(second=0, microsecond=0)
    # the first attempt, committed by the server: same submission id as the form's
    op = w.ctx.write(dialog.saving_once.call, row.episode_id, "PHQ-9", answers, taken_at=taken,
                     difficulty=None, patient_id=row.patient_id, changes=Change.MEASURE)
    wait_idle()
    first = op.result
    dialog.ui.takenAtEdit.setDateTime(dialog.ui.takenAtEdit.dateTime())  # the form as it was sent
    dialog.save()
    wait_idle()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.result_value.id == first.id and dialog.result_value.risk_event_id == first.risk_event_id
    assert first.risk_event_id is not None
    with w.ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Measure).where(Measure.episode_id == row.episode_id,
                                                                         Measure.taken_at == taken)) == 1


def test_a_phq9_form_keeps_its_answers_while_the_server_is_away(
        open_window, server: Server, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = _window(open_window, server)
    row = _active(w)
    dialog = MeasureDialog(w.ctx, episode_id=row.episode_id, patient_id=row.patient_id, instrument="PHQ-9",
                           patient_name=row.patient_name, parent=w)
    dialog.show()
    answers = [3, 2, 2, 1, 1, 1, 0, 1, 0]
    dialog.set_answers(answers)
    with w.ctx.db.session() as s:
        before = s.scalar(select(func.count()).select_from(Measure).where(Measure.episode_id == row.episode_id))
    with server.down():
        dialog.save()
        wait_idle()
        assert dialog.isVisible() and dialog.answers() == answers
        assert dialog.ui.saveButton.text() == SAVE_AGAIN and dialog.ui.saveButton.isEnabled()
        assert dialog.ui.errorLabel.isVisible()
    _wait_back(qtbot, w)
    dialog.save()
    wait_idle()
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.result_value.total == 11
    with w.ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Measure)
                        .where(Measure.episode_id == row.episode_id)) == before + 1


def test_a_care_plan_form_keeps_what_was_typed_and_saves_once_when_back(
        open_window, server: Server, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.care_plans import save_care_plan

    w = _window(open_window, server)
    row = _active(w)
    save = once(save_care_plan)  # as the chart's "Care plan…" does
    dialog = FormDialog("Care plan", [Field("goals", "Goals", "text", True),
                                      Field("safety_steps", "Safety steps", "text")], w,
                        submit=lambda vals: w.ctx.write(save, row.episode_id, patient_id=row.patient_id,
                                                        changes=Change.CARE_PLAN, **vals),
                        ok_text="Save new version")
    dialog.show()
    goals = "Back to the Saturday choir; sleep before midnight."
    dialog.widgets["goals"].setPlainText(goals)
    with w.ctx.db.session() as s:
        before = s.scalar(select(func.count()).select_from(CarePlanVersion)
                          .where(CarePlanVersion.episode_id == row.episode_id))
    with server.down():
        dialog._accept()
        wait_idle()
        assert dialog.isVisible() and dialog.widgets["goals"].toPlainText() == goals
        assert dialog.ok_button.text() == SAVE_AGAIN and dialog.invalid_fields() == []
        assert "does not answer" in dialog.error.text()
    _wait_back(qtbot, w)
    dialog._accept()
    wait_idle()
    assert dialog.result() == QDialog.DialogCode.Accepted
    dialog._accept()  # a second press (e.g. a double click) never saves a second version
    wait_idle()
    with w.ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(CarePlanVersion)
                        .where(CarePlanVersion.episode_id == row.episode_id)) == before + 1


def test_the_timer_keeps_counting_and_a_stop_made_while_away_is_logged_exactly(
        open_window, server: Server, qtbot, wait_idle, auto_dialogs) -> None:  # type: ignore[no-untyped-def]
    w = _window(open_window, server, "cm2")
    row = _active(w)
    bar = w.timer
    # started 20 minutes ago (the service's clock; no sleeping)
    started = datetime.now().replace(microsecond=0) - timedelta(minutes=20)
    w.ctx.read(timer_service.start_timer, patient_id=row.patient_id, activity="outreach", now=started)
    w.ctx.read(timer_service.heartbeat)  # alive until now
    bar.check_recovery()
    assert bar.is_running
    with server.down():
        bar.send_heartbeat()
        wait_idle()
        assert bar.offline and bar.is_running and "keeps counting" in bar.totals.text()
        assert not w.server_status.reachable and _away_label(w).isVisible()
        assert bar.seconds() >= 20 * 60
        bar.pause()  # refused plainly: it keeps running
        wait_idle()
        assert auto_dialogs[-1].startswith("Timer not paused: The clinic server is not reachable")
        assert bar.is_running and not bar.is_paused
        assert bar.stop()  # its save starts…
        wait_idle()  # …meets the lost server, and the stop is kept with its exact time, not refused
        assert bar.stop_pending and bar.is_running
        stopped_at = bar.queued_stop[1]
        assert f"Stopped at {stopped_at:%H:%M:%S}" in bar.totals.text()
        assert not bar.start_button.isEnabled() and not bar.stop_button.isEnabled()
        frozen = bar.seconds()
        qtbot.wait(1100)
        assert bar.seconds() == frozen  # the display stopped when Stop was pressed
    _wait_back(qtbot, w)  # the status's return writes the queued stop
    qtbot.waitUntil(lambda: not bar.is_running, timeout=30_000)
    wait_idle()
    assert w.ctx.read(timer_service.current_timer) is None
    with w.ctx.db.session() as s:
        entries = s.execute(select(TimeEntry.started_at, TimeEntry.ended_at)
                            .where(TimeEntry.patient_id == row.patient_id, TimeEntry.source == "timer",
                                   TimeEntry.started_at >= started)).all()
    assert entries and min(e.started_at for e in entries) == started
    assert max(e.ended_at for e in entries) == stopped_at  # exactly when Stop was pressed


def test_a_timer_running_on_another_computer_is_named_and_can_be_taken_over(
        open_window, server: Server, wait_idle, auto_dialogs) -> None:  # type: ignore[no-untyped-def]
    w = _window(open_window, server, "cm1")
    row = _active(w)
    bar = w.timer
    started = datetime.now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    w.ctx.read(timer_service.start_timer, patient_id=row.patient_id, activity="outreach", now=started,
               workstation="FRONT-DESK-2")
    bar.set_default_patient(row.patient_id, row.patient_name)
    bar.start_or_resume()  # Start pressed here
    wait_idle()
    assert not bar.is_running  # nothing started twice
    shown = auto_dialogs[-1]
    assert shown.startswith("Timer running on another computer: Your timer for ")
    assert f"{row.patient_name} (Outreach) is running on the computer “FRONT-DESK-2” since " \
           f"{started:%H:%M}" in shown if started.date() == date.today() else "FRONT-DESK-2" in shown
    state = w.ctx.read(timer_service.current_timer)
    box = bar.elsewhere_box(state)
    assert {b.objectName() for b in box.buttons()} == {"adopt", "stop_and_start", "cancel"}
    bar.resolve_elsewhere("adopt", state)
    wait_idle()
    assert bar.is_running and bar.seconds() >= 5 * 60
    with w.ctx.db.session() as s:
        assert s.scalar(select(RunningTimer.workstation)) == timer_service.this_workstation()
    # FRONT-DESK-2 takes it back: this window's next heartbeat stops showing it
    w.ctx.read(timer_service.adopt_timer, workstation="FRONT-DESK-2")
    bar.send_heartbeat()
    wait_idle()
    assert not bar.is_running
    assert "taken over on the computer “FRONT-DESK-2”" in w.statusBar().currentMessage()
    # Start here again, and this time stop that one: its time is logged, and a new one runs here
    state = w.ctx.read(timer_service.current_timer)
    bar.resolve_elsewhere("stop_and_start", state)
    wait_idle()
    assert bar.is_running and bar.seconds() < 60
    with w.ctx.db.session() as s:
        assert s.scalar(select(RunningTimer.workstation)) == timer_service.this_workstation()
        logged = s.scalar(select(func.sum(TimeEntry.minutes)).where(
            TimeEntry.patient_id == row.patient_id, TimeEntry.source == "timer", TimeEntry.started_at == started))
    assert logged is not None and logged >= 5
    w.ctx.write(timer_service.discard_timer, changes=Change.TIME)
    wait_idle()


def test_signing_in_while_the_server_is_down_says_so_in_one_sentence(
        server: Server, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    from cocm_desktop.gui.login import LoginDialog

    dialog = LoginDialog(server.profile_path)
    qtbot.addWidget(dialog)
    dialog.show()
    with server.down():
        dialog.ui.usernameEdit.setText("cm1")
        dialog.ui.passwordEdit.setText("demo")
        qtbot.mouseClick(dialog.ui.signInButton, Qt.MouseButton.LeftButton)
        wait_idle()
        qtbot.waitUntil(lambda: dialog.ui.errorLabel.isVisible(), timeout=30_000)
    text = dialog.ui.errorLabel.text()
    assert dialog.database is None and dialog.isVisible()
    assert text.startswith("Clinic server not reachable: The clinic server at 127.0.0.1:")
    assert "does not answer" in text and "demo" not in text and "Traceback" not in text
    assert dialog.ui.usernameEdit.text() == "cm1"
