"""GUI test fixtures: offscreen Qt (tests/conftest.py sets the platform), app settings in a temp
folder (never the user's real QSettings), the demo clinic path redirected, and helpers that wait
for background work."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

PASSWORD = "demo"


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path_factory.mktemp("qsettings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    data = tmp_path_factory.mktemp("data")
    monkeypatch.setattr("cocm_desktop.config.data_dir", lambda: data)
    monkeypatch.setattr("cocm_desktop.config.demo_db_path", lambda: data / "demo-clinic.db")
    return folder


@pytest.fixture
def wait_idle(qtbot) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    """Wait until every background task delivered its result to the GUI thread."""
    from cocm_desktop.gui import worker

    def wait(timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            QApplication.processEvents()
            if not worker.busy():
                break
            time.sleep(0.005)
        else:
            raise AssertionError("background work did not finish")
        for _ in range(3):
            QApplication.processEvents()

    return wait


@pytest.fixture
def open_window(qtbot, wait_idle):  # type: ignore[no-untyped-def]
    """Factory: a MainWindow on `path` signed in as `username` (data loaded)."""
    from cocm_desktop.gui.app import create_app
    from cocm_desktop.gui.context import AppContext
    from cocm_desktop.gui.main_window import MainWindow
    from cocm_desktop.store.database import Database

    create_app()
    made: list[tuple[MainWindow, AppContext]] = []

    def make(path: Path, username: str, *, idle_ms: int | None = None, demo: bool = True) -> MainWindow:
        db = Database.open(path, username, PASSWORD, exclusive=True)
        ctx = AppContext(db, demo=demo)
        window = MainWindow(ctx, idle_ms=idle_ms)
        qtbot.addWidget(window)
        window.resize(1440, 900)
        window.show()
        wait_idle()
        made.append((window, ctx))
        return window

    yield make
    for window, ctx in made:
        window.shutdown()
        ctx.close()


@pytest.fixture(autouse=True)
def auto_dialogs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Message boxes answer themselves (recorded) so a test never blocks on a modal dialog;
    questions are answered Yes."""
    from PySide6.QtWidgets import QMessageBox

    seen: list[str] = []

    def fake_exec(self) -> int:  # type: ignore[no-untyped-def]
        seen.append(f"{self.windowTitle()}: {self.text()}")
        return int(QMessageBox.StandardButton.Ok)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    for name in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(
            lambda parent, title, text, *a, _n=name, **k: seen.append(f"{title}: {text}") or QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda parent, title, text, *a, **k: seen.append(f"{title}: {text}") or QMessageBox.StandardButton.Yes))
    yield seen
