"""The running app makes its automatic backup: sign in, and a verified backup appears in
`backups/` beside the database; the status bar shows it, and warns when it is 2 days old."""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from cocm_desktop.store.backup import list_auto_backups, verify_file
from cocm_desktop.store.database import Database
from cocm_desktop.store.keyslots import keyfile_path


def _wait_for_run(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: window.backups.runs >= 1, timeout=90_000)


def test_signing_in_makes_a_verified_backup_shown_in_the_status_bar(clinic_path: Path, open_window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = clinic_path.parent / "backups"
    assert not folder.exists()
    window = open_window(clinic_path, "cm1", demo=False)  # automatic backups run for any role
    _wait_for_run(window, qtbot)
    name = f"clinic-auto-{date.today().isoformat()}.db"
    assert (folder / name).exists() and keyfile_path(folder / name).exists()
    assert window.backups.last_run is not None and window.backups.last_run.made is not None
    with Database.open(folder / name, "lead", "demo") as copy:
        assert verify_file(copy.path, copy.raw_key_for_backup()).ok
    label = window.backups.label
    assert label.text().startswith("Last backup today ")
    assert label.property("warning") is False
    window.statusBar().grab().save(str(tmp_path / "status.png"))
    # An hour later nothing is due: no second backup.
    window.backups.check()
    qtbot.waitUntil(lambda: window.backups.runs >= 2, timeout=90_000)
    assert len(list_auto_backups(folder, "clinic", ".db")) == 1


def test_a_backup_older_than_two_days_is_a_warning_that_tells_the_lead_what_to_do(clinic_path: Path, open_window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window = open_window(clinic_path, "lead", demo=False)
    _wait_for_run(window, qtbot)
    window.backups.refresh(now=datetime.now() + timedelta(days=3))
    label = window.backups.label
    assert label.text().startswith("⚠ Last backup 3 days ago") and "older than 2 days" in label.text()
    assert label.property("warning") is True
    assert "File › Back up" in label.toolTip()


def test_a_care_manager_is_told_to_tell_the_lead(clinic_path: Path, open_window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window = open_window(clinic_path, "cm1", demo=False)
    _wait_for_run(window, qtbot)
    window.backups.refresh(now=datetime.now() + timedelta(days=3))
    assert "Tell the clinic lead" in window.backups.label.toolTip()


def test_an_old_backup_is_replaced_at_sign_in(clinic_path: Path, open_window, qtbot) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.store.backup import auto_backup

    folder = clinic_path.parent / "backups"
    old_day = date.today() - timedelta(days=3)
    with Database.open(clinic_path, "lead", "demo") as db:
        made = auto_backup(db, today=old_day)
    assert made is not None
    then = time.time() - 3 * 86400
    os.utime(made.path, (then, then))
    window = open_window(clinic_path, "doc1", demo=False)
    assert window.backups.label.text().startswith("⚠")  # before the check: the 3-day-old one
    _wait_for_run(window, qtbot)
    found = list_auto_backups(folder, "clinic", ".db")
    assert [b.day for b in found] == [date.today(), old_day]
    assert not window.backups.label.text().startswith("⚠")


def test_the_lead_sets_the_second_folder_in_clinic_policy_and_backups_are_copied_there(
    clinic_path: Path, open_window, qtbot, tmp_path: Path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    from PySide6.QtWidgets import QFileDialog

    from cocm_desktop.gui.admin import PolicyDialog
    from cocm_desktop.services.backups import get_second_folder, run_auto_backup

    usb = tmp_path / "usb"
    usb.mkdir()
    window = open_window(clinic_path, "lead", demo=False)
    _wait_for_run(window, qtbot)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(usb)))
    dialog = PolicyDialog(window.ctx, window)
    qtbot.addWidget(dialog)
    dialog.findChild(type(dialog.save_button), "policySecondFolderChoose").click()
    assert dialog.second_folder.text() == str(usb)
    dialog.save()
    qtbot.waitUntil(lambda: not window.ctx.busy, timeout=90_000)  # saved off the GUI thread
    assert window.ctx.read(get_second_folder) == str(usb)
    run = run_auto_backup(window.ctx.db)  # none due; today's backup is copied over
    assert run.made is None and run.second_copy is not None and run.second_copy.exists()


def test_the_restore_confirmation_and_result_name_who_was_removed_and_added(clinic, clinic_path: Path, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.gui.admin.restore import RestoreRequest, confirm_text, restore_message
    from cocm_desktop.services.backups import check_restore, restore_backup
    from cocm_desktop.services.users import add_staff_user, deactivate_user
    from cocm_desktop.store.backup import make_backup

    backup = tmp_path / "before.db"
    make_backup(clinic, backup)
    deactivate_user(clinic, actors["lead"], "cm2", reason="left")
    add_staff_user(clinic, actors["lead"], username="cm3", display_name="Sam New", role="care_manager",
                   password="a long new password 7", credentials="RN")
    clinic.close()
    preview = check_restore(clinic_path, backup, "lead", "demo")
    text = confirm_text(RestoreRequest(backup, "lead", "demo"), preview, clinic_path)
    assert "Removed since this backup was made, will stay removed" in text and "cm2" in text
    assert "Added since this backup was made" in text and "cm3" in text
    result = restore_backup(clinic_path, backup, "lead", "demo")
    message = restore_message(result, backup)
    assert "were kept removed" in message and "cm2" in message and "Add them again" in message
