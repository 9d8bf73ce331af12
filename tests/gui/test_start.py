"""First run: set up a new clinic (recovery code shown once, must be acknowledged) and the
remembered clinic path (a path only, never patient data)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from cocm_desktop.gui.app import LAST_DB_KEY, last_clinic, remember_clinic
from cocm_desktop.gui.context import settings
from cocm_desktop.gui.start import StartDialog


def _new_clinic_page(qtbot, tmp_path) -> StartDialog:  # type: ignore[no-untyped-def]
    """The start dialog on "Set up a new clinic", filled in except for the passwords."""
    dialog = StartDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    ui = dialog.ui
    qtbot.mouseClick(ui.newClinicButton, Qt.MouseButton.LeftButton)
    ui.clinicNameEdit.setText("Riverside Family Medicine")
    ui.leadNameEdit.setText("Jordan Smith")
    ui.leadUserEdit.setText("jsmith")
    ui.locationEdit.setText(str(tmp_path / "riverside.db"))
    return dialog


def test_new_clinic_shows_recovery_code_once_and_needs_acknowledgement(qtbot, tmp_path, wait_idle) -> None:  # type: ignore[no-untyped-def]
    dialog = _new_clinic_page(qtbot, tmp_path)
    ui = dialog.ui
    ui.passwordEdit.setText("correct horse")
    ui.password2Edit.setText("correct h0rse")
    qtbot.mouseClick(ui.createButton, Qt.MouseButton.LeftButton)
    assert "passwords differ" in ui.newClinicError.text()
    assert not (tmp_path / "riverside.db").exists()
    ui.password2Edit.setText("correct horse")
    qtbot.mouseClick(ui.createButton, Qt.MouseButton.LeftButton)
    wait_idle(60)
    assert ui.pages.currentWidget() is ui.recoveryPage
    assert len(ui.recoveryCode.text()) >= 16
    assert ui.passwordEdit.text() == "" and ui.password2Edit.text() == ""
    dialog.reject()  # Esc cannot skip the code
    assert dialog.isVisible()
    assert not ui.continueButton.isEnabled()
    ui.savedCheck.setChecked(True)
    qtbot.mouseClick(ui.continueButton, Qt.MouseButton.LeftButton)
    db = dialog.database
    try:
        assert db is not None and db.actor.username == "jsmith" and db.actor.role == "clinic_lead"
    finally:
        db.close()


def test_new_clinic_names_the_password_rule_it_breaks(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dialog = _new_clinic_page(qtbot, tmp_path)
    ui = dialog.ui
    for weak, rule in (("1234", "at least 10 characters; this one has 4"),
                       ("password123", "list of common passwords"),
                       ("riverside family medicine", "cannot be the clinic's name")):
        ui.passwordEdit.setText(weak)
        ui.password2Edit.setText(weak)
        qtbot.mouseClick(ui.createButton, Qt.MouseButton.LeftButton)
        assert rule in ui.newClinicError.text() and ui.newClinicError.isVisible()
        assert not (tmp_path / "riverside.db").exists()
    assert "10 characters" in ui.passwordEdit.placeholderText()


def test_remembered_clinic_is_a_path_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "clinic.db"
    path.write_bytes(b"x")
    remember_clinic(path, "cm1")
    assert last_clinic() == path
    keys = settings().allKeys()
    assert set(keys) == {LAST_DB_KEY, "clinic/last_username"}
    path.unlink()
    assert last_clinic() is None  # a vanished file falls back to the start dialog


def test_back_up_saves_a_verified_copy_where_the_lead_chooses(open_window, clinic_path, tmp_path, monkeypatch,  # type: ignore[no-untyped-def]
                                                               wait_idle, auto_dialogs) -> None:
    from PySide6.QtWidgets import QFileDialog

    w = open_window(clinic_path, "lead", demo=False)
    assert w.ui.actionBackUp.isEnabled()
    dest = tmp_path / "copy.db"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(dest), "")))
    w.ui.actionBackUp.trigger()
    wait_idle()
    assert dest.exists()
    assert any("Backup saved and verified" in text for text in auto_dialogs)
