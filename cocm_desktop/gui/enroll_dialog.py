"""Enrollment (and re-entry after a closed episode): one form, the service decides what is missing.

Re-entry never reopens a closed episode: it enrolls the patient again (new consent, new baseline,
new billing episode), prefilled from the previous episode's team and conditions.

A brand-new patient (registry › New patient…) comes here with the patient form's values: the
patient and the enrollment are saved together in ONE session (`add_and_enroll`), so a refused
enrollment leaves no patient behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from PySide6.QtWidgets import QWidget

from cocm_desktop.domain.episode import Program, TargetCondition, is_valid_icd10
from cocm_desktop.domain.instruments import INSTRUMENTS
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.form_dialog import Field, FieldError, FormDialog, parse_typed_date
from cocm_desktop.services.changes import Change, event

#: an enrollment: the episode with its consent, history and current medications (a new patient too)
ENROLL_CHANGES = (Change.PATIENT, Change.EPISODE, Change.MEDICATION)

MEDICATION_COLUMNS = (("Medication", None), ("Dose", None), ("Schedule", None), ("Started", None))


def staff_choices(ctx: AppContext, role: str) -> list[tuple[str, int]]:
    from cocm_desktop.services.common import users_by_role

    with ctx.db.session() as s:
        return [(name, uid) for uid, name in users_by_role(s, role)]


def add_and_enroll(session, actor, *, patient: Mapping[str, Any], enrollment: Mapping[str, Any]):  # type: ignore[no-untyped-def]
    """A new patient and their first episode in the caller's one session: both or neither."""
    from cocm_desktop.services.enrollment import enroll
    from cocm_desktop.services.patients import add_patient

    added = add_patient(session, actor, **patient)
    return added, enroll(session, actor, patient_id=added.id, **enrollment)


