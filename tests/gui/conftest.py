"""GUI test fixtures: offscreen Qt (tests/conftest.py sets the platform), app settings in a temp
folder (never the user's real QSettings), the demo clinic path redirected, and helpers that wait
for background work."""

from __future__ import annotations

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


class FakeClock:
    """A monotonic clock the test moves by hand (the idle lock reads it instead of the wall clock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def wait_idle(qtbot) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    """Wait until every background task delivered its result to the GUI thread (generous
    timeout: a loaded CI machine is slow, never wrong)."""
    from cocm_desktop.gui import worker

    def wait(timeout: float = 90.0) -> None:
        for _ in range(3):  # let zero-delay timers start their work first
            QApplication.processEvents()
        qtbot.waitUntil(lambda: not worker.busy(), timeout=int(timeout * 1000))
        for _ in range(3):
            QApplication.processEvents()

    return wait


@pytest.fixture(scope="module")
def demo_server(pg_bin, pg_dir_factory):  # type: ignore[no-untyped-def]
    """A `server demo` with 8 patients for one test module's windows: its connection profile."""
    from cocm_desktop.services.server_setup import start_demo_server, stop_demo_server

    folder = pg_dir_factory() / "demo"
    demo = start_demo_server(folder, patients=8, port=None, seed=7)
    yield demo.profile_path
    stop_demo_server(folder)


@pytest.fixture
def open_window(qtbot, wait_idle):  # type: ignore[no-untyped-def]
    """Factory: a MainWindow on `path` (a clinic file, or a connection profile: the clinic
    server) signed in as `username` (data loaded).

    The idle lock reads `window.test_clock` (a FakeClock), never the wall clock: a test locks
    by advancing it and calling `window.idle.check()`. At teardown every background task is
    waited for before the database closes.
    """
    from cocm_desktop.gui import worker
    from cocm_desktop.gui.app import create_app
    from cocm_desktop.gui.context import AppContext
    from cocm_desktop.gui.main_window import MainWindow
    from cocm_desktop.services.clinic import open_clinic

    create_app()
    made: list[tuple[MainWindow, AppContext]] = []

    def make(path: Path, username: str, *, idle_ms: int | None = None, demo: bool = True) -> MainWindow:
        db = open_clinic(path, username, PASSWORD, exclusive=True)  # a profile (…json): the clinic server
        ctx = AppContext(db, demo=demo)
        clock = FakeClock()
        window = MainWindow(ctx, idle_ms=idle_ms, idle_clock=clock)
        window.test_clock = clock  # type: ignore[attr-defined]
        qtbot.addWidget(window)
        window.resize(1440, 900)
        made.append((window, ctx))
        window.show()
        qtbot.waitUntil(lambda: window.registry.load_count >= 1, timeout=90_000)
        wait_idle()
        return window

    yield make
    worker.wait_all(90_000)
    for window, _ctx in made:
        window.shutdown()
    worker.wait_all(90_000)
    for _window, ctx in made:
        ctx.close()


class DialogLog(list):
    """Texts of message boxes shown (a list of str) plus every other dialog `exec()`-ed."""

    def __init__(self) -> None:
        super().__init__()
        self.dialogs: list[object] = []

    def titles(self) -> list[str]:
        return [d.windowTitle() for d in self.dialogs]  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def auto_dialogs(monkeypatch: pytest.MonkeyPatch) -> Iterator[DialogLog]:
    """No test ever blocks on a modal dialog: message boxes answer themselves (recorded; questions
    are answered Yes); any other dialog's `exec()` returns Rejected at once (recorded in
    `.dialogs`, so a test can inspect what would have opened); file and input pickers cancel unless
    a test patches them."""
    from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMessageBox

    seen = DialogLog()

    def fake_exec(self) -> int:  # type: ignore[no-untyped-def]
        seen.append(f"{self.windowTitle()}: {self.text()}")
        return int(QMessageBox.StandardButton.Ok)

    def fake_dialog_exec(self) -> int:  # type: ignore[no-untyped-def]
        seen.dialogs.append(self)
        return int(QDialog.DialogCode.Rejected)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    monkeypatch.setattr(QDialog, "exec", fake_dialog_exec)
    for name in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(
            lambda parent, title, text, *a, _n=name, **k: seen.append(f"{title}: {text}") or QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda parent, title, text, *a, **k: seen.append(f"{title}: {text}") or QMessageBox.StandardButton.Yes))
    for name in ("getSaveFileName", "getOpenFileName"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(lambda *a, **k: ("", "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: ""))
    for name in ("getItem", "getText", "getInt"):
        monkeypatch.setattr(QInputDialog, name, staticmethod(lambda *a, **k: (None, False)))
    yield seen
