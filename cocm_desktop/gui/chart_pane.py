"""Patient chart: what a clinician sees at sign-off, and every action on the episode.

Header (identity, program, status, weeks, consent and initiating-visit state), a red safety banner
while a risk event is open, flag chips, the PHQ-9/GAD-7 trend and measures, and tabs for overview,
contacts, care plan, recommendations, referrals, time and history. Data comes from
`services.chart.open_chart` off the GUI thread; every action is one service call through
`AppContext.write` (buttons are enabled per role, the service's refusal is what counts and is shown).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from cocm_desktop.domain import instruments as inst
from cocm_desktop.domain.roles import Permission
from cocm_desktop.gui.chart_actions import ChartActions
from cocm_desktop.gui.chart_corrections import ChartCorrections
from cocm_desktop.gui.chart_corrections_entries import ChartEntryCorrections
from cocm_desktop.gui.chart_fill import ChartFill
from cocm_desktop.gui.chart_layout import ChartLayout
from cocm_desktop.gui.chart_medications import ChartMedications
from cocm_desktop.gui.chart_widgets import selected_item
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import describe
from cocm_desktop.gui.worker import PaneLoad, run_in_background
from cocm_desktop.services.changes import Change, ChangeEvent

#: what the chart shows of its patient (billing submissions and clinic-wide settings aside)
PATIENT_KINDS = frozenset(Change) - {Change.BILLING, Change.USERS, Change.POLICY}
#: clinic-wide changes the chart shows for every patient: staff names, policy figures (response line)
CLINIC_KINDS = frozenset({Change.USERS, Change.POLICY})


class ChartPane(ChartLayout, ChartFill, ChartActions, ChartCorrections, ChartEntryCorrections, ChartMedications, PaneLoad,
                QWidget):
    """Layout in `chart_layout`, filling from the loaded chart in `chart_fill`, write actions in
    `chart_actions`, corrections of every list in `chart_corrections`, the medications tab in
    `chart_medications`; loading, clearing and gating
    the actions per role here."""

    patientChanged = Signal(object, str)  # patient id (or None), display name
    loaded = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = context
        self.patient_id: int | None = None
        self.episode_id: int | None = None
        self.chart: Any = None
        self.time_entries: list[Any] = []
        self.loading = False
        self._generation = 0
        self._instrument = inst.PHQ9
        self._build()
        context.changes.connect(self.on_changes)
        self._install_corrections()
        self._install_medications()
        self._show_empty()

    # ================================================================= loading
    def on_changes(self, event: ChangeEvent) -> None:
        """Reload when the open patient is in the event (or it is clinic-wide); other patients'
        writes leave the chart, its scroll position and its selection alone."""
        if self.patient_id is None or self.ctx.db.locked:
            return
        if (event.has(*PATIENT_KINDS) and event.touches(self.patient_id)) or event.has(*CLINIC_KINDS):
            self.reload()

    def open_patient(self, patient_id: int, episode_id: int | None = None) -> None:
        if patient_id != self.patient_id:
            self.chart = None
            self.tabs.setCurrentIndex(0)
        self.patient_id = patient_id
        self.episode_id = episode_id
        self.reload()

    def reload(self) -> None:
        from cocm_desktop.services.chart import open_chart
        from cocm_desktop.services.time_log import list_time

        if self.patient_id is None:
            return
        self._generation += 1
        generation = self._generation
        self.loading = True
        if self.chart is None or self.chart.patient.id != self.patient_id:
            self.busy.start("Opening the chart…")
        ctx, pid, eid = self.ctx, self.patient_id, self.episode_id
        today = date.today()

        def work():  # type: ignore[no-untyped-def]
            chart = ctx.read(open_chart, patient_id=pid, episode_id=eid, today=today)
            try:
                entries = ctx.read(list_time, patient_id=pid, month=today, include_deleted=True)
            except Exception:  # the time tab is secondary; never block the chart on it
                entries = []
            return chart, entries

        run_in_background(work, lambda result: self._loaded(generation, result), lambda e: self._failed(generation, e))

    def _loaded(self, generation: int, result: tuple[Any, list[Any]]) -> None:
        if generation != self._generation:
            return
        self.chart, self.time_entries = result
        self.loading = False
        self.busy.stop()
        chart = self.chart
        self.episode_id = chart.episode.id if chart.episode else None
        self._fill()
        self.patientChanged.emit(chart.patient.id, chart.patient.display_name)
        self.loaded.emit()

    def clear_for_lock(self) -> None:
        """Patient data leaves the screen; `patient_id` is kept so unlock can reopen it."""
        self._generation += 1
        self.loading = False
        self.busy.stop()
        self.chart = None
        self.time_entries = []
        for model in (self.measures_model, self.contacts_model, self.recs_model, self.refs_model, self.time_model,
                      self.details_model, self.meds_model):
            model.set_rows([])
        for label in (self.name_label, self.identity_label, self.team_label, self.overview_label, self.contact_detail,
                      self.plan_label, self.rec_detail, self.history_label, self.banner_text, self.next_label,
                      self.outcome_label, self.time_summary, self.plan_state, self.meds_pending, self.meds_history):
            label.clear()
        self.trend.clear()
        self._show_empty()

    def _show_empty(self) -> None:
        for w in (self.header, self.body, self.banner):
            w.hide()
        self._clear_layout(self.flags_row)
        self.empty_label.show()

    # ================================================================= permissions
    def _apply_permissions(self) -> None:
        ctx = self.ctx
        ep = self.chart.episode if self.chart else None
        open_ep = ep is not None and ep.status != "closed"

        def gate(widget, perm: Permission, needs_open: bool = True) -> None:  # type: ignore[no-untyped-def]
            allowed = ctx.can(perm)
            widget.setEnabled(allowed and (open_ep or not needs_open))
            if not allowed:
                from cocm_desktop.domain.roles import denial_message

                widget.setToolTip(denial_message(ctx.role, perm))
            elif needs_open and not open_ep:
                widget.setToolTip("The episode is closed.")
            else:
                widget.setToolTip("")

        gate(self.phq_button, Permission.RECORD_MEASURE)
        gate(self.gad_button, Permission.RECORD_MEASURE)
        gate(self.contact_button, Permission.RECORD_CONTACT)
        gate(self.plan_button, Permission.DRAFT_CARE_PLAN)
        gate(self.edit_plan_button, Permission.DRAFT_CARE_PLAN)
        gate(self.referral_button, Permission.MANAGE_REFERRALS)
        gate(self.add_ref_button, Permission.MANAGE_REFERRALS)
        gate(self.update_ref_button, Permission.MANAGE_REFERRALS)
        gate(self.add_time_button, Permission.LOG_TIME, needs_open=False)
        gate(self.timer_button, Permission.LOG_TIME, needs_open=False)
        gate(self.banner_steps, Permission.RECORD_RISK_EVENT, needs_open=False)
        gate(self.banner_outcome, Permission.RECORD_RISK_EVENT, needs_open=False)
        plans = self.chart.care_plans if self.chart else ()
        gate(self.signoff_button, Permission.SIGN_OFF_CARE_PLAN)
        if self.signoff_button.isEnabled() and (not plans or plans[0].signed_off_on):
            self.signoff_button.setEnabled(False)
            self.signoff_button.setToolTip("Nothing to sign off: the current version is signed." if plans else "No care plan yet.")
        consent = self.chart.consent if self.chart else None
        self.attest_button.setVisible(consent is not None and not consent.attested_by)
        gate(self.attest_button, Permission.ATTEST_CONSENT)
        mine = bool(ep and ep.risk_rule_out_pending and ep.risk_rule_out_attester_id == ctx.actor.user_id)
        for button in (self.confirm_rule_out_button, self.decline_rule_out_button):
            button.setVisible(mine)
            gate(button, Permission.ATTEST_CONSENT)
        patient = self.chart.patient if self.chart else None
        self.void_patient_button.setVisible(patient is not None and not patient.voided)
        why_not = self.patient_void_refusal() if patient is not None else None
        self.void_patient_button.setEnabled(patient is not None and why_not is None)
        self.void_patient_button.setToolTip(why_not or "Entered twice: void this record with a reason; it stays in "
                                            "the history and counts nowhere.")
        self.restore_patient_button.setVisible(patient is not None and patient.voided)
        why_not_restore = self.patient_restore_refusal() if patient is not None and patient.voided else None
        self.restore_patient_button.setEnabled(patient is not None and patient.voided and why_not_restore is None)
        self.restore_patient_button.setToolTip(why_not_restore or "Voided in error (not a duplicate): the record and "
                                               "what was voided with it count again.")
        can_status = ctx.can(Permission.CHANGE_EPISODE_STATUS)
        self.episode_button.setEnabled(ep is not None)
        status = ep.status if ep else None
        self.act_stepdown.setEnabled(can_status and status == "active")
        self.act_stepup.setEnabled(can_status and status == "relapse_prevention")
        self.act_transfer.setEnabled(can_status and open_ep)
        self.act_confirm.setEnabled(can_status and open_ep and bool(ep and ep.transfer_to))
        self.act_close.setEnabled(can_status and open_ep)
        self.act_risk.setEnabled(ctx.can(Permission.RECORD_RISK_EVENT) and open_ep)
        self.act_visit.setEnabled(ctx.can(Permission.RECORD_INITIATING_VISIT) and open_ep
                                  and bool(ep and ep.initiating_visit_required and ep.initiating_visit_on is None))
        self.act_reenter.setEnabled(ctx.can(Permission.ENROLL) and self.chart is not None
                                    and not any(e.status != "closed" for e in self.chart.episodes))
        self._apply_rec_buttons()

    def _apply_rec_buttons(self) -> None:
        r = selected_item(self.recs_view)
        decide = self.ctx.can(Permission.DECIDE_RECOMMENDATION)
        loop = self.ctx.can(Permission.CLOSE_LOOP)
        state = r.state if r is not None else None
        for b in (self.approve_button, self.modify_button, self.decline_button):
            b.setEnabled(decide and state == "recommended")
            b.setToolTip("" if decide else "Only the treating clinician approves, modifies or declines.")
        self.told_button.setEnabled(loop and state in ("approved", "modified", "declined"))
        self.close_loop_button.setEnabled(loop and state in ("told_patient", "declined"))

    def _episode_chosen(self, index: int) -> None:
        eid = self.episode_combo.itemData(index)
        if eid is not None and eid != self.episode_id and self.patient_id is not None:
            self.open_patient(self.patient_id, eid)


__all__ = ["ChartPane", "describe"]
