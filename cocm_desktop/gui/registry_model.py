"""Registry table model, filter proxy and the two delegates (flag chips, minutes progress).

Vorta's pattern: `SortRole` gives a sortable key per cell, `IdRole` the patient id, `RowRole` the
whole `RegistryRow`. The rows come from `services.registry.build_registry` (computed there, never
here). Filtering never re-queries: `RegistryFilter` keeps plain attributes and `filterAcceptsRow`
does a few comparisons on precomputed per-row keys, so it stays cheap at 10,000 rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QHelpEvent, QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QToolTip

from cocm_desktop.domain.episode import EpisodeStatus, Program
from cocm_desktop.domain.flags import Flag, FlagHit

SortRole = Qt.ItemDataRole.UserRole + 1
IdRole = Qt.ItemDataRole.UserRole + 2
RowRole = Qt.ItemDataRole.UserRole + 3

ModelIndex = QModelIndex | QPersistentModelIndex

#: Short chip texts (the full label and the reason are in the tooltip).
CHIP_TEXT: dict[Flag, str] = {
    Flag.SAFETY: "Safety",
    Flag.CONTACT_OVERDUE: "Contact due",
    Flag.MEASURE_DUE: "Measure due",
    Flag.NOT_IMPROVING: "Not improving",
    Flag.NEW_NOT_REVIEWED: "New",
    Flag.RECOMMENDATION_WAITING: "Rec. waiting",
    Flag.NEXT_ACTION_OVERDUE: "Next action",
    Flag.MISSING_ELEMENT: "Missing",
    Flag.REGISTRY_LAG: "Lag",
    Flag.REFERRAL_UNCONFIRMED: "Referral",
    Flag.DISENGAGED: "Disengaged?",
    Flag.STEPDOWN_CANDIDATE: "Step-down",
}
_FLAG_ORDER = {flag: n for n, flag in enumerate(Flag)}

PROGRAM_SHORT = {"cocm": "CoCM", "bhi": "BHI"}
STATUS_SHORT = {"enrolled": "Enrolled", "active": "Active", "relapse_prevention": "Relapse prev.",
                "closed": "Closed"}


def fmt_date(d: date | None, today: date | None = None) -> str:
    """"Nov 3" this year, "Nov 3, 2025" otherwise, "—" when missing (no locale surprises)."""
    if d is None:
        return "\u2014"
    today = today or date.today()
    if d.year == today.year:
        return f"{d:%b} {d.day}"
    return f"{d:%b} {d.day}, {d.year}"


def fmt_long(d: date | None) -> str:
    return "\u2014" if d is None else f"{d:%a} {d:%b} {d.day}, {d.year}"


def _score_pair(baseline: int | None, last: int | None) -> str:
    if baseline is None and last is None:
        return "\u2014"
    b = "\u2014" if baseline is None else str(baseline)
    if last is None:
        return b
    return f"{b} \u2192 {last}"


def flag_sort_key(hits: Sequence[FlagHit]) -> int:
    """Higher = more urgent: a bit per flag, safety highest."""
    n = len(Flag)
    return sum(1 << (n - _FLAG_ORDER[h.flag]) for h in hits)


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    tip: str
    width: int
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft


_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignCenter

COLUMNS: tuple[Column, ...] = (
    Column("patient", "Patient", "Family name, given name and MRN", 195, _LEFT),
    Column("flags", "Flags", "What needs attention; hover a chip for the reason", 190, _LEFT),
    Column("status", "Status", "Episode status", 92, _LEFT),
    Column("program", "Prog.", "CoCM or general BHI", 52, _LEFT),
    Column("weeks", "Wk", "Whole weeks in treatment", 36, _RIGHT),
    Column("phq9", "PHQ-9", "Baseline → last PHQ-9 (date of the last)", 124, _LEFT),
    Column("phq9_change", "Change", "PHQ-9 change from baseline (−50 % = response)", 62, _RIGHT),
    Column("gad7", "GAD-7", "Baseline → last GAD-7", 66, _LEFT),
    Column("last_contact", "Contact", "Newest successful contact", 66, _LEFT),
    Column("next_action", "Next action", "Next step and its due date", 156, _LEFT),
    Column("last_review", "Reviewed", "Last psychiatric case review", 78, _LEFT),
    Column("minutes", "Minutes this month", "Counted minutes and the minutes to the next billing code", 168, _LEFT),
    Column("care_manager", "Care manager", "Behavioral health care manager", 110, _LEFT),
    Column("clinician", "Clinician", "Treating clinician (billing practitioner)", 130, _LEFT),
)
COLUMN_INDEX = {c.key: n for n, c in enumerate(COLUMNS)}
_BIG = 10**9


class RegistryModel(QAbstractTableModel):
    """Read-only rows; `set_rows()` swaps the whole list (one reset per reload)."""

    def __init__(self, parent: Any = None, today: date | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Any] = []
        self.search_keys: list[str] = []
        self.today = today or date.today()
        # The proxy asks for a row's sort key at every comparison (n log n times per sort, and
        # again at each filter keystroke): compute a column's keys once per set of rows.
        self._sort_keys: dict[int, list[Any]] = {}

    # ---- data in ----------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[Any], today: date | None = None) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.today = today or date.today()
        self.search_keys = [f"{r.patient_name}\n{r.mrn}".casefold() for r in self.rows]
        self._sort_keys = {}
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([])

    def row_for_patient(self, patient_id: int) -> int | None:
        for n, r in enumerate(self.rows):
            if r.patient_id == patient_id:
                return n
        return None

    # ---- Qt model API -------------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        col = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return col.tip
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(col.align)
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == SortRole:  # hot path: answered from the per-column cache
            n, c = index.row(), index.column()
            if not 0 <= n < len(self.rows) or not 0 <= c < len(COLUMNS):
                return None
            keys = self._sort_keys.get(c)
            if keys is None:
                k = COLUMNS[c].key
                keys = self._sort_keys[c] = [self._sort(r, k) for r in self.rows]
            return keys[n]
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        key = COLUMNS[index.column()].key
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, key)
        if role == IdRole:
            return row.patient_id
        if role == RowRole:
            return row
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(COLUMNS[index.column()].align)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, key)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(row, key)
        return None

    def _display(self, r: Any, key: str) -> str:
        t = self.today
        if key == "patient":
            return r.patient_name
        if key == "flags":
            return ", ".join(CHIP_TEXT[h.flag] for h in r.flags)
        if key == "status":
            return "Transferring" if r.transfer_to else STATUS_SHORT.get(r.status, r.status)
        if key == "program":
            return PROGRAM_SHORT.get(r.program, r.program)
        if key == "weeks":
            return str(r.weeks)
        if key == "phq9":
            pair = _score_pair(r.phq9_baseline, r.phq9_last)
            return f"{pair}  ({fmt_date(r.phq9_last_on, t)})" if r.phq9_last_on else pair
        if key == "phq9_change":
            return r.phq9_change_text
        if key == "gad7":
            return _score_pair(r.gad7_baseline, r.gad7_last)
        if key == "last_contact":
            return fmt_date(r.last_contact_on, t)
        if key == "next_action":
            if not r.next_action and r.next_action_on is None:
                return "\u2014"
            return f"{fmt_date(r.next_action_on, t)} · {r.next_action or ''}".strip(" ·")
        if key == "last_review":
            return fmt_date(r.last_case_review_on, t) if r.last_case_review_on else "Never"
        if key == "minutes":
            return f"{r.minutes_this_month} min · {r.billing_label}" if r.billing_label else f"{r.minutes_this_month} min"
        if key == "care_manager":
            return r.care_manager
        if key == "clinician":
            return r.clinician
        return ""

    def _sort(self, r: Any, key: str) -> Any:
        def d(v: date | None, missing: int = -_BIG) -> int:
            return v.toordinal() if v is not None else missing

        if key == "patient":
            return r.patient_name.casefold()
        if key == "flags":
            return flag_sort_key(r.flags)
        if key == "status":
            return [s.value for s in EpisodeStatus].index(r.status) if r.status in EpisodeStatus._value2member_map_ else 9
        if key == "program":
            return r.program
        if key == "weeks":
            return r.weeks
        if key == "phq9":
            return -1 if r.phq9_last is None else r.phq9_last
        if key == "phq9_change":
            return float(r.phq9_change) if r.phq9_change is not None else -float(_BIG)
        if key == "gad7":
            return -1 if r.gad7_last is None else r.gad7_last
        if key == "last_contact":
            return d(r.last_contact_on)
        if key == "next_action":
            return d(r.next_action_on, _BIG)
        if key == "last_review":
            return d(r.last_case_review_on)
        if key == "minutes":
            return r.minutes_this_month
        if key == "care_manager":
            return r.care_manager.casefold()
        if key == "clinician":
            return r.clinician.casefold()
        return 0

    def _tooltip(self, r: Any, key: str) -> str | None:
        if key == "patient":
            return f"{r.patient_name} · MRN {r.mrn}\nEnrolled {fmt_long(r.enrolled_on)}; primary scale {r.primary_scale}"
        if key == "flags":
            if not r.flags:
                return "No flags"
            return "\n".join(f"{h.flag.label}: {h.reason}" for h in r.flags)
        if key == "phq9":
            return (f"PHQ-9 baseline {r.phq9_baseline if r.phq9_baseline is not None else '—'} "
                    f"({fmt_long(r.phq9_baseline_on)}), last {r.phq9_last if r.phq9_last is not None else '—'} "
                    f"({fmt_long(r.phq9_last_on)})")
        if key == "gad7":
            return (f"GAD-7 baseline {r.gad7_baseline if r.gad7_baseline is not None else '—'} "
                    f"({fmt_long(r.gad7_baseline_on)}), last {r.gad7_last if r.gad7_last is not None else '—'} "
                    f"({fmt_long(r.gad7_last_on)})")
        if key == "next_action":
            return f"{r.next_action or 'No next action'} — due {fmt_long(r.next_action_on)}"
        if key == "last_contact" and r.failed_attempts:
            return f"{r.failed_attempts} failed outreach attempt(s) since"
        if key == "status":
            label = EpisodeStatus(r.status).label if r.status in EpisodeStatus._value2member_map_ else r.status
            extra = f"; transfer to {r.transfer_to} awaiting confirmed handoff" if r.transfer_to else ""
            return f"{label} since enrollment on {fmt_long(r.enrolled_on)}{extra}"
        if key == "program":
            return Program(r.program).label if r.program in Program._value2member_map_ else r.program
        if key == "minutes":
            return f"{r.minutes_this_month} counted minutes this month. {r.billing_label}"
        return None

    def _foreground(self, r: Any, key: str) -> QColor | None:
        if key == "next_action" and r.next_action_on is not None and r.next_action_on < self.today:
            return QColor("#BF360C")
        if key == "phq9_change" and r.phq9_change is not None:
            if r.phq9_change >= 0.5:
                return QColor("#2E7D32")
            if r.phq9_change < 0:
                return QColor("#B71C1C")
        if key in ("last_review", "care_manager", "clinician"):
            return QColor("#486581")
        return None


@dataclass
class RegistryFilter:
    care_manager_id: int | None = None
    clinician_id: int | None = None
    statuses: frozenset[str] | None = None
    flagged_only: bool = False
    flag: Flag | None = None
    text: str = ""


class RegistryProxy(QSortFilterProxyModel):
    """Sort by `SortRole`; filter on plain attributes of the source rows (no queries, no regex)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(True)
        self.criteria = RegistryFilter()

    def set_filter(self, **changes: Any) -> None:
        if "text" in changes:
            changes["text"] = (changes["text"] or "").strip().casefold()
        staged = hasattr(self, "beginFilterChange")  # Qt >= 6.9
        if staged:
            self.beginFilterChange()
        for key, value in changes.items():
            setattr(self.criteria, key, value)
        if staged:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - older Qt
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:  # noqa: N802
        model = self.sourceModel()
        assert isinstance(model, RegistryModel)
        r = model.rows[source_row]
        c = self.criteria
        if c.care_manager_id is not None and r.care_manager_id != c.care_manager_id:
            return False
        if c.clinician_id is not None and r.clinician_id != c.clinician_id:
            return False
        if c.statuses is not None and r.status not in c.statuses:
            return False
        if c.flagged_only and not r.flags:
            return False
        if c.flag is not None and not any(h.flag is c.flag for h in r.flags):
            return False
        return not (c.text and c.text not in model.search_keys[source_row])


# ---- delegates ---------------------------------------------------------------------------------

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
