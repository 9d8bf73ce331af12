"""The printed case-review packet (reportlab, built in memory): `build_case_review_packet(packet) -> bytes`.

Pure rendering: takes services.case_review_packet_model.CaseReviewPacket and touches no database.

Layout (US Letter): a cover (session, consultant, care managers, agenda counts by group, caseload
per care manager, the agenda at a glance), then one section per agenda patient, each starting on a
new page: header, the care manager's question, outcomes (score table, item answers of the newest
measure, trend chart), safety, medications, contacts and skills, care plan, referrals, earlier
recommendations and their loop, and a ruled block for the consultant's handwritten recommendation.
Every page: a running header naming the patient (loose pages find their way back) and a footer
with clinic, session date, "Confidential — contains PHI" and page x of y.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from cocm_desktop.domain.instruments import (
    COPYRIGHT_NOTICE,
    DIFFICULTY_OPTIONS,
    ITEM_LABELS,
    PHQ9,
    SAFETY_ITEM,
)
from cocm_desktop.reports import charts
from cocm_desktop.reports import pdf_common as pc

if TYPE_CHECKING:  # the read model lives in services; rendering only reads attributes
    from cocm_desktop.services.case_review_packet_model import CaseReviewPacket, PacketPatient, ScaleSummary

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

_PUNCT = str.maketrans({
    "\u2212": "\u2013",  # minus → en dash (Helvetica has no minus sign glyph)
    "\u2264": "<=", "\u2265": ">=", "\u2192": "\u00bb", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
})


def t(value: object) -> str:
    """Text for a Paragraph: plain punctuation, XML-escaped; a character the font lacks becomes
    its base letter (pdf_common.printable)."""
    if value is None:
        return ""
    return escape(pc.printable(str(value).translate(_PUNCT)))


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


# ---------------------------------------------------------------------------------------------
# Document: running header, footer, page x of y


class _NumberedCanvas(Canvas):
    """Defers each page until the end so the footer can say "page x of y"."""

    def __init__(self, *args: Any, footer: Callable[[Canvas, int, int], None] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._pages: list[dict[str, Any]] = []
        self._footer = footer

    def showPage(self) -> None:  # noqa: N802 - reportlab API
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        refs: list[tuple[int, float, float, object]] = getattr(self, "_cr_refs", [])
        targets: dict[object, int] = getattr(self, "_cr_targets", {})
        for n, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            if self._footer is not None:
                self._footer(self, n, total)
            for page, x, y, key in refs:  # "page N" cross-references, known only now
                if page == n and key in targets:
                    self.setFont(FONT, 7.8)
                    self.setFillColor(INK)
                    self.drawRightString(x, y, str(targets[key]))
            super().showPage()
        super().save()


class Marker(Flowable):
    """Zero-size flowable: names who the following pages are about (running header) and records
    the page it lands on under `key` (for PageRef)."""

    def __init__(self, label: str | None, key: object = None) -> None:
        super().__init__()
        self.label = label
        self.key = key
        self.width = self.height = 0

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        canv = self.canv
        canv._cr_running = self.label  # type: ignore[attr-defined]
        if self.key is not None:
            if not hasattr(canv, "_cr_targets"):
                canv._cr_targets = {}  # type: ignore[attr-defined]
            canv._cr_targets[self.key] = canv.getPageNumber()  # type: ignore[attr-defined]


class PageRef(Flowable):
    """The page a Marker with the same key lands on, written when the document is saved (one pass)."""

    def __init__(self, key: object, width: float = 24) -> None:
        super().__init__()
        self.key = key
        self.width, self.height = width, 8

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canv = self.canv
        x, y = canv.absolutePosition(self.width, 1)
        if not hasattr(canv, "_cr_refs"):
            canv._cr_refs = []  # type: ignore[attr-defined]
        canv._cr_refs.append((canv.getPageNumber(), x, y, self.key))  # type: ignore[attr-defined]


def build_document(
    story: list[Flowable],
    *,
    title: str,
    footer_left: str,
    author: str = "CoCM Desktop",
    subject: str = "",
    header_right: str | None = None,
    running: str | None = None,
) -> bytes:
    """Render a story on Letter pages with the house header/footer; returns the PDF bytes."""
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf, pagesize=PAGE, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM, title=title, author=author, subject=subject, creator="CoCM Desktop",
    )
    frame = Frame(MARGIN_X, MARGIN_BOTTOM, WIDTH, PAGE[1] - MARGIN_TOP - MARGIN_BOTTOM, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)

    def on_page_end(canv: Canvas, _doc: BaseDocTemplate) -> None:
        label = getattr(canv, "_cr_running", None) or running
        canv.saveState()
        y = PAGE[1] - MARGIN_TOP + 16
        if label and (canv.getPageNumber() > 1 or getattr(canv, "_cr_running", None)):
            canv.setFont(FONT, 7.2)
            canv.setFillColor(MUTED)
            canv.drawString(MARGIN_X, y, header_right or title)
            canv.setFont(BOLD, 7.6)
            canv.setFillColor(INK)
            canv.drawRightString(PAGE[0] - MARGIN_X, y, t_plain(label))
            canv.setStrokeColor(RULE)
            canv.setLineWidth(0.5)
            canv.line(MARGIN_X, y - 4, PAGE[0] - MARGIN_X, y - 4)
        canv.restoreState()

    def footer(canv: Canvas, n: int, total: int) -> None:
        canv.saveState()
        y = MARGIN_BOTTOM - 28
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.5)
        canv.line(MARGIN_X, y + 10, PAGE[0] - MARGIN_X, y + 10)
        canv.setFont(FONT, 7.2)
        canv.setFillColor(MUTED)
        canv.drawString(MARGIN_X, y, t_plain(footer_left))
        canv.setFont(BOLD, 7.2)
        canv.setFillColor(INK)
        canv.drawCentredString(PAGE[0] / 2 + 40, y, PHI_NOTICE)
        canv.setFont(FONT, 7.2)
        canv.drawRightString(PAGE[0] - MARGIN_X, y, f"Page {n} of {total}")
        canv.restoreState()

    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPageEnd=on_page_end)])
    doc.build(story, canvasmaker=lambda *a, **kw: _NumberedCanvas(*a, footer=footer, **kw))
    return buf.getvalue()


def t_plain(value: object) -> str:
    """Text for canvas.drawString (no XML escaping)."""
    from xml.sax.saxutils import unescape

    return unescape(t(value))


# ---------------------------------------------------------------------------------------------
# Building blocks


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


class HandwritingBlock(Flowable):
    """The consultant's recommendation, by hand: labelled fields with ruled lines, signature, date."""

    FIELDS: tuple[tuple[str, int], ...] = (
        ("Diagnosis", 1), ("Medication", 3), ("Psychotherapy", 2), ("Referral", 1), ("Safety", 1),
        ("Follow-up", 1),
    )
    LINE = 18.0
    LABEL_W = 78.0

    def __init__(self, width: float = WIDTH) -> None:
        super().__init__()
        self.width = width
        lines = sum(n for _, n in self.FIELDS)
        self.height = 22 + lines * self.LINE + 3 * len(self.FIELDS) + 26 + 22

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        w, h = self.width, self.height
        c.saveState()
        c.setStrokeColor(ACCENT)
        c.setLineWidth(1.1)
        c.roundRect(0, 0, w, h, 3, stroke=1, fill=0)
        c.setFillColor(ACCENT)
        c.rect(0, h - 18, w, 18, stroke=0, fill=1)
        c.setFillColor(colors.white)
        c.setFont(BOLD, 9)
        c.drawString(8, h - 12.5, "CONSULTANT'S RECOMMENDATION")
        c.setFont(FONT, 7.2)
        c.drawRightString(w - 8, h - 12.5, "to be entered in CoCM Desktop after the review")
        y = h - 18 - 6
        c.setStrokeColor(colors.HexColor("#9AA3AD"))
        c.setLineWidth(0.5)
        for label, n in self.FIELDS:
            c.setFillColor(INK)
            c.setFont(BOLD, 8.2)
            c.drawString(8, y - self.LINE + 5, label)
            for i in range(n):
                yy = y - self.LINE * (i + 1)
                c.line(self.LABEL_W, yy + 2, w - 8, yy + 2)
            if label == "Follow-up":
                c.setFont(FONT, 7.6)
                c.setFillColor(MUTED)
                x = w - 8 - 262
                c.setFillColor(colors.white)
                c.rect(x - 4, y - self.LINE + 1, 268, 12, stroke=0, fill=1)
                c.setFillColor(INK)
                c.drawString(x, y - self.LINE + 4.5, "Review again in")
                x += 58
                for opt in ("2 wk", "4 wk", "8 wk", "when needed"):
                    c.rect(x, y - self.LINE + 3.5, 6.5, 6.5, stroke=1, fill=0)
                    c.drawString(x + 9, y - self.LINE + 4.5, opt)
                    x += 22 + c.stringWidth(opt, FONT, 7.6)
            y -= self.LINE * n + 3
        # loop hint + signature and date
        c.setFont(FONT, 7.2)
        c.setFillColor(MUTED)
        y -= 8
        c.drawString(8, y, "Kind:")
        x = 32
        for opt in ("start", "change", "stop medication", "psychotherapy", "referral", "diagnosis clarification",
                    "continue"):
            c.rect(x, y - 1, 6, 6, stroke=1, fill=0)
            c.drawString(x + 8.5, y, opt)
            x += 17 + c.stringWidth(opt, FONT, 7.2)
        y -= 24
        c.setFillColor(INK)
        c.setFont(BOLD, 8.2)
        c.drawString(8, y + 3, "Signature")
        c.line(self.LABEL_W, y + 2, w * 0.62, y + 2)
        c.drawString(w * 0.62 + 12, y + 3, "Date")
        c.line(w * 0.62 + 40, y + 2, w - 8, y + 2)
        c.restoreState()


