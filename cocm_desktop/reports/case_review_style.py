"""The look of the printed case-review packet, also borrowed by the quality report: US Letter page
geometry, the DejaVu type names, colours, paragraph styles, and the text and date helpers every
piece of the packet writes with (`t`, `t_plain`, `P`, `d_long`, `d_short`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph

from cocm_desktop.reports import pdf_common as pc

# ---------------------------------------------------------------------------------------------
# Page, type and colour

PAGE = LETTER
MARGIN_X = 0.6 * inch
MARGIN_TOP = 0.62 * inch
MARGIN_BOTTOM = 0.7 * inch
WIDTH = PAGE[0] - 2 * MARGIN_X

FONT, BOLD, ITALIC = pc.FONT, pc.BOLD, pc.ITALIC  # DejaVu Sans, embedded: names in any script print

INK = colors.HexColor("#1A1A1A")
MUTED = colors.HexColor("#5F6368")
RULE = colors.HexColor("#C9CED4")
HEAD_BG = colors.HexColor("#EEF1F4")
ACCENT = colors.HexColor("#17365D")
ALERT = colors.HexColor("#A31515")
QUESTION_BG = colors.HexColor("#FFF6DA")
QUESTION_BAR = colors.HexColor("#8A6100")

PHI_NOTICE = "Confidential \u2014 contains PHI"


def _style(name: str, **kw: Any) -> ParagraphStyle:
    base = {"fontName": FONT, "fontSize": 8.6, "leading": 11.2, "textColor": INK}
    base.update(kw)
    return ParagraphStyle(name, **base)


S = {
    "body": _style("body"),
    "small": _style("small", fontSize=7.6, leading=9.6),
    "muted": _style("muted", fontSize=7.6, leading=9.6, textColor=MUTED),
    "cell": _style("cell", fontSize=7.8, leading=9.6),
    "cell_b": _style("cell_b", fontName=BOLD, fontSize=7.8, leading=9.6),
    "cell_r": _style("cell_r", fontSize=7.8, leading=9.6, alignment=TA_RIGHT),
    "th": _style("th", fontName=BOLD, fontSize=7.2, leading=9, textColor=MUTED),
    "h_section": _style("h_section", fontName=BOLD, fontSize=8.2, leading=10, textColor=ACCENT, spaceBefore=0),
    "name": _style("name", fontName=BOLD, fontSize=16, leading=19),
    "sub": _style("sub", fontSize=8.6, leading=11, textColor=MUTED),
    "kv_k": _style("kv_k", fontSize=7.4, leading=9.6, textColor=MUTED),
    "kv_v": _style("kv_v", fontName=BOLD, fontSize=8.4, leading=10.4),
    "question": _style("question", fontName=BOLD, fontSize=10.5, leading=13.6),
    "question_by": _style("question_by", fontSize=7.6, leading=9.6, textColor=MUTED),
    "cover_kicker": _style("cover_kicker", fontName=BOLD, fontSize=9, leading=11, textColor=ACCENT),
    "cover_title": _style("cover_title", fontName=BOLD, fontSize=24, leading=28),
    "cover_sub": _style("cover_sub", fontSize=12.5, leading=16, textColor=INK),
    "h2": _style("h2", fontName=BOLD, fontSize=11, leading=14, textColor=ACCENT),
    "group": _style("group", fontName=BOLD, fontSize=8.4, leading=10.5, textColor=ACCENT),
    "notice": _style("notice", fontSize=6.2, leading=7.6, textColor=MUTED),
    "tile_n": _style("tile_n", fontName=BOLD, fontSize=22, leading=25, textColor=ACCENT),
    "tile_line": _style("tile_line", fontSize=9, leading=21),
    "tile_0": _style("tile_0", fontName=BOLD, fontSize=22, leading=25, textColor=RULE),
}

PLAIN_PUNCT = str.maketrans({
    "\u2212": "\u2013",  # minus → en dash (Helvetica has no minus sign glyph)
    "\u2264": "<=", "\u2265": ">=", "\u2192": "\u00bb", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
})


def t(value: object) -> str:
    """Text for a Paragraph: plain punctuation, XML-escaped; a character the font lacks becomes
    its base letter (pdf_common.printable)."""
    if value is None:
        return ""
    return escape(pc.printable(str(value).translate(PLAIN_PUNCT)))


def P(text: str, style: str = "body") -> Paragraph:  # noqa: N802 - reads like the flowable
    return Paragraph(text, S[style])


def d_long(d: date) -> str:
    return f"{d.strftime('%A')}, {d.day} {d.strftime('%B %Y')}"


def d_short(d: date | datetime | None, ref_year: int | None = None) -> str:
    """16 Nov (same year as the session) or 16 Nov 2025."""
    if d is None:
        return "\u2014"
    if isinstance(d, datetime):
        d = d.date()
    if ref_year is not None and d.year == ref_year:
        return f"{d.day} {d.strftime('%b')}"
    return f"{d.day} {d.strftime('%b %Y')}"


def t_plain(value: object) -> str:
    """Text for canvas.drawString (no XML escaping)."""
    from xml.sax.saxutils import unescape

    return unescape(t(value))
