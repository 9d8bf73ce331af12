"""Small building blocks of the packet's pages: section heads, data tables (`grid`, `th`, `c`) and
chips (agenda group, flags)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.platypus import Flowable, KeepTogether, Spacer, Table, TableStyle

from cocm_desktop.reports.case_review_style import (
    ACCENT,
    BOLD,
    FONT,
    HEAD_BG,
    INK,
    MUTED,
    RULE,
    WIDTH,
    t_plain,
)


class SectionHead(Flowable):
    """Section title in small caps colour with a hairline under it (cheaper than a one-cell table)."""

    def __init__(self, title: str, width: float = WIDTH) -> None:
        super().__init__()
        self.title = t_plain(title.upper())
        self.width, self.height = width, 13

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        c.setFont(BOLD, 8.2)
        c.setFillColor(ACCENT)
        c.drawString(0, 4, self.title)
        c.setStrokeColor(ACCENT)
        c.setLineWidth(0.6)
        c.line(0, 0.5, self.width, 0.5)


def section(title: str, *body: Flowable, keep: bool = True) -> list[Flowable]:
    """A section heading with a hairline; kept with its body (`keep`) or at least its first block."""
    items: list[Flowable] = [SectionHead(title), Spacer(1, 4), *body]
    if keep:
        return [KeepTogether(items), Spacer(1, 9)]
    return [KeepTogether(items[:3]), *items[3:], Spacer(1, 9)]


def grid(rows: list[list[Any]], widths: Sequence[float], *, header: bool = True, zebra: bool = True,
         extra: Sequence[tuple] = (), repeat: bool = True) -> Table:
    """A data table: small type, hairline rows, light header band; prints cleanly in grey."""
    table = Table(rows, colWidths=list(widths), repeatRows=1 if header and repeat else 0)
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LINEBELOW", (0, 0), (-1, -1), 0.35, RULE),
        ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 7.8),
        ("LEADING", (0, 0), (-1, -1), 9.6), ("TEXTCOLOR", (0, 0), (-1, -1), INK),
    ]
    if header:
        style += [("BACKGROUND", (0, 0), (-1, 0), HEAD_BG), ("LINEBELOW", (0, 0), (-1, 0), 0.6, MUTED),
                  ("FONTNAME", (0, 0), (-1, 0), BOLD), ("FONTSIZE", (0, 0), (-1, 0), 7.2),
                  ("TEXTCOLOR", (0, 0), (-1, 0), MUTED)]
    if zebra:
        start = 1 if header else 0
        for r in range(start + 1, len(rows), 2):
            style.append(("BACKGROUND", (0, r), (-1, r), colors.HexColor("#F8F9FA")))
    table.setStyle(TableStyle(style + list(extra)))
    return table


def th(*labels: str) -> list[str]:
    """Header cells: plain strings (the table style sets the font); Paragraph only when wrapping."""
    return [t_plain(x) for x in labels]


def c(value: object) -> str:
    """A plain one-line cell (much cheaper than a Paragraph)."""
    return t_plain(value)


class Chip(Flowable):
    """A small rounded label (agenda group, flags). Dark fill + white text reads in grey too."""

    def __init__(self, text: str, fill: colors.Color = ACCENT, *, outline: bool = False, size: float = 7.2) -> None:
        super().__init__()
        self.text, self.fill, self.outline, self.size = t_plain(text), fill, outline, size
        from reportlab.pdfbase.pdfmetrics import stringWidth

        self.width = stringWidth(self.text, BOLD, size) + 9
        self.height = size + 5.5

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        c.saveState()
        if self.outline:
            c.setStrokeColor(self.fill)
            c.setLineWidth(0.8)
            c.setFillColor(colors.white)
            c.roundRect(0, 0, self.width, self.height, 2.5, stroke=1, fill=1)
            c.setFillColor(self.fill)
        else:
            c.setFillColor(self.fill)
            c.roundRect(0, 0, self.width, self.height, 2.5, stroke=0, fill=1)
            c.setFillColor(colors.white)
        c.setFont(BOLD, self.size)
        c.drawString(4.5, 3.2, self.text)
        c.restoreState()


def chip_row(chips: Sequence[Chip], width: float = WIDTH, gap: float = 4) -> Table | Spacer:
    if not chips:
        return Spacer(1, 0)
    # wrap chips into lines that fit
    lines: list[list[Chip]] = [[]]
    used = 0.0
    for ch in chips:
        if lines[-1] and used + ch.width > width:
            lines.append([])
            used = 0.0
        lines[-1].append(ch)
        used += ch.width + gap
    rows = []
    cols = max(len(line) for line in lines)
    for line in lines:
        rows.append(line + [""] * (cols - len(line)))
    widths = [max((ln[i].width + gap) if i < len(ln) else 0 for ln in lines) for i in range(cols)]
    tbl = Table(rows, colWidths=widths, hAlign="LEFT")
    tbl.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), gap),
                             ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))
    return tbl