class QuestionBox(Flowable):
    """The care manager's question: the first thing the consultant reads for this patient."""

    def __init__(self, heading: str, paragraphs: list[tuple[str, str]], width: float = WIDTH,
                 bar: colors.Color = QUESTION_BAR, fill: colors.Color = QUESTION_BG) -> None:
        super().__init__()
        self.width = width
        self.heading = heading
        self.bar, self.fill = bar, fill
        self.paras = [Paragraph(txt, S[style]) for txt, style in paragraphs]
        self._h = 0.0

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        inner = self.width - 22
        h = 16.0
        for p in self.paras:
            _w, ph = p.wrap(inner, ah)
            h += ph + 3
        self._h = h + 6
        return self.width, self._h

    def draw(self) -> None:
        c = self.canv
        c.saveState()
        c.setFillColor(self.fill)
        c.rect(0, 0, self.width, self._h, stroke=0, fill=1)
        c.setFillColor(self.bar)
        c.rect(0, 0, 4, self._h, stroke=0, fill=1)
        c.setFont(BOLD, 7.4)
        c.drawString(14, self._h - 12, self.heading.upper())
        y = self._h - 16
        for p in self.paras:
            _w, ph = p.wrap(self.width - 22, 1e6)
            y -= ph
            p.drawOn(c, 14, y)
            y -= 3
        c.restoreState()


