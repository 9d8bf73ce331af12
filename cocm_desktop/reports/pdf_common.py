"""Shared look of every CoCM Desktop PDF: page template, footer "page x of y", styles, tables.

Use it for any report (billing packet, case-review packet, quality report):

    from cocm_desktop.reports import pdf_common as pc

    meta = pc.ReportMeta(title="Case-review packet", clinic="Riverside Family Medicine",
                         period="Session 2026-11-24", generated_at=now, generated_by="Lee Adams")
    st = pc.styles()
    story = [pc.title_block(meta, st), pc.heading("Agenda", st),
             pc.data_table(["Patient", "Why"], [["Rivera, Ana", "Not improving"]], [200, 520], st)]
    pdf_bytes = pc.build_pdf(story, meta)            # landscape US letter by default

Everything is built in memory (BytesIO): never a temp file with PHI.

Type: DejaVu Sans (regular, bold, oblique; resources/fonts/, Bitstream Vera licence), embedded as
a subset in every PDF so names in any script print (Nguyễn, Łukasz, Σοφία, Юлия). Importing this
module registers it once with reportlab under `FONT`, `BOLD` and `ITALIC` (also as a family, so
<b>/<i> in Paragraph markup work); every report uses those names, never Helvetica. `printable()`
swaps the rare character the font lacks for its base letter (or "?") instead of a blank box.
For long tables (thousands of rows) use reports.pdf_rows.RowTable instead of `data_table`.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

__all__ = [
    "ACCENT",
    "BLOCK",
    "BLOCK_BG",
    "BOLD",
    "FONT",
    "HEADER_BG",
    "INK",
    "ITALIC",
    "MUTED",
    "OK",
    "OK_BG",
    "RULE",
    "WARN",
    "WARN_BG",
    "ZEBRA",
    "ReportMeta",
    "badge",
    "build_pdf",
    "content_width",
    "data_table",
    "escape",
    "heading",
    "key_value_table",
    "para",
    "printable",
    "register_fonts",
    "styles",
    "subheading",
    "summary_tiles",
    "title_block",
]

# Palette: quiet ink, one accent, and the three status colours (with light backgrounds).
INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
ACCENT = colors.HexColor("#1f4e79")
HEADER_BG = colors.HexColor("#1f4e79")
ZEBRA = colors.HexColor("#f3f6f9")
RULE = colors.HexColor("#c5ced8")
OK = colors.HexColor("#1e7b34")
OK_BG = colors.HexColor("#e3f4e8")
WARN = colors.HexColor("#9a6400")
WARN_BG = colors.HexColor("#fff4d6")
BLOCK = colors.HexColor("#b42318")
BLOCK_BG = colors.HexColor("#fde8e6")

MARGIN = 0.5 * inch
FOOTER_GAP = 0.32 * inch

# ---- type ------------------------------------------------------------------------------------------
FONT, BOLD, ITALIC = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique"
_FONT_FILES = {FONT: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf", ITALIC: "DejaVuSans-Oblique.ttf"}
# reportlab's own Bitstream Vera (DejaVu's parent: same metrics, Latin-1 only) if ours is missing
_VERA_FILES = {FONT: "Vera.ttf", BOLD: "VeraBd.ttf", ITALIC: "VeraIt.ttf"}
_log = logging.getLogger(__name__)


def _font_dirs() -> list[Path]:
    """Where resources/fonts may be: $COCM_RESOURCES, a frozen bundle, the package, the checkout;
    then the system's DejaVu (Linux)."""
    found: list[Path] = []
    env = os.environ.get("COCM_RESOURCES")
    if env:
        found.append(Path(env) / "fonts")
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        found.append(Path(meipass) / "resources" / "fonts")
    package = Path(__file__).resolve().parents[1]
    found += [package / "resources" / "fonts", package.parent / "resources" / "fonts"]
    found += [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu")]
    return found


@functools.cache
def register_fonts() -> Path:
    """Register FONT/BOLD/ITALIC with reportlab (once per process); returns the folder used."""
    for folder in _font_dirs():
        if all((folder / f).is_file() for f in _FONT_FILES.values()):
            files = {name: folder / f for name, f in _FONT_FILES.items()}
            break
    else:  # a broken install: print Latin-1 rather than fail the report
        import reportlab

        folder = Path(reportlab.__file__).parent / "fonts"
        files = {name: folder / f for name, f in _VERA_FILES.items()}
        _log.warning("DejaVu Sans not found; PDFs fall back to Bitstream Vera (Latin-1 only)")
    for name, path in files.items():
        pdfmetrics.registerFont(TTFont(name, str(path)))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=ITALIC, boldItalic=BOLD)
    return folder


register_fonts()


@functools.lru_cache(maxsize=4096)
def _has_glyph(ch: str) -> bool:
    return ord(ch) in pdfmetrics.getFont(FONT).face.charToGlyph


def printable(text: str) -> str:
    """`text` with every character the report font cannot draw replaced by its base letter
    (NFKD) or "?"; spaces and line breaks are kept."""
    return text if text.isascii() else _printable(text)


