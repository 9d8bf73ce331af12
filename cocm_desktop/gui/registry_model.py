"""Registry table model: every open episode, filtered and sorted in the model (no proxy).

Vorta's pattern: `SortRole` gives a sortable key per cell, `IdRole` the patient id, `RowRole` the
whole `RegistryRow`. The rows come from `services.registry.build_registry` (computed there, never
here). Filtering never re-queries: `RegistryFilter` keeps plain attributes and a filter change is
a few list comprehensions over precomputed per-row keys, so a keystroke stays cheap at 10,000
rows. The cell painters are in registry_delegates.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

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


def score_pair(baseline: int | None, last: int | None) -> str:
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


@dataclass
class RegistryFilter:
    care_manager_id: int | None = None
    clinician_id: int | None = None
    statuses: frozenset[str] | None = None
    flagged_only: bool = False
    flag: Flag | None = None
    text: str = ""


_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGNMENTS = tuple(int(c.align) for c in COLUMNS)
_KEYS = tuple(c.key for c in COLUMNS)
_N_COLUMNS = len(COLUMNS)
_STATUS_RANK = {s.value: n for n, s in enumerate(EpisodeStatus)}
_OVERDUE = QColor("#BF360C")
_RESPONSE = QColor("#2E7D32")
_WORSE = QColor("#B71C1C")
_SECONDARY = QColor("#486581")


class RegistryModel(QAbstractTableModel):
    """Every open episode (`rows`), in the current sort order (`shown`); `RegistryProxy` filters it.

    `rows` keeps the service's order; `shown` lists row numbers in display order, so source row
    n is `rows[shown[n]]`. Sorting happens here, by keys computed once per column and set of
    rows (a list sort, not ~110k Python `lessThan` calls through the proxy); it is a layout
    change, so the selection follows its patient. Every painted cell costs one `multiData` call.
    """

    def __init__(self, parent: Any = None, today: date | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Any] = []
        self.shown: list[int] = []
        self.search_keys: list[str] = []
        self.sort_column = -1
        self.sort_order = Qt.SortOrder.AscendingOrder
        self.today = today or date.today()
        self.flagged_count = 0
        self._by_patient: dict[int, int] = {}
        self._sort_keys: dict[int, list[Any]] = {}
        self._cells: dict[int, tuple[tuple[str, ...], tuple[QColor | None, ...]]] = {}

    # ---- data in ----------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[Any], today: date | None = None) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.today = today or date.today()
        self.search_keys = [f"{r.patient_name}\n{r.mrn}".casefold() for r in self.rows]
        self.flagged_count = sum(1 for r in self.rows if r.flags)
        self._by_patient = {}
        for n, r in enumerate(self.rows):
            self._by_patient.setdefault(r.patient_id, n)
        self._sort_keys = {}
        self._cells = {}
        self.shown = self._sorted()
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([])

    def total(self) -> int:
        return len(self.rows)

    def row_for_patient(self, patient_id: int) -> int | None:
        """The patient's row number in `rows`."""
        return self._by_patient.get(patient_id)

    # ---- sort ---------------------------------------------------------------------------------
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sort_column = column
        self.sort_order = order
        if not self.rows:
            return
        shown = self._sorted()
        if shown == self.shown:
            return
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        old_rows = [self.shown[i.row()] for i in before]
        self.shown = shown
        if before:
            where = {n: pos for pos, n in enumerate(shown)}
            self.changePersistentIndexList(
                before, [self.createIndex(where[n], i.column()) for i, n in zip(before, old_rows, strict=True)])
        self.layoutChanged.emit()

    def _sorted(self) -> list[int]:
        order = list(range(len(self.rows)))
        if 0 <= self.sort_column < _N_COLUMNS:
            keys = self.sort_keys(self.sort_column)
            # stable both ways: equal keys keep the service's order, as a Qt proxy sort does
            order.sort(key=keys.__getitem__, reverse=self.sort_order == Qt.SortOrder.DescendingOrder)
        return order

    def sort_keys(self, column: int) -> list[Any]:
        """One sort key per row of `rows` (computed once per set of rows and column)."""
        keys = self._sort_keys.get(column)
        if keys is None:
            k = _KEYS[column]
            keys = self._sort_keys[column] = [self._sort(r, k) for r in self.rows]
        return keys

    # ---- Qt model API -------------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.shown)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else _N_COLUMNS

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

    def multiData(self, index: ModelIndex, span: Any) -> None:  # noqa: N802
        """Every role a painted cell asks for, in one call (the delegates' initStyleOption)."""
        n, c = index.row(), index.column()
        if not (0 <= n < len(self.shown) and 0 <= c < _N_COLUMNS):
            return
        texts, colours = self._cell_values(self.shown[n])
        for slot in span:
            role = slot.role()
            if role == _DISPLAY:
                slot.setData(texts[c])
            elif role == _ALIGN:
                slot.setData(_ALIGNMENTS[c])
            elif role == _FOREGROUND:
                colour = colours[c]
                if colour is not None:
                    slot.setData(colour)
            elif role == _TOOLTIP:
                slot.setData(self._tooltip(self.rows[self.shown[n]], _KEYS[c]))

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        n, c = index.row(), index.column()
        if not (0 <= n < len(self.shown) and 0 <= c < _N_COLUMNS):
            return None
        if role == RowRole:
            return self.rows[self.shown[n]]
        if role == SortRole:
            return self.sort_keys(c)[self.shown[n]]
        if role == IdRole:
            return self.rows[self.shown[n]].patient_id
        if role == _DISPLAY:
            return self._cell_values(self.shown[n])[0][c]
        if role == _ALIGN:
            return _ALIGNMENTS[c]
        if role == _FOREGROUND:
            return self._cell_values(self.shown[n])[1][c]
        if role == _TOOLTIP:
            return self._tooltip(self.rows[self.shown[n]], _KEYS[c])
        return None

    def _cell_values(self, n: int) -> tuple[tuple[str, ...], tuple[QColor | None, ...]]:
        """Display texts and text colours of row `n` of `rows`, made on first paint."""
        cell = self._cells.get(n)
        if cell is None:
            r = self.rows[n]
            cell = self._cells[n] = (tuple(self._display(r, k) for k in _KEYS),
                                     tuple(self._foreground(r, k) for k in _KEYS))
        return cell

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
            pair = score_pair(r.phq9_baseline, r.phq9_last)
            return f"{pair}  ({fmt_date(r.phq9_last_on, t)})" if r.phq9_last_on else pair
        if key == "phq9_change":
            return r.phq9_change_text
        if key == "gad7":
            return score_pair(r.gad7_baseline, r.gad7_last)
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
            return _STATUS_RANK.get(r.status, 9)
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
            return _OVERDUE
        if key == "phq9_change":
            change = r.phq9_change
            if change is not None and change >= 0.5:
                return _RESPONSE
            if change is not None and change < 0:
                return _WORSE
        if key in ("last_review", "care_manager", "clinician"):
            return _SECONDARY
        return None