class ItemDots(Flowable):
    """0–3 answer as four small boxes, filled up to the score (reads on grey paper)."""

    def __init__(self, value: int, alert: bool = False) -> None:
        super().__init__()
        self.value, self.alert = value, alert
        self.width, self.height = 34, 7

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        colour = ALERT if self.alert else ACCENT
        c.setStrokeColor(colour)
        c.setLineWidth(0.6)
        for i in range(3):
            c.setFillColor(colour if i < self.value else colors.white)
            c.rect(i * 8.5, 0.5, 6.5, 6.5, stroke=1, fill=1)


# ---------------------------------------------------------------------------------------------
# Cover


def _cover(packet: CaseReviewPacket) -> list[Flowable]:
    year = packet.session_on.year
    story: list[Flowable] = [Marker(None)]
    story.append(P("PSYCHIATRIC CASE REVIEW \u00b7 PACKET", "cover_kicker"))
    story.append(Spacer(1, 6))
    story.append(P(t(packet.clinic), "cover_title"))
    story.append(Spacer(1, 4))
    state = "held" if packet.held else "scheduled"
    story.append(P(f"Case review of {t(d_long(packet.session_on))} <font color='#5F6368'>({state})</font>",
                   "cover_sub"))
    story.append(Spacer(1, 14))

    def kv(k: str, v: str) -> list[Paragraph]:
        return [P(t(k), "kv_k"), P(v, "kv_v")]

    agenda_note = "prepared agenda" if packet.agenda_saved else (
        "automatic agenda \u2014 not yet prepared in the app")
    facts = [
        kv("Psychiatric consultant", t(packet.consultant)),
        kv("Care managers", t(", ".join(packet.care_managers)) or "\u2014"),
        kv("Attendees", t(packet.attendees or "\u2014")),
        kv("Figures as of", f"{t(d_short(packet.as_of))} <font name='{FONT}' color='#5F6368'>"
                            f"(printed {packet.generated_at:%d %b %Y %H:%M} by {t(packet.generated_by)})</font>"),
        kv("Agenda", f"{sum(g.count for g in packet.group_counts)} patients <font name='{FONT}' "
                     f"color='#5F6368'>({t(agenda_note)})</font>"),
    ]
    kv_table = Table(facts, colWidths=[120, WIDTH - 120], hAlign="LEFT")
    kv_table.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                                  ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [kv_table, Spacer(1, 16)]

    # agenda counts by group: tiles
    tiles = []
    for g in packet.group_counts:
        tiles.append([P(f"{g.count}", "tile_n" if g.count else "tile_0"), P(t(g.label), "small")])
    tile_w = WIDTH / len(tiles)
    tile_rows = [[Table([[x[0]], [x[1]]], colWidths=[tile_w - 10]) for x in tiles]]
    tt = Table(tile_rows, colWidths=[tile_w] * len(tiles))
    tt.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.6, RULE), ("INNERGRID", (0, 0), (-1, -1), 0.6, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6), ("LEFTPADDING", (0, 0), (-1, -1), 6),
    ]))
    story += [P("AGENDA BY GROUP", "h_section"), Spacer(1, 4), tt, Spacer(1, 16)]

    # caseload per care manager
    rows = [[P(t(x), "th") for x in ("Care manager", "Open episodes", "On this agenda", "Not improving",
                                      "Safety flag", "Contact overdue", "Measure due", "At target*")]]
    tot = [0] * 8
    for r in packet.caseload:
        vals = [r.open_episodes, r.on_agenda, r.not_improving, r.safety, r.contact_overdue, r.measure_due]
        target = f"{r.responding}/{r.with_follow_up}" + (
            f" ({100 * r.responding / r.with_follow_up:.0f}%)" if r.with_follow_up else "")
        rows.append([P(t(r.care_manager), "cell_b")] + [P(str(v), "cell_r") for v in vals] + [P(target, "cell_r")])
        for i, v in enumerate(vals):
            tot[i] += v
        tot[6] += r.responding
        tot[7] += r.with_follow_up
    if len(packet.caseload) > 1:
        target = f"{tot[6]}/{tot[7]}" + (f" ({100 * tot[6] / tot[7]:.0f}%)" if tot[7] else "")
        rows.append([P("All", "cell_b")] + [P(f"<b>{v}</b>", "cell_r") for v in tot[:6]] + [P(f"<b>{target}</b>",
                                                                                            "cell_r")])
    widths = [128] + [(WIDTH - 128 - 76) / 6] * 6 + [76]
    extra = [("LINEABOVE", (0, -1), (-1, -1), 0.8, MUTED)] if len(packet.caseload) > 1 else []
    story += [KeepTogether([
        P("CASELOAD", "h_section"), Spacer(1, 4), grid(rows, widths, zebra=False, extra=extra), Spacer(1, 3),
        P("* Response (\u2265 50 % reduction from baseline) or remission on the primary scale, among open "
          "episodes with a follow-up score. Counts are of open episodes as of the date above.".translate(_PUNCT),
          "muted"),
    ]), Spacer(1, 16)]

    # agenda at a glance
    story.append(P("AGENDA AT A GLANCE", "h_section"))
    story.append(Spacer(1, 4))
    head = th("#", "Patient", "MRN", "Age", "Wk", "Scale", "Baseline \u2192 last".translate(_PUNCT), "Change",
              "Flags", "Page")
    widths = [16, 112, 52, 24, 22, 34, 70, 38, 126, 32]
    by_group: dict[str, list[PacketPatient]] = {}
    for p in packet.patients:
        by_group.setdefault(p.group, []).append(p)
    rows = [head]
    extra: list[tuple] = []
    for g in packet.group_counts:
        members = by_group.get(g.group, [])
        if not members:
            continue
        rows.append([P(f"{t(g.label)} ({len(members)})", "group")] + [""] * 9)
        r = len(rows) - 1
        extra += [("SPAN", (0, r), (-1, r)), ("BACKGROUND", (0, r), (-1, r), colors.white),
                  ("TOPPADDING", (0, r), (-1, r), 5), ("LINEBELOW", (0, r), (-1, r), 0.6, ACCENT)]
        for p in members:
            sc = p.primary
            scores = f"{_n(sc.baseline)} \u2192 {_n(sc.last)}".translate(_PUNCT) if sc.baseline is not None else (
                f"\u2014 \u2192 {_n(sc.last)}".translate(_PUNCT) if sc.last is not None else "\u2014")
            flags = ", ".join(label for label, _ in p.flags)
            rows.append([
                str(p.position), c(p.name), c(p.mrn), str(p.age), str(p.weeks), c(p.primary_scale),
                c(scores), c(sc.change_text), P(t(flags), "small"), PageRef(("patient", p.episode_id)),
            ])
    if len(rows) == 1:
        story.append(P("No patients on this agenda.", "muted"))
    else:
        extra += [("ALIGN", (0, 1), (0, -1), "RIGHT"), ("ALIGN", (3, 1), (4, -1), "RIGHT"),
                  ("ALIGN", (7, 1), (7, -1), "RIGHT"), ("FONTNAME", (1, 1), (1, -1), BOLD),
                  ("ALIGN", (9, 0), (9, 0), "RIGHT")]
        story.append(grid(rows, widths, zebra=False, extra=extra))
    del year
    return story


