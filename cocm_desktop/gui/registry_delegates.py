"""The registry's cell painters: flag chips, the minutes-this-month bar, the patient cell.

Each paints the style's own cell (selection, hover, alternate rows, focus) and then its content.
They run for every visible row at every repaint (each keystroke in the search box), so the fonts
and metrics are made once per view font, and each chip is drawn once into a pixmap and then
only copied.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QHelpEvent, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QToolTip

from cocm_desktop.domain.flags import Flag, FlagHit
from cocm_desktop.gui.registry_model import CHIP_TEXT, ModelIndex, RowRole

CHIP_H = 18
CHIP_PAD = 7
CHIP_GAP = 4

_LEFT_MIDDLE = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_CE_ITEM = QStyle.ControlElement.CE_ItemViewItem
_SELECTED = QStyle.StateFlag.State_Selected
_NAME = QColor("#102A43")
_MRN = QColor("#829AB1")
_GAP_TEXT = QColor("#627D98")
_BAR = QColor("#E4EBF2")
_BAR_DONE = QColor("#2E7D32")
_BAR_TOWARD = QColor("#1F6F8B")
_WHITE = QColor("#FFFFFF")
_MORE_EDGE = QColor("#9FB3C8")
_MORE_FILL = QColor("#F0F4F8")
_MORE_TEXT = QColor("#486581")


class _Fonts:
    """The fonts and metrics the delegates derive from the view's font (made once per font)."""

    def __init__(self, base: QFont) -> None:
        self.bold = QFont(base)
        self.bold.setWeight(QFont.Weight.DemiBold)
        self.bold_fm = QFontMetrics(self.bold)
        self.small = QFont(base)
        self.small.setPointSizeF(max(7.0, base.pointSizeF() - 1))
        self.small_fm = QFontMetrics(self.small)
        self.chip = _chip_font(base)
        self.chip_fm = QFontMetrics(self.chip)
        self.more_w = self.chip_fm.horizontalAdvance("+99") + 2 * CHIP_PAD
        self.chip_w = {flag: self.chip_fm.horizontalAdvance(text) + 2 * CHIP_PAD for flag, text in CHIP_TEXT.items()}
        self.pixmaps: dict[tuple[object, float], QPixmap] = {}


_FONTS: dict[str, _Fonts] = {}


def _fonts(base: QFont) -> _Fonts:
    key = base.key()
    fonts = _FONTS.get(key)
    if fonts is None:
        fonts = _FONTS[key] = _Fonts(base)
    return fonts


def _chip_font(base: QFont) -> QFont:
    f = QFont(base)
    f.setPointSizeF(max(7.0, base.pointSizeF() - 1.5))
    f.setWeight(QFont.Weight.DemiBold)
    return f


def chip_layout(hits: Sequence[FlagHit], rect: QRect, fm: QFontMetrics) -> tuple[list[tuple[QRect, FlagHit]], int]:
    """Chip rectangles that fit in `rect`, and how many did not fit (shown as "+N")."""
    placed: list[tuple[QRect, FlagHit]] = []
    x = rect.left() + 4
    y = rect.top() + (rect.height() - CHIP_H) // 2
    more_w = fm.horizontalAdvance("+99") + 2 * CHIP_PAD
    for n, hit in enumerate(hits):
        w = fm.horizontalAdvance(CHIP_TEXT[hit.flag]) + 2 * CHIP_PAD
        remaining = len(hits) - n - 1
        limit = rect.right() - 4 - (more_w + CHIP_GAP if remaining else 0)
        if x + w > limit:
            return placed, len(hits) - n
        placed.append((QRect(x, y, w, CHIP_H), hit))
        x += w + CHIP_GAP
    return placed, 0


def _chip_pixmap(fonts: _Fonts, what: Flag | int, dpr: float) -> QPixmap:
    """A flag's chip (its colour, white text) or the grey "+N" chip, drawn once per font and scale."""
    key = (what, dpr)
    pixmap = fonts.pixmaps.get(key)
    if pixmap is not None:
        return pixmap
    if isinstance(what, Flag):
        text, width = CHIP_TEXT[what], fonts.chip_w[what]
        edge, fill, ink = None, QColor(what.colour), _WHITE
    else:
        text = f"+{what}"
        width = fonts.chip_fm.horizontalAdvance(text) + 2 * CHIP_PAD
        edge, fill, ink = _MORE_EDGE, _MORE_FILL, _MORE_TEXT
    # one pixel of margin all round: the "+N" chip's outline reaches half a pixel outside it
    pixmap = QPixmap(round((width + 2) * dpr), round((CHIP_H + 2) * dpr))
    pixmap.setDevicePixelRatio(dpr)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    if edge is None:
        p.setPen(Qt.PenStyle.NoPen)
    else:
        p.setPen(edge)
    p.setBrush(fill)
    p.drawRoundedRect(QRectF(1, 1, width, CHIP_H), CHIP_H / 2, CHIP_H / 2)
    p.setFont(fonts.chip)
    p.setPen(ink)
    p.drawText(QRect(1, 1, width, CHIP_H), Qt.AlignmentFlag.AlignCenter, text)
    p.end()
    fonts.pixmaps[key] = pixmap
    return pixmap


