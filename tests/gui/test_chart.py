"""Chart pane on the demo clinic: open a chart, PHQ-9 with item 9 = 1, a contact note, the
recommendation loop per role. Every check reads back what the database holds."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from sqlalchemy import func, select

from cocm_desktop.domain.flags import Flag
from cocm_desktop.gui.contact_dialog import ContactDialog
from cocm_desktop.gui.measure_dialog import MeasureDialog
from cocm_desktop.gui.registry_model import IdRole, RowRole
from cocm_desktop.store.models import Contact, Measure, Recommendation, RiskEvent


def _row(window, predicate):  # type: ignore[no-untyped-def]
    return next(r for r in window.registry.model.rows if predicate(r))


def test_enter_opens_the_selected_chart_and_audits_it(open_window, demo_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    table = w.registry.table
    table.setFocus()
    table.setCurrentIndex(w.registry.model.index(2, 0))
    pid = w.registry.model.index(2, 0).data(IdRole)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    wait_idle()
    assert w.ui.paneStack.currentWidget() is w.ui.chartPage
    assert w.chart.chart.patient.id == pid
    assert w.chart.name_label.text() == w.chart.chart.patient.display_name
    with w.ctx.db.session() as s:
        from cocm_desktop.store.models import AuditRecord

        opened = s.scalar(select(func.count()).select_from(AuditRecord)
                          .where(AuditRecord.action == "chart.open", AuditRecord.patient_id == pid))
    assert opened >= 1


def test_phq9_with_item9_opens_safety_banner_and_flag(open_window, demo_path, wait_idle, auto_dialogs) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    row = _row(w, lambda r: not r.has(Flag.SAFETY) and r.status == "active")
    w.open_chart(row.patient_id)
    wait_idle()
    assert not w.chart.banner.isVisible()
    dialog = MeasureDialog(w.ctx, episode_id=row.episode_id, patient_id=row.patient_id, instrument="PHQ-9",
                           patient_name=row.patient_name, parent=w)
    answers = [1, 1, 2, 1, 0, 1, 1, 0, 1]  # item 9 = 1
    dialog.set_answers(answers[:8])
    assert not dialog.ui.saveButton.isEnabled()  # one item still unanswered
    assert not dialog.ui.safetyWarning.isVisibleTo(dialog)
    dialog.set_answers(answers)
    assert dialog.ui.safetyWarning.isVisibleTo(dialog)
    assert dialog.ui.totalLabel.text() == "Total 8 / 27"
    assert dialog.ui.bandLabel.text() == "Mild"
    dialog.save()
    wait_idle()
    assert dialog.result_value is not None and dialog.result_value.risk_event_id
    with w.ctx.db.session() as s:
        m = s.get(Measure, dialog.result_value.id)
        assert m.items == answers and m.total == 8 and m.item9 == 1
        assert s.get(RiskEvent, dialog.result_value.risk_event_id).outcome is None
    assert w.chart.banner.isVisible()
    assert "PHQ-9 item 9" in w.chart.banner_text.text()
    refreshed = _row(w, lambda r: r.patient_id == row.patient_id)
    assert refreshed.has(Flag.SAFETY)


def test_measure_keys_answer_items_in_order(qtbot, open_window, demo_path) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm1")
    row = _row(w, lambda r: r.status == "active")
    dialog = MeasureDialog(w.ctx, episode_id=row.episode_id, patient_id=row.patient_id, instrument="GAD-7", parent=w)
    qtbot.addWidget(dialog)
    for key in "3210321":
        qtbot.keyClicks(dialog, key)
    assert dialog.answers() == [3, 2, 1, 0, 3, 2, 1]
    assert dialog.ui.totalLabel.text() == "Total 12 / 21"
    assert not dialog.ui.difficultyCombo.isVisibleTo(dialog)  # PHQ-9 only


def test_contact_needs_next_step_then_is_saved(open_window, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "cm2")
    row = _row(w, lambda r: r.status == "active")
    w.open_chart(row.patient_id)
    wait_idle()
    before = len(w.chart.chart.contacts)
    dialog = ContactDialog(w.ctx, episode_id=row.episode_id, patient_id=row.patient_id, parent=w,
                           now=datetime.now().replace(second=0, microsecond=0))
    dialog.ui.summaryEdit.setPlainText("Sleeping better; walked three times this week.")
    dialog.ui.minutesEdit.setValue(15)
    dialog.save()
    assert dialog.result_value is None
    assert "next step" in dialog.ui.errorLabel.text()
    dialog.ui.nextStepEdit.setText("Follow-up call: check side effects")
    dialog.save()
    wait_idle()
    assert dialog.result_value is not None
    with w.ctx.db.session() as s:
        c = s.get(Contact, dialog.result_value.id)
        assert c.next_step == "Follow-up call: check side effects" and c.minutes == 15
        assert c.summary.startswith("Sleeping better")
    assert len(w.chart.chart.contacts) == before + 1
    assert w.chart.chart.episode.next_action == "Follow-up call: check side effects"


def _waiting_recommendation(demo_path):  # type: ignore[no-untyped-def]
    from cocm_desktop.store.database import Database

    with Database.open(demo_path, "lead", "demo") as db, db.session() as s:
        rec = s.scalars(select(Recommendation).where(Recommendation.state == "recommended")).first()
        assert rec is not None, "the demo clinic has a recommendation awaiting approval"
        from cocm_desktop.store.models import Episode

        return rec.id, s.get(Episode, rec.episode_id).patient_id


def _select_rec(w, rec_id):  # type: ignore[no-untyped-def]
    view = w.chart.recs_view
    for n in range(view.model().rowCount()):
        index = view.model().index(n, 0)
        if index.data(RowRole).id == rec_id:
            view.setCurrentIndex(index)
            return
    raise AssertionError("recommendation not in the chart")


def test_clinician_approves_a_recommendation(open_window, demo_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    rec_id, pid = _waiting_recommendation(demo_path)
    w = open_window(demo_path, "doc1")
    w.open_chart(pid)
    wait_idle()
    _select_rec(w, rec_id)
    assert w.chart.approve_button.isEnabled()
    assert not w.chart.told_button.isEnabled()
    qtbot.mouseClick(w.chart.approve_button, Qt.MouseButton.LeftButton)
    wait_idle()
    with w.ctx.db.session() as s:
        rec = s.get(Recommendation, rec_id)
        assert rec.state == "approved" and rec.decided_by_id == w.ctx.actor.user_id
    _select_rec(w, rec_id)
    assert not w.chart.approve_button.isEnabled()
    assert w.chart.told_button.isEnabled()  # the clinician may also tell the patient


def test_care_manager_cannot_approve_and_is_told_why(open_window, demo_path, wait_idle, auto_dialogs) -> None:  # type: ignore[no-untyped-def]
    rec_id, pid = _waiting_recommendation(demo_path)
    w = open_window(demo_path, "cm1")
    w.open_chart(pid)
    wait_idle()
    _select_rec(w, rec_id)
    assert not w.chart.approve_button.isEnabled()
    op = w.chart.decide(rec_id, "approved")
    wait_idle()
    assert op.error is not None and op.event is None  # the service refuses, the GUI shows it; nothing published
    assert any("care manager cannot approve" in text for text in auto_dialogs)
    with w.ctx.db.session() as s:
        assert s.get(Recommendation, rec_id).state == "recommended"
