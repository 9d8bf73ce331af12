"""Registry pane: every open episode at a glance, filters, and the way into a chart.

Rows load off the GUI thread (`services.registry.build_registry`) into `RegistryModel` (which also
sorts, by precomputed keys); the table shows them through `RegistryProxy`, a
QSortFilterProxyModel that applies the filters.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.domain.episode import EpisodeStatus
from cocm_desktop.domain.flags import Flag
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.registry_delegates import FlagChipsDelegate, MinutesDelegate, PatientDelegate
from cocm_desktop.gui.registry_model import COLUMN_INDEX, COLUMNS, IdRole, RegistryModel, RegistryProxy
from cocm_desktop.gui.resources import MUTED, icon
from cocm_desktop.gui.worker import BusyOverlay, LoadQueue, PaneLoad, run_in_background
from cocm_desktop.services.changes import Change, ChangeEvent


class RegistryTable(QTableView):
    activatedRow = Signal(QModelIndex)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Enter opens the chart
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.activatedRow.emit(self.currentIndex())
            return
        super().keyPressEvent(event)


class RegistryPane(PaneLoad, QWidget):
    openChart = Signal(int)  # patient id
    newPatientRequested = Signal()
    loaded = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = context
        self._generation = 0
        self.loading = False
        self.load_count = 0
        self.full_loads = 0  # whole-registry reads (a change to a few patients re-reads only theirs)
        self.loads = LoadQueue(self._load_all, self._load_some)
        self.source = RegistryModel(self)
        self.model = RegistryProxy(self, self.source)  # what the table shows: the filtered rows
        self._build()
        context.changes.connect(self.on_changes)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        # A keystroke costs ~20 ms at 10,000 rows: a short pause only coalesces fast typing, so
        # the list follows the search within ~70 ms.
        self._search_timer.setInterval(50)
        self._search_timer.timeout.connect(self._apply_text)

    # ---- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        header = QFrame(self)
        header.setObjectName("PaneHeader")
        hl = QVBoxLayout(header)
        hl.setContentsMargins(20, 14, 20, 12)
        hl.setSpacing(10)
        top = QHBoxLayout()
        title = QLabel("Registry", header)
        title.setProperty("role", "title")
        self.count_label = QLabel("", header)
        self.count_label.setProperty("role", "muted")
        top.addWidget(title)
        top.addSpacing(12)
        top.addWidget(self.count_label, 0, Qt.AlignmentFlag.AlignBottom)
        top.addStretch(1)
        self.new_patient_button = QPushButton(icon("plus", "#FFFFFF"), "New patient…", header)
        self.new_patient_button.setObjectName("newPatientButton")
        self.new_patient_button.setProperty("primary", True)
        self.new_patient_button.setToolTip("Add a patient and enroll them (Ctrl+N)")
        self.new_patient_button.clicked.connect(self.newPatientRequested)
        allowed = self.ctx.can(Permission.ADD_PATIENT) and self.ctx.can(Permission.ENROLL)
        self.new_patient_button.setVisible(allowed)
        top.addWidget(self.new_patient_button)
        top.addSpacing(8)
        self.search = QLineEdit(header)
        self.search.setObjectName("registrySearch")
        self.search.setPlaceholderText("Find patient by name or MRN   (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search", MUTED), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(300)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self._open_first_match)
        top.addWidget(self.search)
        self.refresh_button = QPushButton(icon("refresh", MUTED), "", header)
        self.refresh_button.setToolTip("Refresh (F5)")
        self.refresh_button.clicked.connect(self.reload)
        top.addWidget(self.refresh_button)
        hl.addLayout(top)

        filters = QHBoxLayout()
        filters.setSpacing(8)
        self.mine = QCheckBox(self._mine_label(), header)
        self.mine.setObjectName("myCaseload")
        self.mine.toggled.connect(self._apply_filters)
        self.mine.setVisible(self.ctx.role in (Role.CARE_MANAGER, Role.CLINICIAN))
        filters.addWidget(self.mine)
        self.care_manager = QComboBox(header)
        self.care_manager.setObjectName("careManagerFilter")
        self.care_manager.addItem("All care managers", None)
        self.care_manager.currentIndexChanged.connect(self._apply_filters)
        self.care_manager.setMinimumWidth(170)
        filters.addWidget(self.care_manager)
        self.status = QComboBox(header)
        self.status.setObjectName("statusFilter")
        self.status.addItem("All open statuses", None)
        for st in (EpisodeStatus.ENROLLED, EpisodeStatus.ACTIVE, EpisodeStatus.RELAPSE_PREVENTION):
            self.status.addItem(st.label, frozenset({st.value}))
        self.status.currentIndexChanged.connect(self._apply_filters)
        filters.addWidget(self.status)
        self.flag = QComboBox(header)
        self.flag.setObjectName("flagFilter")
        self.flag.setMinimumWidth(200)
        self._fill_flag_combo({})
        self.flag.currentIndexChanged.connect(self._apply_filters)
        filters.addWidget(self.flag)
        self.clear_button = QPushButton("Clear filters", header)
        self.clear_button.setProperty("flat", True)
        self.clear_button.clicked.connect(self.clear_filters)
        filters.addWidget(self.clear_button)
        filters.addStretch(1)
        legend = QLabel("Double-click or Enter opens the chart", header)
        legend.setProperty("role", "muted")
        filters.addWidget(legend)
        hl.addLayout(filters)
        outer.addWidget(header)

        body = QWidget(self)
        bl = QVBoxLayout(body)
        bl.setContentsMargins(16, 12, 16, 12)
        self.table = RegistryTable(body)
        self.table.setObjectName("registryTable")
        self.table.setProperty("dense", True)
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setMouseTracking(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(34)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        hh = self.table.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setStretchLastSection(True)
        hh.setSectionsMovable(True)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for n, col in enumerate(COLUMNS):
            self.table.setColumnWidth(n, col.width)
        self.table.setItemDelegateForColumn(COLUMN_INDEX["flags"], FlagChipsDelegate(self.table))
        self.table.setItemDelegateForColumn(COLUMN_INDEX["minutes"], MinutesDelegate(self.table))
        self.table.setItemDelegateForColumn(COLUMN_INDEX["patient"], PatientDelegate(self.table))
        self.table.sortByColumn(COLUMN_INDEX["flags"], Qt.SortOrder.DescendingOrder)
        self.table.doubleClicked.connect(self._activate)
        self.table.activatedRow.connect(self._activate)
        bl.addWidget(self.table)
        self.empty = QLabel("", body)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("role", "muted")
        self.empty.setWordWrap(True)
        self.empty.hide()
        bl.addWidget(self.empty)
        outer.addWidget(body, 1)
        self.busy = BusyOverlay(body, "Loading the registry…")

    def _mine_label(self) -> str:
        return "My caseload" if self.ctx.role is Role.CARE_MANAGER else "My patients"

    def _fill_flag_combo(self, counts: dict[Flag, int]) -> None:
        current = self.flag.currentData() if self.flag.count() else None
        self.flag.blockSignals(True)
        self.flag.clear()
        self.flag.addItem("All patients", None)
        self.flag.addItem("Flagged only", "any")
        for f in Flag:
            n = counts.get(f, 0)
            self.flag.addItem(f"{f.label} ({n})", f.value)
            self.flag.setItemData(self.flag.count() - 1, f.description, Qt.ItemDataRole.ToolTipRole)
        index = self.flag.findData(current) if current is not None else 0
        self.flag.setCurrentIndex(max(0, index))
        self.flag.blockSignals(False)

    def _fill_care_managers(self) -> None:
        current = self.care_manager.currentData()
        names = sorted({(r.care_manager, r.care_manager_id) for r in self.model.rows})
        self.care_manager.blockSignals(True)
        self.care_manager.clear()
        self.care_manager.addItem("All care managers", None)
        for name, uid in names:
            self.care_manager.addItem(name, uid)
        index = self.care_manager.findData(current) if current is not None else 0
        self.care_manager.setCurrentIndex(max(0, index))
        self.care_manager.blockSignals(False)

    # ---- loading ---------------------------------------------------------------------------------
    #: what a registry row shows: everything about a patient's episode, staff names, policy figures
    #: (billing submissions are not on the registry)
    SHOWN = frozenset(Change) - {Change.BILLING}

    def on_changes(self, event: ChangeEvent) -> None:
        """A write here or elsewhere: the rows of the patients it names are read again (all rows
        when it names none, or many)."""
        if not event.has(*self.SHOWN) or self.ctx.db.locked:
            return
        if event.many or not event.patient_ids or not self.model.rows:
            self.loads.all()
        else:
            self.loads.some(event.patient_ids)

    def reload(self) -> None:
        """Read every row again (after the load running now, if one is)."""
        self.loads.all()

    def _load_all(self) -> None:
        from cocm_desktop.services.registry import build_registry

        generation = self._generation
        self.loading = True
        self.full_loads += 1
        if not self.model.rows:
            self.busy.start("Loading the registry…")
        ctx = self.ctx
        today = date.today()

        def work():  # type: ignore[no-untyped-def]
            return ctx.read(build_registry, today=today)

        run_in_background(work, lambda rows: self._loaded(generation, rows, today),
                          lambda exc: self._load_failed(generation, exc))

    def _load_some(self, patient_ids: frozenset[int]) -> None:
        from cocm_desktop.services.registry import registry_rows_of

        generation = self._generation
        ctx = self.ctx
        today = date.today()

        def work():  # type: ignore[no-untyped-def]
            return ctx.read(registry_rows_of, patient_ids, today=today)

        def merge(rows: list) -> None:  # type: ignore[type-arg]
            # their rows replace what was shown for them (none: they left the registry)
            kept = [r for r in self.model.rows if r.patient_id not in patient_ids]
            self._loaded(generation, kept + rows, today)

        run_in_background(work, merge, lambda exc: self._load_failed(generation, exc))

    def _load_failed(self, generation: int, exc: BaseException) -> None:
        self.loads.ended()
        self._failed(generation, exc)

    def _loaded(self, generation: int, rows: list, today: date) -> None:  # type: ignore[type-arg]
        if generation != self._generation:  # cleared for the lock meanwhile
            self.loads.ended()
            return
        selected = self.selected_patient_id()
        self.model.set_rows(rows, today)
        counts: dict[Flag, int] = {}
        for r in rows:
            for h in r.flags:
                counts[h.flag] = counts.get(h.flag, 0) + 1
        self._fill_flag_combo(counts)
        self._fill_care_managers()
        self._apply_filters()
        if selected is not None:
            self.select_patient(selected)
        self.loading = False
        self.load_count += 1
        self.busy.stop()
        self.loaded.emit()
        self.loads.ended()

    def clear_for_lock(self) -> None:
        self._generation += 1
        self.loads.drop()
        self.loading = False
        self.busy.stop()
        self.model.clear()
        self.search.clear()
        self._fill_care_managers()
        self._fill_flag_combo({})
        self._update_counts()

    # ---- filters ------------------------------------------------------------------------------------
    def _apply_text(self) -> None:
        self.model.set_filter(text=self.search.text())
        self._update_counts()

    def _apply_filters(self) -> None:
        me = self.ctx.actor.user_id
        mine = self.mine.isChecked() and self.mine.isVisible()
        is_cm = self.ctx.role is Role.CARE_MANAGER
        flag_data = self.flag.currentData()
        cm = self.care_manager.currentData()
        self.model.set_filter(
            care_manager_id=me if (mine and is_cm) else cm,
            clinician_id=me if (mine and not is_cm) else None,
            statuses=self.status.currentData(),
            flagged_only=flag_data == "any",
            flag=Flag(flag_data) if flag_data not in (None, "any") else None,
            text=self.search.text(),
        )
        self.care_manager.setEnabled(not (mine and is_cm))
        self._update_counts()

    def clear_filters(self) -> None:
        for w in (self.mine, self.care_manager, self.status, self.flag, self.search):
            w.blockSignals(True)
        self.mine.setChecked(False)
        self.care_manager.setCurrentIndex(0)
        self.status.setCurrentIndex(0)
        self.flag.setCurrentIndex(0)
        self.search.clear()
        for w in (self.mine, self.care_manager, self.status, self.flag, self.search):
            w.blockSignals(False)
        self._apply_filters()

    def _update_counts(self) -> None:
        total = self.model.total()
        shown = self.model.rowCount()
        flagged = self.model.flagged_count
        if total == 0:
            self.count_label.setText("")
            self.empty.setText("No open episodes yet. Patients appear here once they are enrolled."
                               if self.load_count or not self.loading else "")
        else:
            text = f"{total} open episodes · {flagged} flagged"
            if shown != total:
                text += f" · {shown} shown"
            self.count_label.setText(text)
            self.empty.setText("No patient matches these filters." if shown == 0 else "")
        self.empty.setVisible(bool(self.empty.text()))
        self.table.setVisible(shown > 0 or (total == 0 and not self.load_count))

    # ---- selection and opening ------------------------------------------------------------------------
    def selected_patient_id(self) -> int | None:
        index = self.table.currentIndex()
        return index.data(IdRole) if index.isValid() else None

    def select_patient(self, patient_id: int) -> bool:
        index = self.model.index_for_patient(patient_id)
        if not index.isValid():
            return False
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)
        return True

    def _activate(self, index: QModelIndex) -> None:
        pid = index.data(IdRole)
        if pid is not None:
            self.openChart.emit(int(pid))

    def _open_first_match(self) -> None:
        self._search_timer.stop()
        self._apply_text()
        if self.model.rowCount() >= 1:
            self._activate(self.model.index(0, 0))

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def visible_patient_ids(self) -> list[int]:
        return [r.patient_id for r in self.model.shown_rows()]
