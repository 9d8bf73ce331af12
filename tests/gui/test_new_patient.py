"""Registry › New patient…: patient form → enrollment → the new chart; refusals stay in the form with
the field named and outlined; nothing is half-saved (patient and episode in one session)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from sqlalchemy import func, select

from cocm_desktop.gui.enroll_dialog import EnrollDialog
from cocm_desktop.gui.patient_dialog import PatientDialog
from cocm_desktop.store.models import AuditRecord, Episode, Patient


def _counts(ctx) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with ctx.db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Patient, Episode, AuditRecord))  # type: ignore[return-value]


def _fill_patient(d: PatientDialog, **over) -> None:  # type: ignore[no-untyped-def]
    values = dict(mrn="N-5001", family_name="Quill", given_name="Ada", date_of_birth="1971-03-09",
                  phone="555-0101", last_seen_on=(date.today() - timedelta(days=40)).isoformat())
    values.update(over)
    for name, value in values.items():
        d.widgets[name].setText(value)


def _fill_enrollment(d: EnrollDialog, *, consent: bool = True, visit: str = "") -> None:
    w = d.widgets
    w["icd10"].setText("F32.1")
    w["condition_text"].setText("Major depressive disorder, single episode, moderate")
    w["urgent_risk_ruled_out"].setChecked(True)
    for name in ("team_care_explained", "non_face_to_face_explained", "cost_sharing_explained", "patient_agrees"):
        w[name].setChecked(consent)
    w["initiating_visit_on"].setText(visit)
    w["history"].setPlainText("Low mood since spring; no prior treatment.")
    w["medications"].table.item(0, 0).setText("sertraline")
    w["medications"].table.item(0, 1).setText("50 mg")
    w["medications"].table.item(0, 2).setText("every morning")
    w["medications"].table.item(0, 3).setText("2026-10-01")
    w["patient_goals"].setPlainText("Get back to gardening with my grandson.")


@pytest.fixture
def cm(open_window, demo_path):  # type: ignore[no-untyped-def]
    return open_window(demo_path, "cm1")


def test_new_patient_is_added_enrolled_and_opened(cm, qtbot, wait_idle, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = cm
    w.show_registry()  # sign-in opens on My work; the button lives on the registry
    assert w.ui.actionNewPatient.isEnabled() and w.registry.new_patient_button.isVisible()
    assert w.ui.actionNewPatient.shortcut().toString() == "Ctrl+N"
    before = _counts(w.ctx)
    seen: list[str] = []

    def patient_exec(d: PatientDialog) -> int:
        seen.append(d.windowTitle())
        _fill_patient(d)
        qtbot.mouseClick(d.ok_button, Qt.MouseButton.LeftButton)
        wait_idle()
        return d.result()

    def enroll_exec(d: EnrollDialog) -> int:
        seen.append(d.windowTitle())
        assert not d.visit_required  # seen 40 days ago: no initiating visit needed
        _fill_enrollment(d)
        qtbot.mouseClick(d.ok_button, Qt.MouseButton.LeftButton)
        wait_idle()
        return d.result()

    monkeypatch.setattr(PatientDialog, "exec", patient_exec)
    monkeypatch.setattr(EnrollDialog, "exec", enroll_exec)
    w.ui.actionNewPatient.trigger()
    wait_idle()
    assert seen == ["New patient", "Enroll Quill, Ada (new patient)"]
    patients, episodes, _ = _counts(w.ctx)
    assert (patients, episodes) == (before[0] + 1, before[1] + 1)
    # The new chart is open.
    assert w.ui.paneStack.currentWidget() is w.ui.chartPage
    chart = w.chart.chart
    assert chart.patient.mrn == "N-5001" and chart.patient.display_name.startswith("Quill")
    assert chart.patient.payer_name and chart.patient.date_of_birth == date(1971, 3, 9)
    assert chart.episode is not None and chart.episode.patient_goals == "Get back to gardening with my grandson."
    (med,) = [m for m in chart.medication_list.lines if not m.voided]  # as typed, its schedule too
    assert (med.name, med.dose, med.schedule, med.started_on) == ("sertraline", "50 mg", "every morning",
                                                                   date(2026, 10, 1))
    with w.ctx.db.session() as s:
        actions = s.scalars(select(AuditRecord.action).order_by(AuditRecord.seq.desc()).limit(8)).all()
    assert "patient.create" in actions and "episode.enroll" in actions
    assert w.registry.model.row_for_patient(chart.patient.id) is not None


def test_taken_mrn_is_named_on_the_patient_form_and_nothing_is_written(cm, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = cm
    taken = w.registry.model.rows[0].mrn
    before = _counts(w.ctx)
    d = PatientDialog(w.ctx, w)
    qtbot.addWidget(d)
    _fill_patient(d, mrn=taken)
    qtbot.mouseClick(d.ok_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert d.result() != QDialog.DialogCode.Accepted
    assert "MRN" in d.error.text() and d.invalid_fields() == ["mrn"]
    assert _counts(w.ctx) == before  # the check ran the service and rolled back: not even an audit row


@pytest.mark.parametrize(("override", "field", "words"), [
    ({"date_of_birth": "03/09/71"}, "date_of_birth", "is not a date"),
    ({"date_of_birth": (date.today() + timedelta(days=3)).isoformat()}, "date_of_birth", "Date of birth"),
    ({"family_name": ""}, "family_name", "Fill in: Family name"),
    ({"last_seen_on": ""}, "last_seen_on", "New to the practice"),
])
def test_patient_form_refusals_name_the_field(cm, qtbot, override, field, words, wait_idle) -> None:  # type: ignore[no-untyped-def]
    d = PatientDialog(cm.ctx, cm)
    qtbot.addWidget(d)
    _fill_patient(d, **override)
    qtbot.mouseClick(d.ok_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert d.result() != QDialog.DialogCode.Accepted
    assert words in d.error.text() and field in d.invalid_fields()


def test_new_to_practice_needs_an_initiating_visit_and_a_refusal_leaves_no_patient(cm, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = cm
    p = PatientDialog(w.ctx, w)
    qtbot.addWidget(p)
    _fill_patient(p, mrn="N-7002", last_seen_on="")
    p.widgets["new_to_practice"].setChecked(True)
    assert not p.widgets["last_seen_on"].isEnabled()
    qtbot.mouseClick(p.ok_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert p.result() == QDialog.DialogCode.Accepted and p.result_value["last_seen_on"] is None
    before = _counts(w.ctx)
    e = EnrollDialog(w.ctx, patient_name="Quill, Ada", parent=w, new_patient=p.result_value)
    qtbot.addWidget(e)
    assert e.visit_required
    _fill_enrollment(e, consent=False)
    qtbot.mouseClick(e.ok_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert e.result() != QDialog.DialogCode.Accepted
    assert "initiating visit" in e.error.text().lower() and "Consent" in e.error.text()
    assert {"initiating_visit_on", "team_care_explained", "patient_agrees"} <= set(e.invalid_fields())
    assert _counts(w.ctx) == before  # the patient was not saved without the enrollment
    # Fix what was named; the same dialog saves both.
    for name in ("team_care_explained", "non_face_to_face_explained", "cost_sharing_explained", "patient_agrees"):
        e.widgets[name].setChecked(True)
    e.widgets["initiating_visit_on"].setText(date.today().isoformat())
    qtbot.mouseClick(e.ok_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert e.result() == QDialog.DialogCode.Accepted and e.invalid_fields() == []
    assert _counts(w.ctx)[:2] == (before[0] + 1, before[1] + 1)
    assert e.enrollment.initiating_visit_required


def test_bad_icd10_code_is_named_before_the_service_is_asked(cm, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    p = PatientDialog(cm.ctx, cm)
    _fill_patient(p, mrn="N-7003")
    p._accept()
    e = EnrollDialog(cm.ctx, patient_name="Quill, Ada", parent=cm, new_patient=p.result_value)
    qtbot.addWidget(e)
    _fill_enrollment(e)
    e.widgets["icd10"].setText("32.1F")
    before = _counts(cm.ctx)
    qtbot.mouseClick(e.ok_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert "ICD-10 code" in e.error.text() and e.invalid_fields() == ["icd10"]
    assert _counts(cm.ctx) == before


@pytest.mark.parametrize("user", ["psych", "lead"])
def test_new_patient_is_not_offered_to_consultant_or_lead(open_window, clinic_path, demo_path, user) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path if user == "psych" else clinic_path, user)
    assert not w.ui.actionNewPatient.isEnabled()
    assert not w.registry.new_patient_button.isVisible()
    assert "care manager or treating clinician" in w.ui.actionNewPatient.toolTip()
