"""Headless subcommands. Each module here defines `register(subparsers)`; cli.py finds them.

Modules named `report_*` register under `cocm-desktop report …` instead of the top level.
"""

from __future__ import annotations

import importlib
import pkgutil


def command_modules(prefix: str = "") -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    if prefix:
        return [f"{__name__}.{n}" for n in names if n.startswith(prefix)]
    return [f"{__name__}.{n}" for n in names if not n.startswith("report_")]


def load(name: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(name)
