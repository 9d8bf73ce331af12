"""Long report tables drawn straight onto the canvas: `RowTable`, thousands of rows in a second.

platypus' Table with a Paragraph per cell lays out every cell as a paragraph and splits the
remaining rows again on every page (quadratic): the 8,000-row billing packet took over a minute.
RowTable takes plain text already cut into lines (widths measured once per style and string),
knows every row's height before layout, splits at a row boundary in O(log n) and writes each
page part as one PDF text object, every distinct string encoded once per document.

    from cocm_desktop.reports import pdf_rows as pr

    cols = [pr.Column("Patient", 120, pr.CELL_BOLD), pr.Column("Minutes", 44, align="R")]
    rows = [pr.Row(["Rivera, Ana", "45"]), pr.Row(["Total", "45"], rule_above=True)]
    story.append(pr.RowTable(cols, rows, continued="Dr. Okafor (continued)"))

A cell is a string (drawn in its column's style, wrapped to the column's width) or `Text`: lines,
each a tuple of runs `(text, style)` or `(text, style, STRIKE)` for mixed weights and colours
(build them with `runs()` / `flow()` / `pack()`). A row may carry a `note`: lines drawn under the
row's cells from a given column onwards (why a claim is held, warnings); a background; a strong
rule above (totals); `keep_with_next` (rows of one group stay on one page when they fit).
Every part of a split table repeats the header row; parts after the first can show a caption
("... continued"). Text goes through pdf_common.printable (glyphs the font lacks).
"""

from __future__ import annotations

import copy
import weakref
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.lib.rl_accel import escapePDF as _escape_pdf
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Flowable

from . import pdf_common as pc

__all__ = [
    "CELL",
    "CELL_BOLD",
    "CELL_MUTED",
    "HEADER",
    "NOTE",
    "STRIKE",
    "Column",
    "Row",
    "RowTable",
    "Style",
    "Text",
    "flow",
    "pack",
    "runs",
]

STRIKE = "strike"


class Style:
    """Font, size and colour of a run of text, with its widths cached per string."""

    __slots__ = ("color", "fill_op", "font", "size", "size_op", "_widths")

    def __init__(self, font: str, size: float, color: colors.Color = pc.INK) -> None:
        self.font, self.size, self.color = font, size, color
        r, g, b = color.rgb()
        self.fill_op = f"{r:.3f} {g:.3f} {b:.3f} rg"
        self.size_op = f" {size:g} Tf"
        self._widths: dict[str, float] = {}

    def width(self, text: str) -> float:
        w = self._widths.get(text)
        if w is None:
            w = self._widths[text] = pdfmetrics.stringWidth(text, self.font, self.size)
        return w


CELL = Style(pc.FONT, 7)
CELL_BOLD = Style(pc.BOLD, 7)
CELL_MUTED = Style(pc.FONT, 7, pc.MUTED)
NOTE = Style(pc.FONT, 6.6)
HEADER = Style(pc.BOLD, 6.8, colors.white)
CAPTION = Style(pc.BOLD, 7.5, pc.ACCENT)

Run = tuple  # (text, Style) or (text, Style, STRIKE)
Line = tuple[Run, ...]
Text = tuple[Line, ...]


def runs(*parts: Run) -> Text:
    """One line of runs: runs(("BLOCK", bold_red), (" no consent", red))."""
    return (tuple(parts),)


def _words(text: str) -> list[str]:
    """Words with their following space kept, so widths add up to the line's width."""
    parts = text.split(" ")
    return [w + " " for w in parts[:-1]] + [parts[-1]]


