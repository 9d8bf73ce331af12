"""The packet's document: Letter pages with the running header (who the page is about), the footer
(clinic, session, "Confidential \u2014 contains PHI", page x of y) and "page N" cross-references
(`Marker` / `PageRef`). `build_document(story, ...)` renders a story to PDF bytes in memory."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate

from cocm_desktop.reports.case_review_style import (
    BOLD,
    FONT,
    INK,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    MARGIN_X,
    MUTED,
    PAGE,
    PHI_NOTICE,
    RULE,
    WIDTH,
    t_plain,
)


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