def _n(v: int | None) -> str:
    return "\u2014" if v is None else str(v)


# ---------------------------------------------------------------------------------------------
# One patient


def _patient(p: PacketPatient, count: int, year: int, on: date) -> list[Flowable]:
    story: list[Flowable] = [PageBreak(), Marker(f"{p.position}/{count}  {p.name}  \u00b7  MRN {p.mrn}",
                                                 ("patient", p.episode_id))]

    # header: group chips, name, identity line | key facts
    chips = [Chip(f"{p.position}  {p.group_label}", ACCENT)]
    chips += [Chip(r, ACCENT, outline=True) for r in p.reasons if r != p.group_label]
    if p.manual:
        chips.append(Chip("added by care manager", MUTED, outline=True))
    ident = [f"MRN <b>{t(p.mrn)}</b>", f"{p.age} y"] + ([t(p.sex)] if p.sex else []) + [
        f"born {t(d_short(p.date_of_birth))}"]
    left = [chip_row(chips, width=WIDTH * 0.58), Spacer(1, 3), P(t(p.name), "name"), P(" \u00b7 ".join(ident), "sub")]
    program = {"cocm": "CoCM", "bhi": "BHI"}.get(p.program, p.program)
    status = p.status.replace("_", " ")
    kv = [
        ("Clinician", t(p.clinician)), ("Care manager", t(p.care_manager)),
        ("Enrolled", f"{t(d_short(p.enrolled_on))} \u00b7 {program}, {t(status)}"),
        ("In treatment", f"<font size=11>{p.weeks}</font> week{'' if p.weeks == 1 else 's'}"),
        ("Last review", t(d_short(p.last_case_review_on, year)) if p.last_case_review_on else "never"),
    ]
    right = Table([[P(t(k), "kv_k"), P(v, "kv_v")] for k, v in kv], colWidths=[58, WIDTH * 0.42 - 58])
    right.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 0.8), ("BOTTOMPADDING", (0, 0), (-1, -1), 0.8),
                               ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]))
    header = Table([[left, right]], colWidths=[WIDTH * 0.58, WIDTH * 0.42])
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                                ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
    story.append(header)
    story.append(Spacer(1, 6))
    dx = "; ".join(f"<b>{t(code)}</b> {t(desc)}" + (" (primary)" if primary and len(p.diagnoses) > 1 else "")
                   for code, desc, primary in p.diagnoses) or "<i>No target condition recorded</i>"
    story.append(P(f"<font color='#5F6368'>Diagnoses</font>&nbsp;&nbsp;{dx}", "body"))
    if p.flags:
        story.append(Spacer(1, 4))
        story.append(chip_row([Chip(label, ALERT if label == "Safety" else MUTED, outline=label != "Safety")
                               for label, _ in p.flags]))
    story.append(Spacer(1, 6))

    # the question
    if p.questions:
        paras = []
        for q in p.questions:
            paras.append((t(q.text), "question"))
            paras.append((f"\u2014 {t(q.asked_by)}, {t(d_short(q.asked_on, year))}", "question_by"))
        story.append(QuestionBox("Care manager's question" + ("s" if len(p.questions) > 1 else ""), paras))
    else:
        why = [(t(p.reason_text or ", ".join(p.reasons)), "body")]
        why += [(f"<b>{t(label)}:</b> {t(reason)}", "small") for label, reason in p.flags if reason]
        why.append(("No question recorded for the consultant.", "question_by"))
        story.append(QuestionBox("Why on the agenda", why, bar=ACCENT, fill=HEAD_BG))
    story.append(Spacer(1, 10))

    story += _outcomes(p, year, on)
    story += _safety(p, year)
    story += _medications(p, year)
    story += _contacts(p, year)
    story += _plan(p, year)
    story += _referrals(p, year)
    story += _recommendations(p, year)
    story.append(CondPageBreak(HandwritingBlock().height + 6))
    story.append(HandwritingBlock())
    return story


