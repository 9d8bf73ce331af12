"""Helpers for the security tests: the clinic's password, subprocess writers, raw key checks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PASSWORD = "demo"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_script(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Start `python -c <code>` in a child process (our package importable), return the Popen."""

    def start(code: str, args: list[str] | None = None, **kwargs) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        env.update(kwargs.pop("env", {}))
        return subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *(args or [])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
            **kwargs,
        )

    return start


@pytest.fixture
def pw() -> str:
    return PASSWORD
