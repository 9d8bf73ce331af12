"""My work: the signed-in person's worklist (services.worklists), the first screen after sign-in.

A category list with counts on the left (All first), the items on the right; double-click or
Enter opens what the item is about (the chart, the case review, the billing adjustment, the
users dialog, a backup). Rows load off the GUI thread; the pane reloads after every write.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.domain.roles import Role
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.registry_model import RowRole, SortRole
from cocm_desktop.gui.registry_pane import RegistryTable
from cocm_desktop.gui.resources import MUTED, icon
from cocm_desktop.gui.table_model import Col, RecordTableModel
from cocm_desktop.gui.worker import BusyOverlay, LoadQueue, PaneLoad, run_in_background
from cocm_desktop.services.changes import ChangeEvent
from cocm_desktop.services.worklists import KINDS, WorkItem, WorkKind, Worklist

OVERDUE = "#B3261E"


def _due_text(i: WorkItem) -> str:
    if i.due_on is None:
        return ""
    return f"{i.due_on:%d %b %Y}" + ("  overdue" if i.overdue and i.due_on < date.today() else "")


ITEM_COLUMNS = [
    Col("What", lambda i: i.kind.label, sort=lambda i: list(WorkKind).index(i.kind), width=270),
    Col("Patient", lambda i: i.patient_name, sort=lambda i: i.patient_name.lower(), width=180,
        bold=lambda i: bool(i.patient_name)),
    Col("MRN", lambda i: i.mrn, width=90),
    Col("Due / since", _due_text, sort=lambda i: i.due_on or date.max, width=180,
        color=lambda i: OVERDUE if i.overdue else None),
    Col("To do", lambda i: i.what, tip=lambda i: i.what),
]


class _Category:
    """One line of the category list: a kind (None = all) and its count."""

    def __init__(self, kind: WorkKind | None, count: int) -> None:
        self.kind = kind
        self.count = count

    @property
    def id(self) -> str:
        return self.kind.value if self.kind else "all"


CATEGORY_COLUMNS = [
    Col("", lambda c: f"{c.kind.label if c.kind else 'All'}   {c.count}",
        bold=lambda c: c.count > 0 and c.kind is not None,
        color=lambda c: None if c.count else MUTED),
]


class _KindProxy(QSortFilterProxyModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.kind: WorkKind | None = None

    def set_kind(self, kind: WorkKind | None) -> None:
        self.beginFilterChange()
        self.kind = kind
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:  # noqa: N802
        if self.kind is None:
            return True
        item = self.sourceModel().index(row, 0, parent).data(RowRole)
        return item is not None and item.kind is self.kind


class WorklistPane(PaneLoad, QWidget):
    openItem = Signal(object)  # WorkItem
    countsChanged = Signal(int)  # total items

    def __init__(self, context: AppContext, parent: QWidget | None = None, backup_state=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.ctx = context
        self._backup_state = backup_state  # () -> services.worklists.BackupState | None, read off-thread
        self._generation = 0
        self.loading = False
        self.load_count = 0
        self.loads = LoadQueue(self._load)  # events arriving while it loads make one more load
        self.worklist: Worklist | None = None
        self.model = RecordTableModel(ITEM_COLUMNS, self, id_of=lambda i: i.key)
        self.proxy = _KindProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SortRole)
        self.categories = RecordTableModel(CATEGORY_COLUMNS, self)
        self._build()
        context.changes.connect(self.on_changes)

    # ---- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        header = QFrame(self)
        header.setObjectName("PaneHeader")
        hl = QHBoxLayout(header)
        hl.setContentsMargins(20, 14, 20, 12)
        title = QLabel("My work", header)
        title.setProperty("role", "title")
        self.count_label = QLabel("", header)
        self.count_label.setProperty("role", "muted")
        hl.addWidget(title)
        hl.addSpacing(12)
        hl.addWidget(self.count_label, 0, Qt.AlignmentFlag.AlignBottom)
        hl.addStretch(1)
        self.backup_label = QLabel("", header)
        self.backup_label.setProperty("role", "muted")
        self.backup_label.setVisible(self.ctx.role is Role.CLINIC_LEAD)
        hl.addWidget(self.backup_label)
        legend = QLabel("Double-click or Enter opens the item", header)
        legend.setProperty("role", "muted")
        hl.addSpacing(16)
        hl.addWidget(legend)
        self.refresh_button = QPushButton(icon("refresh", MUTED), "", header)
        self.refresh_button.setToolTip("Refresh (F5)")
        self.refresh_button.clicked.connect(self.reload)
        hl.addWidget(self.refresh_button)
        outer.addWidget(header)

        body = QWidget(self)
        bl = QHBoxLayout(body)
        bl.setContentsMargins(16, 12, 16, 12)
        bl.setSpacing(12)
        self.category_view = QListView(body)
        self.category_view.setObjectName("worklistCategories")
        self.category_view.setModel(self.categories)
        self.category_view.setFixedWidth(320)
        self.category_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.category_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.category_view.setSpacing(2)
        self.category_view.clicked.connect(self._category_chosen)
        bl.addWidget(self.category_view)
        right = QVBoxLayout()
        self.table = RegistryTable(body)  # Enter opens the item, as in the registry
        self.table.setObjectName("worklistTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the service's order until a header is clicked
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(32)
        hh = self.table.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setStretchLastSection(True)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for n, col in enumerate(ITEM_COLUMNS):
            if col.width:
                self.table.setColumnWidth(n, col.width)
        self.table.doubleClicked.connect(self._activate)
        self.table.activatedRow.connect(self._activate)
        right.addWidget(self.table)
        self.empty = QLabel("Nothing needs your action now.", body)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("role", "muted")
        self.empty.hide()
        right.addWidget(self.empty)
        bl.addLayout(right, 1)
        outer.addWidget(body, 1)
        self.busy = BusyOverlay(body, "Loading your work…")

    # ---- loading ---------------------------------------------------------------------------------
    def on_changes(self, event: ChangeEvent) -> None:
        """Every kind of change can add or settle a work item (a score, a risk, a recommendation,
        a submission, a user to set up): the list reloads on any event."""
        if event.kinds and not self.ctx.db.locked:
            self.reload()

    def reload(self) -> None:
        """Read the list again (after the load running now, if one is)."""
        self.loads.all()

    def _load(self) -> None:
        from cocm_desktop.services.worklists import worklist

        generation = self._generation
        self.loading = True
        if self.worklist is None:
            self.busy.start()
        ctx, backup_state = self.ctx, self._backup_state

        def work() -> Worklist:
            backup = backup_state() if backup_state is not None else None
            return ctx.read(worklist, backup=backup)

        def failed(exc: BaseException) -> None:
            self.loads.ended()
            self._failed(generation, exc)

        run_in_background(work, lambda wl: self._loaded(generation, wl), failed)

    def _loaded(self, generation: int, wl: Worklist) -> None:
        self.loads.ended()
        if generation != self._generation:  # cleared for the lock meanwhile
            return
        self.loading = False
        self.busy.stop()
        self.load_count += 1
        self.worklist = wl
        self.model.set_rows(wl.items)
        counts = wl.counts
        current = self.proxy.kind
        self.categories.set_rows([_Category(None, wl.total)] + [_Category(k, counts[k]) for k in KINDS[wl.role]])
        keep = current if current is not None and counts.get(current) else None
        self._select_category(keep)
        self.count_label.setText(("1 item needs your action" if wl.total == 1 else f"{wl.total} items need your action")
                                 if wl.total else "Nothing needs your action now")
        self.backup_label.setText(wl.backup_text or "")
        self.empty.setVisible(wl.total == 0)
        self.table.setVisible(wl.total > 0)
        self.countsChanged.emit(wl.total)

    def clear_for_lock(self) -> None:
        self._generation += 1
        self.loads.drop()
        self.loading = False
        self.busy.stop()
        self.worklist = None
        self.model.set_rows([])
        self.categories.set_rows([])
        self.count_label.setText("")
        self.backup_label.setText("")

    # ---- categories and items ------------------------------------------------------------------------
    def count_of(self, kind: WorkKind) -> int:
        return self.worklist.counts.get(kind, 0) if self.worklist is not None else 0

    def _select_category(self, kind: WorkKind | None) -> None:
        self.proxy.set_kind(kind)
        for row, c in enumerate(self.categories.rows):
            if c.kind is kind:
                self.category_view.setCurrentIndex(self.categories.index(row, 0))

    def _category_chosen(self, index: QModelIndex) -> None:
        c = self.categories.rows[index.row()] if index.isValid() else None
        self._select_category(c.kind if c is not None else None)

    def show_kind(self, kind: WorkKind | None) -> None:
        self._select_category(kind)

    def visible_items(self) -> list[WorkItem]:
        return [self.proxy.index(r, 0).data(RowRole) for r in range(self.proxy.rowCount())]

    def _activate(self, index: QModelIndex) -> None:
        item = index.data(RowRole) if index.isValid() else None
        if item is not None:
            self.openItem.emit(item)
