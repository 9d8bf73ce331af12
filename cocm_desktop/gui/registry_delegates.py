"""The registry's cell painters: flag chips, the minutes-this-month bar, the patient cell.

Moved out of registry_model.py. Each paints the style's own cell background (selection, hover,
alternate rows) and then its content; fonts and metrics are made once per view font, not per cell.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QHelpEvent, QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QToolTip

from cocm_desktop.domain.flags import FlagHit
from cocm_desktop.gui.registry_model import CHIP_TEXT, ModelIndex, RowRole

CHIP_H = 18
CHIP_PAD = 7
CHIP_GAP = 4


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


def _paint_cell_background(
    delegate: QStyledItemDelegate, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex
) -> None:
    """The style's own cell (selection, hover, alternate rows) without its text: we paint that."""
    opt = QStyleOptionViewItem(option)
    delegate.initStyleOption(opt, index)
    opt.text = ""
    style = opt.widget.style() if opt.widget else None
    if style is not None:
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)


class FlagChipsDelegate(QStyledItemDelegate):
    """Coloured chips (the flag's colour, white text); the tooltip says why, per chip."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        row = index.data(RowRole)
        _paint_cell_background(self, painter, option, index)
        if row is None or not row.flags:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = _chip_font(option.font)
        painter.setFont(font)
        fm = QFontMetrics(font)
        placed, hidden = chip_layout(row.flags, option.rect, fm)
        for rect, hit in placed:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(hit.flag.colour))
            painter.drawRoundedRect(QRectF(rect), CHIP_H / 2, CHIP_H / 2)
            painter.setPen(QColor("#FFFFFF"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, CHIP_TEXT[hit.flag])
        if hidden:
            x = placed[-1][0].right() + CHIP_GAP + 1 if placed else option.rect.left() + 4
            more = QRect(x, option.rect.top() + (option.rect.height() - CHIP_H) // 2,
                         fm.horizontalAdvance(f"+{hidden}") + 2 * CHIP_PAD, CHIP_H)
            painter.setPen(QColor("#9FB3C8"))
            painter.setBrush(QColor("#F0F4F8"))
            painter.drawRoundedRect(QRectF(more), CHIP_H / 2, CHIP_H / 2)
            painter.setPen(QColor("#486581"))
            painter.drawText(more, Qt.AlignmentFlag.AlignCenter, f"+{hidden}")
        painter.restore()

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView, option: QStyleOptionViewItem,  # noqa: N802
                  index: ModelIndex) -> bool:
        if event.type() != QEvent.Type.ToolTip:
            return super().helpEvent(event, view, option, index)
        row = index.data(RowRole)
        if row is None or not row.flags:
            QToolTip.showText(event.globalPos(), "No flags", view)
            return True
        fm = QFontMetrics(_chip_font(option.font))
        placed, _hidden = chip_layout(row.flags, option.rect, fm)
        for rect, hit in placed:
            if rect.contains(event.pos()):
                QToolTip.showText(event.globalPos(), f"{hit.flag.label}\n{hit.reason}", view)
                return True
        QToolTip.showText(event.globalPos(), "\n".join(f"{h.flag.label}: {h.reason}" for h in row.flags), view)
        return True

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:  # noqa: N802
        row = index.data(RowRole)
        fm = QFontMetrics(_chip_font(option.font))
        width = 8 + sum(fm.horizontalAdvance(CHIP_TEXT[h.flag]) + 2 * CHIP_PAD + CHIP_GAP for h in (row.flags if row else ()))
        return QSize(max(60, width), CHIP_H + 10)


class MinutesDelegate(QStyledItemDelegate):
    """"42 min" and the gap text over a thin bar that fills toward the next code."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        row = index.data(RowRole)
        _paint_cell_background(self, painter, option, index)
        if row is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = option.rect.adjusted(6, 3, -8, -4)
        minutes = row.minutes_this_month
        needed = row.minutes_to_next_code
        reached_all = row.next_code is None and minutes > 0
        fraction = 1.0 if reached_all else (minutes / (minutes + needed) if needed else 0.0)
        bar = QRectF(r.left(), r.bottom() - 4, r.width(), 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#E4EBF2"))
        painter.drawRoundedRect(bar, 2, 2)
        if fraction > 0:
            fill = QRectF(bar)
            fill.setWidth(max(4.0, bar.width() * min(1.0, fraction)))
            painter.setBrush(QColor("#2E7D32" if (row.next_code is None or "reached" in row.billing_label) and minutes
                                    else "#1F6F8B"))
            painter.drawRoundedRect(fill, 2, 2)
        text_rect = QRect(r.left(), r.top(), r.width(), r.height() - 6)
        bold = QFont(option.font)
        bold.setWeight(QFont.Weight.DemiBold)
        painter.setFont(bold)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(option.palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        lead = f"{minutes} min"
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, lead)
        lead_w = QFontMetrics(bold).horizontalAdvance(lead + "  ")
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1))
        painter.setFont(small)
        painter.setPen(QColor("#627D98"))
        gap = row.billing_label.split(" · ")[-1] if row.billing_label else ""
        rest = text_rect.adjusted(lead_w, 0, 0, 0)
        painter.drawText(rest, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(small).elidedText(gap, Qt.TextElideMode.ElideRight, rest.width()))
        painter.restore()


class PatientDelegate(QStyledItemDelegate):
    """Name in bold, the MRN muted after it: one cell, one line."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        row = index.data(RowRole)
        _paint_cell_background(self, painter, option, index)
        if row is None:
            return
        painter.save()
        r = option.rect.adjusted(6, 0, -6, 0)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1))
        mrn_w = QFontMetrics(small).horizontalAdvance(row.mrn) + 8
        bold = QFont(option.font)
        bold.setWeight(QFont.Weight.DemiBold)
        painter.setFont(bold)
        painter.setPen(QColor("#102A43"))
        name_rect = r.adjusted(0, 0, -mrn_w, 0)
        name = QFontMetrics(bold).elidedText(row.patient_name, Qt.TextElideMode.ElideRight, name_rect.width())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        used = QFontMetrics(bold).horizontalAdvance(name) + 8
        painter.setFont(small)
        painter.setPen(QColor("#829AB1"))
        painter.drawText(r.adjusted(used, 0, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, row.mrn)
        painter.restore()