class EnrollDialog(FormDialog):
    def __init__(self, context: AppContext, *, patient_id: int | None = None, patient_name: str,
                 parent: QWidget | None = None, previous: Any = None,
                 new_patient: Mapping[str, Any] | None = None, last_seen_on: date | None = None,
                 visit_required: bool | None = None) -> None:
        from cocm_desktop.domain.episode import initiating_visit_required

        self.ctx = context
        self.patient_id = patient_id
        self.new_patient = dict(new_patient) if new_patient is not None else None
        self.enrollment: Any = None  # EnrollmentResult after a successful save
        self.added: Any = None  # PatientSummary when a new patient was added
        clinicians = staff_choices(context, "clinician")
        managers = staff_choices(context, "care_manager")
        conditions = list(previous.target_conditions) if previous is not None and previous.target_conditions else []
        code, text = conditions[0] if conditions else ("", "")
        code2, text2 = conditions[1] if len(conditions) > 1 else ("", "")
        me = context.actor
        if visit_required is None:
            if self.new_patient is not None:
                last_seen_on = self.new_patient.get("last_seen_on")
            visit_required = initiating_visit_required(last_seen_on, date.today(), context.policy)
        self.visit_required = visit_required
        my_clinician = me.user_id if me.role == "clinician" else None
        fields = [
            Field("s_program", "Program", "section"),
            Field("enrolled_on", "Enrollment date", "date", True, date.today()),
            Field("program", "Program", "choice", True, previous.program if previous else "cocm",
                  choices=[(p.label, p.value) for p in Program]),
            Field("primary_scale", "Primary scale", "choice", True, previous.primary_scale if previous else "PHQ-9",
                  choices=[(i, i) for i in INSTRUMENTS],
                  hint="Response, remission and 'not improving' are judged on this scale."),
            Field("s_conditions", "Target conditions", "section"),
            Field("icd10", "ICD-10 code", "line", True, code, hint="e.g. F32.1 (major depressive disorder, moderate)"),
            Field("condition_text", "Description", "line", True, text),
            Field("icd10_2", "Second ICD-10 code", "line", False, code2, hint="Optional, e.g. F41.1"),
            Field("condition_text_2", "Second description", "line", False, text2),
            Field("s_team", "Care team", "section"),
            Field("treating_clinician_id", "Treating clinician", "choice", True,
                  previous.clinician_id if previous else my_clinician, choices=clinicians),
            Field("care_manager_id", "Care manager", "choice", True,
                  previous.care_manager_id if previous else (me.user_id if me.role == "care_manager" else None),
                  choices=managers),
            Field("s_safety", "Safety and initiating visit", "section"),
            Field("urgent_risk_ruled_out", "Urgent risk has been ruled out", "check"),
            Field("risk_ruled_out_by_id", "Ruled out by", "choice", False,
                  previous.clinician_id if previous else my_clinician, choices=clinicians),
            Field("initiating_visit_on", "Initiating visit", "datetext", False, None,
                  hint=("Required: the patient is new or not seen in the look-back period."
                        if visit_required else "Not required: the patient was seen recently. Optional.")),
            Field("s_consent", "Consent", "section"),
            Field("team_care_explained", "Team-based care explained", "check"),
            Field("non_face_to_face_explained", "Non-face-to-face work may occur", "check"),
            Field("cost_sharing_explained", "Cost-sharing explained", "check"),
            Field("patient_agrees", "The patient agrees", "check"),
            Field("consent_on", "Consent date", "date", True, date.today()),
            Field("consent_obtained_by_id", "Obtained by", "choice", True,
                  me.user_id if me.role in ("clinician", "care_manager") else None,
                  choices=clinicians + [(n, i) for n, i in managers if (n, i) not in clinicians]),
            Field("s_story", "History, medications and goals", "section"),
            Field("history", "History", "text"),
            Field("medications", "Current medications", "table", False, choices=MEDICATION_COLUMNS,
                  hint="One row per medication: name and dose required; schedule and the date started "
                       "(YYYY-MM-DD or MM/DD/YYYY) if known."),
            Field("patient_goals", "Goals (the patient's own words)", "text"),
            Field("s_next", "Next step", "section"),
            Field("next_action", "Next action", "line", True, "Baseline PHQ-9 and first follow-up call"),
            Field("next_action_on", "Next action due", "date", True, date.today()),
        ]
        if previous is not None:
            title = f"Re-enroll {patient_name}"
            intro = "A returning patient starts a new episode: new consent, new baseline, new billing episode."
        elif self.new_patient is not None:
            title = f"Enroll {patient_name} (new patient)"
            intro = ("Step 2 of 2. Nothing is saved until you press Enroll: the patient and the enrollment "
                     "are saved together.")
        else:
            title = f"Enroll {patient_name}"
            intro = "Everything the spec requires at enrollment; the app says what is missing."
        if visit_required:
            intro += " An initiating visit date is required (new patient, or not seen in the look-back period)."
        super().__init__(title, fields, parent, intro=intro, ok_text="Enroll", submit=self._submit)
        self.setObjectName("enrollDialog")
        self.setMinimumWidth(620)
        self.resize(680, 760)
        self.problem_fields = {
            "patient": [], "program": ["program"], "primary_scale": ["primary_scale"],
            "target_conditions": ["icd10", "condition_text"],
            "treating_clinician": ["treating_clinician_id"], "care_manager": ["care_manager_id"],
            "urgent_risk": ["urgent_risk_ruled_out", "risk_ruled_out_by_id"],
            "initiating_visit": ["initiating_visit_on"],
            "consent": ["team_care_explained", "non_face_to_face_explained", "cost_sharing_explained",
                        "patient_agrees", "consent_on"],
        }

    # ---- values → service arguments ------------------------------------------------------------
    def _conditions(self, v: dict[str, Any]) -> list[TargetCondition]:
        out = []
        for code_key, text_key in (("icd10", "condition_text"), ("icd10_2", "condition_text_2")):
            code, text = v.get(code_key), v.get(text_key)
            if code_key == "icd10_2" and not code and not text:
                continue
            if not code or not is_valid_icd10(code):
                raise FieldError(code_key, f"ICD-10 code “{code or ''}” is not valid: use a letter, two digits and "
                                 "an optional dot and up to four more, e.g. F32.1.")
            if not text:
                raise FieldError(text_key, "Give the target condition a description.")
            out.append(TargetCondition(code, text))
        return out

    def _medications(self, v: dict[str, Any]) -> list[Any]:
        from cocm_desktop.services.enrollment import MedicationIn

        meds = []
        for n, (name, dose, schedule, started) in enumerate(v.get("medications") or [], start=1):
            if not name or not dose:
                raise FieldError("medications", f"Current medications, row {n}: give the name and the dose.")
            try:
                started_on = parse_typed_date(started)
            except ValueError:
                raise FieldError("medications", f"Current medications, row {n}: “{started}” is not a date "
                                 "(YYYY-MM-DD).") from None
            meds.append(MedicationIn(name, dose, started_on, schedule=schedule or None))
        return meds

    def enroll_kwargs(self, v: dict[str, Any]) -> dict[str, Any]:
        from cocm_desktop.services.enrollment import ConsentIn

        consent = ConsentIn(v["team_care_explained"], v["non_face_to_face_explained"], v["cost_sharing_explained"],
                            v["patient_agrees"], v["consent_on"], obtained_by_id=v["consent_obtained_by_id"])
        ruled_by = v["risk_ruled_out_by_id"] if v["urgent_risk_ruled_out"] else None
        return dict(
            enrolled_on=v["enrolled_on"], program=v["program"], primary_scale=v["primary_scale"],
            target_conditions=self._conditions(v),
            treating_clinician_id=v["treating_clinician_id"], care_manager_id=v["care_manager_id"],
            urgent_risk_ruled_out=v["urgent_risk_ruled_out"], risk_ruled_out_by_id=ruled_by,
            initiating_visit_on=v["initiating_visit_on"], consent=consent, history=v["history"],
            medications=self._medications(v), patient_goals=v["patient_goals"],
            next_action=v["next_action"], next_action_on=v["next_action_on"])

    def _submit(self, v: dict[str, Any]) -> Any:
        from cocm_desktop.services.enrollment import enroll

        if v["urgent_risk_ruled_out"] and v["risk_ruled_out_by_id"] is None:
            raise FieldError("risk_ruled_out_by_id", "Urgent risk: choose who ruled it out.")
        kwargs = self.enroll_kwargs(v)
        if self.new_patient is not None:  # the patient and the enrollment: one operation, one event
            return self.ctx.write(add_and_enroll, patient=self.new_patient, enrollment=kwargs, done=self._added,
                                  changes=lambda added: event(*ENROLL_CHANGES, patients=added[0].id))
        return self.ctx.write(enroll, patient_id=self.patient_id, changes=ENROLL_CHANGES, done=self._enrolled,
                              **kwargs)

    def _added(self, result: tuple[Any, Any]) -> None:
        self.added, self.enrollment = result
        self.patient_id = self.added.id

    def _enrolled(self, result: Any) -> None:
        self.enrollment = result

