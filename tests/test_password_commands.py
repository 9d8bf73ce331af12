"""Passwords in the headless commands, each run as a real `python -m cocm_desktop` process.

A password the clinic lead set (users add / reset-password) must be changed at the first sign-in:
a scripted run is refused (exit 3) with the `users passwd` line to run, which itself works while
the change is due; at a terminal the command asks for the new password twice and carries on.
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SET_BY_LEAD = "given by the lead"


def _run(*args: str, password: str | None, new: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COCM_PASSWORD", "COCM_NEW_PASSWORD")}
    env["PYTHONPATH"] = str(REPO)
    if password is not None:
        env["COCM_PASSWORD"] = password
    if new is not None:
        env["COCM_NEW_PASSWORD"] = new
    return subprocess.run([sys.executable, "-m", "cocm_desktop", *args], env=env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=120)


def _db(path: Path, user: str) -> list[str]:
    return ["--db", str(path), "--user", user]


def test_lead_set_password_must_be_changed_before_any_command(clinic_path: Path) -> None:
    # The lead adds someone with a weak password: refused, with the rule.
    weak = _run("users", "add", "sam", "--name", "Sam Ortiz", "--role", "care_manager",
                *_db(clinic_path, "lead"), password="demo", new="1234")
    assert weak.returncode == 3
    assert weak.stderr.strip() == "Refused: A password needs at least 10 characters; this one has 4."
    common = _run("users", "add", "sam", "--name", "Sam Ortiz", "--role", "care_manager",
                  *_db(clinic_path, "lead"), password="demo", new="Password123")
    assert common.returncode == 3 and "list of common passwords" in common.stderr
    added = _run("users", "add", "sam", "--name", "Sam Ortiz", "--role", "care_manager",
                 *_db(clinic_path, "lead"), password="demo", new=SET_BY_LEAD)
    assert added.returncode == 0, added.stderr
    assert "choose their own password at their first sign-in" in added.stderr
    # Sam's first command, scripted: refused with one sentence that says what to run.
    info = _run("info", *_db(clinic_path, "sam"), password=SET_BY_LEAD)
    assert info.returncode == 3 and info.stdout == ""
    assert "Traceback" not in info.stderr and len(info.stderr.strip().splitlines()) == 1
    assert "clinic lead chose your password" in info.stderr
    assert f"cocm-desktop users passwd --db {clinic_path} --user sam" in info.stderr
    # `users passwd` is the way out, and applies the rules (the same password is not a change).
    same = _run("users", "passwd", *_db(clinic_path, "sam"), password=SET_BY_LEAD, new=SET_BY_LEAD)
    assert same.returncode == 3 and "must differ" in same.stderr
    changed = _run("users", "passwd", *_db(clinic_path, "sam"), password=SET_BY_LEAD, new="sams own words")
    assert changed.returncode == 0 and "Password changed." in changed.stderr
    info = _run("info", *_db(clinic_path, "sam"), password="sams own words")
    assert info.returncode == 0 and "Sam Ortiz" in info.stdout
    # A reset by the lead asks for a change again.
    reset = _run("users", "reset-password", "sam", *_db(clinic_path, "lead"), password="demo", new="0000")
    assert reset.returncode == 3 and "at least 10 characters" in reset.stderr
    reset = _run("users", "reset-password", "sam", *_db(clinic_path, "lead"), password="demo", new=SET_BY_LEAD)
    assert reset.returncode == 0 and "they choose a new one at their next sign-in" in reset.stderr
    assert _run("info", *_db(clinic_path, "sam"), password=SET_BY_LEAD).returncode == 3


def test_demo_clinic_commands_still_run_with_demo(demo_path: Path) -> None:
    for user in ("lead", "cm1", "psych"):
        result = _run("info", *_db(demo_path, user), password="demo")
        assert result.returncode == 0, result.stderr


class _Terminal:
    """Reads what the child writes to its terminal; `expect` waits for text written after the
    previous match (a prompt is answered only once it is really shown: getpass discards input
    typed before it turns echo off)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.text = ""
        self.pos = 0

    def expect(self, wanted: str, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while (found := self.text.find(wanted, self.pos)) < 0:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise AssertionError(f"no {wanted!r} after {self.text[:self.pos]!r} in {self.text!r}")
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"no {wanted!r} in {self.text!r}")
            self.text += chunk.decode(errors="replace")
        self.pos = found + len(wanted)

    def type(self, line: str) -> None:
        os.write(self.fd, f"{line}\n".encode())


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
def test_at_a_terminal_the_command_asks_for_the_new_password(clinic_path: Path) -> None:
    added = _run("users", "add", "sam", "--name", "Sam Ortiz", "--role", "care_manager",
                 *_db(clinic_path, "lead"), password="demo", new=SET_BY_LEAD)
    assert added.returncode == 0, added.stderr
    master, slave = os.openpty()

    def take_terminal() -> None:  # the pty becomes the child's controlling terminal (getpass reads it)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {k: v for k, v in os.environ.items() if k not in ("COCM_PASSWORD", "COCM_NEW_PASSWORD")}
    env["PYTHONPATH"] = str(REPO)
    child = subprocess.Popen([sys.executable, "-m", "cocm_desktop", "info", *_db(clinic_path, "sam")],
                             stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                             preexec_fn=take_terminal)
    os.close(slave)
    term = _Terminal(master)
    try:
        term.expect("Password for sam:")
        term.type(SET_BY_LEAD)
        term.expect("clinic lead chose your password")
        term.expect("New password:")
        term.type("short")
        term.expect("Again:")
        term.type("short")
        term.expect("at least 10 characters")  # the rule, then asked again
        term.expect("New password:")
        term.type("sams own words")
        term.expect("Again:")
        term.type("sams own words")
        term.expect("Password changed.")
        term.expect("Sam Ortiz")  # the command itself ran
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
    assert "short" not in term.text and "sams own words" not in term.text  # never echoed
    assert _run("info", *_db(clinic_path, "sam"), password="sams own words").returncode == 0