@functools.lru_cache(maxsize=65536)
def _printable(text: str) -> str:
    out = []
    for ch in text:
        if ch in "\n\t" or _has_glyph(ch):
            out.append(ch)
        else:
            base = unicodedata.normalize("NFKD", ch)[:1]
            out.append(base if base and _has_glyph(base) else "?")
    return "".join(out)


@dataclass(frozen=True)
class ReportMeta:
    """What the page template prints: `title` top left of every page after the first; the footer
    line is "clinic · period · Generated <at> by <by> · Page x of y"."""

    title: str
    clinic: str
    period: str
    generated_at: datetime
    generated_by: str
    subtitle: str | None = None
    confidential: str = "Contains protected health information. Handle and dispose of securely."


def styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles by name: title, subtitle, h1, h2, body, small, muted, cell, cell_bold,
    cell_right, cell_small, header_cell, tile_value, tile_label."""
    base = getSampleStyleSheet()["Normal"]

    def s(name: str, **kw: Any) -> ParagraphStyle:
        opts: dict[str, Any] = {"fontName": FONT, "fontSize": 9, "leading": 11.5, "textColor": INK}
        opts.update(kw)
        return ParagraphStyle(name, parent=base, **opts)

    return {
        "title": s("title", fontName=BOLD, fontSize=18, leading=22, textColor=ACCENT),
        "subtitle": s("subtitle", fontSize=10, leading=13, textColor=MUTED),
        "h1": s(
            "h1",
            fontName=BOLD,
            fontSize=13,
            leading=16,
            textColor=ACCENT,
            spaceBefore=10,
            spaceAfter=5,
        ),
        "h2": s("h2", fontName=BOLD, fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=3),
        "body": s("body"),
        "small": s("small", fontSize=7.5, leading=9.5),
        "muted": s("muted", fontSize=8, leading=10, textColor=MUTED),
        "cell": s("cell", fontSize=7.5, leading=9.2),
        "cell_bold": s("cell_bold", fontName=BOLD, fontSize=7.5, leading=9.2),
        "cell_right": s("cell_right", fontSize=7.5, leading=9.2, alignment=TA_RIGHT),
        "cell_small": s("cell_small", fontSize=6.8, leading=8.4),
        "header_cell": s("header_cell", fontName=BOLD, fontSize=7.5, leading=9, textColor=colors.white),
        "header_cell_right": s(
            "header_cell_right",
            fontName=BOLD,
            fontSize=7.5,
            leading=9,
            textColor=colors.white,
            alignment=TA_RIGHT,
        ),
        "tile_value": s("tile_value", fontName=BOLD, fontSize=16, leading=19, textColor=ACCENT),
        "tile_label": s("tile_label", fontSize=7.5, leading=9, textColor=MUTED),
    }


def para(text: object, style: ParagraphStyle, *, markup: bool = False) -> Paragraph:
    """A paragraph; `text` is escaped unless `markup=True` (then it is trusted reportlab markup)."""
    raw = "" if text is None else printable(str(text))
    return Paragraph(raw if markup else escape(raw).replace("\n", "<br/>"), style)


def heading(text: str, st: dict[str, ParagraphStyle]) -> Paragraph:
    return para(text, st["h1"])


def subheading(text: str, st: dict[str, ParagraphStyle]) -> Paragraph:
    return para(text, st["h2"])


def badge(label: str, kind: str, st: dict[str, ParagraphStyle]) -> Paragraph:
    """A coloured status word for a table cell: kind is ok | warn | block | muted."""
    color = {"ok": OK, "warn": WARN, "block": BLOCK}.get(kind, MUTED)
    return para(f'<font color="{color.hexval()}"><b>{escape(label)}</b></font>', st["cell"], markup=True)


def title_block(meta: ReportMeta, st: dict[str, ParagraphStyle]) -> Flowable:
    """The first page's heading: title, clinic and period, generated at/by."""
    lines = [para(meta.title, st["title"]), para(f"{meta.clinic}  ·  {meta.period}", st["subtitle"])]
    if meta.subtitle:
        lines.append(para(meta.subtitle, st["subtitle"]))
    lines.append(para(f"Generated {meta.generated_at:%Y-%m-%d %H:%M} by {meta.generated_by}", st["muted"]))
    lines.append(Spacer(1, 6))
    return KeepTogether(lines)


def summary_tiles(
    items: Sequence[tuple[str, str, str | None]], st: dict[str, ParagraphStyle], width: float
) -> Table:
    """A row of figure tiles: (value, label, kind) with kind ok|warn|block|None for the value colour."""
    cells = []
    for value, label, kind in items:
        color = {"ok": OK, "warn": WARN, "block": BLOCK}.get(kind or "", ACCENT)
        cells.append(
            [
                para(f'<font color="{color.hexval()}">{escape(value)}</font>', st["tile_value"], markup=True),
                para(label, st["tile_label"]),
            ]
        )
    w = width / max(1, len(items))
    t = Table([cells], colWidths=[w] * len(items))
    t.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),  # the cells' default (Helvetica otherwise)
                ("BOX", (0, 0), (-1, -1), 0.6, RULE),
                ("LINEAFTER", (0, 0), (-2, -1), 0.6, RULE),
                ("BACKGROUND", (0, 0), (-1, -1), ZEBRA),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return t


