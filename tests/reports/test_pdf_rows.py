"""RowTable (reports.pdf_rows), the fast long table under the billing packet: text wrapping that
never overflows a column, page splits that lose or repeat no row, groups kept together."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from pypdf import PdfReader

from cocm_desktop.reports import pdf_common as pc
from cocm_desktop.reports import pdf_rows as pr

META = pc.ReportMeta(
    title="Rows",
    clinic="Test Clinic",
    period="October 2026",
    generated_at=datetime(2026, 11, 24),
    generated_by="T",
)


def line_text(line: pr.Line) -> str:
    return "".join(r[0] for r in line)


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("Not improving and last case review was 2026-03-12, more than 60 days ago.", 120),
        ("Initiating visit required (new patient or not seen in the prior 12 months)", 60),
        ("Supercalifragilisticexpialidocious-and-then-some-more-hyphenated-text", 40),  # no space to break at
        ("short", 200),
    ],
)
def test_flow_wraps_within_the_width_and_keeps_every_character(text: str, width: float) -> None:
    lines = pr.flow([(text, pr.CELL)], width)
    assert all(sum(r[1].width(r[0]) for r in line) <= width + 0.01 for line in lines)
    assert "".join(line_text(line) for line in lines).replace(" ", "") == text.replace(" ", "")
    assert (len(lines) == 1) == (pr.CELL.width(text) <= width)


def test_a_cell_of_runs_too_wide_for_its_column_is_reflowed() -> None:
    col = pr.Column("Codes", 60)
    table = pr.RowTable(
        [col], [pr.Row([pr.runs(("99493", pr.CELL_BOLD), (" ×1; 99494 ×2; G2214 ×1", pr.CELL))])]
    )
    (cell,) = table.data.cells[0]
    assert isinstance(cell, tuple) and len(cell) > 1
    assert all(sum(r[1].width(r[0]) for r in line) <= 60 - 2 * table.pad_x + 0.01 for line in cell)


def test_split_parts_cover_every_row_once_and_fit_the_space() -> None:
    rows = [pr.Row([f"Row {n}", "x" * (n % 50) + " y" * (n % 7)]) for n in range(400)]
    table = pr.RowTable([pr.Column("Name", 100), pr.Column("Text", 80)], rows, continued="Rows (continued)")
    parts, rest, heights = [], table, []
    while True:
        _w, h = rest.wrap(720, 500)
        if h <= 500:
            parts.append(rest)
            break
        first, rest = rest.split(720, 500)
        heights.append(first.wrap(720, 500)[1])
        parts.append(first)
    assert [(p.start, p.end) for p in parts] == list(
        zip([p.start for p in parts], [p.start for p in parts[1:]] + [400], strict=True)
    )
    assert parts[0].start == 0 and parts[-1].end == 400 and len(parts) > 3
    assert all(h <= 500 for h in heights)
    assert parts[0].first and not any(p.first for p in parts[1:])


def test_rows_tied_together_move_to_the_next_page_unless_longer_than_a_page() -> None:
    # groups of 5 rows (kept together) and one group of 120 rows (longer than a page: split anyway)
    rows = []
    for g, size in enumerate([5] * 30 + [120] + [5] * 10):
        rows += [pr.Row([f"G{g:02d}-{n:03d}"], keep_with_next=n < size - 1) for n in range(size)]
    table = pr.RowTable([pr.Column("Entry", 120)], rows, continued="Entries (continued)")
    pdf = pc.build_pdf([table], META)
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]
    printed = [m for t in pages for m in re.findall(r"G\d\d-\d\d\d", t)]
    assert printed == [
        f"G{g:02d}-{n:03d}" for g, size in enumerate([5] * 30 + [120] + [5] * 10) for n in range(size)
    ]
    for t in pages:
        first = re.search(r"G(\d\d)-(\d\d\d)", t)
        assert first is not None
        if first.group(1) != "30":  # the long group is the only one that may continue on a page
            assert first.group(2) == "000", t[:200]
    assert sum(1 for t in pages if "G30-" in t) >= 2
    assert all("Entries (continued)" in t for t in pages[1:])
