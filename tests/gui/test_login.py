"""Sign-in dialog on a real encrypted clinic: wrong password, right password, busy, locked file."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from cocm_desktop.gui.login import LoginDialog, delay_seconds
from cocm_desktop.store.errors import TooManyAttempts


def _sign_in(qtbot, dialog: LoginDialog, username: str, password: str, wait_idle) -> None:  # type: ignore[no-untyped-def]
    dialog.ui.usernameEdit.setText(username)
    dialog.ui.passwordEdit.setText(password)
    qtbot.mouseClick(dialog.ui.signInButton, Qt.MouseButton.LeftButton)
    wait_idle()


def test_wrong_password_shows_error_and_keeps_dialog_open(qtbot, clinic_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    dialog = LoginDialog(clinic_path)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.ui.signInButton.isEnabled()  # nothing typed yet
    _sign_in(qtbot, dialog, "cm1", "not-the-password", wait_idle)
    assert dialog.database is None
    assert dialog.isVisible()
    assert dialog.ui.errorLabel.isVisible()
    assert "Wrong username or password" in dialog.ui.errorLabel.text()
    assert dialog.ui.passwordEdit.text() == ""  # a wrong password is never kept on screen
    assert dialog.ui.usernameEdit.text() == "cm1"


def test_right_password_opens_database_exclusively(qtbot, clinic_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    dialog = LoginDialog(clinic_path)
    qtbot.addWidget(dialog)
    dialog.show()
    _sign_in(qtbot, dialog, "doc1", "demo", wait_idle)
    assert dialog.result() == QDialog.DialogCode.Accepted
    db = dialog.database
    assert db is not None
    try:
        assert db.actor.username == "doc1" and db.actor.role == "clinician"
        # The GUI holds the one-instance lock: a second window is told plainly.
        second = LoginDialog(clinic_path)
        qtbot.addWidget(second)
        second.show()
        _sign_in(qtbot, second, "cm1", "demo", wait_idle)
        assert second.database is None
        assert "already open" in second.ui.errorLabel.text()
    finally:
        db.close()


def test_unknown_user_reads_like_a_wrong_password(qtbot, clinic_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    dialog = LoginDialog(clinic_path)
    qtbot.addWidget(dialog)
    dialog.show()
    _sign_in(qtbot, dialog, "nobody", "demo", wait_idle)
    assert "Wrong username or password" in dialog.ui.errorLabel.text()


def test_growing_delay_disables_sign_in_with_a_countdown(qtbot, clinic_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    dialog = LoginDialog(clinic_path)
    qtbot.addWidget(dialog)
    dialog.show()
    for _ in range(8):  # past the policy's free attempts
        _sign_in(qtbot, dialog, "cm1", "wrong", wait_idle)
        if dialog._wait_left:
            break
    assert dialog._wait_left > 0
    assert "try again in" in dialog.ui.errorLabel.text()
    dialog.ui.passwordEdit.setText("demo")
    assert not dialog.ui.signInButton.isEnabled()


def test_delay_seconds_reads_the_store_error() -> None:
    assert delay_seconds(TooManyAttempts(7)) == 7
    assert delay_seconds(ValueError("x")) is None


def test_other_clinic_button_asks_for_the_start_dialog(qtbot, clinic_path) -> None:  # type: ignore[no-untyped-def]
    dialog = LoginDialog(clinic_path)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.ui.otherClinicButton, Qt.MouseButton.LeftButton)
    assert dialog.wants_other_clinic
    assert dialog.result() == QDialog.DialogCode.Rejected