def key_value_table(
    pairs: Sequence[tuple[str, str]], st: dict[str, ParagraphStyle], widths: tuple[float, float] = (110, 300)
) -> Table:
    t = Table(
        [[para(k, st["muted"]), para(v, st["body"])] for k, v in pairs], colWidths=list(widths), hAlign="LEFT"
    )
    t.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return t


def data_table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    col_widths: Sequence[float],
    st: dict[str, ParagraphStyle],
    *,
    right_cols: Sequence[int] = (),
    zebra: bool = True,
    row_backgrounds: dict[int, colors.Color] | None = None,
    total_rows: int = 0,
    extra_style: Sequence[tuple] = (),  # type: ignore[type-arg]
) -> Table:
    """A report table: dark header row repeated on every page, zebra striping, thin rules.

    Cells may be strings (wrapped in cell paragraphs, right-aligned for `right_cols`) or ready
    flowables (e.g. `badge`). `row_backgrounds` colours given data rows (0-based, e.g. blocked
    rows); the last `total_rows` rows are drawn bold on a ruled band.
    """
    right = set(right_cols)
    head = [para(h, st["header_cell_right" if i in right else "header_cell"]) for i, h in enumerate(header)]
    body = []
    for r in rows:
        body.append(
            [
                c if isinstance(c, Flowable) else para(c, st["cell_right" if i in right else "cell"])
                for i, c in enumerate(r)
            ]
        )
    t = Table([head, *body], colWidths=list(col_widths), repeatRows=1, hAlign="LEFT")
    style: list[tuple] = [  # type: ignore[type-arg]
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
        ("BOX", (0, 0), (-1, -1), 0.5, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    n_data = len(body) - total_rows
    if zebra:
        for i in range(n_data):
            if i % 2 == 1:
                style.append(("BACKGROUND", (0, i + 1), (-1, i + 1), ZEBRA))
    for i, bg in (row_backgrounds or {}).items():
        style.append(("BACKGROUND", (0, i + 1), (-1, i + 1), bg))
    if total_rows:
        style += [
            ("LINEABOVE", (0, n_data + 1), (-1, n_data + 1), 0.9, INK),
            ("BACKGROUND", (0, n_data + 1), (-1, -1), colors.HexColor("#e8edf2")),
        ]
    style.extend(extra_style)
    t.setStyle(TableStyle(style))
    return t


def _numbered_canvas(meta: ReportMeta) -> Callable[..., rl_canvas.Canvas]:
    """A canvas that remembers every page and, on save, draws header and footer with "of y"."""

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab API)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for n, state in enumerate(self._pages):
                self._pages[n] = {}  # the page's code is in the PDF now: let it go
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            w, h = self._pagesize
            page = self._pageNumber
            self.saveState()
            self.setStrokeColor(RULE)
            self.setLineWidth(0.6)
            # footer: a rule, then clinic · period · generated · page x of y
            y = MARGIN - FOOTER_GAP + 10
            self.line(MARGIN, y + 9, w - MARGIN, y + 9)
            self.setFont(FONT, 7.5)
            self.setFillColor(MUTED)
            left = (
                f"{meta.clinic}  ·  {meta.period}  ·  Generated {meta.generated_at:%Y-%m-%d %H:%M} "
                f"by {meta.generated_by}"
            )
            self.drawString(MARGIN, y, left)
            self.drawRightString(w - MARGIN, y, f"Page {page} of {total}")
            self.setFont(ITALIC, 6.5)
            self.drawString(MARGIN, y - 9, meta.confidential)
            if page > 1:  # running head
                self.setFont(BOLD, 8)
                self.setFillColor(ACCENT)
                self.drawString(MARGIN, h - MARGIN + 12, meta.title)
                self.setFont(FONT, 8)
                self.setFillColor(MUTED)
                self.drawRightString(w - MARGIN, h - MARGIN + 12, f"{meta.clinic}  ·  {meta.period}")
                self.line(MARGIN, h - MARGIN + 8, w - MARGIN, h - MARGIN + 8)
            self.restoreState()

    return NumberedCanvas


def build_pdf(
    story: list[Flowable], meta: ReportMeta, *, pagesize: tuple[float, float] = landscape(letter)
) -> bytes:
    """Lay out `story` on pages with the shared header/footer; returns the PDF bytes."""
    buf = BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=pagesize,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + 6,
        bottomMargin=MARGIN + 10,
        title=f"{meta.title} - {meta.period}",
        author=meta.clinic,
        subject=meta.title,
        creator="CoCM Desktop",
        invariant=True,
        initialFontName=FONT,  # else reportlab puts an unused Helvetica in every PDF
    )
    frame = Frame(
        doc.leftMargin,
        doc.bottomMargin,
        doc.width,
        doc.height,
        id="body",
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    doc.build(story, canvasmaker=_numbered_canvas(meta))
    return buf.getvalue()


def content_width(pagesize: tuple[float, float] = landscape(letter)) -> float:
    """Usable width between the margins (for column widths)."""
    return pagesize[0] - 2 * MARGIN
