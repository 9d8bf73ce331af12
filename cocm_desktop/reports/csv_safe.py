"""Spreadsheet (CSV) exports that a spreadsheet never runs as formulas (OWASP "CSV injection").

A cell starting with = + - @ tab or CR is read by Excel, LibreOffice and Google Sheets as a formula:
a patient named `=HYPERLINK("http://…"&C2,"Open chart")` would send the row to a stranger when the
billing office clicks it. Every CSV the app writes goes through `safe_writer`, so no column can be
forgotten: such a cell gets a leading apostrophe, which spreadsheets show as text and do not store.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["FORMULA_STARTS", "SafeCsvWriter", "safe_cell", "safe_writer"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# A plain number (what we write for minutes, scores or a change such as "+10 %") cannot refer to a
# cell or call a function, so it stays a number the billing system and spreadsheets can add up;
# "-1" is kept, "-1+cmd|' /C calc'!A0" (the DDE attack) is not a plain number and is neutralised.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?(?: ?%)?")


def safe_cell(value: object) -> str:
    """`value` as CSV cell text that a spreadsheet shows as typed (None becomes an empty cell)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class _Writer(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


class SafeCsvWriter:
    """A `csv.writer` whose every cell passes through `safe_cell`."""

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_writer(out: Any, **fmtparams: Any) -> SafeCsvWriter:
    """`csv.writer(out, **fmtparams)` that neutralises formula-like cells."""
    return SafeCsvWriter(csv.writer(out, **fmtparams))
