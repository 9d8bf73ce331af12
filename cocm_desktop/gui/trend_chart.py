"""PHQ-9 / GAD-7 trend, painted by hand (QtCharts is not in PySide6-Essentials).

Severity bands behind the plot, the response target (baseline reduced by the policy's response
percentage) as a dashed line, points joined by a line, the baseline point ringed, PHQ-9 points
with item 9 above 0 marked red, a date axis. Hovering a point shows its date, total and band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from cocm_desktop.domain import instruments as inst

BAND_COLOURS = {
    "minimal": "#E8F5E9",
    "mild": "#F1F8E9",
    "moderate": "#FFF8E1",
    "moderately severe": "#FFF0E0",
    "severe": "#FDECEA",
}
BAND_TEXT = "#829AB1"
LINE = "#1F6F8B"
TARGET = "#2E7D32"
SAFETY = "#C62828"


@dataclass(frozen=True)
class Point:
    day: date
    total: int
    band: str
    safety: bool = False
    baseline: bool = False


class TrendChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(QSize(360, 220))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.instrument = inst.PHQ9
        self.points: list[Point] = []
        self.target: float | None = None
        self.start: date | None = None
        self.end: date | None = None
        self._screen: list[tuple[QPointF, Point]] = []
        self.empty_text = "No measures yet."

    def set_series(self, instrument: str, points: Sequence[Point], *, target: float | None = None,
                   start: date | None = None, end: date | None = None) -> None:
        self.instrument = instrument
        self.points = sorted(points, key=lambda p: p.day)
        self.target = target
        self.start = start
        self.end = end
        self.update()

    def clear(self) -> None:
        self.set_series(self.instrument, [])

    # ---- geometry ----------------------------------------------------------------------------
    def _range(self) -> tuple[date, date]:
        days = [p.day for p in self.points]
        lo = min([d for d in (self.start, *days) if d is not None], default=date.today() - timedelta(days=84))
        hi = max([d for d in (self.end, *days) if d is not None], default=date.today())
        if (hi - lo).days < 28:
            hi = lo + timedelta(days=28)
        pad = max(3, (hi - lo).days // 30)
        return lo - timedelta(days=pad), hi + timedelta(days=pad)

    def _band_label(self, name: str, low: int, high: int) -> str:
        return f"{name} ({low}\u2013{high})"

    def _plot_rect(self) -> QRectF:
        fm = QFontMetrics(self.font())
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() - 1.5))
        sfm = QFontMetrics(small)
        right = max(sfm.horizontalAdvance(self._band_label(*b)) for b in inst.bands(self.instrument)) + 14
        left = fm.horizontalAdvance("27") + 14
        return QRectF(left, 12, self.width() - left - right, self.height() - 12 - fm.height() - 14)

    # ---- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#FFFFFF"))
        plot = self._plot_rect()
        if plot.width() < 40 or plot.height() < 40:
            p.end()
            return
        top = inst.max_total(self.instrument)
        lo, hi = self._range()
        span = max(1, (hi - lo).days)

        def y_of(total: float) -> float:
            return plot.bottom() - plot.height() * total / top

        def x_of(day: date) -> float:
            return plot.left() + plot.width() * (day - lo).days / span

        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() - 1.5))
        p.setFont(small)
        fm = QFontMetrics(small)
        # Severity bands with their names on the right.
        for name, low, high in inst.bands(self.instrument):
            y1, y2 = y_of(min(top, high + 1) if high < top else top), y_of(low)
            band = QRectF(plot.left(), y1, plot.width(), y2 - y1)
            p.fillRect(band, QColor(BAND_COLOURS.get(name, "#F4F6F9")))
            p.setPen(QColor(BAND_TEXT))
            p.drawText(QRectF(plot.right() + 8, y1, self.width() - plot.right() - 8, y2 - y1),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self._band_label(name, low, high))
        # Y grid and labels.
        p.setPen(QPen(QColor("#D9E2EC"), 1))
        for value in range(0, top + 1, 5):
            y = y_of(value)
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        p.setPen(QColor("#627D98"))
        for value in range(0, top + 1, 5):
            y = y_of(value)
            p.drawText(QRectF(0, y - 8, plot.left() - 6, 16), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(value))
        # X axis: fortnightly ticks on short spans, monthly (or every 2–3 months) on long ones.
        p.setPen(QPen(QColor("#BCCCDC"), 1))
        p.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        for tick, label in self._ticks(lo, hi, span):
            x = x_of(tick)
            p.setPen(QPen(QColor("#E4EBF2"), 1, Qt.PenStyle.DotLine))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            p.setPen(QColor("#627D98"))
            p.drawText(QRectF(x - 40, plot.bottom() + 4, 80, fm.height() + 4), Qt.AlignmentFlag.AlignHCenter, label)
        # Response target.
        if self.target is not None:
            y = y_of(self.target)
            p.setPen(QPen(QColor(TARGET), 1.6, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(QColor(TARGET))
            text = f"target \u2264 {self.target:g}"
            p.drawText(QRectF(plot.left() + 6, y - fm.height() - 2, fm.horizontalAdvance(text) + 4, fm.height()),
                       Qt.AlignmentFlag.AlignLeft, text)
        self._screen = []
        if not self.points:
            p.setPen(QColor("#627D98"))
            p.setFont(self.font())
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, self.empty_text)
            p.end()
            return
        # Line and points.
        path = QPainterPath()
        for n, pt in enumerate(self.points):
            pos = QPointF(x_of(pt.day), y_of(pt.total))
            self._screen.append((pos, pt))
            if n == 0:
                path.moveTo(pos)
            else:
                path.lineTo(pos)
        p.setPen(QPen(QColor(LINE), 2.2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        bold = QFont(small)
        bold.setWeight(QFont.Weight.DemiBold)
        p.setFont(bold)
        for pos, pt in self._screen:
            colour = QColor(SAFETY if pt.safety else LINE)
            p.setPen(QPen(QColor("#FFFFFF"), 2))
            p.setBrush(colour)
            p.drawEllipse(pos, 5.5 if pt.safety else 4.5, 5.5 if pt.safety else 4.5)
            if pt.baseline:
                p.setPen(QPen(QColor(LINE), 1.5))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawEllipse(pos, 8.5, 8.5)
        # Label the baseline and the latest value.
        for pos, pt in (self._screen[0], self._screen[-1]) if len(self._screen) > 1 else (self._screen[0],):
            p.setPen(QColor("#102A43"))
            p.drawText(QRectF(pos.x() - 20, pos.y() - 24, 40, 14), Qt.AlignmentFlag.AlignCenter, str(pt.total))
        p.end()

    @staticmethod
    def _ticks(lo: date, hi: date, span: int) -> list[tuple[date, str]]:
        out: list[tuple[date, str]] = []
        if span <= 120:
            day = lo + timedelta(days=(7 - lo.weekday()) % 7)  # Mondays, every two weeks
            while day <= hi:
                out.append((day, f"{day:%b} {day.day}"))
                day += timedelta(days=14)
            return out
        step = 1 if span <= 240 else 2 if span <= 480 else 3
        month = date(lo.year, lo.month, 1)
        while month <= hi:
            if month >= lo:
                out.append((month, f"{month:%b}" if month.month != 1 else f"{month:%b %Y}"))
            m = month.month - 1 + step
            month = date(month.year + m // 12, m % 12 + 1, 1)
        return out

    # ---- hover ----------------------------------------------------------------------------------
    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        best = None
        for screen, pt in self._screen:
            d = (screen.x() - pos.x()) ** 2 + (screen.y() - pos.y()) ** 2
            if d < 100 and (best is None or d < best[0]):
                best = (d, pt)
        if best is None:
            QToolTip.hideText()
            return
        pt = best[1]
        extra = "\nBaseline" if pt.baseline else ""
        if pt.safety:
            extra += "\nItem 9 (self-harm) above 0"
        QToolTip.showText(event.globalPosition().toPoint(),
                          f"{self.instrument} {pt.total} ({pt.band})\n{pt.day:%a %b} {pt.day.day}, {pt.day.year}{extra}", self)