class RegistryProxy(QSortFilterProxyModel):
    """The registry's filters (my caseload, care manager, clinician, status, flagged, one flag,
    free text) over `RegistryModel`; sorting is delegated to the source model's precomputed keys.

    A filter change computes which rows pass with list comprehensions, then re-filters only when
    that set changed (one more letter of a name already found repaints nothing); Qt then asks
    `filterAcceptsRow` once per row, a list look-up. The view-level helpers (`index_for_patient`,
    `row_at`, `shown_rows`) answer in view rows.
    """

    def __init__(self, parent: Any = None, source: RegistryModel | None = None) -> None:
        super().__init__(parent)
        self.criteria = RegistryFilter()
        self._accept: list[bool] = []
        self._passing: list[int] | None = None  # row numbers of `rows` that pass, in `rows` order
        self._source: RegistryModel | None = None
        self.setDynamicSortFilter(False)
        if source is not None:
            self.setSourceModel(source)

    def setSourceModel(self, source: RegistryModel) -> None:  # type: ignore[override]  # noqa: N802
        old = self.sourceModel()
        if old is not None:
            old.modelReset.disconnect(self._recompute)
        # Connected before the base class connects its own slots, so on a reset the new rows'
        # filter answer is ready before the proxy rebuilds its mapping.
        source.modelReset.connect(self._recompute)
        self._source = source  # keep the Python object alive as long as the proxy
        super().setSourceModel(source)
        self._recompute()

    @property
    def source(self) -> RegistryModel:
        return self._source

    # ---- what the pane and the main window use (forwarded to the rows) ----------------------
    @property
    def rows(self) -> list[Any]:
        return self.source.rows

    @property
    def flagged_count(self) -> int:
        return self.source.flagged_count

    def set_rows(self, rows: Sequence[Any], today: date | None = None) -> None:
        self.source.set_rows(rows, today)

    def clear(self) -> None:
        self.source.clear()

    def total(self) -> int:
        """Rows before filtering (`rowCount()` is the rows shown)."""
        return self.source.total()

    def row_for_patient(self, patient_id: int) -> int | None:
        return self.source.row_for_patient(patient_id)

    def index_for_patient(self, patient_id: int, column: int = 0) -> QModelIndex:
        """The patient's index in the view; invalid when unknown or filtered out."""
        src = self.source
        n = src.row_for_patient(patient_id)
        if n is None or not self._accept[n]:
            return QModelIndex()
        return self.mapFromSource(src.index(src.shown.index(n), column))

    def row_at(self, view_row: int) -> Any:
        src = self.source
        return src.rows[src.shown[self.mapToSource(self.index(view_row, 0)).row()]]

    def shown_rows(self) -> list[Any]:
        src = self.source
        accept, rows = self._accept, src.rows
        return [rows[n] for n in src.shown if accept[n]]

    # ---- filter and sort ----------------------------------------------------------------------
    def set_filter(self, **changes: Any) -> None:
        if "text" in changes:
            changes["text"] = (changes["text"] or "").strip().casefold()
        c = self.criteria
        if all(getattr(c, key) == value for key, value in changes.items()):
            return
        for key, value in changes.items():
            setattr(c, key, value)
        passing = self._passing_rows()
        if passing == self._passing:
            return
        self.beginFilterChange()
        self._set_passing(passing)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.source.sort(column, order)  # the proxy itself never sorts: rows keep the source's order

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:  # noqa: N802
        return self._accept[self.source.shown[source_row]]

    def multiData(self, index: ModelIndex, span: Any) -> None:  # noqa: N802
        """Forward a painted cell's roles to the source in one call (the base asks role by role)."""
        if index.isValid():
            self.source.multiData(self.mapToSource(index), span)

    def _recompute(self) -> None:
        self._set_passing(self._passing_rows())

    def _passing_rows(self) -> list[int]:
        c, rows = self.criteria, self.source.rows
        out = list(range(len(rows)))
        if c.care_manager_id is not None:
            out = [n for n in out if rows[n].care_manager_id == c.care_manager_id]
        if c.clinician_id is not None:
            out = [n for n in out if rows[n].clinician_id == c.clinician_id]
        if c.statuses is not None:
            out = [n for n in out if rows[n].status in c.statuses]
        if c.flagged_only:
            out = [n for n in out if rows[n].flags]
        if c.flag is not None:
            flag = c.flag
            out = [n for n in out if any(h.flag is flag for h in rows[n].flags)]
        if c.text:
            text, keys = c.text, self.source.search_keys
            out = [n for n in out if text in keys[n]]
        return out

    def _set_passing(self, passing: list[int]) -> None:
        accept = [False] * len(self.source.rows)
        for n in passing:
            accept[n] = True
        self._accept = accept
        self._passing = passing
