"""The monthly quality report PDF: `build_quality_report(trend) -> bytes` (pure rendering, no DB).

One card per quality figure of the spec: this month's value with its numerator/denominator, what it
measures, and a small bar chart of the last six months (this month dark). Then caseload per care
manager and closures by reason. Same page furniture as the case-review packet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from reportlab.platypus import Flowable, KeepTogether, Spacer, Table, TableStyle

from cocm_desktop.reports import charts
from cocm_desktop.reports.case_review_packet import (
    BOLD,
    MUTED,
    RULE,
    WIDTH,
    P,
    SectionHead,
    build_document,
    d_short,
    grid,
    t,
    th,
)

if TYPE_CHECKING:
    from cocm_desktop.services.quality import QualityReport, Rate
    from cocm_desktop.services.quality_report import QualityTrend

CARD_W = (WIDTH - 12) / 2


def _label(m: QualityReport) -> str:
    return m.month_start.strftime("%b")


def _pct(r: Rate) -> float | None:
    return r.percent


def _card(title: str, value: str, detail: str, what: str, values: Sequence[float | None],
          labels: Sequence[str], *, percent: bool = True, value_format: str | None = None) -> Flowable:
    chart = charts.month_bars(values, labels, width=CARD_W - 16, height=62, percent=percent,
                              value_format=value_format)
    body = [
        [P(f"<font color='#17365D'><b>{t(title.upper())}</b></font>", "small")],
        [P(f"<font size=17><b>{t(value)}</b></font>&nbsp;&nbsp;<font color='#5F6368'>{t(detail)}</font>",
           "tile_line")],
        [P(t(what), "muted")],
        [chart],
    ]
    tbl = Table(body, colWidths=[CARD_W - 2], rowHeights=[None, None, 32, None])
    tbl.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.6, RULE), ("LEFTPADDING", (0, 0), (-1, -1), 7),
        ("RIGHTPADDING", (0, 0), (-1, -1), 7), ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2), ("TOPPADDING", (0, 0), (-1, 0), 6),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 6), ("TOPPADDING", (0, -1), (-1, -1), 5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return tbl


def _rate_card(title: str, what: str, trend: QualityTrend, get: Callable[[QualityReport], Rate]) -> Flowable:
    now = get(trend.month)
    value = "\u2014" if now.percent is None else f"{now.percent:.0f}%"
    detail = "no patients in scope" if now.denominator == 0 else f"{now.numerator} of {now.denominator}"
    return _card(title, value, detail, what, [_pct(get(m)) for m in trend.history],
                 [_label(m) for m in trend.history])


def _count_card(title: str, what: str, trend: QualityTrend, get: Callable[[QualityReport], float | None],
                detail: str, value_format: str = "{:g}") -> Flowable:
    now = get(trend.month)
    value = "\u2014" if now is None else value_format.format(now)
    return _card(title, value, detail, what, [get(m) for m in trend.history], [_label(m) for m in trend.history],
                 percent=False, value_format=value_format)


def _pairs(cards: list[Flowable]) -> list[Flowable]:
    out: list[Flowable] = []
    for i in range(0, len(cards), 2):
        row = cards[i:i + 2] + ([""] if len(cards[i:i + 2]) == 1 else [])
        tbl = Table([row], colWidths=[CARD_W + 12, CARD_W])
        tbl.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                                 ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 10),
                                 ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        out.append(tbl)
    return out


def build_quality_report(trend: QualityTrend) -> bytes:
    m = trend.month
    lo, hi = m.outcome_weeks
    running = m.as_of < m.month_end
    story: list[Any] = [
        P("QUALITY CHECK \u00b7 MONTHLY REPORT", "cover_kicker"), Spacer(1, 4),
        P(t(trend.clinic), "cover_title"), Spacer(1, 2),
        P(f"{m.month_start:%B %Y}" + (f" <font color='#5F6368'>(month running: figures as of "
                                      f"{t(d_short(m.as_of))})</font>" if running else ""), "cover_sub"),
        Spacer(1, 4),
        P(f"{m.caseload} open episodes at {t(d_short(m.as_of))} \u00b7 printed "
          f"{trend.generated_at:%d %b %Y %H:%M} by {t(trend.generated_by)}", "muted"),
        Spacer(1, 12),
    ]
    cards = [
        _rate_card("Engagement", "Open episodes with a successful contact this month.", trend,
                   lambda r: r.engagement),
        _rate_card("Measurement", "Open episodes with a PHQ-9 or GAD-7 this month.", trend, lambda r: r.measurement),
        _rate_card("Case-review coverage", "Open CoCM episodes discussed at a case review at least once.", trend,
                   lambda r: r.case_review_coverage),
        _count_card("Enrollment to first follow-up", "Median days from enrollment to the first successful "
                    "contact after it, for first follow-ups this month.", trend,
                    lambda r: r.median_days_to_first_follow_up,
                    f"median days, over {m.first_follow_ups} patient{'s' if m.first_follow_ups != 1 else ''}"),
        _rate_card("Response", f"At {lo}\u2013{hi} weeks in treatment: \u2265 50 % reduction from baseline "
                   f"on the primary scale ({m.outcome_without_scores} without a baseline or later score count "
                   "as not responding).", trend, lambda r: r.response),
        _rate_card("Remission", f"At {lo}\u2013{hi} weeks in treatment: latest primary-scale score below 5.",
                   trend, lambda r: r.remission),
        _count_card("Missing next action", "Open episodes with no next action date (registry completeness).",
                    trend, lambda r: r.missing_next_action, "open episodes"),
        _count_card("Missing baseline", "Open episodes without a baseline PHQ-9/GAD-7 within the window.",
                    trend, lambda r: r.missing_baseline, "open episodes"),
        _count_card("Disengaged closures", "Episodes closed this month because the patient disengaged.",
                    trend, lambda r: r.disengaged_closures, "closed as disengaged"),
        _count_card("Caseload", "Open episodes at the end of the month.", trend, lambda r: r.caseload,
                    "open episodes"),
    ]
    story += _pairs(cards)

    # caseload per care manager over the six months
    names = sorted({n for h in trend.history for n, _ in h.caseload_by_care_manager}, key=str.casefold)
    head = th("Care manager", *[f"{h.month_start:%b %Y}" for h in trend.history])
    rows: list[list[Any]] = [head]
    for name in names:
        rows.append([t_plain_name(name)] + [str(dict(h.caseload_by_care_manager).get(name, 0)) for h in trend.history])
    rows.append(["All"] + [str(h.caseload) for h in trend.history])
    n = len(trend.history)
    widths = [WIDTH - 52 * n] + [52] * n
    tbl = grid(rows, widths, zebra=False, extra=[
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"), ("FONTNAME", (0, -1), (-1, -1), BOLD),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, MUTED), ("FONTNAME", (-1, 1), (-1, -1), BOLD),
    ])
    story += [KeepTogether([SectionHead("Caseload per care manager"), Spacer(1, 4), tbl]), Spacer(1, 12)]

    reasons = sorted({k for h in trend.history for k, _ in h.closures_by_reason})
    if reasons:
        rows = [th("Closure reason", *[f"{h.month_start:%b %Y}" for h in trend.history])]
        for reason in reasons:
            rows.append([reason.replace("_", " ").capitalize()] +
                        [str(dict(h.closures_by_reason).get(reason, 0)) for h in trend.history])
        tbl = grid(rows, widths, zebra=False, extra=[("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                                                     ("FONTNAME", (-1, 1), (-1, -1), BOLD)])
        story += [KeepTogether([SectionHead("Closures by reason"), Spacer(1, 4), tbl])]
    else:
        story += [SectionHead("Closures by reason"), Spacer(1, 4), P("No closures in these six months.", "muted")]
    story += [Spacer(1, 10), P(t(
        "Definitions: open episodes are those enrolled on or before the month's last day (or today while the "
        "month runs) and not closed by then. Rates are of open episodes; months drawn with a dash had none in "
        "scope."), "muted")]
    return build_document(
        story, title=f"Quality report {m.month_start:%Y-%m}",
        footer_left=f"{trend.clinic} \u00b7 Quality report {m.month_start:%B %Y}", subject="Monthly quality check",
        header_right=f"Quality report \u00b7 {m.month_start:%B %Y}", running=f"Quality report {m.month_start:%B %Y}",
    )


def t_plain_name(name: str) -> str:
    from cocm_desktop.reports.case_review_packet import t_plain

    return t_plain(name)

