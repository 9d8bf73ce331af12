"""The chart pane's filling: the built widgets (`chart_layout`) filled from the loaded chart —
header pills, safety banner, flag chips, the trend, the tables, and the overview, care-plan,
history and time texts — and the detail shown for the selected contact or recommendation."""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel

from cocm_desktop.domain import instruments as inst
from cocm_desktop.domain.activities import CONTACT_KINDS, CONTACT_MODES
from cocm_desktop.domain.case_review import LoopState
from cocm_desktop.domain.episode import CloseReason, EpisodeStatus
from cocm_desktop.gui.chart_widgets import TOLD_LABELS, E, age_text, pill_label, selected_item, short_datetime
from cocm_desktop.gui.registry_model import CHIP_TEXT, fmt_date, fmt_long
from cocm_desktop.gui.trend_chart import Point


class ChartFill:
    """Mixin of `ChartPane`: fills its widgets from `self.chart` and `self.time_entries` (then the
    pane's `_apply_permissions` gates the actions)."""

    @staticmethod
    def _clear_layout(layout: QHBoxLayout) -> None:
        while layout.count():
            item = layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _fill(self) -> None:
        c = self.chart
        p = c.patient
        ep = c.episode
        today = date.today()
        self.empty_label.hide()
        self.header.show()
        self.body.show()
        self.name_label.setText(p.display_name)
        bits = [f"MRN {p.mrn}", f"born {p.date_of_birth:%b} {p.date_of_birth.day}, {p.date_of_birth.year} "
                f"({age_text(p.date_of_birth, today)})"]
        if p.sex:
            bits.append(p.sex)
        if p.phone:
            bits.append(p.phone)
        if p.preferred_contact:
            bits.append(f"prefers {p.preferred_contact}")
        if p.payer_name:
            bits.append(p.payer_name)
        self.identity_label.setText("  ·  ".join(bits))
        # Episodes
        self.episode_combo.clear()
        for e in c.episodes:
            label = f"{'CoCM' if e.program == 'cocm' else 'BHI'} from {fmt_date(e.enrolled_on)}"
            label += f" — closed {fmt_date(e.closed_on)}" if e.closed_on else f" — {EpisodeStatus(e.status).label.lower()}"
            self.episode_combo.addItem(label, e.id)
        self.episode_combo.setVisible(len(c.episodes) > 1)
        if ep is not None:
            self.episode_combo.setCurrentIndex(max(0, self.episode_combo.findData(ep.id)))
        self._fill_pills()
        self._fill_banner()
        self._fill_flags()
        self._fill_trend()
        self._fill_lists()
        if p.voided:
            self.voided_label.setText(f"This record was voided on {short_datetime(p.voided_at)} (entered twice): "
                                      f"{E(p.void_reason or '')}. It counts nowhere; record care on the kept record.")
        self.voided_label.setVisible(bool(p.voided))
        self._fill_overview()
        self._fill_plan()
        self._fill_history()
        self._fill_time_summary()
        self._contact_selected()
        self._rec_selected()
        waiting = sum(1 for r in c.recommendations if r.state == LoopState.RECOMMENDED)
        self.tabs.setTabText(3, f"Recommendations ({waiting} waiting)" if waiting else "Recommendations")
        self.tabs.setTabText(1, f"Contacts ({len(c.contacts)})")
        self._apply_permissions()

    def _fill_lists(self) -> None:
        """The correctable lists: live entries, and the voided ones too while corrections are shown."""
        from cocm_desktop.gui.chart_corrections import detail_rows

        c, every = self.chart, self.show_corrections.isChecked()
        self.measures_model.set_rows(c.measures + (c.voided_measures if every else ()))
        self.contacts_model.set_rows(c.contacts + (c.voided_contacts if every else ()))
        self.time_model.set_rows([t for t in self.time_entries if every or not t.deleted])
        self.details_model.set_rows(detail_rows(c.patient))
        self._fill_medications()
        self.recs_model.set_rows(c.recommendations + (c.voided_recommendations if every else ()))
        self.refs_model.set_rows(c.referrals + (c.voided_referrals if every else ()))
        self.risks_model.set_rows(c.risk_events + (c.voided_risk_events if every else ()))
        self.plans_model.set_rows(c.care_plans + (c.voided_care_plans if every else ()))
        self.status_model.set_rows([s for s in c.status_history if every or not s.voided])

    def _fill_pills(self) -> None:
        self._clear_layout(self.pills)
        c, ep = self.chart, self.chart.episode
        if ep is None:
            self.pills.addWidget(pill_label("Not enrolled", "warn"))
            self.pills.addStretch(1)
            self.team_label.setText("")
            self.next_label.setText("")
            return
        self.pills.addWidget(pill_label("CoCM" if ep.program == "cocm" else "General BHI"))
        status_kind = "bad" if ep.status == "closed" else "true"
        status = ep.status_label + (f" — {ep.close_reason_label}" if ep.close_reason_label else "")
        self.pills.addWidget(pill_label(status, status_kind))
        if ep.transfer_to and ep.transfer_confirmed_on is None and ep.status != "closed":
            self.pills.addWidget(pill_label(f"Transfer to {ep.transfer_to} pending", "warn"))
        self.pills.addWidget(pill_label(f"Week {ep.weeks}", tip=f"Enrolled {fmt_long(ep.enrolled_on)}"))
        o = ep.outcome
        result = ep.primary_scale
        if ep.baseline is not None:
            result += f" {ep.baseline} \u2192 {ep.latest if ep.latest is not None else '—'} ({ep.change_text})"
        kind = "ok" if (o.response and o.response.value == "response") or o.remission else ("bad" if o.not_improving else "true")
        label = "remission" if o.remission else (o.response.label.lower() if o.response else "no follow-up yet")
        self.pills.addWidget(pill_label(f"{result} · {label}", kind, "Change from the baseline on the primary scale"))
        consent = c.consent
        if consent is None:
            self.pills.addWidget(pill_label("No consent", "bad", "Consent has not been documented"))
        elif consent.attested_by:
            self.pills.addWidget(pill_label(f"Consent {fmt_date(consent.consent_on)}", "ok",
                                       f"Documented by {consent.recorded_by}; attested by {consent.attested_by}"))
        else:
            self.pills.addWidget(pill_label("Consent awaiting attestation", "warn",
                                       f"Recorded by {consent.recorded_by} on {fmt_long(consent.consent_on)}; "
                                       "the treating clinician attests it"))
        if ep.initiating_visit_required:
            if ep.initiating_visit_on is None:
                self.pills.addWidget(pill_label("Initiating visit missing", "bad",
                                           "New patient or not seen in the prior 12 months: an initiating visit is required"))
            else:
                self.pills.addWidget(pill_label(f"Initiating visit {fmt_date(ep.initiating_visit_on)}", "ok"))
        else:
            self.pills.addWidget(pill_label("Initiating visit not required", "true"))
        self.pills.addStretch(1)
        self.team_label.setText(f"Care manager {ep.care_manager}  ·  Treating clinician {ep.clinician}  ·  "
                                + "; ".join(f"{code} {text}" for code, text in ep.target_conditions))
        if ep.next_action_on is not None:
            overdue = ep.next_action_on < date.today()
            colour = "#BF360C" if overdue else "#243B53"
            self.next_label.setText(
                f"<span style='color:#627D98'>Next:</span> <b style='color:{colour}'>{fmt_date(ep.next_action_on)}</b> "
                f"{E(ep.next_action or '')}")
        else:
            self.next_label.setText("<span style='color:#BF360C'>No next action</span>")

    def _fill_banner(self) -> None:
        risks = self.chart.open_risk
        if not risks:
            self.banner.hide()
            return
        r = risks[0]
        trigger = {"item9": "PHQ-9 item 9 above 0", "statement": "patient statement",
                   "clinician_concern": "clinician concern"}.get(r.trigger, r.trigger)
        steps = [("safety assessment", r.safety_assessment_done), ("clinician notified", r.clinician_notified),
                 ("safety plan", r.safety_plan_done)]
        todo = [name for name, done in steps if not done]
        text = f"Safety: open risk event since {short_datetime(r.opened_at)} ({trigger})."
        if r.notified_clinician:
            text += f" {r.notified_clinician} notified {short_datetime(r.notified_at)}."
        text += (" Still to do: " + ", ".join(todo) + ".") if todo else " Protocol steps done; record the outcome."
        if len(risks) > 1:
            text += f" ({len(risks)} open risk events.)"
        self.banner_text.setText(text)
        self.banner.show()

    def _fill_flags(self) -> None:
        self._clear_layout(self.flags_row)
        for hit in self.chart.flags:
            chip = QLabel(CHIP_TEXT[hit.flag])
            chip.setStyleSheet(f"background:{hit.flag.colour}; color:white; border-radius:9px; padding:2px 9px; "
                               "font-size:9pt; font-weight:600;")
            chip.setToolTip(f"{hit.flag.label}\n{hit.reason}")
            self.flags_row.addWidget(chip)
        if self.chart.flags:
            self.flags_row.addStretch(1)

    def _set_instrument(self, name: str) -> None:
        self._instrument = name
        self._fill_trend()

    def _fill_trend(self) -> None:
        c, ep = self.chart, self.chart.episode
        if ep is not None and not any(m.instrument == self._instrument for m in c.measures):
            self._instrument = ep.primary_scale
        for b in self.scale_group.buttons():
            b.setChecked(b.text() == self._instrument)
        ms = [m for m in c.measures if m.instrument == self._instrument]
        points = [Point(m.taken_at.date(), m.total, m.band,
                        safety=m.instrument == inst.PHQ9 and m.items[inst.SAFETY_ITEM - 1] > 0,
                        baseline=m.is_baseline) for m in ms]
        target = None
        baseline = next((m for m in ms if m.is_baseline), None)
        if baseline is not None:
            target = baseline.total * (100 - self.ctx.policy.response_percent) / 100
        start = ep.enrolled_on if ep else None
        end = ep.closed_on if ep and ep.closed_on else date.today()
        self.trend.set_series(self._instrument, points, target=target, start=start, end=end)
        self.trend_title.setText(f"{self._instrument} trend")
        if ep is not None and self._instrument == ep.primary_scale and ep.baseline is not None:
            self.outcome_label.setText(
                f"Baseline {ep.baseline} ({fmt_date(ep.baseline_on)}) → latest {ep.latest} ({fmt_date(ep.latest_on)}): "
                f"{ep.change_text}. Dashed line: {self.ctx.policy.response_percent} % reduction (response).")
        elif baseline is None and points:
            self.outcome_label.setText("No baseline on this scale in the baseline window.")
        else:
            self.outcome_label.setText("")

    def _fill_overview(self) -> None:
        c, ep = self.chart, self.chart.episode
        if ep is None:
            self.overview_label.setText("<p>This patient has no episode of care yet.</p>")
            return
        parts = []
        goals = E(ep.patient_goals or "—").replace("\n", "<br>")
        parts.append(f"<h4>Patient goals</h4><p><i>“{goals}”</i></p>" if ep.patient_goals else "<h4>Patient goals</h4><p>—</p>")
        conds = "".join(f"<li><b>{E(code)}</b> {E(text)}</li>" for code, text in ep.target_conditions)
        parts.append(f"<h4>Target conditions</h4><ul>{conds or '<li>—</li>'}</ul>")
        meds = [m for m in c.medications if m.stopped_on is None]
        med_items = "".join(f"<li>{E(m.name)} {E(m.regimen)}"
                            + (f" <span style='color:#627D98'>since {fmt_date(m.started_on)}</span>" if m.started_on else "")
                            + "</li>" for m in meds)
        parts.append(f"<h4>Current medications</h4><ul>{med_items or '<li>None recorded</li>'}</ul>")
        if ep.history:
            parts.append(f"<h4>History</h4><p>{E(ep.history).replace(chr(10), '<br>')}</p>")
        consent = c.consent
        if consent is not None:
            checks = [("team-based care explained", consent.team_care_explained),
                      ("non-face-to-face work may occur", consent.non_face_to_face_explained),
                      ("cost-sharing explained", consent.cost_sharing_explained),
                      ("patient agrees", consent.patient_agrees)]
            items = "<br>".join(
                f"<span style='color:{'#1B5E20' if ok else '#B71C1C'}'>{'✓' if ok else '✗'}</span>&nbsp;{what}"
                for what, ok in checks)
            att = (f"attested by {E(consent.attested_by)} {short_datetime(consent.attested_at)}" if consent.attested_by
                   else "<span style='color:#8A4B00'>awaiting the treating clinician's attestation</span>")
            parts.append(f"<h4>Consent</h4><p>{fmt_long(consent.consent_on)} — obtained by {E(consent.obtained_by)}, "
                         f"recorded by {E(consent.recorded_by)}; {att}</p><p style='margin-left:12px'>{items}</p>")
        else:
            parts.append("<h4>Consent</h4><p style='color:#B71C1C'>Not documented.</p>")
        if ep.urgent_risk_ruled_out_by:
            confirmed = (f"confirmed by {E(ep.risk_rule_out_attested_by)} {short_datetime(ep.risk_rule_out_attested_at)}"
                         if ep.risk_rule_out_attested_by
                         else "<span style='color:#8A4B00'>awaiting the clinician's confirmation</span>")
            parts.append(f"<p style='color:#627D98'>Urgent risk ruled out by {E(ep.urgent_risk_ruled_out_by)} at "
                         f"enrollment; {confirmed}.</p>")
        elif c.episode is not None:
            parts.append("<p style='color:#B71C1C'>Urgent risk not ruled out at enrollment.</p>")
        if ep.status == "closed":
            parts.append(f"<h4>Closed</h4><p>{fmt_long(ep.closed_on)} — {E(ep.close_reason_label or '')}. "
                         f"{E(ep.close_note or '')}</p>")
            if ep.reentry_path:
                parts.append(f"<p><b>Re-entry:</b> {E(ep.reentry_path)}</p>")
        self.overview_label.setText("".join(parts))

    def _fill_plan(self) -> None:
        plans = self.chart.care_plans
        if not plans:
            self.plan_state.setText("<span style='color:#B71C1C'>No care plan yet.</span>")
            self.plan_label.setText("<p>Draft the care plan with the patient: goals, medications, skill plan, "
                                    "follow-up cadence, next check-in, safety steps and contact preferences.</p>")
            return
        p = plans[0]
        if p.signed_off_on:
            self.plan_state.setText(f"Version {p.version} · signed off by {E(p.signed_off_by or '')} on {fmt_date(p.signed_off_on)}")
        else:
            self.plan_state.setText(f"<b style='color:#8A4B00'>Version {p.version} · awaiting the clinician's sign-off</b>")
        rows = [("Goals", p.goals), ("Medication plan", p.medication_plan), ("Skill plan", p.skill_plan),
                ("Follow-up cadence", p.follow_up_cadence),
                ("Next check-in", fmt_long(p.next_checkin_on) if p.next_checkin_on else None),
                ("Safety steps", p.safety_steps), ("Contact preferences", p.contact_preferences),
                ("Relapse-prevention plan", p.relapse_prevention_plan)]
        body = "".join(f"<h4>{E(title)}</h4><p>{E(value).replace(chr(10), '<br>')}</p>" for title, value in rows if value)
        body += (f"<p style='color:#627D98'>Version {p.version} written by {E(p.created_by)} on {short_datetime(p.created_at)}; "
                 f"{len(plans)} version(s) on file.</p>")
        self.plan_label.setText(body)

    def _fill_history(self) -> None:
        c = self.chart
        parts = ["<h4>Status</h4><ul>"]
        for s in c.status_history:
            frm = EpisodeStatus(s.from_status).label if s.from_status else "—"
            reason = f" ({CloseReason(s.reason).label})" if s.reason in CloseReason._value2member_map_ else ""
            parts.append(f"<li>{fmt_long(s.changed_on)}: {E(frm)} → <b>{E(EpisodeStatus(s.to_status).label)}</b>{reason}"
                         f" — {E(s.changed_by)}{(': ' + E(s.note)) if s.note else ''}</li>")
        parts.append("</ul><h4>Risk events</h4><ul>")
        for r in c.risk_events:
            outcome = (f"outcome: {E(r.outcome)} ({short_datetime(r.outcome_at)}, {E(r.outcome_by or '')})" if r.outcome
                       else "<b style='color:#C62828'>open</b>")
            parts.append(f"<li>{short_datetime(r.opened_at)} — {E(r.trigger)} — {outcome}</li>")
        if not c.risk_events:
            parts.append("<li>None</li>")
        parts.append("</ul>")
        parts.append(self.corrections_html())
        self.history_label.setText("".join(parts))

    def _fill_time_summary(self) -> None:
        mine = sum(t.minutes for t in self.time_entries if not t.deleted)
        self.time_summary.setText(f"This month: {mine} min logged for this patient (all staff). "
                                  "Counted minutes and codes are on the registry and the billing report.")

    # ================================================================= selection details
    @staticmethod
    def _rec_text(r: Any) -> str:
        drug = " ".join(x for x in (r.drug, r.dose) if x)
        text = f"{drug}: {r.text}" if drug else r.text
        if r.modified_text:
            text += f"  → modified: {r.modified_text}"
        return text

    def _contact_selected(self, *_args: object) -> None:
        c = selected_item(self.contacts_view)
        if c is None:
            self.contact_detail.setText("<p style='color:#627D98'>Select a contact to read the note.</p>")
            return
        rows = [("Adherence", c.adherence), ("Side effects", c.side_effects), ("Skill practised", c.skill_practised),
                ("Summary", c.summary), ("Question for the consultant", c.question_for_consultant)]
        body = "".join(f"<p><b>{t}:</b> {E(v).replace(chr(10), '<br>')}</p>" for t, v in rows if v)
        self.contact_detail.setText(
            f"<p><b>{short_datetime(c.contact_at)}</b> · {E(CONTACT_KINDS.get(c.kind, c.kind))} by {E(CONTACT_MODES.get(c.mode, c.mode))}"
            f" · {E(c.staff)}{'' if c.reached else ' · <b>not reached</b>'}</p>{body}"
            f"<p><b>Next step:</b> {fmt_long(c.next_step_on)} — {E(c.next_step)}</p>")

    def _rec_selected(self, *_args: object) -> None:
        r = selected_item(self.recs_view)
        if r is None:
            self.rec_detail.setText("<p style='color:#627D98'>Select a recommendation.</p>" if self.recs_model.rows
                                    else "<p style='color:#627D98'>No recommendations from case review yet.</p>")
        else:
            trail = [f"Recommended {short_datetime(r.recommended_at)} by {E(r.recommended_by)}"]
            if r.decided_at:
                trail.append(f"{E(r.state_label if r.state in ('approved', 'modified', 'declined') else 'Decided')} "
                             f"{short_datetime(r.decided_at)} by {E(r.decided_by or '')}"
                             + (f" — {E(r.decision_note)}" if r.decision_note else ""))
            if r.told_at:
                trail.append(f"Patient told {short_datetime(r.told_at)} ({E(TOLD_LABELS.get(r.told_how or '', r.told_how or ''))}) "
                             f"by {E(r.told_by or '')}")
            if r.closed_at:
                trail.append(f"Closed {short_datetime(r.closed_at)}")
            self.rec_detail.setText(f"<p><b>{E(r.kind_label)}</b> — {E(self._rec_text(r))}</p><p style='color:#486581'>"
                                    + "<br>".join(trail) + "</p>")
        self._apply_rec_buttons()
