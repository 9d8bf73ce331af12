"""The self-check, in-process: every check passes here and says what it proved; a broken
installation fails at the first bad check with one plain line and a non-zero exit code."""

from __future__ import annotations

import re

import pytest

from cocm_desktop import __version__, selfcheck
from cocm_desktop.cli import main

EXPECTED_LINES = [
    r"^ok  SQLCipher 4\.\d+\.\d+ community",
    r"^ok  database file is encrypted \(no plain SQLite header; a wrong key is refused\)$",
    r"^ok  schema migrations applied: \d+ revision\(s\), at \w+",
    r"^ok  row written, unlocked again with a password \(\d+\.\d s\) and read back; "
    r"audit chain of \d+ records verified$",
    r"^ok  PDF built in memory \(reportlab [\d.]+, 1 page, [\d,]+ bytes\)$",
    r"^ok  report font DejaVu Sans from resources/fonts \(Latin, Greek, Cyrillic, Vietnamese\)$",
    r"^ok  list of [\d,]+ common passwords refused for new passwords$",
    r"^ok  clinic server driver psycopg 3\.\d+\.\d+ with libpq \d+\.\d+ \((binary|c)\)$",
    r"^ok  \d+ program modules load; \d+ headless command\(s\) registered$",
    r"^ok  Qt 6\.\d+\.\d+ \(offscreen\): window shown and grabbed, text and SVG icon drawn$",
]


def _assert_passed(out: str, err: str) -> None:
    lines = out.splitlines()
    assert lines[0].startswith(f"CoCM Desktop {__version__} self-check (source, Python ")
    checks = [line for line in lines if line.startswith("ok  ")]
    assert len(checks) == len(EXPECTED_LINES), out
    for line, pattern in zip(checks, EXPECTED_LINES, strict=True):
        assert re.match(pattern, line), (line, pattern)
    assert re.match(r"^Self-check passed in \d+\.\d s\.$", lines[-1])
    assert "FAILED" not in err


def test_run_self_check_passes_and_prints_each_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert selfcheck.run_self_check() == 0
    captured = capsys.readouterr()
    _assert_passed(captured.out, captured.err)


def test_cli_routes_self_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--self-check"]) == 0
    captured = capsys.readouterr()
    _assert_passed(captured.out, captured.err)


def test_self_check_leaves_no_database_behind(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    assert selfcheck.run_self_check() == 0
    capsys.readouterr()
    assert list(tmp_path.iterdir()) == []


def test_first_failure_stops_with_a_plain_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing svg plugin (simulated at the check) is reported by name; later checks don't run."""
    calls: list[str] = []

    def broken(_clinic: object) -> str:
        calls.append("pdf")
        raise selfcheck.CheckFailed("reportlab did not produce a complete PDF")

    def never(_clinic: object) -> str:
        calls.append("after")
        return "should not run"

    checks = list(selfcheck.CHECKS)
    index = [name for name, _fn in checks].index("PDF")
    checks[index] = ("PDF", broken)
    checks[index + 1] = (checks[index + 1][0], never)
    monkeypatch.setattr(selfcheck, "CHECKS", checks)

    assert main(["--self-check"]) == 1
    captured = capsys.readouterr()
    assert calls == ["pdf"]
    assert captured.out.count("\nok  ") == index  # the checks before it passed
    err_lines = captured.err.splitlines()
    assert err_lines[0] == "FAILED  PDF: reportlab did not produce a complete PDF"
    assert "Traceback" not in captured.err


def test_unexpected_error_becomes_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(_clinic: object) -> str:
        raise ModuleNotFoundError("No module named 'sqlcipher3'")

    monkeypatch.setattr(selfcheck, "CHECKS", [("SQLCipher", explode)])
    assert selfcheck.run_self_check() == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "FAILED  SQLCipher: ModuleNotFoundError: No module named 'sqlcipher3'"


def test_missing_app_icon_fails_the_qt_check(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(selfcheck, "bundle_root", lambda: tmp_path)  # a bundle without resources/
    monkeypatch.setattr(selfcheck, "CHECKS", [c for c in selfcheck.CHECKS if c[0] == "Qt"])
    assert selfcheck.run_self_check() == 1
    err = capsys.readouterr().err
    assert err.startswith("FAILED  Qt: the app icon is missing")


def test_wrong_key_check_catches_an_unencrypted_file(tmp_path) -> None:
    """If the file opened with any key (i.e. it were not encrypted), the check must fail."""
    import sqlcipher3

    path = tmp_path / "plain.db"
    conn = sqlcipher3.connect(str(path))  # SQLCipher with no key = a plain SQLite file
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    clinic = selfcheck._Clinic(tmp_path)
    clinic.path = path
    with pytest.raises(selfcheck.CheckFailed, match="plain, unencrypted SQLite"):
        selfcheck._check_encrypted_file(clinic)


def test_bundle_root_is_the_checkout_holding_resources() -> None:
    assert (selfcheck.bundle_root() / selfcheck.APP_ICON).is_file()


def test_bundle_root_in_a_frozen_app(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import sys

    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert selfcheck.bundle_root() == tmp_path


@pytest.mark.parametrize(("platform", "env", "offscreen"), [
    ("linux", {}, True),                                  # CI, ssh session: no display
    ("linux", {"DISPLAY": ":0"}, False),                  # X11 desktop: check the real xcb plugin
    ("linux", {"WAYLAND_DISPLAY": "wayland-0"}, False),
    ("linux", {"QT_QPA_PLATFORM": "xcb"}, False),         # the user's explicit choice wins
    ("win32", {}, False),                                 # Windows always has its platform plugin
    ("darwin", {}, False),
])
def test_offscreen_only_without_a_display(
    monkeypatch: pytest.MonkeyPatch, platform: str, env: dict[str, str], offscreen: bool
) -> None:
    import sys

    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "platform", platform)
    assert selfcheck._wants_offscreen() is offscreen


def test_fonts_borrowed_from_the_system_fail_the_check(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A bundle built without resources/fonts must not pass on a machine that happens to have DejaVu."""
    monkeypatch.setattr(selfcheck, "bundle_root", lambda: tmp_path)
    with pytest.raises(selfcheck.CheckFailed, match="report fonts are missing"):
        selfcheck._check_fonts(None)  # type: ignore[arg-type]


def test_an_installation_without_the_password_list_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the list every new password is refused: the self-check must say so at install."""
    from cocm_desktop.services import passwords

    assert "list of" in selfcheck._check_password_list(None)  # type: ignore[arg-type]
    monkeypatch.setattr(passwords, "common_passwords_path", lambda: None)
    passwords.common_passwords.cache_clear()
    try:
        with pytest.raises(selfcheck.CheckFailed, match="common passwords is missing"):
            selfcheck._check_password_list(None)  # type: ignore[arg-type]
    finally:
        passwords.common_passwords.cache_clear()