def _scores_table(p: PacketPatient, year: int, width: float, max_rows: int = 9) -> Table:
    by_day: dict[date, dict[str, Any]] = {}
    for sc in (p.phq9, p.gad7):
        for pt in sc.points:
            by_day.setdefault(pt.taken_at.date(), {})[sc.instrument] = pt
    days = sorted(by_day)
    shown = days if len(days) <= max_rows else days[:1] + days[-(max_rows - 1):]
    rows: list[list[Any]] = [th("Date", "Week", "PHQ-9", "Item 9", "GAD-7")]
    extra: list[tuple] = []
    bases = {p.phq9.baseline_on, p.gad7.baseline_on}
    for n, day in enumerate(shown):
        cell = by_day[day]
        phq, gad = cell.get(PHQ9), cell.get("GAD-7")
        label = d_short(day, year) + ("  baseline" if day in bases else "")
        item9 = phq.item9 if phq is not None else None
        rows.append([
            c(label), str(max(0, (day - p.enrolled_on).days // 7)),
            c(f"{phq.total}  {_band(phq.band)}") if phq else "", "" if item9 is None else str(item9),
            c(f"{gad.total}  {_band(gad.band)}") if gad else "",
        ])
        r = len(rows) - 1
        if item9:
            extra += [("TEXTCOLOR", (3, r), (3, r), ALERT), ("FONTNAME", (3, r), (3, r), BOLD)]
        if day in bases:
            extra.append(("TEXTCOLOR", (0, r), (0, r), ACCENT))
        if n == 0 and len(days) > len(shown):
            rows.append([c(f"{len(days) - len(shown)} earlier scores not shown")] + [""] * 4)
            extra += [("SPAN", (0, r + 1), (-1, r + 1)), ("TEXTCOLOR", (0, r + 1), (-1, r + 1), MUTED)]
    if len(rows) == 1:
        rows.append(["No PHQ-9 or GAD-7 since enrollment"] + [""] * 4)
        extra += [("SPAN", (0, 1), (-1, 1)), ("TEXTCOLOR", (0, 1), (-1, 1), MUTED)]
    primary_col = 2 if p.primary_scale == PHQ9 else 4
    extra += [("ALIGN", (1, 0), (1, -1), "RIGHT"), ("ALIGN", (3, 0), (3, -1), "CENTER"),
              ("FONTNAME", (primary_col, 1), (primary_col, -1), BOLD)]
    fixed = [66, 28, 34]
    rest = (width - sum(fixed)) / 2
    return grid(rows, [fixed[0], fixed[1], rest, fixed[2], rest], zebra=False, extra=extra, repeat=False)


def _band(name: str) -> str:
    return "mod. severe" if name == "moderately severe" else name


def _summary_line(sc: ScaleSummary, year: int) -> str:
    if sc.last is None:
        return f"<b>{sc.instrument}</b> <font color='#5F6368'>not measured since enrollment</font>"
    parts = [f"<b>{sc.instrument}</b>"]
    if sc.baseline is not None:
        parts.append(f"baseline <b>{sc.baseline}</b> ({t(d_short(sc.baseline_on, year))})")
    else:
        parts.append("<font color='#5F6368'>no baseline</font>")
    if sc.last_on != sc.baseline_on or sc.baseline is None:
        parts.append(f"last <b>{sc.last}</b> ({t(d_short(sc.last_on, year))}, {t(sc.points[-1].band)})")
    if sc.response is not None:
        status = sc.response + ("; remission" if sc.remission else "")
        parts.append(f"change <b>{t(sc.change_text)}</b> \u2014 {t(status)}")
    if sc.target is not None:
        parts.append(t(_target_text(sc.target)))
    return " \u00b7 ".join(parts)


def _target_text(target: float | None) -> str:
    """Totals are whole numbers: response (50 % of a baseline of 17 = 8.5) means 8 or less."""
    if target is None:
        return ""
    import math

    return f"response at {math.floor(target)} or less"


def _items_table(p: PacketPatient, year: int, width: float) -> list[Flowable]:
    sc = p.primary if p.primary.latest_items is not None else (p.phq9 if p.phq9.latest_items else p.gad7)
    li = sc.latest_items
    if li is None:
        return [P("<i>No item answers recorded.</i>", "muted")]
    labels = ITEM_LABELS.get(li.instrument, ())
    rows = [th(f"{li.instrument} items, {d_short(li.taken_at, year)}", "", "")]
    for i, v in enumerate(li.items):
        label = labels[i] if i < len(labels) else f"item {i + 1}"
        alert = li.instrument == PHQ9 and i + 1 == SAFETY_ITEM and v > 0
        rows.append([c(f"{i + 1}. {label[:1].upper() + label[1:]}"), ItemDots(v, alert), str(v)])
    total = f"Total <b>{li.total}</b> ({t(li.band)})"
    if li.difficulty is not None and 0 <= li.difficulty < len(DIFFICULTY_OPTIONS):
        total += f" \u00b7 difficulty: {t(DIFFICULTY_OPTIONS[li.difficulty].lower())}"
    rows.append([P(total, "small"), "", ""])
    tbl = grid(rows, [width - 34 - 18, 34, 18], zebra=False, repeat=False, extra=[
        ("SPAN", (0, 0), (-1, 0)), ("SPAN", (0, -1), (-1, -1)), ("VALIGN", (1, 1), (1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 1), (-1, -1), 1.2), ("BOTTOMPADDING", (0, 1), (-1, -1), 1.6),
        ("FONTSIZE", (0, 1), (0, -2), 7.4), ("ALIGN", (2, 1), (2, -1), "RIGHT"), ("FONTNAME", (2, 1), (2, -1), BOLD),
    ])
    return [tbl]


def _outcomes(p: PacketPatient, year: int, on: date) -> list[Flowable]:
    lines = [P(_summary_line(p.primary, year), "body")]
    other = p.gad7 if p.primary is p.phq9 else p.phq9
    if other.points:
        lines.append(P(_summary_line(other, year), "body"))
    prim = p.primary
    secondary = other if other.points else None
    start = min([p.enrolled_on] + [pt.taken_at.date() for sc in (p.phq9, p.gad7) for pt in sc.points])
    from datetime import timedelta

    end = max([on, *(pt.taken_at.date() for sc in (p.phq9, p.gad7) for pt in sc.points)])
    chart = charts.trend_chart(
        charts.TrendSeries(prim.instrument, [charts.TrendPoint(x.taken_at.date(), x.total, bool(x.item9))
                                             for x in prim.points], prim.max_total),
        prim.bands, start=start - timedelta(days=3), end=end + timedelta(days=5),
        secondary=None if secondary is None else charts.TrendSeries(
            secondary.instrument, [charts.TrendPoint(x.taken_at.date(), x.total) for x in secondary.points],
            secondary.max_total),
        target=prim.target, target_label=_target_text(prim.target), enrolled_on=p.enrolled_on, width=WIDTH,
        height=128,
    )
    left_w = WIDTH * 0.54
    scores = _scores_table(p, year, left_w - 8)
    items = _items_table(p, year, WIDTH - left_w)
    side = Table([[scores, items]], colWidths=[left_w, WIDTH - left_w])
    side.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("RIGHTPADDING", (0, 0), (0, 0), 8), ("RIGHTPADDING", (1, 0), (1, 0), 0),
                              ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
    legend = ("Shaded bands: severity of the primary scale. Dashed green line: response target (50 % of "
              "baseline). Diamond: PHQ-9 item 9 above 0.")
    return section("Outcomes", *lines, Spacer(1, 4), chart, P(t(legend), "notice"), Spacer(1, 6), side,
                   Spacer(1, 2), P(t(COPYRIGHT_NOTICE), "notice"))


def _safety(p: PacketPatient, year: int) -> list[Flowable]:
    body: list[Flowable] = []
    positives = [(d, v) for d, v in p.item9_history if v]
    if not p.item9_history:
        body.append(P("No PHQ-9 item 9 answer since enrollment.", "body"))
    else:
        hist = "" if not positives else " \u00b7 ".join(
            (f"<font color='#A31515'><b>{t(d_short(d, year))}: {v}</b></font>" if v else f"{t(d_short(d, year))}: 0")
            for d, v in p.item9_history[-10:])
        more = f" <font color='#5F6368'>(+{len(p.item9_history) - 10} earlier)</font>" if len(
            p.item9_history) > 10 else ""
        first, last = p.item9_history[0][0], p.item9_history[-1][0]
        span = t(d_short(first, year)) if first == last else f"{t(d_short(first, year))} \u2013 {t(d_short(last, year))}"
        if positives:
            body.append(P(f"<font color='#A31515'><b>Item 9 above 0 on {len(positives)} of {len(p.item9_history)} "
                          f"PHQ-9s.</b></font> <font color='#5F6368'>History:</font> {hist}{more}", "body"))
        else:
            n9 = len(p.item9_history)
            body.append(P(f"Item 9 (self-harm thoughts) was 0 on {'the' if n9 == 1 else 'all'} {n9} PHQ-9"
                          f"{'' if n9 == 1 else 's'} since enrollment ({span}).", "body"))
    if p.risks:
        rows = [th("Opened", "Trigger", "Assessment", "Clinician told", "After-hours", "Safety plan", "Outcome")]
        for r in p.risks:
            def yn(v: bool) -> str:
                return "yes" if v else "NO"
            outcome = t(r.outcome) + (f" <font color='#5F6368'>({t(d_short(r.outcome_at, year))})</font>"
                                      if r.outcome_at else "") if r.outcome else \
                "<font color='#A31515'><b>OPEN \u2014 no outcome documented</b></font>"
            rows.append([c(d_short(r.opened_at, year)), c(r.trigger.replace("_", " ")),
                         yn(r.safety_assessment_done), yn(r.clinician_notified),
                         "used" if r.after_hours_routing_used else "not used", yn(r.safety_plan_done),
                         P(outcome, "cell")])
        extra = [("TEXTCOLOR", (col, i), (col, i), ALERT) for i, row in enumerate(rows) for col in (2, 3, 5)
                 if i and row[col] == "NO"]
        body += [Spacer(1, 3), grid(rows, [48, 54, 50, 54, 48, 50, WIDTH - 304], zebra=False, extra=extra)]
    else:
        body.append(P("No risk events in this episode.", "muted"))
    if p.safety_steps:
        body.append(P(f"<font color='#5F6368'>Safety steps in the care plan:</font> {t(p.safety_steps)}", "body"))
    elif positives or any(r.is_open for r in p.risks):
        body.append(P("<font color='#A31515'><b>No safety steps in the care plan.</b></font>", "body"))
    return section("Safety", *body)


def _medications(p: PacketPatient, year: int) -> list[Flowable]:
    body: list[Flowable] = []
    if p.medications:
        rows = [th("Medication", "Dose", "Started", "Note")]
        for m in p.medications:
            started = d_short(m.started_on, year) if m.started_on else "\u2014"
            rows.append([c(m.name), c(m.dose), c(started), P(t(m.note), "cell") if m.note else ""])
        body.append(grid(rows, [130, 120, 70, WIDTH - 320], zebra=False,
                         extra=[("FONTNAME", (0, 1), (0, -1), BOLD)]))
    else:
        body.append(P("No current medication recorded.", "body"))
    reported = []
    if p.adherence is not None:
        reported.append(f"<font color='#5F6368'>Adherence ({t(d_short(p.adherence.on, year))}):</font> "
                        f"{t(p.adherence.text)}")
    if p.side_effects is not None:
        reported.append(f"<font color='#5F6368'>Side effects ({t(d_short(p.side_effects.on, year))}):</font> "
                        f"{t(p.side_effects.text)}")
    elif p.contact_count:
        reported.append("<font color='#5F6368'>Side effects:</font> none reported")
    if reported:
        body += [Spacer(1, 3), P(" &nbsp;\u00b7&nbsp; ".join(reported), "body")]
    if p.stopped_medications:
        stopped = "; ".join(f"{t(n)} {t(d)}" + (f" (stopped {t(d_short(s, year))})" if s else "")
                            for n, d, s in p.stopped_medications)
        body.append(P(f"<font color='#5F6368'>Stopped:</font> {stopped}", "small"))
    return section("Medications", *body)


_MODES = {"in_person": "in person", "phone": "phone", "video": "video", "portal": "portal"}
_KINDS = {"follow_up": "follow-up", "relapse_prevention": "relapse prevention", "close_out": "close-out",
          "assessment": "assessment", "outreach": "outreach"}


def _contacts(p: PacketPatient, year: int) -> list[Flowable]:
    body: list[Flowable] = []
    if p.skills:
        skills = " \u00b7 ".join(f"<b>{t(s.skill)}</b> \u00d7{s.times} (last {t(d_short(s.last_on, year))})"
                                 for s in p.skills[:5])
        body += [P(f"<font color='#5F6368'>Skills practised:</font> {skills}", "body"), Spacer(1, 3)]
    if p.contacts:
        rows = [th("Date", "Contact", "By", "Summary", "Next step")]
        for ct in p.contacts:
            what = f"{_MODES.get(ct.mode, ct.mode)} {_KINDS.get(ct.kind, ct.kind)}"
            if not ct.reached:
                what += " \u2014 <font color='#A31515'>not reached</font>"
            summary = t(ct.summary or "")
            rows.append([d_short(ct.at, year), P(what, "small"), P(t(ct.staff), "small"), P(summary, "small"),
                         P(f"{t(ct.next_step)} <font color='#5F6368'>({t(d_short(ct.next_step_on, year))})</font>",
                           "small")])
        body.append(grid(rows, [42, 78, 68, WIDTH - 42 - 78 - 68 - 120, 120], zebra=False))
        if p.contact_count > len(p.contacts):
            body.append(P(f"{len(p.contacts)} most recent of {p.contact_count} contacts.", "muted"))
    else:
        body.append(P("No contacts recorded yet.", "body"))
    return section("Contacts", *body, keep=False)


def _plan(p: PacketPatient, year: int) -> list[Flowable]:
    cp = p.care_plan
    rows: list[list[Flowable]] = []
    if p.patient_goals:
        rows.append([P("Patient's goals", "kv_k"), P(f"\u201c{t(p.patient_goals)}\u201d", "body")])
    if cp is not None:
        signed = f"signed off {t(d_short(cp.signed_off_on, year))}" if cp.signed_off_on else \
            "<font color='#A31515'>not signed off</font>"
        rows.append([P("Care plan", "kv_k"), P(f"version {cp.version}, {signed}", "body")])
        rows.append([P("Goals", "kv_k"), P(t(cp.goals), "body")])
        if cp.skill_plan:
            rows.append([P("Skill plan", "kv_k"), P(t(cp.skill_plan), "body")])
        if cp.follow_up_cadence:
            rows.append([P("Follow-up", "kv_k"), P(t(cp.follow_up_cadence), "body")])
    else:
        rows.append([P("Care plan", "kv_k"), P("<font color='#A31515'>No care plan yet.</font>", "body")])
    if p.next_action:
        rows.append([P("Next action", "kv_k"), P(f"{t(p.next_action)} ({t(d_short(p.next_action_on, year))})",
                                                 "body")])
    tbl = Table(rows, colWidths=[78, WIDTH - 78])
    tbl.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 1),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 1), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return section("Care plan", tbl)


