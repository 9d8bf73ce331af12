"""New patient (registry › New patient…, Ctrl+N): the patient's details, then the enrollment form,
then the new chart.

Step 1 (`PatientDialog`) is checked by the service itself without saving anything
(`check_new_patient`: `add_patient` in a session that is always rolled back), so a taken MRN or a
birth date in the future is named on the patient form, not one step later. Step 2 is the
enrollment form, which saves patient and episode together in one session: cancelling or a refusal
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from typing import Any

from PySide6.QtWidgets import QDialog, QWidget

from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.form_dialog import Field, FormDialog

SEX_CHOICES = (("—", None), ("Female", "F"), ("Male", "M"), ("Other / not listed", "X"), ("Unknown", "U"))


class _DryRun(Exception):
    """Raised inside the check session so it rolls back: nothing the check did is kept."""


def check_new_patient(session, actor, **values: Any) -> None:  # type: ignore[no-untyped-def]
    """Run `add_patient` exactly as the save will, then throw the work away (always rolled back)."""
    from cocm_desktop.services.patients import add_patient

    add_patient(session, actor, **values)
    raise _DryRun


def payer_choices(ctx: AppContext) -> tuple[list[tuple[str, Any]], Any]:
    from cocm_desktop.services.payer_rules import rule_set_choices

    with ctx.db.session() as s:
        rows = rule_set_choices(s)
    default = next((rid for rid, _name, is_default in rows if is_default), None)
    return [(name + ("  (default)" if is_default else ""), rid) for rid, name, is_default in rows], default


class PatientDialog(FormDialog):
    """Step 1: who the patient is. `patient_values()` → keyword arguments for add_patient."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        self.ctx = context
        payers, default_payer = payer_choices(context)
        self._payer_names = {value: label.replace("  (default)", "") for label, value in payers}
        fields = [
            Field("mrn", "MRN", "line", True, hint="The practice's medical record number (unique)."),
            Field("family_name", "Family name", "line", True),
            Field("given_name", "Given name", "line", True),
            Field("date_of_birth", "Date of birth", "datetext", True),
            Field("sex", "Sex", "choice", False, None, choices=SEX_CHOICES),
            Field("phone", "Phone", "line"),
            Field("portal", "Uses the patient portal", "check"),
            Field("preferred_contact", "Preferred contact", "line", False,
                  hint="How and when to reach them, e.g. “Phone after 5 pm” or “Portal message”."),
            Field("payer_rule_set_id", "Payer", "choice", False, default_payer, choices=payers,
                  hint="Which billing rules apply (Medicare unless the clinic set up others)."),
            Field("member_id", "Member id", "line"),
            Field("new_to_practice", "New to the practice (never seen here before)", "check"),
            Field("last_seen_on", "Last seen in the practice", "datetext", False, None,
                  hint="The last visit with any clinician of the practice; decides whether an initiating "
                       "visit is needed."),
        ]
        super().__init__("New patient", fields, parent,
                         intro="Step 1 of 2: the patient's details. Next comes the enrollment; nothing is "
                               "saved until the enrollment is complete.",
                         ok_text="Next: enrollment…", submit=self._check)
        self.setObjectName("patientDialog")
        self.setMinimumWidth(560)
        new = self.widgets["new_to_practice"]
        seen = self.widgets["last_seen_on"]
        new.toggled.connect(lambda on: (seen.setEnabled(not on), seen.clear() if on else None))

    def patient_values(self, v: dict[str, Any] | None = None) -> dict[str, Any]:
        v = dict(v if v is not None else self.values())
        new = v.pop("new_to_practice")
        payer_id = v.get("payer_rule_set_id")
        v["payer_name"] = self._payer_names.get(payer_id) if payer_id is not None else None
        if new:
            v["last_seen_on"] = None
        return v

    def _check(self, v: dict[str, Any]) -> dict[str, Any]:
        from cocm_desktop.gui.form_dialog import FieldError

        if not v["new_to_practice"] and v["last_seen_on"] is None:
            raise FieldError("last_seen_on", "Last seen in the practice: give the date, or tick "
                                             "“New to the practice”.")
        values = self.patient_values(v)
        with contextlib.suppress(_DryRun):  # the check always rolls back
            self.ctx.read(check_new_patient, **values)
        return values


    def display_name(self) -> str:
        v = self.values()
        return f"{v['family_name']}, {v['given_name']}"


def new_patient_flow(context: AppContext, parent: QWidget | None = None) -> int | None:
    """Patient form → enrollment form → the new patient's id (None when cancelled; nothing saved)."""
    from cocm_desktop.gui.enroll_dialog import EnrollDialog

    patient = PatientDialog(context, parent)
    if patient.exec() != QDialog.DialogCode.Accepted:
        return None
    values = patient.result_value
    name = patient.display_name()
    enroll = EnrollDialog(context, patient_name=name, parent=parent, new_patient=values,
                          last_seen_on=values.get("last_seen_on"))
    if enroll.exec() != QDialog.DialogCode.Accepted or enroll.added is None:
        return None
    return int(enroll.added.id)


__all__ = ["PatientDialog", "check_new_patient", "new_patient_flow"]
