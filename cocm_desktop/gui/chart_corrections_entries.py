"""The chart's corrections of referrals, risk events, care-plan versions, status changes and
recommendations, of a patient record entered twice, and the clinician's confirmation of the
urgent-risk rule-out.

Same gestures as `chart_corrections` (a context menu, double-click to amend, Delete to void, each
asking for a reason); this mixin supplies what differs per kind: who made the entry, the amend
form, the service called. Every write is one service call off the GUI thread; the service's
refusal is what counts and stays in the open form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QMessageBox, QTableView

from cocm_desktop.domain.activities import REFERRAL_STATUSES
from cocm_desktop.domain.case_review import LoopState
from cocm_desktop.domain.corrections import may_correct, refusal
from cocm_desktop.domain.episode import CloseReason, EpisodeStatus
from cocm_desktop.gui.chart_widgets import short_datetime
from cocm_desktop.gui.form_dialog import Field, expected
from cocm_desktop.gui.registry_model import fmt_date
from cocm_desktop.services.changes import Change, event

#: what correcting each kind of entry changes (besides the correction itself)
ENTRY_CHANGES = {"referral": Change.REFERRAL, "risk_event": Change.RISK, "care_plan_version": Change.CARE_PLAN,
                 "episode_status_change": Change.EPISODE, "recommendation": Change.RECOMMENDATION}

_TRIGGERS = {"item9": "PHQ-9 item 9 above 0", "statement": "patient statement", "clinician_concern": "clinician concern"}


class ChartEntryCorrections:
    """Mixin of `ChartPane` (with `ChartCorrections`, whose dispatch calls these)."""

    # ---- wiring (ChartCorrections asks)
    def entry_views(self) -> tuple[tuple[QTableView, str], ...]:
        return ((self.refs_view, "referral"), (self.risks_view, "risk_event"),
                (self.plans_view, "care_plan_version"), (self.status_view, "episode_status_change"),
                (self.recs_view, "recommendation"))

    @staticmethod
    def entry_makers(kind: str, row: Any) -> tuple[int | None, ...]:
        if kind == "referral":
            return (row.created_by_id,)
        if kind == "risk_event":
            return (row.opened_by_id, row.outcome_by_id)
        if kind == "care_plan_version":
            return (row.created_by_id,)
        if kind == "episode_status_change":
            return (row.changed_by_id,)
        return (row.recommended_by_id, row.decided_by_id, row.told_by_id)

    def amend_label(self, kind: str) -> str:
        if kind == "recommendation":
            return "Amend the wording\u2026" if self.ctx.actor.role == "psychiatrist" else "Correct the state\u2026"
        return "Amend\u2026"

    def extra_amend_refusal(self, kind: str, row: Any) -> str | None:
        """Why this entry cannot be amended although it may be corrected (None: it can)."""
        if row is None or self.chart is None:
            return None
        if kind == "care_plan_version" and self.chart.care_plans and row.id != self.chart.care_plans[0].id:
            return "Only the plan in force (the newest version) is amended; older versions are history."
        if kind == "episode_status_change" and row.from_status is None:
            return "The enrollment itself is not amended here."
        if kind == "recommendation":
            from cocm_desktop.services.recommendation_corrections import correctable_states

            if self.ctx.actor.role == "psychiatrist":
                return None if row.state == LoopState.RECOMMENDED else \
                    "The clinician has decided on these words already; void the recommendation and record it again."
            if not correctable_states(row.state, row.decision):
                return "Awaiting the clinician: nothing to correct yet (the consultant may amend the wording)."
        return None

    def _describe_entry(self, kind: str, row: Any) -> str:
        if kind == "referral":
            return f"Referral to {row.to_whom} of {fmt_date(row.referred_on)} ({REFERRAL_STATUSES.get(row.status, row.status)})"
        if kind == "risk_event":
            return f"Risk event ({_TRIGGERS.get(row.trigger, row.trigger)}) opened {short_datetime(row.opened_at)} by {row.opened_by}"
        if kind == "care_plan_version":
            return f"Care plan version {row.version} written by {row.created_by} on {short_datetime(row.created_at)}"
        if kind == "episode_status_change":
            return f"Status change on {fmt_date(row.changed_on)}: {self._status_text(row)}, by {row.changed_by}"
        return f"{row.kind_label} recommendation of {short_datetime(row.recommended_at)} ({row.state_label.lower()})"

    # ---- void
    def void_other_entry(self, kind: str, row: Any) -> None:
        from cocm_desktop.services import care_plans, episodes, recommendation_corrections, referrals, risk

        service: Callable[..., Any] = {
            "referral": referrals.void_referral, "risk_event": risk.void_risk_event,
            "care_plan_version": care_plans.void_care_plan_version,
            "episode_status_change": episodes.void_status_change,
            "recommendation": recommendation_corrections.void_recommendation,
        }[kind]
        ctx, pid = self.ctx, self.patient_id
        effect = {
            "care_plan_version": " The newest version before it is the plan again.",
            "episode_status_change": " The episode goes back to the status before it.",
            "risk_event": " The safety flag and the clinician's worklist item go with it.",
        }.get(kind, "")
        self._correction_form(
            "Void \u2014 entered in error", [self._reason_field("Why is it in error?")],
            lambda v: ctx.write(service, row.id, reason=v["reason"], expected_version=expected(v, row.row_version), patient_id=pid,
                                changes=(Change.CORRECTION, ENTRY_CHANGES[kind])),
            intro=f"{self._describe_entry(kind, row)}. A voided entry stays in the chart's history, struck through, "
                  f"and counts nowhere: registry, flags, worklists, billing and packets.{effect}",
            ok="Void entry")

    # ---- amend
    def amend_other_entry(self, kind: str, row: Any) -> None:
        {"referral": self._amend_referral, "risk_event": self._amend_risk, "care_plan_version": self._amend_plan,
         "episode_status_change": self._amend_status, "recommendation": self._amend_recommendation}[kind](row)

    def _amend_form(self, kind: str, row: Any, title: str, fields: list[Field], service: Callable[..., Any],
                    *, convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None, note: str = "") -> None:
        """Fields preset to the entry's values; only what was changed is sent, with the reason."""
        ctx, pid = self.ctx, self.patient_id
        original = {f.name: f.value for f in fields}

        def work(v: dict[str, Any]) -> Any:
            values = convert(v) if convert else v
            changes = {k: val for k, val in values.items() if k != "reason" and val != original.get(k)}
            return ctx.write(service, row.id, reason=v["reason"], expected_version=expected(v, row.row_version), patient_id=pid,
                             changes=(Change.CORRECTION, ENTRY_CHANGES[kind]), **changes)

        self._correction_form(title, [*fields, self._reason_field()], work, ok="Save amendment", intro=(
            f"{self._describe_entry(kind, row)}. The corrected values count from now on; the old ones stay in the "
            f"history.{note}"))

    def _amend_referral(self, r: Any) -> None:
        from cocm_desktop.services.referrals import amend_referral

        self._amend_form("referral", r, "Amend referral", [
            Field("to_whom", "Referred to", required=True, value=r.to_whom),
            Field("referral_reason", "Reason for the referral", "text", True, r.reason),
            Field("referred_on", "Referred on", "date", True, r.referred_on),
            Field("status", "Status", "choice", True, r.status, choices=[(v, k) for k, v in REFERRAL_STATUSES.items()]),
            Field("seen_confirmed_on", "Confirmed seen on (only with status seen)", "datetext", value=r.seen_confirmed_on),
            Field("note", "Note", "text", value=r.note),
        ], amend_referral)

    def _amend_risk(self, r: Any) -> None:
        from cocm_desktop.gui.enroll_dialog import staff_choices
        from cocm_desktop.services.risk import amend_risk_event

        clinicians = staff_choices(self.ctx, "clinician")
        fields = [
            Field("safety_assessment_done", "Safety assessment done", "check", value=r.safety_assessment_done),
            Field("clinician_notified", "Clinician notified", "check", value=r.clinician_notified),
            Field("notified_clinician_id", "Which clinician", "choice", value=r.notified_clinician_id
                  or (self.chart.episode.clinician_id if self.chart.episode else None), choices=clinicians),
            Field("notified_at", "Notified at", "datetime", value=r.notified_at or r.opened_at),
            Field("after_hours_routing_used", "After-hours routing used", "check", value=r.after_hours_routing_used),
            Field("safety_plan_done", "Safety plan made", "check", value=r.safety_plan_done),
            Field("detail", "What happened", "text", value=r.detail),
        ]
        if not r.is_open:
            fields += [
                Field("outcome", "Outcome", "text", True, r.outcome),
                Field("outcome_at", "Outcome at", "datetime", True, r.outcome_at),
                Field("why_after_hours", "If after-hours routing was not used: why", value=r.step_reasons.get(
                    "after_hours_routing_used")),
                Field("why_no_plan", "If no safety plan was made: why", value=r.step_reasons.get("safety_plan_done")),
            ]

        def convert(v: dict[str, Any]) -> dict[str, Any]:
            out = dict(v)
            if not out["clinician_notified"]:
                out["notified_clinician_id"] = out["notified_at"] = None
            if "why_after_hours" in out:  # a closed event: the reason of each step not done
                whys = {"after_hours_routing_used": out.pop("why_after_hours"), "safety_plan_done": out.pop("why_no_plan")}
                out["step_reasons"] = {k: why for k, why in whys.items() if why and not out[k]}
            return out

        self._amend_form("risk_event", r, "Amend risk event", fields, amend_risk_event, convert=convert,
                         note=" A closed event must still have every step done or the reason it was not.")

    def _amend_plan(self, p: Any) -> None:
        from cocm_desktop.services.care_plans import amend_care_plan_version

        signed = " It was signed off: the clinician signs the corrected version again." if p.signed_off_on else ""
        self._amend_form("care_plan_version", p, f"Amend care plan version {p.version}", [
            Field("goals", "Goals", "text", True, p.goals),
            Field("medication_plan", "Medication plan", "text", value=p.medication_plan),
            Field("skill_plan", "Skill plan", "text", value=p.skill_plan),
            Field("follow_up_cadence", "Follow-up cadence", value=p.follow_up_cadence),
            Field("safety_steps", "Safety steps", "text", value=p.safety_steps),
            Field("contact_preferences", "Contact preferences", value=p.contact_preferences),
            Field("relapse_prevention_plan", "Relapse-prevention plan", "text", value=p.relapse_prevention_plan),
        ], amend_care_plan_version, note=signed)

    def _amend_status(self, s: Any) -> None:
        from cocm_desktop.services.episodes import amend_status_change

        fields = [Field("changed_on", "Changed on", "date", True, s.changed_on)]
        if s.to_status == EpisodeStatus.CLOSED:
            fields.append(Field("close_reason", "Close reason", "choice", True, s.reason,
                                choices=[(r.label, r.value) for r in CloseReason]))
        fields.append(Field("note", "Note", "text", value=s.note))
        self._amend_form("episode_status_change", s, "Amend status change", fields, amend_status_change,
                         note=" To undo the change itself, void it instead.")

    def _amend_recommendation(self, r: Any) -> None:
        from cocm_desktop.services import recommendation_corrections as rc

        if self.ctx.actor.role == "psychiatrist":
            fields = [Field("text", "Recommendation", "text", True, r.text)]
            if r.drug or r.dose:
                fields += [Field("drug", "Drug", value=r.drug), Field("dose", "Dose", value=r.dose)]
            self._amend_form("recommendation", r, "Amend recommendation", fields, rc.amend_recommendation_text)
            return
        states = rc.correctable_states(r.state, r.decision)
        ctx, pid = self.ctx, self.patient_id
        fields = [
            Field("state", "Correct state", "choice", True, states[0].value,
                  choices=[(s.label, s.value) for s in states]),
            Field("modified_text", "If approved with changes: the change", "text", value=r.modified_text),
            Field("note", "Decision note", "text", value=r.decision_note),
            self._reason_field(),
        ]

        def work(v: dict[str, Any]) -> Any:
            return ctx.write(rc.amend_recommendation_state, r.id, reason=v["reason"], state=v["state"],
                             modified_text=v["modified_text"], note=v["note"], expected_version=expected(v, r.row_version), patient_id=pid,
                             changes=(Change.CORRECTION, Change.RECOMMENDATION))

        self._correction_form("Correct recommendation state", fields, work, ok="Save correction", intro=(
            f"{self._describe_entry('recommendation', r)}. A step taken in error is put back; the steps after it are "
            "cleared and stay in the history. Changing a decision is the treating clinician's."))

    # ---- a patient record entered twice
    def patient_void_refusal(self) -> str | None:
        why_not = self.patient_restore_refusal()  # the same people may void a record and restore it
        if why_not is not None:
            return why_not
        if any(r.is_open for r in self.chart.open_risk):
            return "A risk event on this record is open: record its outcome first."
        return None

    def void_patient_record(self) -> None:
        from cocm_desktop.services.patients import find_patients, void_patient

        why_not = self.patient_void_refusal()
        if why_not is not None:
            QMessageBox.information(self, "Corrections", why_not)
            return
        p, ctx = self.chart.patient, self.ctx
        with ctx.db.session() as s:
            same = [x for x in find_patients(s, ctx.actor, p.family_name, limit=30) if x.id != p.id]
        fields = [
            Field("duplicate_of", "The patient's kept record", "choice", False, None,
                  choices=[("(not listed)", None)] + [(f"{x.display_name} \u00b7 MRN {x.mrn} \u00b7 born "
                                                       f"{fmt_date(x.date_of_birth)}", x.id) for x in same]),
            self._reason_field("Why is this record a duplicate?"),
        ]
        def n(count: int, one: str, many: str) -> str:
            return f"{count} {one if count == 1 else many}"

        counts = ", ".join((n(len(self.chart.measures), "score", "scores"),
                            n(len(self.chart.contacts), "contact", "contacts"),
                            n(sum(1 for t in self.time_entries if not t.deleted), "time entry", "time entries")))

        def work(v: dict[str, Any]) -> Any:
            kept = v["duplicate_of"]
            return ctx.write(void_patient, reason=v["reason"], duplicate_of=kept, expected_version=expected(v, p.row_version), patient_id=p.id,
                             changes=event(Change.CORRECTION, Change.PATIENT,
                                           patients={p.id, kept} if kept is not None else p.id))

        self._correction_form(
            "Void patient record (entered twice)", fields, work, ok="Void this record",
            intro=(f"{p.display_name}, MRN {p.mrn}. The record and everything on it ({counts}) stay in the database, "
                   "struck through, and count nowhere: it leaves the registry, worklists, billing and packets. "
                   "Record anything that belongs to the patient on the kept record."))

    def patient_restore_refusal(self) -> str | None:
        """Why this person may not void or restore the open patient record (None: they may)."""
        if self.chart is None:
            return "Open a chart first."
        actor, p = self.ctx.actor, self.chart.patient
        if not may_correct(actor.role, actor.user_id, "patient", made_by=p.created_by_id,
                           clinicians=self.chart.clinician_ids):
            return refusal("patient")
        return None

    def restore_patient_record(self) -> None:
        """Undo a void made in error (services.patients.restore_patient)."""
        from cocm_desktop.services.patients import restore_patient

        why_not = self.patient_restore_refusal()
        if why_not is not None:
            QMessageBox.information(self, "Corrections", why_not)
            return
        p, ctx = self.chart.patient, self.ctx

        def work(v: dict[str, Any]) -> Any:
            return ctx.write(restore_patient, reason=v["reason"], expected_version=expected(v, p.row_version),
                             patient_id=p.id, changes=(Change.CORRECTION, Change.PATIENT))

        self._correction_form(
            "Restore patient record (voided in error)", [self._reason_field("Why was the void a mistake?")], work,
            ok="Restore this record",
            intro=(f"{p.display_name}, MRN {p.mrn}, voided {short_datetime(p.voided_at)}: {p.void_reason or ''}. "
                   "The record and the entries voided with it count again (entries voided on their own stay "
                   "voided); put the patient back on an upcoming case-review agenda by hand. The void and this "
                   "restore stay in the history."))

    # ---- the urgent-risk rule-out
    def confirm_rule_out(self) -> None:
        from cocm_desktop.services.enrollment import attest_risk_rule_out

        ep = self.chart.episode if self.chart else None
        if ep is not None:
            self._write(attest_risk_rule_out, ep.id, changes=Change.EPISODE)

    def decline_rule_out(self) -> None:
        from cocm_desktop.services.enrollment import decline_risk_rule_out

        ep = self.chart.episode if self.chart else None
        if ep is None:
            return
        ctx, pid = self.ctx, self.patient_id
        self._correction_form(
            "Urgent risk not ruled out", [self._reason_field("What happened?")],
            lambda v: ctx.write(decline_risk_rule_out, ep.id, reason=v["reason"], patient_id=pid,
                                changes=(Change.CORRECTION, Change.EPISODE, Change.RISK)),
            ok="Open the safety protocol", intro=(
                "The enrollment record names you as having ruled out urgent risk. Saying you did not corrects the "
                "record (with your reason, kept in the history) and opens a risk event at once: complete the "
                "safety assessment and record the outcome."))
