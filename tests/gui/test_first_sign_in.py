"""A password the clinic lead chose is changed at the first sign-in, before the main window;
password rules shown in the user and change-password dialogs (the set-up's: test_start). Real
dialogs, real clinic."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QWidget
from sqlalchemy import select

from cocm_desktop.gui.admin import ChangePasswordDialog
from cocm_desktop.gui.admin.users import NewPasswordDialog
from cocm_desktop.gui.login import LoginDialog
from cocm_desktop.services.users import add_staff_user, reset_password
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import User

SET_BY_LEAD = "given by the lead"


def _login(qtbot, path: Path, username: str, password: str, wait_idle, *, demo: bool = False) -> LoginDialog:  # type: ignore[no-untyped-def]
    """A shown sign-in dialog on `path`, after one sign-in attempt."""
    dialog = LoginDialog(path, demo=demo)
    qtbot.addWidget(dialog)
    dialog.show()
    _sign_in(qtbot, dialog, username, password, wait_idle)
    return dialog


def _sign_in(qtbot, dialog: LoginDialog, username: str, password: str, wait_idle) -> None:  # type: ignore[no-untyped-def]
    dialog.ui.usernameEdit.setText(username)
    dialog.ui.passwordEdit.setText(password)
    qtbot.mouseClick(dialog.ui.signInButton, Qt.MouseButton.LeftButton)
    wait_idle()


def _new_password(qtbot, form: NewPasswordDialog, password: str, again: str | None = None) -> None:  # type: ignore[no-untyped-def]
    form.widgets["password"].setText(password)
    form.widgets["password_again"].setText(password if again is None else again)
    qtbot.mouseClick(form.ok_button, Qt.MouseButton.LeftButton)


def _shown(widget: QWidget) -> str:
    return "\n".join(label.text() for label in widget.findChildren(QLabel) if label.isVisible())


def _must_change(path: Path, username: str, password: str) -> bool:
    with Database.open(path, username, password) as db, db.session() as s:
        return bool(s.scalar(select(User.password_must_change).where(User.username == username)))


def _add_sam(clinic_path: Path) -> None:
    with Database.open(clinic_path, "lead", "demo") as lead:
        add_staff_user(lead, lead.actor, username="sam", display_name="Sam Ortiz", role="care_manager",
                       password=SET_BY_LEAD)


def test_lead_set_password_is_changed_before_the_main_window(qtbot, clinic_path, wait_idle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _add_sam(clinic_path)
    dialog = _login(qtbot, clinic_path, "sam", SET_BY_LEAD, wait_idle)
    # Unlocked, but not signed in yet: the change-password dialog comes first.
    form = dialog.password_dialog
    assert isinstance(form, NewPasswordDialog) and form.isVisible()
    assert dialog.database is None and dialog.result() != QDialog.DialogCode.Accepted
    assert "clinic lead chose your password" in _shown(form)
    form.grab().save(str(tmp_path / "new_password.png"))
    # The same password again, a weak one, two that differ: each refused in the dialog, with its rule.
    _new_password(qtbot, form, SET_BY_LEAD)
    assert form.isVisible() and "must differ" in form.error.text()
    _new_password(qtbot, form, "sam12")
    assert form.isVisible() and "at least 10 characters; this one has 5" in form.error.text()
    _new_password(qtbot, form, "iloveyou12")
    assert form.isVisible() and "list of common passwords" in form.error.text()
    _new_password(qtbot, form, "sams own words", "sams own word")
    assert form.isVisible() and "not the same" in form.error.text()
    _new_password(qtbot, form, "sams own words")
    assert not form.isVisible()
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.password_dialog is None
    db = dialog.database
    assert db is not None and db.actor.username == "sam"
    assert db.check_password("sam", "sams own words") and not db.check_password("sam", SET_BY_LEAD)
    db.close()
    assert not _must_change(clinic_path, "sam", "sams own words")
    # The next sign-in goes straight through.
    again = _login(qtbot, clinic_path, "sam", "sams own words", wait_idle)
    assert again.password_dialog is None and again.result() == QDialog.DialogCode.Accepted
    again.database.close()


def test_sign_out_instead_of_changing_keeps_the_demand(qtbot, clinic_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    with Database.open(clinic_path, "lead", "demo") as lead:
        reset_password(lead, lead.actor, "cm1", new_password=SET_BY_LEAD)
    dialog = _login(qtbot, clinic_path, "cm1", SET_BY_LEAD, wait_idle)
    form = dialog.password_dialog
    assert isinstance(form, NewPasswordDialog)
    assert form.sign_out_button.text() == "Sign out"
    qtbot.mouseClick(form.sign_out_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.database is None
    assert "signed out" in dialog.ui.errorLabel.text()
    # The mark is still there; the database was closed (this exclusive sign-in gets the lock again).
    assert _must_change(clinic_path, "cm1", SET_BY_LEAD)
    _sign_in(qtbot, dialog, "cm1", SET_BY_LEAD, wait_idle)
    assert isinstance(dialog.password_dialog, NewPasswordDialog)  # asked again
    qtbot.mouseClick(dialog.password_dialog.sign_out_button, Qt.MouseButton.LeftButton)


def test_demo_clinic_signs_in_with_demo_without_a_change(qtbot, demo_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    dialog = _login(qtbot, demo_path, "lead", "demo", wait_idle, demo=True)
    assert dialog.password_dialog is None and dialog.result() == QDialog.DialogCode.Accepted
    dialog.database.close()


def test_a_weak_password_from_before_the_rules_is_changed_at_sign_in(qtbot, tmp_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "old.db"
    Database.create(path, clinic_name="Old Clinic", lead_username="lead", lead_display_name="Lee",
                    lead_password="1234")[0].close()
    dialog = _login(qtbot, path, "lead", "1234", wait_idle)
    form = dialog.password_dialog
    assert isinstance(form, NewPasswordDialog)
    assert "no longer meets the clinic's rules" in _shown(form)
    _new_password(qtbot, form, "old clinic lead words")
    assert dialog.result() == QDialog.DialogCode.Accepted
    dialog.database.close()


def test_add_user_and_change_password_dialogs_name_the_rule(open_window, clinic_path, qtbot, wait_idle) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.gui.admin import UsersDialog
    from cocm_desktop.services.users import add_staff_user as add

    w = open_window(clinic_path, "lead")
    users = UsersDialog(w.ctx, w)
    qtbot.addWidget(users)
    form = users.add_user_form(lambda v: add(w.ctx.db, w.ctx.actor, username=v["username"],
                                             display_name=v["display_name"], role=v["role"],
                                             password=v["password"]))
    qtbot.addWidget(form)
    form.show()
    form.widgets["display_name"].setText("Sam Ortiz")
    form.widgets["username"].setText("sam")
    form.widgets["password"].setText("0000")
    form.widgets["password_again"].setText("0000")
    qtbot.mouseClick(form.ok_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert form.result() != QDialog.DialogCode.Accepted
    assert "at least 10 characters; this one has 4" in form.error.text()
    assert "chooses their own" in _shown(form)
    form.widgets["password"].setText(SET_BY_LEAD)
    form.widgets["password_again"].setText(SET_BY_LEAD)
    qtbot.mouseClick(form.ok_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert form.result() == QDialog.DialogCode.Accepted
    users.reload()
    assert users.select("sam")
    status = users.model.index(users.table.currentIndex().row(), 4).data()
    assert status == "Active · new password at next sign-in"
    change = ChangePasswordDialog(w.ctx, w)
    qtbot.addWidget(change)
    change.widgets["current"].setText("demo")
    change.widgets["password"].setText("Test Clinic")
    change.widgets["password_again"].setText("Test Clinic")
    qtbot.mouseClick(change.ok_button, Qt.MouseButton.LeftButton)
    wait_idle()
    assert change.result() != QDialog.DialogCode.Accepted and "clinic's name" in change.error.text()
