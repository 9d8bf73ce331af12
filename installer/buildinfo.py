"""Small helpers shared by build.py and the PyInstaller spec."""

from __future__ import annotations

import re


def numeric_version(version: str) -> str:
    """"0.1.0" -> "0.1.0.0"; "1.2.0rc1" -> "1.2.0.0" (Windows version resources take 4 numbers)."""
    numbers = [int(m) for m in re.findall(r"\d+", version.split("+")[0])[:3]]
    numbers += [0] * (4 - len(numbers))
    return ".".join(str(n) for n in numbers[:4])
