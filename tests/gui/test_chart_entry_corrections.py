"""Corrections of referrals, risk events, care-plan versions, status changes and recommendations
from the real chart on the demo clinic (Delete, double-click, the context menu), the safety closure
refused in the outcome form, the clinician's confirmation of the urgent-risk rule-out, and a
duplicate patient record voided from its Details tab. Every check reads the database back."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt
from sqlalchemy import select

from cocm_desktop.services.case_review import record_recommendation
from cocm_desktop.services.changes import Change
from cocm_desktop.services.referrals import add_referral
from cocm_desktop.store.models import Episode, Patient, Recommendation, Referral, RiskEvent, User

from .test_chart_corrections import _double_click, _finish, _select, _show_tab


def _cm1(w) -> int:  # type: ignore[no-untyped-def]
    with w.ctx.db.session() as s:
        return s.scalar(select(User.id).where(User.username == "cm1"))


def test_referral_entered_in_error_is_voided_with_delete_and_leaves_the_registry_flag(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle) -> None:
    w = open_window(demo_path, "cm1")
    row = next(r for r in w.registry.model.rows if r.care_manager_id == w.ctx.actor.user_id)
    op = w.ctx.write(add_referral, row.episode_id, to_whom="Sleep clinic", reason="Insomnia",
                     referred_on=date.today(), patient_id=row.patient_id, changes=Change.REFERRAL)
    wait_idle()
    assert op.error is None
    ref = op.result
    wait_idle()
    w.open_chart(row.patient_id)
    wait_idle()
    _show_tab(w, "Referrals")
    view = w.chart.refs_view
    _select(view, lambda r: r.id == ref.id)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    dialog = w.chart.correction_dialog
    assert dialog.windowTitle() == "Void \u2014 entered in error"
    _finish(dialog, wait_idle, reason="Referral meant for the patient's husband")
    with w.ctx.db.session() as s:
        assert s.get(Referral, ref.id).void_reason == "Referral meant for the patient's husband"
    assert ref.id not in [r.id for r in w.chart.chart.referrals]
    w.chart.show_corrections.setChecked(True)
    index = _select(view, lambda r: r.id == ref.id)
    assert index.data(Qt.ItemDataRole.FontRole).strikeOut()


def test_clinician_corrects_a_decision_by_double_click_and_the_care_manager_list_follows(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle) -> None:
    w = open_window(demo_path, "doc1")
    me = w.ctx.actor.user_id
    row = next(r for r in w.registry.model.rows if r.clinician_id == me)
    with w.ctx.db.session() as s:  # the consultant's recommendation, approved by mistake
        psych = s.scalar(select(User).where(User.role == "psychiatrist"))
        from cocm_desktop.domain.actor import Actor

        rec = record_recommendation(s, Actor(psych.id, psych.username, psych.display_name, psych.role),
                                    row.episode_id, kind="psychotherapy", text="Weekly CBT")
    from cocm_desktop.services.case_review import decide_recommendation

    w.ctx.write(decide_recommendation, rec.id, "approved", patient_id=row.patient_id, changes=Change.RECOMMENDATION)
    wait_idle()
    w.open_chart(row.patient_id)
    wait_idle()
    _show_tab(w, "Recommendations")
    view = w.chart.recs_view
    index = _select(view, lambda r: r.id == rec.id)
    menu = w.chart.correction_menu("recommendation", next(r for r in w.chart.chart.recommendations if r.id == rec.id))
    actions = {a.objectName(): a for a in menu.actions()}
    assert actions["amendAction"].text() == "Correct the state\u2026" and actions["amendAction"].isEnabled()
    _double_click(qtbot, view, index)
    dialog = w.chart.correction_dialog
    assert dialog.windowTitle() == "Correct recommendation state"
    combo = dialog.widgets["state"]
    combo.setCurrentIndex(combo.findData("declined"))
    _finish(dialog, wait_idle, note="Tried CBT last year", reason="Clicked approve; meant decline")
    with w.ctx.db.session() as s:
        r = s.get(Recommendation, rec.id)
        assert (r.state, r.decision, r.decision_note) == ("declined", "declined", "Tried CBT last year")
    w.chart.show_corrections.setChecked(True)
    assert "Clicked approve" in w.chart.history_label.text()


def test_risk_event_does_not_close_with_the_safety_plan_unticked_until_a_reason_is_given(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle, auto_dialogs) -> None:
    w = open_window(demo_path, "cm1")
    with w.ctx.db.session() as s:
        ev, pid = s.execute(select(RiskEvent, Episode.patient_id).join(Episode, Episode.id == RiskEvent.episode_id)
                            .where(RiskEvent.outcome.is_(None), RiskEvent.voided_at.is_(None),
                                   RiskEvent.safety_plan_done.is_(False), Episode.status != "closed")
                            .order_by(RiskEvent.id)).first()
        ev_id = ev.id
    w.open_chart(pid)
    wait_idle()
    assert w.chart.banner.isVisible() and "notified" in w.chart.banner_text.text()
    assert w.chart.chart.open_risk[0].id == ev_id
    assert w.chart.banner_outcome.isEnabled(), w.chart.banner_outcome.toolTip()
    qtbot.mouseClick(w.chart.banner_outcome, Qt.MouseButton.LeftButton)
    dialog = next(d for d in auto_dialogs.dialogs if d.windowTitle() == "Risk event outcome")
    assert dialog.windowTitle() == "Risk event outcome"
    dialog.widgets["outcome"].setPlainText("No intent; crisis line given")
    dialog.ok_button.click()  # the reasons for the unticked steps are required
    assert dialog.error.text()
    with w.ctx.db.session() as s:
        assert s.get(RiskEvent, ev_id).outcome is None
    dialog.widgets["why_after_hours_routing_used"].setText("During office hours")
    dialog.widgets["why_safety_plan_done"].setText("Patient declined; reviewing tomorrow")
    dialog.ok_button.click()
    wait_idle()
    with w.ctx.db.session() as s:
        ev = s.get(RiskEvent, ev_id)
        assert ev.outcome == "No intent; crisis line given"
        assert ev.step_reasons == {"after_hours_routing_used": "During office hours",
                                   "safety_plan_done": "Patient declined; reviewing tomorrow"}
    dialog.grab().save(str(demo_path.parent / "risk_outcome.png"))


def test_status_change_made_in_error_is_voided_from_the_history_tab(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle) -> None:
    from cocm_desktop.services.episodes import change_status

    w = open_window(demo_path, "cm1")
    row = next(r for r in w.registry.model.rows if r.care_manager_id == w.ctx.actor.user_id and r.status == "active")
    w.ctx.write(change_status, row.episode_id, "closed", reason="moved", patient_id=row.patient_id,
                changes=Change.EPISODE)
    wait_idle()
    assert row.episode_id not in {r.episode_id for r in w.registry.model.rows}
    w.open_chart(row.patient_id)
    wait_idle()
    _show_tab(w, "History")
    view = w.chart.status_view
    close = w.chart.chart.status_history[-1]
    _select(view, lambda s: s.id == close.id)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    _finish(w.chart.correction_dialog, wait_idle, reason="Closed the wrong patient")
    with w.ctx.db.session() as s:
        assert s.get(Episode, row.episode_id).status == "active"
    assert row.episode_id in {r.episode_id for r in w.registry.model.rows}


def test_clinician_confirms_the_rule_out_from_the_chart(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle) -> None:
    from cocm_desktop.services.worklists import WorkKind

    w = open_window(demo_path, "doc1")
    items = [i for i in w.worklist.worklist.items if i.kind is WorkKind.ATTEST and i.ref_text == "risk_rule_out"]
    assert items, "the demo leaves a few rule-outs to confirm"
    w.open_chart(items[0].patient_id)
    wait_idle()
    assert w.chart.confirm_rule_out_button.isVisible() and w.chart.confirm_rule_out_button.isEnabled()
    assert "awaiting the clinician's confirmation" in w.chart.overview_label.text()
    w.chart.grab().save(str(demo_path.parent / "rule_out.png"))
    w.chart.confirm_rule_out_button.click()
    wait_idle()
    with w.ctx.db.session() as s:
        assert s.get(Episode, items[0].episode_id).risk_rule_out_attested_by_id == w.ctx.actor.user_id
    assert not w.chart.confirm_rule_out_button.isVisible()
    w.worklist.reload()
    wait_idle()
    assert items[0].key not in {i.key for i in w.worklist.worklist.items}


def test_duplicate_patient_record_is_voided_from_details_and_leaves_the_registry(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle) -> None:
    w = open_window(demo_path, "cm1")
    row = _my_voidable_row(w)
    w.open_chart(row.patient_id)
    wait_idle()
    _show_tab(w, "Details")
    button = w.chart.void_patient_button
    assert button.isVisible() and button.isEnabled()
    button.click()
    dialog = w.chart.correction_dialog
    assert dialog.windowTitle() == "Void patient record (entered twice)"
    dialog.grab().save(str(demo_path.parent / "void_patient.png"))
    _finish(dialog, wait_idle, reason="Registered twice at intake")
    with w.ctx.db.session() as s:
        assert s.get(Patient, row.patient_id).void_reason == "Registered twice at intake"
    assert row.patient_id not in {r.patient_id for r in w.registry.model.rows}
    assert w.chart.voided_label.isVisible() and "voided" in w.chart.voided_label.text()
    assert not w.chart.void_patient_button.isVisible()


def test_a_record_voided_in_error_is_found_under_view_and_restored_from_its_chart(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle, monkeypatch) -> None:
    from cocm_desktop.gui.form_dialog import FormDialog
    from cocm_desktop.services.patients import void_patient

    w = open_window(demo_path, "cm1")
    row = _my_voidable_row(w)
    pid = row.patient_id
    w.ctx.write(void_patient, reason="Thought it was entered twice", patient_id=pid,
                changes=(Change.CORRECTION, Change.PATIENT))
    wait_idle()
    assert pid not in {r.patient_id for r in w.registry.model.rows}
    offered: list[object] = []

    def pick(dialog: FormDialog) -> int:  # the person picks the record from the list
        combo = dialog.widgets["patient"]
        offered.extend(combo.itemData(n) for n in range(combo.count()))
        combo.setCurrentIndex(combo.findData(pid))
        return int(dialog.DialogCode.Accepted)

    real_exec = FormDialog.exec
    monkeypatch.setattr(FormDialog, "exec", pick)
    w.ui.actionVoidedPatients.trigger()
    wait_idle()
    monkeypatch.setattr(FormDialog, "exec", real_exec)  # back to the suite's non-blocking exec
    assert pid in offered and w.chart.chart.patient.id == pid  # its chart is open
    _show_tab(w, "Details")
    button = w.chart.restore_patient_button
    assert button.isVisible() and button.isEnabled() and not w.chart.void_patient_button.isVisible()
    button.click()
    dialog = w.chart.correction_dialog
    assert dialog.windowTitle() == "Restore patient record (voided in error)"
    dialog.grab().save(str(demo_path.parent / "restore_patient.png"))
    _finish(dialog, wait_idle, reason="Not a duplicate: two different people")
    with w.ctx.db.session() as s:
        assert s.get(Patient, pid).voided_at is None
    qtbot.waitUntil(lambda: pid in {r.patient_id for r in w.registry.model.rows}, timeout=10_000)
    assert not w.chart.voided_label.isVisible() and w.chart.void_patient_button.isVisible()


def _my_voidable_row(w):  # type: ignore[no-untyped-def]
    """A registry row of a patient the signed-in person added, with no open risk event."""
    with w.ctx.db.session() as s:
        mine = set(s.scalars(select(Patient.id).where(Patient.created_by_id == w.ctx.actor.user_id)))
        risky = set(s.scalars(select(Episode.patient_id).join(RiskEvent, RiskEvent.episode_id == Episode.id)
                              .where(RiskEvent.outcome.is_(None))))
    return next(r for r in w.registry.model.rows if r.patient_id in mine and r.patient_id not in risky)
