"""Exports interrupted from outside, in real processes: a SIGKILL in the middle of `registry --csv`
leaves the previous complete file or nothing under the real name, never a partial one, and its
temp copy is removed later; a reader that closes the pipe early (`| head`) ends the command
quietly."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from cocm_desktop.cli import main
from cocm_desktop.reports.output import PARTIAL_GLOB
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AuditRecord

from .conftest import PASSWORD, REPO

# The real command, with one row in the middle taking a minute: the kill lands while rows are
# being written (the file is open, the header and the first rows are out).
SLOW_REGISTRY = """
import sys, time
from cocm_desktop.services import registry_csv
real, seen = registry_csv.csv_record, [0]
def slow(row):
    seen[0] += 1
    if seen[0] == 10:
        print("MIDWAY", file=sys.stderr, flush=True)
        time.sleep(60)
    return real(row)
registry_csv.csv_record = slow
from cocm_desktop.cli import main
sys.exit(main(sys.argv[1:]))
"""
PLAIN_COMMAND = "import sys; from cocm_desktop.cli import main; sys.exit(main(sys.argv[1:]))"


def _kill_midway(run_script, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    proc = run_script(SLOW_REGISTRY, args, env={"COCM_PASSWORD": PASSWORD})
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.strip() == "MIDWAY":
            break
    else:
        proc.wait(30)
        pytest.fail("the export ended before the kill: " + "".join(seen))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL


def _partials(folder: Path) -> list[Path]:
    return list(folder.glob(PARTIAL_GLOB))


def test_a_killed_registry_export_never_leaves_a_partial_file(demo_path: Path, tmp_path: Path, run_script, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "exports"
    out.mkdir()
    target = out / "registry.csv"
    args = ["registry", "--db", str(demo_path), "--user", "lead", "--csv", str(target)]

    _kill_midway(run_script, args)
    assert not target.exists()  # nothing under the real name, not a truncated copy
    assert len(_partials(out)) == 1

    monkeypatch.setenv("COCM_PASSWORD", PASSWORD)
    assert main(args) == 0
    complete = target.read_bytes()
    rows = complete.count(b"\n")
    assert rows > 30 and complete.endswith(b"\n")

    _kill_midway(run_script, args)
    assert target.read_bytes() == complete  # the earlier export is kept whole, not wiped

    rng = random.Random(14)
    for _ in range(3):  # unpatched runs killed at a random moment: startup, query, writing or done
        proc = run_script(PLAIN_COMMAND, args, env={"COCM_PASSWORD": PASSWORD})
        time.sleep(rng.uniform(0.3, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert target.read_bytes() == complete

    leftovers = _partials(out)
    assert leftovers  # what the killed runs left: hidden temp copies only
    for p in leftovers:  # an hour later, at the next export into that folder, they go
        os.utime(p, (time.time() - 7200, time.time() - 7200))
    assert main(args) == 0
    assert _partials(out) == [] and target.read_bytes() == complete
    assert target.stat().st_mode & 0o777 == 0o600
    capsys.readouterr()


def _command(demo_path: Path, *cmd: str) -> list[str]:
    return [sys.executable, "-m", "cocm_desktop", *cmd, "--db", str(demo_path), "--user", "lead"]


@pytest.mark.parametrize("cmd", [("registry",), ("info",), ("users", "list"), ("audit", "verify")])
def test_a_reader_that_closes_the_pipe_early_ends_the_command_quietly(demo_path: Path, cmd: tuple[str, ...]) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), COCM_PASSWORD=PASSWORD)
    proc = subprocess.Popen(_command(demo_path, *cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0, err
    assert err == ""  # no traceback, no "Exception ignored … BrokenPipeError"
    if cmd == ("registry",):  # what went out before the reader left is still audited as an export
        with Database.open(demo_path, "lead", PASSWORD) as db, db.session() as s:
            last = s.scalars(select(AuditRecord).where(AuditRecord.action == "registry.export")).all()
        assert len(last) == 1


def test_registry_piped_into_head(demo_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), COCM_PASSWORD=PASSWORD)
    line = " ".join(f"'{a}'" for a in _command(demo_path, "registry"))
    done = subprocess.run(["bash", "-o", "pipefail", "-c", f"{line} | head -n 3"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    assert len(done.stdout.splitlines()) == 3 and done.stdout.startswith("Patient,MRN,")
