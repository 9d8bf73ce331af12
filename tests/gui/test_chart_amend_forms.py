"""Amending a referral, a risk event and a signed-off care-plan version from the real chart on
the demo clinic (double-click opens the amend form preset to the entry's values): the corrected
values count from then on, only what was changed is sent, the old values stay in the history, and a
signed-off plan goes back to the clinician to sign. Every check reads the database back."""

from __future__ import annotations

from datetime import date

from PySide6.QtWidgets import QLabel
from sqlalchemy import select

from cocm_desktop.services.changes import Change
from cocm_desktop.services.referrals import add_referral
from cocm_desktop.services.risk import open_risk_event
from cocm_desktop.store.models import AuditRecord, CarePlanVersion, Episode, Referral, RiskEvent

from .test_chart_corrections import _double_click, _finish, _select, _show_tab


def _amend_history(w, object_type: str, object_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with w.ctx.db.session() as s:
        return list(s.scalars(select(AuditRecord.action).where(AuditRecord.object_type == object_type,
                                                                AuditRecord.object_id == object_id)
                              .order_by(AuditRecord.seq)))


def test_a_referral_sent_to_the_wrong_clinic_is_amended_by_double_click(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle) -> None:
    w = open_window(demo_path, "cm1")
    row = next(r for r in w.registry.model.rows if r.care_manager_id == w.ctx.actor.user_id and r.status == "active")
    op = w.ctx.write(add_referral, row.episode_id, to_whom="Sleep clinic", reason="Insomnia",
                     referred_on=date.today(), patient_id=row.patient_id, changes=Change.REFERRAL)
    wait_idle()
    ref = op.result
    w.open_chart(row.patient_id)
    wait_idle()
    _show_tab(w, "Referrals")
    view = w.chart.refs_view
    _double_click(qtbot, view, _select(view, lambda r: r.id == ref.id))
    dialog = w.chart.correction_dialog
    assert dialog.windowTitle() == "Amend referral"
    assert dialog.widgets["to_whom"].text() == "Sleep clinic"  # preset to what was entered
    _finish(dialog, wait_idle, to_whom="Northside sleep clinic", reason="Wrong clinic name typed")
    assert dialog.result() == dialog.DialogCode.Accepted, dialog.error.text()
    with w.ctx.db.session() as s:
        saved = s.get(Referral, ref.id)
        assert (saved.to_whom, saved.reason, saved.voided_at) == ("Northside sleep clinic", "Insomnia", None)
        assert saved.row_version == ref.row_version + 1
    assert [r.to_whom for r in w.chart.chart.referrals if r.id == ref.id] == ["Northside sleep clinic"]
    assert _amend_history(w, "referral", ref.id)[-1].endswith("amend")


def test_a_risk_event_step_recorded_wrongly_is_amended_and_the_open_event_keeps_its_steps(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle, auto_dialogs) -> None:
    w = open_window(demo_path, "cm1")
    row = next(r for r in w.registry.model.rows if r.care_manager_id == w.ctx.actor.user_id and r.status == "active")
    pid = row.patient_id
    op = w.ctx.write(open_risk_event, row.episode_id, "statement", "Said she had thought of not waking up",
                     patient_id=pid, changes=Change.RISK)
    wait_idle()
    assert op.error is None
    with w.ctx.db.session() as s:
        ev = s.get(RiskEvent, op.result.id)
        assert not ev.safety_plan_done
        ev_id, detail, version = ev.id, ev.detail, ev.row_version
    w.open_chart(pid)
    wait_idle()
    _show_tab(w, "Safety")
    view = w.chart.risks_view
    _double_click(qtbot, view, _select(view, lambda r: r.id == ev_id))
    assert not auto_dialogs  # the person who entered it may correct it: no refusal
    dialog = w.chart.correction_dialog
    assert dialog.windowTitle() == "Amend risk event"
    dialog.widgets["safety_plan_done"].setChecked(True)  # it was made; the box was missed
    _finish(dialog, wait_idle, reason="Safety plan was made on the call; box missed")
    assert dialog.result() == dialog.DialogCode.Accepted, dialog.error.text()
    with w.ctx.db.session() as s:
        ev = s.get(RiskEvent, ev_id)
        assert ev.safety_plan_done and ev.outcome is None and ev.detail == detail
        assert ev.row_version == version + 1
    assert w.chart.chart.open_risk and w.chart.chart.open_risk[0].id == ev_id  # still open: not a closure
    assert _amend_history(w, "risk_event", ev_id)[-1].endswith("amend")


def test_a_signed_off_care_plan_amended_goes_back_to_the_clinician_to_sign(  # type: ignore[no-untyped-def]
        open_window, demo_path, qtbot, wait_idle) -> None:
    w = open_window(demo_path, "cm1")
    me = w.ctx.actor.user_id
    with w.ctx.db.session() as s:
        plan, pid = s.execute(
            select(CarePlanVersion, Episode.patient_id).join(Episode, Episode.id == CarePlanVersion.episode_id)
            .where(CarePlanVersion.created_by_id == me, CarePlanVersion.signed_off_on.is_not(None),
                   CarePlanVersion.voided_at.is_(None), Episode.status != "closed")
            .order_by(CarePlanVersion.id.desc())).first()
        plan_id, goals = plan.id, plan.goals
    w.open_chart(pid)
    wait_idle()
    _show_tab(w, "Care plan")
    view = w.chart.plans_view
    _double_click(qtbot, view, _select(view, lambda p: p.id == plan_id))
    dialog = w.chart.correction_dialog
    assert dialog.windowTitle().startswith("Amend care plan version ")
    assert any("signs the corrected version again" in label.text() for label in dialog.findChildren(QLabel))
    corrected = goals + " (walks three times a week)"
    _finish(dialog, wait_idle, goals=corrected, reason="Goal typed incompletely")
    assert dialog.result() == dialog.DialogCode.Accepted, dialog.error.text()
    with w.ctx.db.session() as s:
        plan = s.get(CarePlanVersion, plan_id)
        assert plan.goals == corrected
        assert plan.signed_off_on is None and plan.signed_off_by_id is None  # signed again by the clinician
    shown = next(p for p in w.chart.chart.care_plans if p.id == plan_id)
    assert shown.goals == corrected and shown.signed_off_on is None