def flow(parts: Iterable[Run], width: float) -> Text:
    """Word-wrap runs into lines no wider than `width` (a word wider than a line is cut)."""
    lines: list[list[Any]] = [[]]
    x = 0.0
    for run in parts:
        text, style = run[0], run[1]
        flags = run[2:]
        text = pc.printable(text)
        if x + style.width(text) <= width:  # fast path: the whole run fits
            lines[-1].append((text, style, *flags))
            x += style.width(text)
            continue
        for word in _words(text):
            w = style.width(word)
            if x + style.width(word.rstrip()) > width and lines[-1]:
                lines.append([])
                x = 0.0
                word = word.lstrip()
                w = style.width(word)
            while w > width and len(word) > 1:  # a single over-long word: cut it
                cut = len(word) - 1
                while cut > 1 and style.width(word[:cut]) > width - x:
                    cut -= 1
                lines[-1].append((word[:cut], style, *flags))
                lines.append([])
                x, word = 0.0, word[cut:]
                w = style.width(word)
            lines[-1].append((word, style, *flags))
            x += w
    return tuple(_merge(line) for line in lines if line)


def _merge(line: list[Any]) -> Line:
    """Join neighbouring runs of the same style (fewer, longer strings to encode)."""
    out: list[Any] = []
    for run in line:
        if out and out[-1][1] is run[1] and out[-1][2:] == run[2:]:
            out[-1] = (out[-1][0] + run[0], run[1], *run[2:])
        else:
            out.append(run)
    if out:  # no trailing space at the end of a line
        last = out[-1]
        out[-1] = (last[0].rstrip(" "), last[1], *last[2:])
    return tuple(out)


def pack(items: Sequence[Sequence[Run]], width: float, gap: float = 12.0) -> Text:
    """Lay short items (each a few runs, e.g. "WARN" + reason) side by side, `gap` apart, starting
    a new line when the next one does not fit; an item wider than a line is word-wrapped."""
    lines: list[list[Any]] = []
    x = 0.0
    for item in items:
        w = sum(r[1].width(pc.printable(r[0])) for r in item)
        if lines and x + gap + w <= width:
            spacer = ("", _Gap(gap))
            lines[-1] += [spacer, *((pc.printable(r[0]), *r[1:]) for r in item)]
            x += gap + w
        elif w <= width:
            lines.append([(pc.printable(r[0]), *r[1:]) for r in item])
            x = w
        else:
            wrapped = flow(item, width)
            lines += [list(line) for line in wrapped]
            x = sum(r[1].width(r[0]) for r in wrapped[-1])
    return tuple(tuple(line) for line in lines)


class _Gap:
    """A horizontal gap inside a line (used by `pack`)."""

    __slots__ = ("gap",)

    def __init__(self, gap: float) -> None:
        self.gap = gap

    def width(self, _text: str) -> float:
        return self.gap


class Column:
    __slots__ = ("align", "header", "style", "width", "wrap")

    def __init__(
        self, header: str, width: float, style: Style = CELL, *, align: str = "L", wrap: bool = True
    ) -> None:
        """`align` L or R; `wrap=False` for cells known to fit (dates, codes): not even measured
        unless right-aligned."""
        self.header, self.width, self.style, self.align, self.wrap = header, width, style, align, wrap


class Row:
    __slots__ = ("background", "cells", "keep_with_next", "note", "note_from", "rule", "rule_above")

    def __init__(
        self,
        cells: Sequence[str | Text | None],
        *,
        background: colors.Color | None = None,
        note: Text | None = None,
        note_from: int = 1,
        rule_above: bool = False,
        rule: bool = True,
        keep_with_next: bool = False,
    ) -> None:
        """`rule`: the thin line under the row (False inside a group); `rule_above`: the strong
        line of a totals row."""
        self.cells = cells
        self.background = background
        self.note = note
        self.note_from = note_from
        self.rule_above = rule_above
        self.rule = rule
        self.keep_with_next = keep_with_next


# ---- PDF text encoding, once per document ---------------------------------------------------------


