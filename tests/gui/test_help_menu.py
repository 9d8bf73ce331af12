"""Help is more than About: a user guide shipped in resources/help, the keyboard shortcuts read
from the window's own actions, and where the database and its backups are."""

from __future__ import annotations


def test_help_menu_offers_guide_shortcuts_files_and_about(open_window, clinic_path, auto_dialogs) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.backups import backup_folder

    w = open_window(clinic_path, "cm1")
    texts = [a.text().replace("&", "") for a in w.ui.menuHelp.actions() if a.text()]
    assert texts == ["How collaborative care works here", "Keyboard shortcuts",
                     "Where are my files and backups?", "About CoCM Desktop"]
    assert w.ui.actionUserGuide.shortcut().toString() == "F1"

    w.ui.actionUserGuide.trigger()
    guide = w.help_dialog.browser.toPlainText()
    assert "How collaborative care works here" in guide and "Every logged minute is counted or excluded" in guide

    w.ui.actionShortcuts.trigger()
    shortcuts = w.help_dialog.browser.toPlainText()
    for keys in ("F1", "F5", "Ctrl+F", "Ctrl+L", "0 1 2 3"):
        assert keys in shortcuts

    w.ui.actionWhereFiles.trigger()
    files = w.help_dialog.browser.toPlainText()
    assert str(w.ctx.db.path) in files and str(backup_folder(w.ctx.db)) in files
    assert w.help_dialog.open_folder.text() == "Open the backups folder"