def _referrals(p: PacketPatient, year: int) -> list[Flowable]:
    if not p.referrals:
        return [P("<font color='#17365D'><b>REFERRALS</b></font>&nbsp;&nbsp; none", "body"), Spacer(1, 7)]
    rows = [th("Referred", "To", "Reason", "Status")]
    for r in p.referrals:
        status = r.status + (f", seen {d_short(r.seen_on, year)}" if r.seen_on else "")
        status = f"<b>{t(status)}</b>" if r.status in ("sent", "scheduled") else t(status)
        rows.append([c(d_short(r.referred_on, year)), P(t(r.to_whom), "cell_b"), P(t(r.reason), "cell"),
                     P(status, "cell")])
    return section("Referrals", grid(rows, [52, 140, WIDTH - 52 - 140 - 96, 96], zebra=False))


def _recommendations(p: PacketPatient, year: int) -> list[Flowable]:
    if not p.recommendations:
        return [P("<font color='#17365D'><b>EARLIER RECOMMENDATIONS</b></font>&nbsp;&nbsp; none \u2014 first review",
                  "body"), Spacer(1, 7)]
    rows = [th("Review", "Recommendation", "Loop")]
    for r in p.recommendations[:6]:
        what = f"<b>{t(r.kind)}</b>"
        if r.drug:
            what += f": {t(r.drug)}" + (f" {t(r.dose)}" if r.dose else "")
        what += f" \u2014 {t(r.text)}"
        if r.modified_text:
            what += f"<br/><font color='#5F6368'>Modified to:</font> {t(r.modified_text)}"
        if not r.is_open:  # a closed loop needs one line
            how = f" ({t(r.told_how).lower()})" if r.told_how else ""
            loop = [f"Closed \u00b7 told {t(d_short(r.told_on, year))}{how}" if r.told_on else
                    f"Closed \u00b7 decided {t(d_short(r.decided_on, year))}" if r.decided_on else "Closed"]
        else:
            loop = [f"<b>{t(r.state_label)}</b>"]
            if r.decided_on:
                verb = {"declined": "Declined"}.get(r.state, "Decided")
                loop.append(f"{verb} {t(d_short(r.decided_on, year))}" +
                            (f" by {t(r.decided_by)}" if r.decided_by else ""))
                if r.state == "declined" and r.decision_note:
                    loop.append(f"\u201c{t(r.decision_note)}\u201d")
            else:
                loop.append(f"waiting since {t(d_short(r.recommended_on, year))}")
            if r.told_on:
                loop.append(f"Told {t(d_short(r.told_on, year))}" + (f" ({t(r.told_how).lower()})" if r.told_how else ""))
        rows.append([c(d_short(r.session_on or r.recommended_on, year)), P(what, "cell"),
                     P("<br/>".join(loop), "small")])
    extra = [("BACKGROUND", (0, i), (-1, i), QUESTION_BG) for i, r in enumerate(p.recommendations[:6], start=1)
             if r.is_open]
    body: list[Flowable] = [grid(rows, [52, WIDTH - 52 - 130, 130], zebra=False, extra=extra)]
    if len(p.recommendations) > 6:
        body.append(P(f"6 most recent of {len(p.recommendations)} recommendations.", "muted"))
    open_n = sum(1 for r in p.recommendations if r.is_open)
    if open_n:
        body.append(P(f"{open_n} loop{'s' if open_n > 1 else ''} still open (shaded).", "muted"))
    return section("Earlier recommendations", *body)


# ---------------------------------------------------------------------------------------------
# Entry point


def build_case_review_packet(packet: CaseReviewPacket) -> bytes:
    """The packet as PDF bytes (in memory; nothing written to disk). One layout pass."""
    year = packet.session_on.year
    story = _cover(packet)
    for p in packet.patients:
        story += _patient(p, len(packet.patients), year, max(packet.session_on, packet.as_of))
    return build_document(
        story, title=f"Case review packet {packet.session_on.isoformat()}",
        footer_left=f"{packet.clinic} \u00b7 Case review {d_short(packet.session_on)}",
        subject="Psychiatric case review", header_right=f"Case review \u00b7 {d_long(packet.session_on)}",
    )