def _paint_cell_background(painter: QPainter, option: QStyleOptionViewItem) -> None:
    """The style's own cell (selection, hover, alternate rows, focus) without text or icon: the
    view's option carries no index data until initStyleOption, so it is drawn as given."""
    widget = option.widget
    if widget is not None:
        widget.style().drawControl(_CE_ITEM, option, painter, widget)


class FlagChipsDelegate(QStyledItemDelegate):
    """Coloured chips (the flag's colour, white text); the tooltip says why, per chip."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        _paint_cell_background(painter, option)
        row = index.data(RowRole)
        if row is None or not row.flags:
            return
        fonts = _fonts(option.font)
        dpr = painter.device().devicePixelRatioF()
        rect = option.rect
        hits = row.flags
        x = rect.left() + 4
        y = rect.top() + (rect.height() - CHIP_H) // 2
        right = rect.right() - 4
        more = fonts.more_w + CHIP_GAP
        for n, hit in enumerate(hits):  # chip_layout, with the widths cached
            w = fonts.chip_w[hit.flag]
            if x + w > right - (more if n < len(hits) - 1 else 0):
                painter.drawPixmap(QPoint(x - 1, y - 1), _chip_pixmap(fonts, len(hits) - n, dpr))
                return
            painter.drawPixmap(QPoint(x - 1, y - 1), _chip_pixmap(fonts, hit.flag, dpr))
            x += w + CHIP_GAP

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView, option: QStyleOptionViewItem,  # noqa: N802
                  index: ModelIndex) -> bool:
        if event.type() != QEvent.Type.ToolTip:
            return super().helpEvent(event, view, option, index)
        row = index.data(RowRole)
        if row is None or not row.flags:
            QToolTip.showText(event.globalPos(), "No flags", view)
            return True
        placed, _hidden = chip_layout(row.flags, option.rect, _fonts(option.font).chip_fm)
        for rect, hit in placed:
            if rect.contains(event.pos()):
                QToolTip.showText(event.globalPos(), f"{hit.flag.label}\n{hit.reason}", view)
                return True
        QToolTip.showText(event.globalPos(), "\n".join(f"{h.flag.label}: {h.reason}" for h in row.flags), view)
        return True

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:  # noqa: N802
        row = index.data(RowRole)
        widths = _fonts(option.font).chip_w
        width = 8 + sum(widths[h.flag] + CHIP_GAP for h in (row.flags if row else ()))
        return QSize(max(60, width), CHIP_H + 10)


class MinutesDelegate(QStyledItemDelegate):
    """"42 min" and the gap text over a thin bar that fills toward the next code."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        _paint_cell_background(painter, option)
        row = index.data(RowRole)
        if row is None:
            return
        fonts = _fonts(option.font)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = option.rect.adjusted(6, 3, -8, -4)
        minutes = row.minutes_this_month
        needed = row.minutes_to_next_code
        reached_all = row.next_code is None and minutes > 0
        fraction = 1.0 if reached_all else (minutes / (minutes + needed) if needed else 0.0)
        bar = QRectF(r.left(), r.bottom() - 4, r.width(), 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_BAR)
        painter.drawRoundedRect(bar, 2, 2)
        if fraction > 0:
            bar.setWidth(max(4.0, bar.width() * min(1.0, fraction)))
            done = (row.next_code is None or "reached" in row.billing_label) and minutes
            painter.setBrush(_BAR_DONE if done else _BAR_TOWARD)
            painter.drawRoundedRect(bar, 2, 2)
        text_rect = QRect(r.left(), r.top(), r.width(), r.height() - 6)
        painter.setFont(fonts.bold)
        selected = bool(option.state & _SELECTED)
        painter.setPen(option.palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        lead = f"{minutes} min"
        painter.drawText(text_rect, _LEFT_MIDDLE, lead)
        gap = row.billing_label.split(" · ")[-1] if row.billing_label else ""
        if gap:
            rest = text_rect.adjusted(fonts.bold_fm.horizontalAdvance(lead + "  "), 0, 0, 0)
            painter.setFont(fonts.small)
            painter.setPen(_GAP_TEXT)
            painter.drawText(rest, _LEFT_MIDDLE, fonts.small_fm.elidedText(gap, Qt.TextElideMode.ElideRight, rest.width()))
        painter.restore()


class PatientDelegate(QStyledItemDelegate):
    """Name in bold, the MRN muted after it: one cell, one line."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        _paint_cell_background(painter, option)
        row = index.data(RowRole)
        if row is None:
            return
        fonts = _fonts(option.font)
        painter.save()
        r = option.rect.adjusted(6, 0, -6, 0)
        mrn_w = fonts.small_fm.horizontalAdvance(row.mrn) + 8
        painter.setFont(fonts.bold)
        painter.setPen(_NAME)
        name_rect = r.adjusted(0, 0, -mrn_w, 0)
        name = fonts.bold_fm.elidedText(row.patient_name, Qt.TextElideMode.ElideRight, name_rect.width())
        painter.drawText(name_rect, _LEFT_MIDDLE, name)
        used = fonts.bold_fm.horizontalAdvance(name) + 8
        painter.setFont(fonts.small)
        painter.setPen(_MRN)
        painter.drawText(r.adjusted(used, 0, 0, 0), _LEFT_MIDDLE, row.mrn)
        painter.restore()
