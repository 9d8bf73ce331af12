"""`cocm-desktop report <kind> …`: printed reports. Each kind lives in a `report_<kind>` module."""

from __future__ import annotations

import argparse

from cocm_desktop.commands import command_modules, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="print a report to PDF (billing, case-review, quality, …)")
    kinds = p.add_subparsers(dest="report_kind", metavar="KIND", required=True)
    for name in command_modules(prefix="report_"):
        load(name).register(kinds)
