"""Vector charts for printed reports (reportlab.graphics): score trends and small monthly charts.

Designed for paper: severity bands are light tints whose greyscale values still step darker with
severity, lines are dark and solid, the secondary scale is dashed, and every number that matters is
printed next to its point so a photocopy loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from reportlab.graphics.shapes import Circle, Drawing, Group, Line, Polygon, PolyLine, Rect, String
from reportlab.lib.colors import Color, HexColor

FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"

INK = HexColor("#1A1A1A")
MUTED = HexColor("#5F6368")
GRID = HexColor("#D0D4D8")
PRIMARY = HexColor("#17365D")  # dark navy: reads as near-black in grey
SECONDARY = HexColor("#6B6B6B")
TARGET = HexColor("#1B5E20")
ALERT = HexColor("#B71C1C")

#: Band tints from minimal to severe: warm ramp whose luminance falls monotonically (prints in grey).
BAND_TINTS: tuple[Color, ...] = (
    HexColor("#FFFFFF"),
    HexColor("#FBF4E6"),
    HexColor("#F6E4C9"),
    HexColor("#F0CFAE"),
    HexColor("#E8B69C"),
)


def band_tint(index: int, count: int) -> Color:
    """Tint for band `index` of `count` (the most severe band always gets the darkest tint)."""
    if count <= 1:
        return BAND_TINTS[0]
    # spread e.g. 4 GAD-7 bands over the 5 tints, keeping both ends
    pos = round(index * (len(BAND_TINTS) - 1) / (count - 1))
    return BAND_TINTS[pos]


@dataclass(frozen=True)
class TrendPoint:
    when: date
    total: int
    alert: bool = False  # e.g. PHQ-9 item 9 > 0: drawn with a ring


@dataclass(frozen=True)
class TrendSeries:
    label: str  # "PHQ-9"
    points: Sequence[TrendPoint]
    max_total: int


def _day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _ticks(start: date, end: date, max_ticks: int = 8) -> list[date]:
    """Readable date ticks: weekly, fortnightly, monthly or quarterly, whatever fits."""
    span = max(1, (end - start).days)
    for step in (7, 14, 28):
        if span / step <= max_ticks:
            first = start + timedelta(days=(7 - start.weekday()) % 7)  # Mondays
            return [first + timedelta(days=step * i) for i in range(span // step + 2) if first + timedelta(days=step * i) <= end]
    months = 1
    while span / (30.4 * months) > max_ticks:
        months += 1
    ticks = []
    y, m = start.year, start.month
    while True:
        m += 1
        if m > 12:
            y, m = y + 1, 1
        if (m - 1) % months:
            continue
        d = date(y, m, 1)
        if d > end:
            break
        ticks.append(d)
    return ticks


def _tick_label(d: date, span_days: int) -> str:
    if span_days > 300:
        return d.strftime("%b %y")
    return f"{d.strftime('%b')} {d.day}"


def trend_chart(
    primary: TrendSeries,
    bands: Sequence[tuple[str, int, int]],
    *,
    start: date,
    end: date,
    secondary: TrendSeries | None = None,
    target: float | None = None,
    target_label: str | None = None,
    enrolled_on: date | None = None,
    marker_weeks: int | None = 10,
    width: float = 480,
    height: float = 150,
) -> Drawing:
    """Score trend of the primary scale over its severity bands, with the response target line.

    `bands` are (name, low, high) of the primary scale; `target` is the total that means response
    (50 % of baseline). `secondary` (the other scale) is drawn dashed on the same 0..max axis.
    `marker_weeks` draws a dotted vertical line N weeks after `enrolled_on` (treat-to-target point).
    """
    start, end = _day(start), _day(end)
    if end <= start:
        end = start + timedelta(days=7)
    d = Drawing(width, height)
    left, right, bottom, top = 26, 78, 20, 8
    pw, ph = width - left - right, height - bottom - top
    ymax = max(primary.max_total, secondary.max_total if secondary else 0)
    span = (end - start).days

    def x(day: date) -> float:
        return left + pw * ((_day(day) - start).days / span)

    def y(total: float) -> float:
        return bottom + ph * (total / ymax)

    # severity bands (each band covers its totals: low - 0.5 .. high + 0.5, clipped to the axis)
    for i, (name, low, high) in enumerate(bands):
        y0, y1 = y(max(0, low - 0.5)), y(min(ymax, high + 0.5))
        d.add(Rect(left, y0, pw, y1 - y0, fillColor=band_tint(i, len(bands)), strokeColor=None))
        d.add(String(left + pw + 4, (y0 + y1) / 2 - 2.5, name, fontName=FONT, fontSize=6.2, fillColor=MUTED))
    # horizontal grid at band edges + axis labels
    for _name, low, _high in bands:
        if low == 0:
            continue
        yy = y(low - 0.5)
        d.add(Line(left, yy, left + pw, yy, strokeColor=GRID, strokeWidth=0.4))
    for v in range(0, ymax + 1, 5):
        d.add(String(left - 4, y(v) - 2.2, str(v), fontName=FONT, fontSize=6.5, fillColor=MUTED, textAnchor="end"))
        d.add(Line(left - 2, y(v), left, y(v), strokeColor=MUTED, strokeWidth=0.5))
    d.add(Rect(left, bottom, pw, ph, fillColor=None, strokeColor=MUTED, strokeWidth=0.6))

    # date axis
    for t in _ticks(start, end):
        xx = x(t)
        d.add(Line(xx, bottom, xx, bottom - 2.5, strokeColor=MUTED, strokeWidth=0.5))
        d.add(Line(xx, bottom, xx, bottom + ph, strokeColor=GRID, strokeWidth=0.3, strokeDashArray=[1, 2]))
        d.add(String(xx, bottom - 10, _tick_label(t, span), fontName=FONT, fontSize=6.2, fillColor=MUTED,
                     textAnchor="middle"))

    # enrollment and the treat-to-target decision point
    if enrolled_on is not None and start <= _day(enrolled_on) <= end:
        xx = x(enrolled_on)
        d.add(Line(xx, bottom, xx, bottom + ph, strokeColor=MUTED, strokeWidth=0.7))
        d.add(String(xx + 2, bottom + 2.5, "enrolled", fontName=FONT, fontSize=5.8, fillColor=MUTED))
        if marker_weeks:
            mark = _day(enrolled_on) + timedelta(weeks=marker_weeks)
            if mark <= end:
                xm = x(mark)
                d.add(Line(xm, bottom, xm, bottom + ph, strokeColor=MUTED, strokeWidth=0.7, strokeDashArray=[2, 2]))
                d.add(String(xm + 2, bottom + 2.5, f"{marker_weeks} wk", fontName=FONT, fontSize=5.8,
                             fillColor=MUTED))

    # response target (50 % of baseline)
    if target is not None:
        yt = y(target)
        d.add(Line(left, yt, left + pw, yt, strokeColor=TARGET, strokeWidth=1.1, strokeDashArray=[5, 2.5]))
        label = target_label or f"target {target:g}"
        d.add(String(left + pw - 2, yt + 2.5, label, fontName=FONT_BOLD, fontSize=6.2, fillColor=TARGET,
                     textAnchor="end"))

    if secondary is not None and secondary.points:
        _series(d, secondary, x, y, SECONDARY, dashed=True, hollow=True)
    _series(d, primary, x, y, PRIMARY, dashed=False, hollow=False, labels=True)

    # legend (bottom right, under the band names)
    lx, ly = left + pw + 4, bottom - 12
    items = [(primary.label, PRIMARY, False)]
    if secondary is not None and secondary.points:
        items.append((secondary.label, SECONDARY, True))
    for n, (label, colour, dashed) in enumerate(items):
        yy = ly - 8 * n + 6
        d.add(Line(lx, yy + 2, lx + 12, yy + 2, strokeColor=colour, strokeWidth=1.3,
                   strokeDashArray=[2.5, 1.5] if dashed else None))
        d.add(String(lx + 15, yy, label, fontName=FONT, fontSize=6.2, fillColor=INK))
    if not primary.points:
        d.add(String(left + pw / 2, bottom + ph / 2, f"No {primary.label} recorded", fontName=FONT, fontSize=8,
                     fillColor=MUTED, textAnchor="middle"))
    return d


def _series(d: Drawing, s: TrendSeries, x, y, colour: Color, *, dashed: bool, hollow: bool,  # type: ignore[no-untyped-def]
            labels: bool = False) -> None:
    pts = sorted(s.points, key=lambda p: p.when)
    if len(pts) > 1:
        coords: list[float] = []
        for p in pts:
            coords += [x(p.when), y(p.total)]
        d.add(PolyLine(coords, strokeColor=colour, strokeWidth=1.0 if dashed else 1.4,
                       strokeDashArray=[2.5, 1.5] if dashed else None))
    g = Group()
    last_label_x = -1e9
    for n, p in enumerate(pts):
        cx, cy = x(p.when), y(p.total)
        if p.alert:
            g.add(Polygon([cx, cy + 5.2, cx + 5.2, cy, cx, cy - 5.2, cx - 5.2, cy], fillColor=None,
                          strokeColor=ALERT, strokeWidth=1.0))
        g.add(Circle(cx, cy, 1.9 if hollow else 2.2, fillColor=HexColor("#FFFFFF") if hollow else colour,
                     strokeColor=colour, strokeWidth=0.8))
        # label every point unless it would collide with the previous label (always the last one)
        if labels and (cx - last_label_x >= 10 or n == len(pts) - 1):
            g.add(String(cx, cy + 4.5, str(p.total), fontName=FONT_BOLD, fontSize=6.3, fillColor=colour,
                         textAnchor="middle"))
            last_label_x = cx
    d.add(g)


# ---------------------------------------------------------------------------------------------
# Small monthly charts for the quality report


def month_bars(
    values: Sequence[float | None],
    labels: Sequence[str],
    *,
    width: float = 170,
    height: float = 64,
    percent: bool = True,
    highlight_last: bool = True,
    value_format: str | None = None,
) -> Drawing:
    """A compact bar chart of the last N months (None = no data that month, drawn as a dash)."""
    d = Drawing(width, height)
    left, bottom, top = 2, 11, 9
    ph = height - bottom - top
    n = max(1, len(values))
    slot = (width - left * 2) / n
    bar_w = slot * 0.62
    known = [v for v in values if v is not None]
    vmax = 100.0 if percent else max([1.0, *known]) * 1.15
    d.add(Line(left, bottom, width - left, bottom, strokeColor=MUTED, strokeWidth=0.5))
    for i, (v, label) in enumerate(zip(values, labels, strict=False)):
        cx = left + slot * (i + 0.5)
        last = highlight_last and i == n - 1
        d.add(String(cx, 2, label, fontName=FONT_BOLD if last else FONT, fontSize=5.8,
                     fillColor=INK if last else MUTED, textAnchor="middle"))
        if v is None:
            d.add(String(cx, bottom + 2, "\u2013", fontName=FONT, fontSize=7, fillColor=MUTED, textAnchor="middle"))
            continue
        h = ph * (min(v, vmax) / vmax) if vmax else 0
        d.add(Rect(cx - bar_w / 2, bottom, bar_w, max(h, 0.4), fillColor=PRIMARY if last else HexColor("#9AA7B8"),
                   strokeColor=None))
        text = value_format.format(v) if value_format else (f"{v:.0f}%" if percent else f"{v:g}")
        d.add(String(cx, bottom + h + 2, text, fontName=FONT_BOLD if last else FONT, fontSize=6,
                     fillColor=INK if last else MUTED, textAnchor="middle"))
    return d
