"""The Help menu: a short user guide shipped in resources/help, the keyboard shortcuts (read from
the window's own actions, so the list is never out of date), where the database and its backups
are, and About (version)."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from cocm_desktop.gui.resources import resource

__all__ = ["HelpDialog", "files_html", "guide_html", "shortcuts_html"]


class HelpDialog(QDialog):
    def __init__(self, title: str, body: str, parent: QWidget | None = None, *,
                 folder: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("helpDialog")
        self.resize(640, 560)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(body)
        layout.addWidget(self.browser, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        if folder is not None:
            self.open_folder = QPushButton("Open the backups folder", self)
            self.open_folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))
            buttons.addButton(self.open_folder, QDialogButtonBox.ButtonRole.ActionRole)
        layout.addWidget(buttons)


def guide_html() -> str:
    """The user guide (resources/help/guide.html); a plain line when the file is missing."""
    path = resource("help", "guide.html")
    if path is None or not path.is_file():
        return "<p>The user guide is not installed with this copy of CoCM Desktop.</p>"
    return path.read_text(encoding="utf-8")


def shortcuts_html(window: QWidget) -> str:
    """Every action of the window that has a shortcut, by menu, plus the dialogs' own keys."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for action in window.findChildren(QAction):
        keys = action.shortcut().toString()
        text = action.text().replace("&", "").rstrip("…").strip()
        if keys and text and (keys, text) not in seen:
            seen.add((keys, text))  # type: ignore[arg-type]
            rows.append((keys, text))
    rows.sort(key=lambda r: r[1].lower())
    rows += [
        ("0 1 2 3", "PHQ-9 / GAD-7: answer the next item"),
        ("Tab, Shift+Tab", "Next / previous field (also out of a date)"),
        ("Enter", "Registry: open the selected chart"),
        ("Delete", "Chart list: void the selected entry, with a reason"),
        ("Up, Down", "Number fields: one more / one less"),
    ]
    body = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(t)}</td></tr>" for k, t in rows)
    return f"<h2>Keyboard shortcuts</h2><table cellpadding='4'>{body}</table>"


def files_html(database: Path, backups: Path, second: str | None) -> str:
    """Where this clinic's files are; no patient data in any of these paths."""
    def line(label: str, value: str) -> str:
        return f"<p><b>{html.escape(label)}</b><br><code>{html.escape(value)}</code></p>"

    return ("<h2>Where are my files and backups?</h2>"
            + line("Clinic database (encrypted)", str(database))
            + line("Automatic backups (encrypted, checked, newest 7 kept)", str(backups))
            + line("Second backup folder", second or "none — set one in Clinic → Policy (clinic lead)")
            + "<p>Backups are made at sign-in and every 24 hours while the app is open. Restore one with "
              "<code>cocm-desktop restore</code> (see the README).</p>")
