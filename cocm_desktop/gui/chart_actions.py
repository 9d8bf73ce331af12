"""The chart pane's actions: every write on the episode (measures, contacts, care plan and
sign-off, consent, recommendations loop, referrals, time, status changes, risk), each one service
call through `AppContext.write` (an operation off the GUI thread, saying what it changes) behind a
form; the service's refusal is what counts and is shown."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QInputDialog,
    QMessageBox,
)

from cocm_desktop.domain.activities import ACTIVITIES, REFERRAL_STATUSES
from cocm_desktop.domain.case_review import TOLD_MODES
from cocm_desktop.domain.episode import CloseReason
from cocm_desktop.gui.chart_widgets import TOLD_LABELS, selected_item
from cocm_desktop.gui.form_dialog import Field, FormDialog, expected
from cocm_desktop.gui.operations import Changes, Operation
from cocm_desktop.services.changes import Change


class ChartActions:
    """Mixin of `ChartPane`: the write actions (uses the pane's `ctx`, `chart` and widgets)."""

    def _write(self, fn, *args: Any, changes: Changes, **kwargs: Any) -> Operation:  # type: ignore[no-untyped-def]
        """One service call for the open patient, off the GUI thread; a refusal is shown over the
        chart (gui.errors). The chart reloads from the operation's change event."""
        return self.ctx.write(fn, *args, changes=changes, patient_id=self.patient_id, parent=self, **kwargs)

    def _need_episode(self) -> Any:
        ep = self.chart.episode if self.chart else None
        if ep is None:
            QMessageBox.information(self, "No episode", "This patient is not enrolled.")
        return ep

    def _form(self, title: str, fields: list[Field], submit, *, intro: str = "", ok: str = "Save") -> Any:  # type: ignore[no-untyped-def]
        """A small form whose OK runs `submit(values)`; a refusal keeps the form open with the message."""
        dialog = FormDialog(title, fields, self, intro=intro, ok_text=ok, submit=submit)
        return dialog.result_value if dialog.exec() else None

    def enter_measure(self, instrument: str) -> None:
        from cocm_desktop.gui.measure_dialog import MeasureDialog

        ep = self._need_episode()
        if ep is None:
            return
        dialog = MeasureDialog(self.ctx, episode_id=ep.id, patient_id=self.patient_id, instrument=instrument,  # type: ignore[arg-type]
                               patient_name=self.chart.patient.display_name, parent=self)
        if dialog.exec() and dialog.result_value is not None and dialog.result_value.risk_event_id:
            QMessageBox.warning(self, "Risk workflow opened",
                                "PHQ-9 item 9 is above 0: a risk event is open on this chart. Complete the safety "
                                "assessment now, notify the treating clinician, and record the outcome.")

    def record_contact(self) -> None:
        from cocm_desktop.gui.contact_dialog import ContactDialog

        ep = self._need_episode()
        if ep is None:
            return
        ContactDialog(self.ctx, episode_id=ep.id, patient_id=self.patient_id,  # type: ignore[arg-type]
                      patient_name=self.chart.patient.display_name, parent=self).exec()

    def _start_timer(self) -> None:
        window = self.window()
        timer = getattr(window, "timer", None)
        if timer is not None and self.chart is not None:
            timer.start_for(self.chart.patient.id, self.chart.patient.display_name)

    def edit_care_plan(self) -> None:
        from cocm_desktop.services.care_plans import save_care_plan
        from cocm_desktop.services.submissions import once

        ep = self._need_episode()
        if ep is None:
            return
        cur = self.chart.care_plans[0] if self.chart.care_plans else None

        def v(name: str) -> Any:
            return getattr(cur, name) if cur is not None else None

        fields = [
            Field("goals", "Goals", "text", True, v("goals") or (ep.patient_goals or "")),
            Field("medication_plan", "Medication plan", "text", value=v("medication_plan")),
            Field("skill_plan", "Skill plan", "text", value=v("skill_plan"),
                  hint="Behavioral activation, problem solving, …"),
            Field("follow_up_cadence", "Follow-up cadence", value=v("follow_up_cadence")),
            Field("next_checkin_on", "Next check-in", "date", value=v("next_checkin_on")),
            Field("safety_steps", "Safety steps", "text", value=v("safety_steps")),
            Field("contact_preferences", "Contact preferences", value=v("contact_preferences"),
                  hint="Two channels when possible: phone + portal"),
            Field("relapse_prevention_plan", "Relapse-prevention plan", "text", value=v("relapse_prevention_plan"),
                  hint="Needed before step-down"),
        ]
        intro = ("Saving adds a new version (nothing is overwritten); the treating clinician signs it off."
                 if cur else "The first version of the care plan; the treating clinician signs it off.")
        save = once(save_care_plan)  # one submission id for this form: Save again never saves twice
        self._form("Care plan", fields, lambda vals: self.ctx.write(save, ep.id, patient_id=self.patient_id,
                                                                     changes=Change.CARE_PLAN, **vals),
                   intro=intro, ok="Save new version")

    def sign_off(self) -> None:
        from cocm_desktop.services.care_plans import sign_off_care_plan

        ep = self._need_episode()
        if ep is None or not self.chart.care_plans:
            return
        shown = self.chart.care_plans[0]
        if QMessageBox.question(self, "Sign off care plan",
                                f"Sign off version {shown.version} of the care plan as the treating clinician?") \
                != QMessageBox.StandardButton.Yes:
            return
        # the words read, not an amendment made since (refused and shown: services.versions)
        self._write(sign_off_care_plan, ep.id, version=shown.version, expected_version=shown.row_version,
                    changes=Change.CARE_PLAN)

    def attest_consent(self) -> None:
        from cocm_desktop.services.enrollment import attest_consent

        ep = self._need_episode()
        if ep is not None:
            self._write(attest_consent, ep.id, changes=Change.EPISODE)

    def record_initiating_visit(self) -> None:
        from cocm_desktop.services.enrollment import record_initiating_visit

        ep = self._need_episode()
        if ep is None:
            return
        self._form("Initiating visit", [Field("visit_on", "Visit date", "date", True)],
                   lambda vals: self.ctx.write(record_initiating_visit, ep.id, vals["visit_on"], patient_id=self.patient_id,
                                               changes=Change.EPISODE))

    # ---- recommendations
    def _selected_rec(self) -> Any:
        r = selected_item(self.recs_view)
        if r is None:
            QMessageBox.information(self, "Recommendations", "Select a recommendation first.")
        return r

    def decide_selected(self, decision: str) -> None:
        r = self._selected_rec()
        if r is not None:
            self.decide(r.id, decision)

    def decide(self, rec_id: int, decision: str) -> Any:
        """Approve / modify / decline (the treating clinician). Refusals are shown as they come."""
        from cocm_desktop.services.case_review import decide_recommendation

        note = modified = None
        medication: dict[str, str] = {}
        rec = next((r for r in self.recs_model.rows if r.id == rec_id), None)  # as the pane shows it
        if decision == "modified":
            text, ok = QInputDialog.getMultiLineText(self, "Modify recommendation",
                                                     "The recommendation as you approve it (what changed):",
                                                     rec.text if rec is not None else "")  # edit, not retype
            if not ok or not text.strip():
                return None
            modified = text.strip()
            if rec is not None and rec.kind in ("medication_start", "medication_change"):
                # the change applied to the medication list is the dose as approved
                dose, ok = QInputDialog.getText(self, "Modify recommendation",
                                                f"{rec.drug}: the dose as you approve it:", text=rec.dose or "")
                if not ok or not dose.strip():
                    return None
                medication = {"dose": dose.strip()}
        elif decision == "declined":
            text, ok = QInputDialog.getMultiLineText(self, "Decline recommendation", "Why (kept with the decision):")
            if not ok:
                return None
            note = text.strip() or None
        # The decision is on the text shown: if the consultant changed it since, the clinician is
        # told who changed what and the chart reloads with it (services.versions).
        return self._write(decide_recommendation, rec_id, decision, note=note, modified_text=modified,
                           expected_version=rec.row_version if rec is not None else None,
                           changes=(Change.RECOMMENDATION, Change.MEDICATION), **medication)

    def tell_selected(self) -> None:
        from cocm_desktop.services.case_review import tell_patient

        r = self._selected_rec()
        if r is None:
            return
        labels = [TOLD_LABELS.get(m, m) for m in TOLD_MODES]
        choice, ok = QInputDialog.getItem(self, "Told patient", "How was the patient told?", labels, 0, False)
        if ok:
            self._write(tell_patient, r.id, how=TOLD_MODES[labels.index(choice)], expected_version=r.row_version,
                        changes=Change.RECOMMENDATION)

    def close_selected(self) -> None:
        from cocm_desktop.services.case_review import close_recommendation

        r = self._selected_rec()
        if r is not None:
            self._write(close_recommendation, r.id, expected_version=r.row_version, changes=Change.RECOMMENDATION)

    # ---- referrals
    def add_referral(self) -> None:
        from cocm_desktop.services.referrals import add_referral

        ep = self._need_episode()
        if ep is None:
            return
        self._form("Add referral", [
            Field("to_whom", "To whom", required=True),
            Field("reason", "Reason", "text", True),
            Field("referred_on", "Referred on", "date", True),
            Field("status", "Status", "choice", choices=[(v, k) for k, v in REFERRAL_STATUSES.items()], value="sent"),
        ], lambda vals: self.ctx.write(add_referral, ep.id, patient_id=self.patient_id, changes=Change.REFERRAL,
                                      **vals))

    def update_referral(self) -> None:
        from cocm_desktop.services.referrals import update_referral

        r = selected_item(self.refs_view)
        if r is None:
            QMessageBox.information(self, "Referrals", "Select a referral first.")
            return
        self._form(f"Referral to {r.to_whom}", [
            Field("status", "Status", "choice", choices=[(v, k) for k, v in REFERRAL_STATUSES.items()], value=r.status),
            Field("seen_confirmed_on", "Seen (confirmed) on", "date", value=r.seen_confirmed_on),
            Field("note", "Note", "text", value=r.note),
        ], lambda vals: self.ctx.write(
            update_referral, r.id, status=vals["status"],
            seen_confirmed_on=vals["seen_confirmed_on"] if vals["status"] == "seen" else None,
            note=vals["note"], expected_version=expected(vals, r.row_version), patient_id=self.patient_id,
            changes=Change.REFERRAL),
            intro="The seen date is kept only when the status is Seen.")

    # ---- time
    def add_manual_time(self) -> None:
        from cocm_desktop.services.time_log import add_manual_time

        if self.chart is None:
            return
        self._form("Add time", [
            Field("local_date", "Date", "date", True),
            Field("minutes", "Minutes", "int", True, 10, minimum=1, maximum=600),
            Field("activity", "Activity", "choice", choices=[(v, k) for k, v in ACTIVITIES.items()], value="care_coordination"),
            Field("note", "Note"),
        ], lambda vals: self.ctx.write(add_manual_time, patient_id=self.chart.patient.id, changes=Change.TIME,
                                      **vals))

    # ---- episode status
    def _status(self, to: str, title: str, fields: list[Field], intro: str = "") -> None:
        from cocm_desktop.services.episodes import change_status

        ep = self._need_episode()
        if ep is None:
            return
        # the status the form was opened on: a change someone else made meanwhile is refused and named
        self._form(title, fields, lambda vals: self.ctx.write(change_status, ep.id, to, patient_id=self.patient_id,
                                                                      expected_status=ep.status,
                                                                      changes=Change.EPISODE, **vals),
                   intro=intro)

    def step_down(self) -> None:
        self._status("relapse_prevention", "Step down to relapse prevention",
                     [Field("on", "On", "date", True), Field("note", "Note", "text")],
                     "Needs a relapse-prevention plan in the care plan. Contact continues every 30 days.")

    def step_up(self) -> None:
        self._status("active", "Step back up to active care",
                     [Field("on", "On", "date", True), Field("note", "Why (relapse)", "text", True)])

    def close_out(self) -> None:
        self._status("closed", "Close out the episode", [
            Field("reason", "Reason", "choice", True, choices=[(r.label, r.value) for r in CloseReason
                                                                if r is not CloseReason.TRANSFERRED]),
            Field("on", "On", "date", True),
            Field("note", "Close-out note", "text", True),
            Field("reentry_path", "How to re-enter care", "text",
                  hint="Required for a disengaged close-out"),
        ], "A transfer closes by confirming the handoff (Episode menu). A disengaged close-out needs the "
           "documented outreach attempts and a re-entry path.")

    def request_transfer(self) -> None:
        from cocm_desktop.services.episodes import request_transfer

        ep = self._need_episode()
        if ep is None:
            return
        self._form("Transfer to specialty care", [Field("to_whom", "To", required=True, value=ep.transfer_to),
                                                  Field("note", "Note", "text")],
                   lambda vals: self.ctx.write(request_transfer, ep.id, vals["to_whom"], note=vals["note"],
                                               expected_transfer_to=ep.transfer_to or "",
                                               patient_id=self.patient_id, changes=Change.EPISODE),
                   intro="The patient stays on the registry until the receiving service confirms the handoff.")

    def confirm_transfer(self) -> None:
        from cocm_desktop.services.episodes import confirm_transfer

        ep = self._need_episode()
        if ep is None:
            return
        self._form("Confirm transfer handoff", [Field("confirmed_on", "Handoff confirmed on", "date", True),
                                                Field("note", "Note", "text")],
                   lambda vals: self.ctx.write(confirm_transfer, ep.id, vals["confirmed_on"], note=vals["note"],
                                               expected_transfer_to=ep.transfer_to or "",
                                               patient_id=self.patient_id, changes=Change.EPISODE),
                   intro=f"Closes the episode as transferred to {ep.transfer_to}.", ok="Confirm and close")

    def re_enroll(self) -> None:
        from cocm_desktop.gui.enroll_dialog import EnrollDialog

        if self.chart is None:
            return
        EnrollDialog(self.ctx, patient_id=self.chart.patient.id, patient_name=self.chart.patient.display_name,
                     parent=self, previous=self.chart.episode,
                     last_seen_on=getattr(self.chart.patient, "last_seen_on", None)).exec()

    # ---- risk
    def open_risk_event(self) -> None:
        from cocm_desktop.services.risk import open_risk_event

        ep = self._need_episode()
        if ep is None:
            return
        self._form("Record a risk event", [
            Field("trigger", "Trigger", "choice", True, choices=[("Patient statement", "statement"),
                                                                  ("Clinician concern", "clinician_concern")]),
            Field("detail", "What happened", "text", True),
        ], lambda vals: self.ctx.write(open_risk_event, ep.id, vals["trigger"], vals["detail"], patient_id=self.patient_id,
                                      changes=Change.RISK))

    def _open_risk(self) -> Any:
        risks = self.chart.open_risk if self.chart else ()
        return risks[0] if risks else None

    def record_risk_steps(self) -> None:
        from cocm_desktop.gui.enroll_dialog import staff_choices
        from cocm_desktop.services.risk import record_risk_steps

        r = self._open_risk()
        if r is None:
            return
        ep = self.chart.episode
        self._form("Safety protocol steps", [
            Field("safety_assessment_done", "Safety assessment done", "check", value=r.safety_assessment_done),
            Field("clinician_notified", "Clinician notified", "check", value=r.clinician_notified),
            Field("notified_clinician_id", "Which clinician", "choice", True,
                  r.notified_clinician_id or (ep.clinician_id if ep else None),
                  choices=staff_choices(self.ctx, "clinician"),
                  hint="The treating clinician unless someone else was reached (they see it in their worklist)."),
            Field("notified_at", "Notified at", "datetime", True, r.notified_at),
            Field("after_hours_routing_used", "After-hours routing used", "check", value=r.after_hours_routing_used),
            Field("safety_plan_done", "Safety plan made", "check", value=r.safety_plan_done),
        ], lambda vals: self.ctx.write(record_risk_steps, r.id, patient_id=self.patient_id, changes=Change.RISK,
                                      expected_version=expected(vals, r.row_version), **self._steps_in(vals)),
            intro="Tick each step as it is done. \"Clinician notified\" records who was told and when.")

    @staticmethod
    def _steps_in(vals: dict[str, Any]) -> dict[str, Any]:
        out = dict(vals)
        if not out["clinician_notified"]:
            out["notified_clinician_id"] = out["notified_at"] = None
        return out

    def record_risk_outcome(self) -> None:
        from cocm_desktop.services.risk import STEP_LABELS, WAIVABLE_STEPS, record_risk_outcome

        r = self._open_risk()
        if r is None:
            return
        missing = [s for s in WAIVABLE_STEPS if not getattr(r, s)]
        fields = [Field("outcome", "Outcome", "text", True)]
        why_label = {"after_hours_routing_used": "Why no after-hours routing", "safety_plan_done": "Why no safety plan"}
        fields += [Field(f"why_{s}", why_label.get(s, f"Why not: {STEP_LABELS[s].lower()}"), "line", True,
                         hint="A step not done needs its reason before the event closes.") for s in missing]

        def submit(vals: dict[str, Any]) -> Any:
            reasons = {s: vals[f"why_{s}"] for s in missing}
            return self.ctx.write(record_risk_outcome, r.id, vals["outcome"], step_reasons=reasons,
                                  expected_version=expected(vals, r.row_version), patient_id=self.patient_id,
                                  changes=Change.RISK)

        todo = [STEP_LABELS[s].lower() for s in ("safety_assessment_done", "clinician_notified") if not getattr(r, s)]
        intro = "Documenting the outcome closes the risk event and clears the safety banner."
        if todo:
            intro += " Not yet recorded: " + " and ".join(todo) + " (never waived: record them first)."
        self._form("Risk event outcome", fields, submit, intro=intro)
