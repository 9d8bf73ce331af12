"""Drawn flowables of a patient's pages: the care manager's question box, the 0\u20133 item answer
dots and the ruled block for the consultant's handwritten recommendation."""

from __future__ import annotations

from reportlab.lib import colors
from reportlab.platypus import Flowable, Paragraph

from cocm_desktop.reports.case_review_style import (
    ACCENT,
    ALERT,
    BOLD,
    FONT,
    INK,
    MUTED,
    QUESTION_BAR,
    QUESTION_BG,
    WIDTH,
    S,
)


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
        # writing lines start after the widest label, measured ("Psychotherapy" ran into its line)
        start = max(self.LABEL_W, 8 + max(c.stringWidth(label, BOLD, 8.2) for label, _ in self.FIELDS) + 6)
        for label, n in self.FIELDS:
            c.setFillColor(INK)
            c.setFont(BOLD, 8.2)
            c.drawString(8, y - self.LINE + 5, label)
            for i in range(n):
                yy = y - self.LINE * (i + 1)
                c.line(start, yy + 2, w - 8, yy + 2)
            if label == "Follow-up":
                c.setFont(FONT, 7.6)
                x = w - 8 - 262
                c.setFillColor(colors.white)
                c.rect(x - 4, y - self.LINE + 1, 268, 12, stroke=0, fill=1)
                c.setFillColor(INK)
                label = "Review again in"
                c.drawString(x, y - self.LINE + 4.5, label)
                x += c.stringWidth(label, FONT, 7.6) + 6  # measured: the boxes never run into it
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
        c.line(start, y + 2, w * 0.62, y + 2)
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