class _Encoder:
    """Text operators for one document: the same string in the same style is encoded once, as
    ((font selection, show text), ...) (a TrueType string spans several 256-glyph subsets when
    it has rare characters)."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self.by_style: dict[Style, dict[str, tuple[tuple[str, str], ...]]] = {}

    def cache(self, style: Style) -> dict[str, tuple[tuple[str, str], ...]]:
        got = self.by_style.get(style)
        if got is None:
            got = self.by_style[style] = {}
        return got

    def encode(self, style: Style, text: str) -> tuple[tuple[str, str], ...]:
        font = pdfmetrics.getFont(style.font)
        if font._dynamicFont:  # TrueType: one chunk per subset
            chunks = [
                (font.getSubsetInternalName(subset, self.doc), chunk)
                for subset, chunk in font.splitString(text, self.doc)
            ]
        else:
            chunks = [
                (self.doc.getInternalFontName(f.fontName), chunk)
                for f, chunk in pdfmetrics.unicode2T1(text, [font, *font.substitutionFonts])
            ]
        got = tuple((name + style.size_op, f"({_escape_pdf(chunk)}) Tj") for name, chunk in chunks)
        self.cache(style)[text] = got
        return got


_ENCODERS: weakref.WeakKeyDictionary[Any, _Encoder] = weakref.WeakKeyDictionary()


def _encoder(doc: Any) -> _Encoder:
    enc = _ENCODERS.get(doc)
    if enc is None:
        enc = _ENCODERS[doc] = _Encoder(doc)
    return enc


class _Painter:
    """Collects graphics (backgrounds, rules, strike lines) and text operators for one draw."""

    def __init__(self, enc: _Encoder) -> None:
        self.enc = enc
        self.fills: dict[str, list[str]] = {}  # fill op -> rectangles
        self.rules: dict[tuple[float, str], list[str]] = {}  # (width, stroke op) -> segments
        self.text: list[str] = []
        self.font_op: str | None = None
        self.fill_op: str | None = None

    def rect(self, color: colors.Color, x: float, y: float, w: float, h: float) -> None:
        r, g, b = color.rgb()
        self.fills.setdefault(f"{r:.3f} {g:.3f} {b:.3f} rg", []).append(f"{x:.2f} {y:.2f} {w:.2f} {h:.2f} re")

    def line(self, color: colors.Color, width: float, x1: float, y1: float, x2: float, y2: float) -> None:
        r, g, b = color.rgb()
        self.rules.setdefault((width, f"{r:.3f} {g:.3f} {b:.3f} RG"), []).append(
            f"{x1:.2f} {y1:.2f} m {x2:.2f} {y2:.2f} l"
        )

    def show(self, text: str, style: Style) -> None:
        """Text at the current text position (Tj advances it by the text's width)."""
        t = self.text
        if style.fill_op is not self.fill_op:
            t.append(style.fill_op)
            self.fill_op = style.fill_op
        ops = self.enc.cache(style).get(text) or self.enc.encode(style, text)
        for font_op, op in ops:
            if font_op != self.font_op:
                t.append(font_op)
                self.font_op = font_op
            t.append(op)

    def runs(self, x: float, y: float, line: Line) -> None:
        self.text.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm")
        for run in line:
            text, style = run[0], run[1]
            if style.__class__ is _Gap:
                x += style.gap
                self.text.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm")
                continue
            if text:
                self.show(text, style)
                if len(line) > 1 or len(run) > 2:
                    w = style.width(text)
                    if len(run) > 2 and run[2] == STRIKE:
                        self.line(style.color, 0.6, x, y + style.size * 0.3, x + w, y + style.size * 0.3)
                    x += w

    def code(self) -> str:
        out: list[str] = []
        for op, rects in self.fills.items():
            out.append(op)
            out.extend(rects)
            out.append("f")
        for (width, op), segments in self.rules.items():
            out.append(f"{width:g} w {op}")
            out.extend(segments)
            out.append("S")
        if self.text:
            out.append("BT")
            out.extend(self.text)
            out.append("ET")
        return "\n".join(out)


# ---- the table -----------------------------------------------------------------------------------

Cell = str | Text | None  # after preparation: a one-line string in the column's style, or lines


class _Prepared:
    """Rows cut into lines with their heights; shared by every part of a split table."""

    def __init__(self, table: RowTable, rows: Sequence[Row]) -> None:
        self.rows = rows
        self.cells: list[tuple[Cell, ...]] = []
        self.heights: list[float] = []
        pad = table.pad_top + table.pad_bottom
        leading, note_leading = table.leading, table.note_leading
        prep = [table.preparer(col) for col in table.columns]
        heights_append, cells_append = self.heights.append, self.cells.append
        for row in rows:
            cells = tuple(f(c) for f, c in zip(prep, row.cells, strict=False))
            lines = 1
            for c in cells:
                if c is not None and c.__class__ is not str and len(c) > lines:
                    lines = len(c)
            h = lines * leading + pad
            if row.note:
                h += len(row.note) * note_leading + 1.0
            cells_append(cells)
            heights_append(h)
        self.tops = [0.0]  # tops[i]: summed heights of the rows before row i
        acc = 0.0
        for h in self.heights:
            acc += h
            self.tops.append(acc)


class RowTable(Flowable):
    """A long table of plain-text rows; see the module docstring."""

    def __init__(
        self,
        columns: Sequence[Column],
        rows: Sequence[Row],
        *,
        continued: str | None = None,
        zebra: bool = True,
        leading: float = 8.6,
        note_leading: float = 8.0,
        pad_x: float = 3.5,
        pad_top: float = 2.6,
        pad_bottom: float = 2.4,
        space_after: float = 0.0,
    ) -> None:
        super().__init__()
        self.columns = list(columns)
        self.continued = continued
        self.zebra = zebra
        self.leading, self.note_leading = leading, note_leading
        self.pad_x, self.pad_top, self.pad_bottom = pad_x, pad_top, pad_bottom
        self.spaceAfter = space_after
        self.first = True
        self.xs = [0.0]
        for c in self.columns:
            self.xs.append(self.xs[-1] + c.width)
        self.width = self.xs[-1]
        self.header = tuple(flow([(c.header, HEADER)], c.width - 2 * pad_x) for c in self.columns)
        self.header_h = max(len(h) for h in self.header) * 8.0 + 6.0
        self.data = _Prepared(self, rows)
        self.start, self.end = 0, len(rows)

    # -- cells ------------------------------------------------------------------------------------
    def preparer(self, col: Column) -> Any:
        """The function that turns a cell of `col` into a one-line string or lines."""
        inner = col.width - 2 * self.pad_x
        style = col.style
        width = style.width

        def prepare(cell: str | Text | None) -> Cell:
            if cell is None or cell == "":
                return None
            if cell.__class__ is not str:  # lines of runs: made printable, re-flowed if too wide
                lines: list[Line] = []
                for line in cell:  # type: ignore[union-attr]
                    if col.wrap and sum(r[1].width(r[0]) for r in line) > inner + 0.01:
                        lines += flow(line, inner)
                    elif all(r[0].isascii() for r in line):
                        lines.append(line)
                    else:
                        lines.append(tuple((pc.printable(r[0]), *r[1:]) for r in line))
                return tuple(lines)
            text = cell if cell.isascii() else pc.printable(cell)  # type: ignore[union-attr]
            if "\n" in text:
                return tuple(line for part in text.split("\n") for line in flow([(part, style)], inner))
            if col.wrap and width(text) > inner:
                return flow([(text, style)], inner)
            return text

        return prepare

    # -- platypus protocol ------------------------------------------------------------------------
    def _chrome(self) -> float:
        return self.header_h + (0.0 if self.first or not self.continued else 13.0)

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        tops = self.data.tops
        self.height = self._chrome() + tops[self.end] - tops[self.start]
        return self.width, self.height

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        tops, rows = self.data.tops, self.data.rows
        room = avail_height - self._chrome()
        k = bisect_right(tops, tops[self.start] + room + 0.001) - 1  # rows start..k-1 fit
        k = min(k, self.end)
        if k <= self.start:
            return []  # not even one row: platypus tries the next page
        if k < self.end:  # do not break a group (rows tied by keep_with_next)
            j = k
            while j > self.start and rows[j - 1].keep_with_next:
                j -= 1
            if j > self.start:
                k = j
            elif not getattr(self, "_postponed", False):
                return []  # the group starts here: next page (if it is longer than a page, split it there)
        return [self._part(self.start, k, self.first), self._part(k, self.end, False)]

    def _part(self, start: int, end: int, first: bool) -> RowTable:
        part = copy.copy(self)
        part.__dict__.pop("_postponed", None)  # platypus' mark of a flowable moved to the next frame
        part.start, part.end, part.first = start, end, first
        return part

    def draw(self) -> None:
        p = _Painter(_encoder(self.canv._doc))
        text = p.text
        xs, cols = self.xs, self.columns
        styles = [c.style for c in cols]
        right = [c.align == "R" for c in cols]
        right_x = [xs[i + 1] - self.pad_x for i in range(len(cols))]
        left_tm = [f"1 0 0 1 {xs[i] + self.pad_x:.2f} " for i in range(len(cols))]
        width = self.width
        leading = self.leading
        y = self.height
        if not self.first and self.continued:
            p.runs(0, y - 9.5, ((pc.printable(self.continued), CAPTION),))
            y -= 13.0
        # header band
        top = y
        p.rect(pc.HEADER_BG, 0, y - self.header_h, width, self.header_h)
        for i, lines in enumerate(self.header):
            for n, line in enumerate(lines):
                lw = sum(r[1].width(r[0]) for r in line)
                x = right_x[i] - lw if right[i] else xs[i] + self.pad_x
                p.runs(x, y - 9.0 - n * 8.0, line)
        y -= self.header_h
        data = self.data
        rows, heights, all_cells = data.rows, data.heights, data.cells
        for i in range(self.start, self.end):
            row = rows[i]
            h = heights[i]
            bottom = y - h
            bg = row.background or (pc.ZEBRA if self.zebra and i % 2 == 1 else None)
            if bg is not None:
                p.rect(bg, 0, bottom, width, h)
            if row.rule_above:
                p.line(pc.INK, 0.9, 0, y, width, y)
            base = y - self.pad_top - leading / 2 - 0.36 * CELL.size
            ys = f"{base:.2f} Tm"
            n_lines = 1
            for c, cell in enumerate(all_cells[i]):
                if cell is None:
                    continue
                if cell.__class__ is str:  # the common case: one line in the column's style
                    style = styles[c]
                    if right[c]:
                        text.append(f"1 0 0 1 {right_x[c] - style.width(cell):.2f} {ys}")
                    else:
                        text.append(left_tm[c] + ys)
                    p.show(cell, style)  # type: ignore[arg-type]
                    continue
                n_lines = max(n_lines, len(cell))
                for n, line in enumerate(cell):  # type: ignore[union-attr]
                    x = right_x[c] - sum(r[1].width(r[0]) for r in line) if right[c] else xs[c] + self.pad_x
                    p.runs(x, base - n * leading, line)
            if row.note:
                nb = base - (n_lines - 1) * leading - self.note_leading - 1.0
                x = xs[row.note_from] + self.pad_x
                for n, line in enumerate(row.note):
                    p.runs(x, nb - n * self.note_leading, line)
            if row.rule:
                p.line(pc.RULE, 0.25, 0, bottom, width, bottom)
            y = bottom
        p.line(pc.RULE, 0.5, 0, y, width, y)  # the box (its bottom overdraws the last rule)
        p.line(pc.RULE, 0.5, 0, y, 0, top)
        p.line(pc.RULE, 0.5, width, y, width, top)
        self.canv._code.append(p.code())
