"""Clinic menu (users, policy, audit report), File › Change my password and Restore from backup."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog
from sqlalchemy import select

from cocm_desktop.gui.admin import (
    AuditReportDialog,
    ChangePasswordDialog,
    PolicyDialog,
    RestoreRequest,
    UsersDialog,
    verify_backup,
)
from cocm_desktop.store.errors import WrongCredentials
from cocm_desktop.store.models import AuditRecord, Patient


def _last_actions(ctx, n: int = 5) -> list[str]:  # type: ignore[no-untyped-def]
    with ctx.db.session() as s:
        return list(s.scalars(select(AuditRecord.action).order_by(AuditRecord.seq.desc()).limit(n)))


@pytest.mark.parametrize(("user", "enabled"), [("lead", True), ("cm1", False), ("doc1", False), ("psych", False)])
def test_clinic_menu_only_for_the_clinic_lead(open_window, clinic_path, user, enabled) -> None:  # type: ignore[no-untyped-def]
    w = open_window(clinic_path, user)
    ui = w.ui
    assert ui.menuClinic.menuAction().isEnabled() is enabled
    for action in (ui.actionUsers, ui.actionPolicy, ui.actionAuditReport, ui.actionRestore):
        assert action.isEnabled() is enabled
    assert ui.actionChangePassword.isEnabled()  # everyone


def test_users_add_with_matching_passwords_and_change_role(open_window, clinic_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(clinic_path, "lead")
    d = UsersDialog(w.ctx, w)
    qtbot.addWidget(d)
    assert {u.username for u in d.model.users} == {"lead", "cm1", "cm2", "psych", "doc1", "doc2"}
    captured = {}

    def open_form(submit):  # type: ignore[no-untyped-def]
        form = UsersDialog.add_user_form(d, submit)
        captured["form"] = form
        return form

    d.add_user_form = open_form  # type: ignore[method-assign]
    forms: list = []

    def fill_and_ok(form) -> int:  # type: ignore[no-untyped-def]
        forms.append(form)
        f = form.widgets
        f["display_name"].setText("Sam Ortiz")
        f["username"].setText("cm3")
        f["password"].setText("correct horse")
        f["password_again"].setText("correct hose" if len(forms) == 1 else "correct horse")
        qtbot.mouseClick(form.ok_button, Qt.MouseButton.LeftButton)
        wait_idle()
        if form.result() != QDialog.DialogCode.Accepted:
            captured["error"] = form.error.text()
            captured["invalid"] = form.invalid_fields()
            return fill_and_ok(form)
        return form.result()

    from cocm_desktop.gui.form_dialog import FormDialog

    # FormDialog has no exec of its own: put one only for this call, then remove it (restoring an
    # inherited method by assignment would shadow QDialog.exec, and later tests' patches of it)
    FormDialog.exec = fill_and_ok  # type: ignore[method-assign]
    try:
        d.add_user()
    finally:
        del FormDialog.exec
    assert "not the same" in captured["error"] and captured["invalid"] == ["password_again"]
    assert "cm3" in {u.username for u in d.model.users}
    assert d.selected().username == "cm3" and "Sam Ortiz added" in d.status.text()
    assert w.ctx.db.check_password("cm3", "correct horse")
    # newest first: the signed access grant (written at commit), the new signing key's binding, the user
    assert _last_actions(w.ctx, 3) == ["access.grant", "key.bind", "user.create"]

    from cocm_desktop.services.users import change_role

    change_role(w.ctx.db, w.ctx.actor, "cm3", role="clinician")
    d.reload()
    assert d.selected().role == "clinician"


def test_remove_user_runs_off_the_gui_thread_and_rekeys(open_window, clinic_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(clinic_path, "lead")
    d = UsersDialog(w.ctx, w)
    qtbot.addWidget(d)
    d.show()
    assert d.select("doc2")
    d.start_deactivate("doc2", "left the clinic")
    assert d.working and d.busy.isVisible() and not d.remove_button.isEnabled()
    wait_idle()
    assert not d.working and not d.busy.isVisible()
    assert "doc2" not in {u.username for u in d.model.users}
    assert "re-keyed" in d.status.text()
    assert not w.ctx.db.check_password("doc2", "demo")  # the key slot is gone
    assert "user.deactivate" in _last_actions(w.ctx, 5)
    d.show_removed.setChecked(True)
    assert any(u.username == "doc2" and not u.active for u in d.model.users)
    # The lead cannot remove themself: the button says why.
    assert d.select("lead") and not d.remove_button.isEnabled()
    assert "cannot remove yourself" in d.remove_button.toolTip()


def test_policy_form_is_generated_from_the_policy_fields_and_saves(open_window, clinic_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.domain.policy import policy_fields

    w = open_window(clinic_path, "lead")
    d = PolicyDialog(w.ctx, w)
    qtbot.addWidget(d)
    for f in policy_fields():
        spin = d.spins[f.name]
        assert (spin.minimum(), spin.maximum(), spin.value()) == (f.minimum, f.maximum, f.default)
        assert f.description in spin.toolTip()
    d.spins["idle_lock_minutes"].setValue(3)
    d.spins["stable_contact_days"].setValue(21)
    d.save()
    wait_idle()
    assert d.result() == QDialog.DialogCode.Accepted
    assert d.saved.idle_lock_minutes == 3 and d.saved.stable_contact_days == 21
    # its POLICY event reloaded the policy: the idle lock follows at once
    assert w.ctx.policy.idle_lock_minutes == 3 and w.idle.interval_ms == 3 * 60_000
    assert _last_actions(w.ctx, 1) == ["policy.update"]


def test_policy_refusal_names_the_setting_and_saves_nothing(open_window, clinic_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(clinic_path, "lead")
    before = _last_actions(w.ctx, 1)
    d = PolicyDialog(w.ctx, w)
    qtbot.addWidget(d)
    d.spins["partial_response_percent"].setValue(60)  # not below the 50 % response
    d.save()
    wait_idle()
    assert d.result() != QDialog.DialogCode.Accepted
    assert "Partial response" in d.error.text()
    assert d.spins["partial_response_percent"].property("invalid")
    assert not d.spins["response_percent"].property("invalid")
    assert _last_actions(w.ctx, 1) == before


def test_audit_report_filters_sorts_shows_chain_and_exports(open_window, demo_path, qtbot, wait_idle, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = open_window(demo_path, "lead")
    d = AuditReportDialog(w.ctx, w)
    qtbot.addWidget(d)
    d.start.setDate(d.start.date().addYears(-2))
    d.run()
    wait_idle()
    assert d.report is not None and d.model.rowCount() == len(d.report.rows) > 0
    assert "Audit chain intact" in d.chain.text() and d.chain.property("role") == "ok"
    users = {d.proxy.index(r, 2).data() for r in range(d.proxy.rowCount())}
    # the demo generator built the next agendas: "system", not cm1, who has never signed in
    assert {"lead", "system"} <= users and "cm1" not in users
    d.user.setCurrentIndex(d.user.findData("lead"))
    d.action.setCurrentIndex(d.action.findData("login"))
    d.run()
    wait_idle()
    rows = [d.proxy.index(r, 3).data() for r in range(d.proxy.rowCount())]
    assert rows and all(a.startswith("login.") for a in rows)
    assert {d.proxy.index(r, 2).data() for r in range(d.proxy.rowCount())} == {"lead"}
    d.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    seqs = [int(d.proxy.index(r, 0).data()) for r in range(d.proxy.rowCount())]
    assert seqs == sorted(seqs)  # numeric, not text order
    out = tmp_path / "audit.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    d.export_csv()
    wait_idle()
    text = out.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("seq,time_local,user,action")
    assert len(text.splitlines()) == 1 + len(rows)
    assert _last_actions(w.ctx, 1) == ["report.audit"]


def test_audit_report_unknown_mrn_is_a_plain_message(open_window, clinic_path, qtbot, wait_idle, auto_dialogs) -> None:  # type: ignore[no-untyped-def]
    w = open_window(clinic_path, "lead")
    d = AuditReportDialog(w.ctx, w)
    qtbot.addWidget(d)
    d.mrn.setText("NO-SUCH")
    d.run()
    wait_idle()
    assert any("No patient has that MRN" in t for t in auto_dialogs) and d.run_button.isEnabled()


def test_change_my_password(open_window, clinic_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    w = open_window(clinic_path, "cm1")
    d = ChangePasswordDialog(w.ctx, w)
    qtbot.addWidget(d)
    d.widgets["current"].setText("nope")
    d.widgets["password"].setText("new secret 1")
    d.widgets["password_again"].setText("new secret 1")
    qtbot.mouseClick(d.ok_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert d.result() != QDialog.DialogCode.Accepted and "current password" in d.error.text().lower()
    assert d.invalid_fields() == ["current"]
    d.widgets["current"].setText("demo")
    qtbot.mouseClick(d.ok_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert d.result() == QDialog.DialogCode.Accepted
    assert w.ctx.db.check_password("cm1", "new secret 1") and not w.ctx.db.check_password("cm1", "demo")


def test_restore_checks_the_backup_then_closes_restores_and_signs_in_again(clinic_path, tmp_path, qtbot, monkeypatch, auto_dialogs) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.gui.app import AppController, create_app
    from cocm_desktop.services.patients import add_patient
    from cocm_desktop.store.backup import make_backup
    from cocm_desktop.store.database import Database

    app = create_app()
    controller = AppController(app)
    db = Database.open(clinic_path, "lead", "demo", exclusive=True)
    backup = tmp_path / "backup.db"
    make_backup(db, backup)
    with pytest.raises(WrongCredentials):
        verify_backup(backup, "lead", "wrong")
    assert verify_backup(backup, "lead", "demo").ok
    db.close()
    # After the backup, a care manager adds a patient; the restore must take it away.
    with Database.open(clinic_path, "cm1", "demo") as other, other.session() as s:
        add_patient(s, other.actor, mrn="AFTER-1", family_name="Late", given_name="Lou", date_of_birth=date(1990, 1, 1))
    db = Database.open(clinic_path, "lead", "demo", exclusive=True)
    controller.open_main(db, demo=False)
    signed_in: list[Path] = []
    monkeypatch.setattr(controller, "sign_in", lambda path, demo=False: signed_in.append(path) or True)
    assert controller.restore_backup(RestoreRequest(backup, "lead", "demo"))
    assert signed_in == [clinic_path.absolute()] and controller.window is None
    assert any("restored from backup.db" in t for t in auto_dialogs)
    assert list(clinic_path.parent.glob("clinic.db.replaced-*"))
    with Database.open(clinic_path, "lead", "demo") as restored, restored.session() as s:
        assert s.scalar(select(Patient.id).where(Patient.mrn == "AFTER-1")) is None
        assert s.scalars(select(AuditRecord.action).order_by(AuditRecord.seq.desc()).limit(3)).all().count(
            "backup.restore") == 1
