"""A patient's outcomes section: the PHQ-9/GAD-7 summary lines, the score trend chart, the table of
scores by date and the item answers of the newest measure."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from cocm_desktop.domain.instruments import (
    COPYRIGHT_NOTICE,
    DIFFICULTY_OPTIONS,
    ITEM_LABELS,
    PHQ9,
    SAFETY_ITEM,
)
from cocm_desktop.reports import charts
from cocm_desktop.reports.case_review_blocks import c, grid, section, th
from cocm_desktop.reports.case_review_boxes import ItemDots
from cocm_desktop.reports.case_review_style import ACCENT, ALERT, BOLD, MUTED, WIDTH, P, d_short, t

if TYPE_CHECKING:
    from cocm_desktop.services.case_review_packet_model import PacketPatient, ScaleSummary


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


def outcomes_section(p: PacketPatient, year: int, on: date) -> list[Flowable]:
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
