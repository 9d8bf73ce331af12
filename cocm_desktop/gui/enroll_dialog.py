"""Enrollment (and re-entry after a closed episode): one form, the service decides what is missing.

Re-entry never reopens a closed episode: it enrolls the patient again (new consent, new baseline,
new billing episode), prefilled from the previous episode's team and conditions.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtWidgets import QWidget

from cocm_desktop.domain.episode import Program, TargetCondition
from cocm_desktop.domain.instruments import INSTRUMENTS
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.form_dialog import Field, FormDialog


def staff_choices(ctx: AppContext, role: str) -> list[tuple[str, int]]:
    from cocm_desktop.services.common import users_by_role

    with ctx.db.session() as s:
        return [(name, uid) for uid, name in users_by_role(s, role)]


class EnrollDialog(FormDialog):
    def __init__(self, context: AppContext, *, patient_id: int, patient_name: str, parent: QWidget | None = None,
                 previous: Any = None) -> None:
        self.ctx = context
        self.patient_id = patient_id
        clinicians = staff_choices(context, "clinician")
        managers = staff_choices(context, "care_manager")
        code, text = (previous.target_conditions[0] if previous is not None and previous.target_conditions
                      else ("", ""))
        me = context.actor
        fields = [
            Field("enrolled_on", "Enrollment date", "date", True, date.today()),
            Field("program", "Program", "choice", True, previous.program if previous else "cocm",
                  choices=[(p.label, p.value) for p in Program]),
            Field("primary_scale", "Primary scale", "choice", True, previous.primary_scale if previous else "PHQ-9",
                  choices=[(i, i) for i in INSTRUMENTS]),
            Field("icd10", "Target condition (ICD-10)", "line", True, code),
            Field("condition_text", "Condition description", "line", True, text),
            Field("treating_clinician_id", "Treating clinician", "choice", True,
                  previous.clinician_id if previous else (me.user_id if me.role == "clinician" else None),
                  choices=clinicians),
            Field("care_manager_id", "Care manager", "choice", True,
                  previous.care_manager_id if previous else (me.user_id if me.role == "care_manager" else None),
                  choices=managers),
            Field("urgent_risk_ruled_out", "Urgent risk ruled out (by the treating clinician)", "check"),
            Field("initiating_visit_on", "Initiating visit (if required)", "date", False, date.today()),
            Field("has_visit", "An initiating visit took place on that date", "check"),
            Field("team_care_explained", "Team-based care explained", "check"),
            Field("non_face_to_face_explained", "Non-face-to-face work may occur", "check"),
            Field("cost_sharing_explained", "Cost-sharing explained", "check"),
            Field("patient_agrees", "The patient agrees", "check"),
            Field("consent_on", "Consent date", "date", True, date.today()),
            Field("patient_goals", "Patient goals (their words)", "text"),
            Field("next_action", "Next action", "line", True, "Baseline PHQ-9 and first follow-up call"),
            Field("next_action_on", "Next action due", "date", True, date.today()),
        ]
        title = f"Re-enroll {patient_name}" if previous is not None else f"Enroll {patient_name}"
        intro = ("A returning patient starts a new episode: new consent, new baseline, new billing episode."
                 if previous is not None else "Everything the spec requires at enrollment; the app says what is missing.")
        super().__init__(title, fields, parent, intro=intro, ok_text="Enroll", submit=self._submit)

    def _submit(self, v: dict[str, Any]) -> Any:
        from cocm_desktop.services.enrollment import ConsentIn, enroll

        consent = ConsentIn(v["team_care_explained"], v["non_face_to_face_explained"], v["cost_sharing_explained"],
                            v["patient_agrees"], v["consent_on"], obtained_by_id=v["treating_clinician_id"])
        return self.ctx.write(
            enroll, patient_id=self.patient_id, enrolled_on=v["enrolled_on"], program=v["program"],
            primary_scale=v["primary_scale"],
            target_conditions=[TargetCondition(v["icd10"], v["condition_text"])],
            treating_clinician_id=v["treating_clinician_id"], care_manager_id=v["care_manager_id"],
            urgent_risk_ruled_out=v["urgent_risk_ruled_out"],
            risk_ruled_out_by_id=v["treating_clinician_id"] if v["urgent_risk_ruled_out"] else None,
            initiating_visit_on=v["initiating_visit_on"] if v["has_visit"] else None,
            consent=consent, patient_goals=v["patient_goals"], next_action=v["next_action"],
            next_action_on=v["next_action_on"], what="registry")
