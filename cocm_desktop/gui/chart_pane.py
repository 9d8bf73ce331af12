"""Patient chart: what a clinician sees at sign-off, and every action on the episode.

Header (identity, program, status, weeks, consent and initiating-visit state), a red safety banner
while a risk event is open, flag chips, the PHQ-9/GAD-7 trend and measures, and tabs for overview,
contacts, care plan, recommendations, referrals, time and history. Data comes from
`services.chart.open_chart` off the GUI thread; every action is one service call through
`AppContext.write` (buttons are enabled per role, the service's refusal is what counts and is shown).
"""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.domain import instruments as inst
from cocm_desktop.domain.activities import ACTIVITIES, CONTACT_KINDS, CONTACT_MODES, REFERRAL_STATUSES
from cocm_desktop.domain.case_review import TOLD_MODES, LoopState
from cocm_desktop.domain.episode import CloseReason, EpisodeStatus
from cocm_desktop.domain.roles import Permission
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import describe, is_expected, show_error
from cocm_desktop.gui.form_dialog import Field, FormDialog
from cocm_desktop.gui.registry_model import CHIP_TEXT, RowRole, fmt_date, fmt_long
from cocm_desktop.gui.resources import ACCENT, icon
from cocm_desktop.gui.table_model import Col, RecordTableModel, sorted_proxy
from cocm_desktop.gui.trend_chart import Point, TrendChart
from cocm_desktop.gui.worker import BusyOverlay, run_in_background
from cocm_desktop.store.errors import SessionLocked

TOLD_LABELS = {"phone": "Phone", "video": "Video", "portal": "Patient portal", "in_person": "In person"}
E = html.escape


def _dt(d: datetime | None) -> str:
    return "\u2014" if d is None else f"{d:%b} {d.day}, {d.year} {d:%H:%M}"


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _pill(text: str, kind: str = "true", tip: str = "") -> QLabel:
    label = QLabel(text)
    label.setProperty("pill", kind)
    if tip:
        label.setToolTip(tip)
    return label


def _table(parent: QWidget, model: RecordTableModel, name: str) -> QTableView:
    view = QTableView(parent)
    view.setObjectName(name)
    view.setModel(sorted_proxy(model, view))
    view.setSortingEnabled(True)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.setProperty("dense", True)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(28)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setHighlightSections(False)
    view.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    for n, col in enumerate(model.columns):
        if col.width:
            view.setColumnWidth(n, col.width)
    return view


def _selected(view: QTableView) -> Any:
    index = view.currentIndex()
    return index.data(RowRole) if index.isValid() else None


def _rich(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _scroll(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


class ChartPane(QWidget):
    patientChanged = Signal(object, str)  # patient id (or None), display name
    loaded = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = context
        self.patient_id: int | None = None
        self.episode_id: int | None = None
        self.chart: Any = None
        self.time_entries: list[Any] = []
        self.loading = False
        self._generation = 0
        self._instrument = inst.PHQ9
        self._build()
        self._show_empty()

    # ================================================================= layout
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.setSpacing(10)

        # ---- header card
        self.header = QFrame(self)
        self.header.setObjectName("ChartHeader")
        hl = QVBoxLayout(self.header)
        hl.setContentsMargins(18, 12, 18, 12)
        hl.setSpacing(6)
        row1 = QHBoxLayout()
        self.name_label = QLabel("", self.header)
        self.name_label.setObjectName("PatientName")
        self.identity_label = QLabel("", self.header)
        self.identity_label.setProperty("role", "muted")
        self.identity_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row1.addWidget(self.name_label)
        row1.addSpacing(10)
        row1.addWidget(self.identity_label, 1, Qt.AlignmentFlag.AlignBottom)
        self.episode_combo = QComboBox(self.header)
        self.episode_combo.setObjectName("episodeCombo")
        self.episode_combo.setToolTip("Episodes of care of this patient")
        self.episode_combo.activated.connect(self._episode_chosen)
        row1.addWidget(self.episode_combo)
        hl.addLayout(row1)
        self.pills = QHBoxLayout()
        self.pills.setSpacing(6)
        hl.addLayout(self.pills)
        self.team_label = QLabel("", self.header)
        self.team_label.setProperty("role", "muted")
        self.team_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        hl.addWidget(self.team_label)
        actions = QHBoxLayout()
        actions.setSpacing(6)
        self.phq_button = self._action_button("PHQ-9…", "measure", lambda: self.enter_measure(inst.PHQ9), actions)
        self.gad_button = self._action_button("GAD-7…", "measure", lambda: self.enter_measure(inst.GAD7), actions)
        self.contact_button = self._action_button("Contact note…", "phone", self.record_contact, actions)
        self.timer_button = self._action_button("Start timer", "clock", self._start_timer, actions)
        self.plan_button = self._action_button("Care plan…", "careplan", self.edit_care_plan, actions)
        self.referral_button = self._action_button("Referral…", "referral", self.add_referral, actions)
        self.episode_button = QToolButton(self.header)
        self.episode_button.setText("Episode")
        self.episode_button.setObjectName("episodeMenuButton")
        self.episode_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.episode_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.episode_menu = QMenu(self.episode_button)
        self.act_stepdown = self.episode_menu.addAction("Step down to relapse prevention…", self.step_down)
        self.act_stepup = self.episode_menu.addAction("Step back up to active care…", self.step_up)
        self.episode_menu.addSeparator()
        self.act_transfer = self.episode_menu.addAction("Request transfer to specialty care…", self.request_transfer)
        self.act_confirm = self.episode_menu.addAction("Confirm transfer handoff…", self.confirm_transfer)
        self.act_close = self.episode_menu.addAction("Close out…", self.close_out)
        self.episode_menu.addSeparator()
        self.act_risk = self.episode_menu.addAction("Record a risk event…", self.open_risk_event)
        self.act_visit = self.episode_menu.addAction("Record initiating visit…", self.record_initiating_visit)
        self.act_reenter = self.episode_menu.addAction("Re-enroll (re-entry)…", self.re_enroll)
        self.episode_menu.setToolTipsVisible(True)
        self.episode_button.setMenu(self.episode_menu)
        actions.addWidget(self.episode_button)
        self.next_label = QLabel("", self.header)
        self.next_label.setObjectName("nextActionLabel")
        self.next_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.next_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        actions.addWidget(self.next_label, 1)
        hl.addLayout(actions)
        outer.addWidget(self.header)

        # ---- safety banner
        self.banner = QFrame(self)
        self.banner.setObjectName("SafetyBanner")
        bl = QHBoxLayout(self.banner)
        bl.setContentsMargins(14, 8, 10, 8)
        warn = QLabel(self.banner)
        warn.setPixmap(icon("warning", "#FFFFFF", 22).pixmap(22, 22))
        bl.addWidget(warn)
        self.banner_text = QLabel("", self.banner)
        self.banner_text.setWordWrap(True)
        self.banner_text.setObjectName("safetyBannerText")
        bl.addWidget(self.banner_text, 1)
        self.banner_steps = QPushButton("Protocol steps…", self.banner)
        self.banner_steps.clicked.connect(self.record_risk_steps)
        self.banner_outcome = QPushButton("Record outcome…", self.banner)
        self.banner_outcome.clicked.connect(self.record_risk_outcome)
        bl.addWidget(self.banner_steps)
        bl.addWidget(self.banner_outcome)
        self.banner.hide()
        outer.addWidget(self.banner)

        # ---- flags strip
        self.flags_row = QHBoxLayout()
        self.flags_row.setSpacing(6)
        outer.addLayout(self.flags_row)

        # ---- body
        self.body = QSplitter(Qt.Orientation.Horizontal, self)
        self.body.setChildrenCollapsible(False)
        left = QFrame(self.body)
        left.setProperty("card", True)
        ll = QVBoxLayout(left)
        ll.setContentsMargins(12, 10, 12, 10)
        top = QHBoxLayout()
        self.trend_title = QLabel("Trend", left)
        self.trend_title.setProperty("role", "subtitle")
        top.addWidget(self.trend_title)
        top.addStretch(1)
        self.scale_group = QButtonGroup(self)
        for name in inst.INSTRUMENTS:
            b = QPushButton(name, left)
            b.setCheckable(True)
            b.setObjectName(f"scale_{name}")
            self.scale_group.addButton(b)
            top.addWidget(b)
            b.clicked.connect(lambda _c=False, n=name: self._set_instrument(n))
        ll.addLayout(top)
        self.outcome_label = QLabel("", left)
        self.outcome_label.setProperty("role", "muted")
        ll.addWidget(self.outcome_label)
        self.trend = TrendChart(left)
        ll.addWidget(self.trend, 3)
        self.measures_model = RecordTableModel([
            Col("Date", lambda m: _dt(m.taken_at), lambda m: m.taken_at.isoformat(), width=138),
            Col("Scale", lambda m: m.instrument, width=62),
            Col("Total", lambda m: str(m.total), lambda m: m.total, width=50,
                align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            Col("Band", lambda m: m.band, width=118),
            Col("Item 9", lambda m: "—" if m.instrument != inst.PHQ9 else str(m.items[inst.SAFETY_ITEM - 1]),
                width=56, color=lambda m: "#C62828" if m.instrument == inst.PHQ9 and m.items[inst.SAFETY_ITEM - 1] else None),
            Col("", lambda m: "baseline" if m.is_baseline else "", width=70),
            Col("Entered by", lambda m: m.entered_by),
        ], self)
        self.measures_view = _table(left, self.measures_model, "measuresTable")
        self.measures_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        ll.addWidget(self.measures_view, 2)
        self.tabs = QTabWidget(self.body)
        self.tabs.setObjectName("chartTabs")
        self.tabs.setUsesScrollButtons(True)
        self.tabs.tabBar().setExpanding(False)
        self._build_tabs()
        self.body.addWidget(left)
        self.body.addWidget(self.tabs)
        self.body.setSizes([560, 640])
        outer.addWidget(self.body, 1)

        self.empty_label = QLabel("Open a patient from the registry: double-click a row or press Enter.", self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setProperty("role", "muted")
        outer.addWidget(self.empty_label, 1)
        self.busy = BusyOverlay(self, "Opening the chart…")

    def _action_button(self, text: str, icon_name: str, slot, layout: QHBoxLayout) -> QPushButton:  # type: ignore[no-untyped-def]
        b = QPushButton(icon(icon_name, ACCENT, 18), text, self.header)
        b.clicked.connect(slot)
        layout.addWidget(b)
        return b

    def _build_tabs(self) -> None:
        # Overview
        overview = QWidget()
        ol = QVBoxLayout(overview)
        self.overview_label = _rich(overview)
        self.overview_label.setObjectName("overviewText")
        ol.addWidget(self.overview_label)
        row = QHBoxLayout()
        self.attest_button = QPushButton("Attest consent", overview)
        self.attest_button.clicked.connect(self.attest_consent)
        row.addWidget(self.attest_button)
        row.addStretch(1)
        ol.addLayout(row)
        ol.addStretch(1)
        self.tabs.addTab(_scroll(overview), "Overview")

        # Contacts
        contacts = QWidget()
        cl = QVBoxLayout(contacts)
        self.contacts_model = RecordTableModel([
            Col("When", lambda c: _dt(c.contact_at), lambda c: c.contact_at.isoformat(), width=140),
            Col("Kind", lambda c: CONTACT_KINDS.get(c.kind, c.kind) + ("" if c.reached else " · not reached"), width=150,
                color=lambda c: None if c.reached else "#B26A00"),
            Col("Mode", lambda c: CONTACT_MODES.get(c.mode, c.mode), width=80),
            Col("Min", lambda c: str(c.minutes), lambda c: c.minutes, width=40,
                align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            Col("Next step", lambda c: f"{fmt_date(c.next_step_on)} · {c.next_step}", lambda c: c.next_step_on.toordinal()),
        ], self)
        self.contacts_view = _table(contacts, self.contacts_model, "contactsTable")
        self.contacts_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.contacts_view.selectionModel().currentRowChanged.connect(self._contact_selected)
        cl.addWidget(self.contacts_view, 3)
        self.contact_detail = _rich(contacts)
        cl.addWidget(_scroll(self.contact_detail), 2)
        self.tabs.addTab(contacts, "Contacts")

        # Care plan
        plan = QWidget()
        pl = QVBoxLayout(plan)
        prow = QHBoxLayout()
        self.plan_state = QLabel("", plan)
        prow.addWidget(self.plan_state)
        prow.addStretch(1)
        self.edit_plan_button = QPushButton("Edit (new version)…", plan)
        self.edit_plan_button.clicked.connect(self.edit_care_plan)
        self.signoff_button = QPushButton("Sign off", plan)
        self.signoff_button.setObjectName("signOffButton")
        self.signoff_button.setProperty("primary", True)
        self.signoff_button.clicked.connect(self.sign_off)
        prow.addWidget(self.edit_plan_button)
        prow.addWidget(self.signoff_button)
        pl.addLayout(prow)
        self.plan_label = _rich(plan)
        pl.addWidget(_scroll(self.plan_label), 1)
        self.tabs.addTab(plan, "Care plan")

        # Recommendations
        recs = QWidget()
        rl = QVBoxLayout(recs)
        self.recs_model = RecordTableModel([
            Col("Recommended", lambda r: _dt(r.recommended_at), lambda r: r.recommended_at.isoformat(), width=140),
            Col("Kind", lambda r: r.kind_label, width=130),
            Col("State", lambda r: r.state_label, width=130,
                color=lambda r: "#B26A00" if r.state in ("recommended", "approved", "modified") else None),
            Col("Recommendation", lambda r: self._rec_text(r), tip=lambda r: self._rec_text(r)),
        ], self)
        self.recs_view = _table(recs, self.recs_model, "recommendationsTable")
        self.recs_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.recs_view.selectionModel().currentRowChanged.connect(self._rec_selected)
        rl.addWidget(self.recs_view, 2)
        self.rec_detail = _rich(recs)
        rl.addWidget(self.rec_detail, 1)
        brow = QHBoxLayout()
        self.approve_button = QPushButton("Approve", recs)
        self.approve_button.setObjectName("approveButton")
        self.approve_button.setProperty("primary", True)
        self.modify_button = QPushButton("Modify…", recs)
        self.modify_button.setObjectName("modifyButton")
        self.decline_button = QPushButton("Decline…", recs)
        self.decline_button.setObjectName("declineButton")
        self.told_button = QPushButton("Told patient…", recs)
        self.told_button.setObjectName("toldButton")
        self.close_loop_button = QPushButton("Close loop", recs)
        self.close_loop_button.setObjectName("closeLoopButton")
        self.approve_button.clicked.connect(lambda: self.decide_selected("approved"))
        self.modify_button.clicked.connect(lambda: self.decide_selected("modified"))
        self.decline_button.clicked.connect(lambda: self.decide_selected("declined"))
        self.told_button.clicked.connect(self.tell_selected)
        self.close_loop_button.clicked.connect(self.close_selected)
        for b in (self.approve_button, self.modify_button, self.decline_button):
            brow.addWidget(b)
        brow.addStretch(1)
        brow.addWidget(self.told_button)
        brow.addWidget(self.close_loop_button)
        rl.addLayout(brow)
        self.tabs.addTab(recs, "Recommendations")

        # Referrals
        refs = QWidget()
        fl = QVBoxLayout(refs)
        self.refs_model = RecordTableModel([
            Col("Referred", lambda r: fmt_date(r.referred_on), lambda r: r.referred_on.toordinal(), width=90),
            Col("To", lambda r: r.to_whom, width=170),
            Col("Status", lambda r: REFERRAL_STATUSES.get(r.status, r.status)
                + (f" ({fmt_date(r.seen_confirmed_on)})" if r.seen_confirmed_on else ""), width=120),
            Col("Reason", lambda r: r.reason, tip=lambda r: r.reason),
        ], self)
        self.refs_view = _table(refs, self.refs_model, "referralsTable")
        fl.addWidget(self.refs_view, 1)
        frow = QHBoxLayout()
        add_ref = QPushButton("Add referral…", refs)
        add_ref.clicked.connect(self.add_referral)
        self.update_ref_button = QPushButton("Update status…", refs)
        self.update_ref_button.clicked.connect(self.update_referral)
        frow.addWidget(add_ref)
        frow.addWidget(self.update_ref_button)
        frow.addStretch(1)
        fl.addLayout(frow)
        self.add_ref_button = add_ref
        self.tabs.addTab(refs, "Referrals")

        # Time
        time_tab = QWidget()
        tl = QVBoxLayout(time_tab)
        self.time_summary = QLabel("", time_tab)
        self.time_summary.setWordWrap(True)
        tl.addWidget(self.time_summary)
        self.time_model = RecordTableModel([
            Col("Date", lambda t: fmt_date(t.local_date), lambda t: (t.local_date.toordinal(), t.id), width=80),
            Col("Staff", lambda t: t.staff_name, width=140),
            Col("Activity", lambda t: t.activity_label, width=170),
            Col("Min", lambda t: str(t.minutes), lambda t: t.minutes, width=44,
                align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            Col("Source", lambda t: t.source, width=64),
            Col("Note", lambda t: (t.billed_elsewhere and f"billed as {t.billed_elsewhere}") or (t.note or ""),
                tip=lambda t: t.note),
        ], self)
        self.time_view = _table(time_tab, self.time_model, "timeTable")
        self.time_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        tl.addWidget(self.time_view, 1)
        trow = QHBoxLayout()
        self.add_time_button = QPushButton("Add time…", time_tab)
        self.add_time_button.clicked.connect(self.add_manual_time)
        trow.addWidget(self.add_time_button)
        trow.addStretch(1)
        tl.addLayout(trow)
        self.tabs.addTab(time_tab, "Time")

        # History
        hist = QWidget()
        hl = QVBoxLayout(hist)
        self.history_label = _rich(hist)
        hl.addWidget(_scroll(self.history_label))
        self.tabs.addTab(hist, "History")

    # ================================================================= loading
    def open_patient(self, patient_id: int, episode_id: int | None = None) -> None:
        if patient_id != self.patient_id:
            self.chart = None
            self.tabs.setCurrentIndex(0)
        self.patient_id = patient_id
        self.episode_id = episode_id
        self.reload()

    def reload(self) -> None:
        from cocm_desktop.services.chart import open_chart
        from cocm_desktop.services.time_log import list_time

        if self.patient_id is None:
            return
        self._generation += 1
        generation = self._generation
        self.loading = True
        if self.chart is None or self.chart.patient.id != self.patient_id:
            self.busy.start("Opening the chart…")
        ctx, pid, eid = self.ctx, self.patient_id, self.episode_id
        today = date.today()

        def work():  # type: ignore[no-untyped-def]
            chart = ctx.read(open_chart, patient_id=pid, episode_id=eid, today=today)
            try:
                entries = ctx.read(list_time, patient_id=pid, month=today)
            except Exception:  # the time tab is secondary; never block the chart on it
                entries = []
            return chart, entries

        run_in_background(work, lambda result: self._loaded(generation, result), lambda e: self._failed(generation, e))

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.loading = False
        self.busy.stop()
        if not isinstance(exc, SessionLocked):
            show_error(self, exc)

    def _loaded(self, generation: int, result: tuple[Any, list[Any]]) -> None:
        if generation != self._generation:
            return
        self.chart, self.time_entries = result
        self.loading = False
        self.busy.stop()
        chart = self.chart
        self.episode_id = chart.episode.id if chart.episode else None
        self._fill()
        self.patientChanged.emit(chart.patient.id, chart.patient.display_name)
        self.loaded.emit()

    def clear_for_lock(self) -> None:
        """Patient data leaves the screen; `patient_id` is kept so unlock can reopen it."""
        self._generation += 1
        self.loading = False
        self.busy.stop()
        self.chart = None
        self.time_entries = []
        for model in (self.measures_model, self.contacts_model, self.recs_model, self.refs_model, self.time_model):
            model.set_rows([])
        for label in (self.name_label, self.identity_label, self.team_label, self.overview_label, self.contact_detail,
                      self.plan_label, self.rec_detail, self.history_label, self.banner_text, self.next_label,
                      self.outcome_label, self.time_summary, self.plan_state):
            label.clear()
        self.trend.clear()
        self._show_empty()

    def _show_empty(self) -> None:
        for w in (self.header, self.body, self.banner):
            w.hide()
        self._clear_layout(self.flags_row)
        self.empty_label.show()

    # ================================================================= filling
    @staticmethod
    def _clear_layout(layout: QHBoxLayout) -> None:
        while layout.count():
            item = layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _fill(self) -> None:
        c = self.chart
        p = c.patient
        ep = c.episode
        today = date.today()
        self.empty_label.hide()
        self.header.show()
        self.body.show()
        self.name_label.setText(p.display_name)
        bits = [f"MRN {p.mrn}", f"born {p.date_of_birth:%b} {p.date_of_birth.day}, {p.date_of_birth.year} "
                f"({_age(p.date_of_birth, today)})"]
        if p.sex:
            bits.append(p.sex)
        if p.phone:
            bits.append(p.phone)
        if p.preferred_contact:
            bits.append(f"prefers {p.preferred_contact}")
        if p.payer_name:
            bits.append(p.payer_name)
        self.identity_label.setText("  ·  ".join(bits))
        # Episodes
        self.episode_combo.clear()
        for e in c.episodes:
            label = f"{'CoCM' if e.program == 'cocm' else 'BHI'} from {fmt_date(e.enrolled_on)}"
            label += f" — closed {fmt_date(e.closed_on)}" if e.closed_on else f" — {EpisodeStatus(e.status).label.lower()}"
            self.episode_combo.addItem(label, e.id)
        self.episode_combo.setVisible(len(c.episodes) > 1)
        if ep is not None:
            self.episode_combo.setCurrentIndex(max(0, self.episode_combo.findData(ep.id)))
        self._fill_pills()
        self._fill_banner()
        self._fill_flags()
        self._fill_trend()
        self.measures_model.set_rows(c.measures)
        self.contacts_model.set_rows(c.contacts)
        self.recs_model.set_rows(c.recommendations)
        self.refs_model.set_rows(c.referrals)
        self.time_model.set_rows(self.time_entries)
        self._fill_overview()
        self._fill_plan()
        self._fill_history()
        self._fill_time_summary()
        self._contact_selected()
        self._rec_selected()
        waiting = sum(1 for r in c.recommendations if r.state == LoopState.RECOMMENDED)
        self.tabs.setTabText(3, f"Recommendations ({waiting} waiting)" if waiting else "Recommendations")
        self.tabs.setTabText(1, f"Contacts ({len(c.contacts)})")
        self._apply_permissions()

    def _fill_pills(self) -> None:
        self._clear_layout(self.pills)
        c, ep = self.chart, self.chart.episode
        if ep is None:
            self.pills.addWidget(_pill("Not enrolled", "warn"))
            self.pills.addStretch(1)
            self.team_label.setText("")
            self.next_label.setText("")
            return
        self.pills.addWidget(_pill("CoCM" if ep.program == "cocm" else "General BHI"))
        status_kind = "bad" if ep.status == "closed" else "true"
        status = ep.status_label + (f" — {ep.close_reason_label}" if ep.close_reason_label else "")
        self.pills.addWidget(_pill(status, status_kind))
        if ep.transfer_to and ep.transfer_confirmed_on is None and ep.status != "closed":
            self.pills.addWidget(_pill(f"Transfer to {ep.transfer_to} pending", "warn"))
        self.pills.addWidget(_pill(f"Week {ep.weeks}", tip=f"Enrolled {fmt_long(ep.enrolled_on)}"))
        o = ep.outcome
        result = ep.primary_scale
        if ep.baseline is not None:
            result += f" {ep.baseline} \u2192 {ep.latest if ep.latest is not None else '—'} ({ep.change_text})"
        kind = "ok" if (o.response and o.response.value == "response") or o.remission else ("bad" if o.not_improving else "true")
        label = "remission" if o.remission else (o.response.label.lower() if o.response else "no follow-up yet")
        self.pills.addWidget(_pill(f"{result} · {label}", kind, "Change from the baseline on the primary scale"))
        consent = c.consent
        if consent is None:
            self.pills.addWidget(_pill("No consent", "bad", "Consent has not been documented"))
        elif consent.attested_by:
            self.pills.addWidget(_pill(f"Consent {fmt_date(consent.consent_on)}", "ok",
                                       f"Documented by {consent.recorded_by}; attested by {consent.attested_by}"))
        else:
            self.pills.addWidget(_pill("Consent awaiting attestation", "warn",
                                       f"Recorded by {consent.recorded_by} on {fmt_long(consent.consent_on)}; "
                                       "the treating clinician attests it"))
        if ep.initiating_visit_required:
            if ep.initiating_visit_on is None:
                self.pills.addWidget(_pill("Initiating visit missing", "bad",
                                           "New patient or not seen in the prior 12 months: an initiating visit is required"))
            else:
                self.pills.addWidget(_pill(f"Initiating visit {fmt_date(ep.initiating_visit_on)}", "ok"))
        else:
            self.pills.addWidget(_pill("Initiating visit not required", "true"))
        self.pills.addStretch(1)
        self.team_label.setText(f"Care manager {ep.care_manager}  ·  Treating clinician {ep.clinician}  ·  "
                                + "; ".join(f"{code} {text}" for code, text in ep.target_conditions))
        if ep.next_action_on is not None:
            overdue = ep.next_action_on < date.today()
            colour = "#BF360C" if overdue else "#243B53"
            self.next_label.setText(
                f"<span style='color:#627D98'>Next:</span> <b style='color:{colour}'>{fmt_date(ep.next_action_on)}</b> "
                f"{E(ep.next_action or '')}")
        else:
            self.next_label.setText("<span style='color:#BF360C'>No next action</span>")

    def _fill_banner(self) -> None:
        risks = self.chart.open_risk
        if not risks:
            self.banner.hide()
            return
        r = risks[0]
        trigger = {"item9": "PHQ-9 item 9 above 0", "statement": "patient statement",
                   "clinician_concern": "clinician concern"}.get(r.trigger, r.trigger)
        steps = [("safety assessment", r.safety_assessment_done), ("clinician notified", r.clinician_notified),
                 ("safety plan", r.safety_plan_done)]
        todo = [name for name, done in steps if not done]
        text = f"Safety: open risk event since {_dt(r.opened_at)} ({trigger})."
        text += (" Still to do: " + ", ".join(todo) + ".") if todo else " Protocol steps done; record the outcome."
        if len(risks) > 1:
            text += f" ({len(risks)} open risk events.)"
        self.banner_text.setText(text)
        self.banner.show()

    def _fill_flags(self) -> None:
        self._clear_layout(self.flags_row)
        for hit in self.chart.flags:
            chip = QLabel(CHIP_TEXT[hit.flag])
            chip.setStyleSheet(f"background:{hit.flag.colour}; color:white; border-radius:9px; padding:2px 9px; "
                               "font-size:9pt; font-weight:600;")
            chip.setToolTip(f"{hit.flag.label}\n{hit.reason}")
            self.flags_row.addWidget(chip)
        if self.chart.flags:
            self.flags_row.addStretch(1)

    def _set_instrument(self, name: str) -> None:
        self._instrument = name
        self._fill_trend()

    def _fill_trend(self) -> None:
        c, ep = self.chart, self.chart.episode
        if ep is not None and not any(m.instrument == self._instrument for m in c.measures):
            self._instrument = ep.primary_scale
        for b in self.scale_group.buttons():
            b.setChecked(b.text() == self._instrument)
        ms = [m for m in c.measures if m.instrument == self._instrument]
        points = [Point(m.taken_at.date(), m.total, m.band,
                        safety=m.instrument == inst.PHQ9 and m.items[inst.SAFETY_ITEM - 1] > 0,
                        baseline=m.is_baseline) for m in ms]
        target = None
        baseline = next((m for m in ms if m.is_baseline), None)
        if baseline is not None:
            target = baseline.total * (100 - self.ctx.policy.response_percent) / 100
        start = ep.enrolled_on if ep else None
        end = ep.closed_on if ep and ep.closed_on else date.today()
        self.trend.set_series(self._instrument, points, target=target, start=start, end=end)
        self.trend_title.setText(f"{self._instrument} trend")
        if ep is not None and self._instrument == ep.primary_scale and ep.baseline is not None:
            self.outcome_label.setText(
                f"Baseline {ep.baseline} ({fmt_date(ep.baseline_on)}) → latest {ep.latest} ({fmt_date(ep.latest_on)}): "
                f"{ep.change_text}. Dashed line: {self.ctx.policy.response_percent} % reduction (response).")
        elif baseline is None and points:
            self.outcome_label.setText("No baseline on this scale in the baseline window.")
        else:
            self.outcome_label.setText("")

    def _fill_overview(self) -> None:
        c, ep = self.chart, self.chart.episode
        if ep is None:
            self.overview_label.setText("<p>This patient has no episode of care yet.</p>")
            return
        parts = []
        goals = E(ep.patient_goals or "—").replace("\n", "<br>")
        parts.append(f"<h4>Patient goals</h4><p><i>“{goals}”</i></p>" if ep.patient_goals else "<h4>Patient goals</h4><p>—</p>")
        conds = "".join(f"<li><b>{E(code)}</b> {E(text)}</li>" for code, text in ep.target_conditions)
        parts.append(f"<h4>Target conditions</h4><ul>{conds or '<li>—</li>'}</ul>")
        meds = [m for m in c.medications if m.stopped_on is None]
        med_items = "".join(f"<li>{E(m.name)} {E(m.dose)}"
                            + (f" <span style='color:#627D98'>since {fmt_date(m.started_on)}</span>" if m.started_on else "")
                            + "</li>" for m in meds)
        parts.append(f"<h4>Current medications</h4><ul>{med_items or '<li>None recorded</li>'}</ul>")
        if ep.history:
            parts.append(f"<h4>History</h4><p>{E(ep.history).replace(chr(10), '<br>')}</p>")
        consent = c.consent
        if consent is not None:
            checks = [("team-based care explained", consent.team_care_explained),
                      ("non-face-to-face work may occur", consent.non_face_to_face_explained),
                      ("cost-sharing explained", consent.cost_sharing_explained),
                      ("patient agrees", consent.patient_agrees)]
            items = "<br>".join(
                f"<span style='color:{'#1B5E20' if ok else '#B71C1C'}'>{'✓' if ok else '✗'}</span>&nbsp;{what}"
                for what, ok in checks)
            att = (f"attested by {E(consent.attested_by)} {_dt(consent.attested_at)}" if consent.attested_by
                   else "<span style='color:#8A4B00'>awaiting the treating clinician's attestation</span>")
            parts.append(f"<h4>Consent</h4><p>{fmt_long(consent.consent_on)} — obtained by {E(consent.obtained_by)}, "
                         f"recorded by {E(consent.recorded_by)}; {att}</p><p style='margin-left:12px'>{items}</p>")
        else:
            parts.append("<h4>Consent</h4><p style='color:#B71C1C'>Not documented.</p>")
        if ep.urgent_risk_ruled_out_by:
            parts.append(f"<p style='color:#627D98'>Urgent risk ruled out by {E(ep.urgent_risk_ruled_out_by)} at enrollment.</p>")
        if ep.status == "closed":
            parts.append(f"<h4>Closed</h4><p>{fmt_long(ep.closed_on)} — {E(ep.close_reason_label or '')}. "
                         f"{E(ep.close_note or '')}</p>")
            if ep.reentry_path:
                parts.append(f"<p><b>Re-entry:</b> {E(ep.reentry_path)}</p>")
        self.overview_label.setText("".join(parts))

    def _fill_plan(self) -> None:
        plans = self.chart.care_plans
        if not plans:
            self.plan_state.setText("<span style='color:#B71C1C'>No care plan yet.</span>")
            self.plan_label.setText("<p>Draft the care plan with the patient: goals, medications, skill plan, "
                                    "follow-up cadence, next check-in, safety steps and contact preferences.</p>")
            return
        p = plans[0]
        if p.signed_off_on:
            self.plan_state.setText(f"Version {p.version} · signed off by {E(p.signed_off_by or '')} on {fmt_date(p.signed_off_on)}")
        else:
            self.plan_state.setText(f"<b style='color:#8A4B00'>Version {p.version} · awaiting the clinician's sign-off</b>")
        rows = [("Goals", p.goals), ("Medication plan", p.medication_plan), ("Skill plan", p.skill_plan),
                ("Follow-up cadence", p.follow_up_cadence),
                ("Next check-in", fmt_long(p.next_checkin_on) if p.next_checkin_on else None),
                ("Safety steps", p.safety_steps), ("Contact preferences", p.contact_preferences),
                ("Relapse-prevention plan", p.relapse_prevention_plan)]
        body = "".join(f"<h4>{E(title)}</h4><p>{E(value).replace(chr(10), '<br>')}</p>" for title, value in rows if value)
        body += (f"<p style='color:#627D98'>Version {p.version} written by {E(p.created_by)} on {_dt(p.created_at)}; "
                 f"{len(plans)} version(s) on file.</p>")
        self.plan_label.setText(body)

    def _fill_history(self) -> None:
        c = self.chart
        parts = ["<h4>Status</h4><ul>"]
        for s in c.status_history:
            frm = EpisodeStatus(s.from_status).label if s.from_status else "—"
            reason = f" ({CloseReason(s.reason).label})" if s.reason in CloseReason._value2member_map_ else ""
            parts.append(f"<li>{fmt_long(s.changed_on)}: {E(frm)} → <b>{E(EpisodeStatus(s.to_status).label)}</b>{reason}"
                         f" — {E(s.changed_by)}{(': ' + E(s.note)) if s.note else ''}</li>")
        parts.append("</ul><h4>Risk events</h4><ul>")
        for r in c.risk_events:
            outcome = (f"outcome: {E(r.outcome)} ({_dt(r.outcome_at)}, {E(r.outcome_by or '')})" if r.outcome
                       else "<b style='color:#C62828'>open</b>")
            parts.append(f"<li>{_dt(r.opened_at)} — {E(r.trigger)} — {outcome}</li>")
        if not c.risk_events:
            parts.append("<li>None</li>")
        parts.append("</ul>")
        self.history_label.setText("".join(parts))

    def _fill_time_summary(self) -> None:
        mine = sum(t.minutes for t in self.time_entries if not t.deleted)
        self.time_summary.setText(f"This month: {mine} min logged for this patient (all staff). "
                                  "Counted minutes and codes are on the registry and the billing report.")

    # ================================================================= selection details
    @staticmethod
    def _rec_text(r: Any) -> str:
        drug = " ".join(x for x in (r.drug, r.dose) if x)
        text = f"{drug}: {r.text}" if drug else r.text
        if r.modified_text:
            text += f"  → modified: {r.modified_text}"
        return text

    def _contact_selected(self, *_args: object) -> None:
        c = _selected(self.contacts_view)
        if c is None:
            self.contact_detail.setText("<p style='color:#627D98'>Select a contact to read the note.</p>")
            return
        rows = [("Adherence", c.adherence), ("Side effects", c.side_effects), ("Skill practised", c.skill_practised),
                ("Summary", c.summary), ("Question for the consultant", c.question_for_consultant)]
        body = "".join(f"<p><b>{t}:</b> {E(v).replace(chr(10), '<br>')}</p>" for t, v in rows if v)
        self.contact_detail.setText(
            f"<p><b>{_dt(c.contact_at)}</b> · {E(CONTACT_KINDS.get(c.kind, c.kind))} by {E(CONTACT_MODES.get(c.mode, c.mode))}"
            f" · {E(c.staff)}{'' if c.reached else ' · <b>not reached</b>'}</p>{body}"
            f"<p><b>Next step:</b> {fmt_long(c.next_step_on)} — {E(c.next_step)}</p>")

    def _rec_selected(self, *_args: object) -> None:
        r = _selected(self.recs_view)
        if r is None:
            self.rec_detail.setText("<p style='color:#627D98'>Select a recommendation.</p>" if self.recs_model.rows
                                    else "<p style='color:#627D98'>No recommendations from case review yet.</p>")
        else:
            trail = [f"Recommended {_dt(r.recommended_at)} by {E(r.recommended_by)}"]
            if r.decided_at:
                trail.append(f"{E(r.state_label if r.state in ('approved', 'modified', 'declined') else 'Decided')} "
                             f"{_dt(r.decided_at)} by {E(r.decided_by or '')}"
                             + (f" — {E(r.decision_note)}" if r.decision_note else ""))
            if r.told_at:
                trail.append(f"Patient told {_dt(r.told_at)} ({E(TOLD_LABELS.get(r.told_how or '', r.told_how or ''))}) "
                             f"by {E(r.told_by or '')}")
            if r.closed_at:
                trail.append(f"Closed {_dt(r.closed_at)}")
            self.rec_detail.setText(f"<p><b>{E(r.kind_label)}</b> — {E(self._rec_text(r))}</p><p style='color:#486581'>"
                                    + "<br>".join(trail) + "</p>")
        self._apply_rec_buttons()

    # ================================================================= permissions
    def _apply_permissions(self) -> None:
        ctx = self.ctx
        ep = self.chart.episode if self.chart else None
        open_ep = ep is not None and ep.status != "closed"

        def gate(widget, perm: Permission, needs_open: bool = True) -> None:  # type: ignore[no-untyped-def]
            allowed = ctx.can(perm)
            widget.setEnabled(allowed and (open_ep or not needs_open))
            if not allowed:
                from cocm_desktop.domain.roles import denial_message

                widget.setToolTip(denial_message(ctx.role, perm))
            elif needs_open and not open_ep:
                widget.setToolTip("The episode is closed.")
            else:
                widget.setToolTip("")

        gate(self.phq_button, Permission.RECORD_MEASURE)
        gate(self.gad_button, Permission.RECORD_MEASURE)
        gate(self.contact_button, Permission.RECORD_CONTACT)
        gate(self.plan_button, Permission.DRAFT_CARE_PLAN)
        gate(self.edit_plan_button, Permission.DRAFT_CARE_PLAN)
        gate(self.referral_button, Permission.MANAGE_REFERRALS)
        gate(self.add_ref_button, Permission.MANAGE_REFERRALS)
        gate(self.update_ref_button, Permission.MANAGE_REFERRALS)
        gate(self.add_time_button, Permission.LOG_TIME, needs_open=False)
        gate(self.timer_button, Permission.LOG_TIME, needs_open=False)
        gate(self.banner_steps, Permission.RECORD_RISK_EVENT, needs_open=False)
        gate(self.banner_outcome, Permission.RECORD_RISK_EVENT, needs_open=False)
        plans = self.chart.care_plans if self.chart else ()
        gate(self.signoff_button, Permission.SIGN_OFF_CARE_PLAN)
        if self.signoff_button.isEnabled() and (not plans or plans[0].signed_off_on):
            self.signoff_button.setEnabled(False)
            self.signoff_button.setToolTip("Nothing to sign off: the current version is signed." if plans else "No care plan yet.")
        consent = self.chart.consent if self.chart else None
        self.attest_button.setVisible(consent is not None and not consent.attested_by)
        gate(self.attest_button, Permission.ATTEST_CONSENT)
        can_status = ctx.can(Permission.CHANGE_EPISODE_STATUS)
        self.episode_button.setEnabled(ep is not None)
        status = ep.status if ep else None
        self.act_stepdown.setEnabled(can_status and status == "active")
        self.act_stepup.setEnabled(can_status and status == "relapse_prevention")
        self.act_transfer.setEnabled(can_status and open_ep)
        self.act_confirm.setEnabled(can_status and open_ep and bool(ep and ep.transfer_to))
        self.act_close.setEnabled(can_status and open_ep)
        self.act_risk.setEnabled(ctx.can(Permission.RECORD_RISK_EVENT) and open_ep)
        self.act_visit.setEnabled(ctx.can(Permission.RECORD_INITIATING_VISIT) and open_ep
                                  and bool(ep and ep.initiating_visit_required and ep.initiating_visit_on is None))
        self.act_reenter.setEnabled(ctx.can(Permission.ENROLL) and self.chart is not None
                                    and not any(e.status != "closed" for e in self.chart.episodes))
        self._apply_rec_buttons()

    def _apply_rec_buttons(self) -> None:
        r = _selected(self.recs_view)
        decide = self.ctx.can(Permission.DECIDE_RECOMMENDATION)
        loop = self.ctx.can(Permission.CLOSE_LOOP)
        state = r.state if r is not None else None
        for b in (self.approve_button, self.modify_button, self.decline_button):
            b.setEnabled(decide and state == "recommended")
            b.setToolTip("" if decide else "Only the treating clinician approves, modifies or declines.")
        self.told_button.setEnabled(loop and state in ("approved", "modified", "declined"))
        self.close_loop_button.setEnabled(loop and state in ("told_patient", "declined"))

    # ================================================================= actions
    def _write(self, fn, *args: Any, what: str = "patient", **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
        """One service call; a refusal is shown, never raised. Returns None when refused."""
        try:
            return self.ctx.write(fn, *args, what=what, patient_id=self.patient_id, **kwargs)
        except Exception as exc:
            if not is_expected(exc):
                raise
            show_error(self, exc)
            return None

    def _need_episode(self) -> Any:
        ep = self.chart.episode if self.chart else None
        if ep is None:
            QMessageBox.information(self, "No episode", "This patient is not enrolled.")
        return ep

    def _form(self, title: str, fields: list[Field], submit, *, intro: str = "", ok: str = "Save") -> Any:  # type: ignore[no-untyped-def]
        """A small form whose OK runs `submit(values)`; a refusal keeps the form open with the message."""
        dialog = FormDialog(title, fields, self, intro=intro, ok_text=ok, submit=submit)
        return dialog.result_value if dialog.exec() else None

    def enter_measure(self, instrument: str) -> None:
        from cocm_desktop.gui.measure_dialog import MeasureDialog

        ep = self._need_episode()
        if ep is None:
            return
        dialog = MeasureDialog(self.ctx, episode_id=ep.id, patient_id=self.patient_id, instrument=instrument,  # type: ignore[arg-type]
                               patient_name=self.chart.patient.display_name, parent=self)
        if dialog.exec() and dialog.result_value is not None and dialog.result_value.risk_event_id:
            QMessageBox.warning(self, "Risk workflow opened",
                                "PHQ-9 item 9 is above 0: a risk event is open on this chart. Complete the safety "
                                "assessment now, notify the treating clinician, and record the outcome.")

    def record_contact(self) -> None:
        from cocm_desktop.gui.contact_dialog import ContactDialog

        ep = self._need_episode()
        if ep is None:
            return
        ContactDialog(self.ctx, episode_id=ep.id, patient_id=self.patient_id,  # type: ignore[arg-type]
                      patient_name=self.chart.patient.display_name, parent=self).exec()

    def _start_timer(self) -> None:
        window = self.window()
        timer = getattr(window, "timer", None)
        if timer is not None and self.chart is not None:
            timer.start_for(self.chart.patient.id, self.chart.patient.display_name)

    def edit_care_plan(self) -> None:
        from cocm_desktop.services.care_plans import save_care_plan

        ep = self._need_episode()
        if ep is None:
            return
        cur = self.chart.care_plans[0] if self.chart.care_plans else None

        def v(name: str) -> Any:
            return getattr(cur, name) if cur is not None else None

        fields = [
            Field("goals", "Goals", "text", True, v("goals") or (ep.patient_goals or "")),
            Field("medication_plan", "Medication plan", "text", value=v("medication_plan")),
            Field("skill_plan", "Skill plan", "text", value=v("skill_plan"),
                  hint="Behavioral activation, problem solving, …"),
            Field("follow_up_cadence", "Follow-up cadence", value=v("follow_up_cadence")),
            Field("next_checkin_on", "Next check-in", "date", value=v("next_checkin_on")),
            Field("safety_steps", "Safety steps", "text", value=v("safety_steps")),
            Field("contact_preferences", "Contact preferences", value=v("contact_preferences"),
                  hint="Two channels when possible: phone + portal"),
            Field("relapse_prevention_plan", "Relapse-prevention plan", "text", value=v("relapse_prevention_plan"),
                  hint="Needed before step-down"),
        ]
        intro = ("Saving adds a new version (nothing is overwritten); the treating clinician signs it off."
                 if cur else "The first version of the care plan; the treating clinician signs it off.")
        self._form("Care plan", fields, lambda vals: self.ctx.write(save_care_plan, ep.id, patient_id=self.patient_id, **vals),
                   intro=intro, ok="Save new version")

    def sign_off(self) -> None:
        from cocm_desktop.services.care_plans import sign_off_care_plan

        ep = self._need_episode()
        if ep is None or not self.chart.care_plans:
            return
        version = self.chart.care_plans[0].version
        if QMessageBox.question(self, "Sign off care plan",
                                f"Sign off version {version} of the care plan as the treating clinician?") \
                != QMessageBox.StandardButton.Yes:
            return
        self._write(sign_off_care_plan, ep.id, version=version)

    def attest_consent(self) -> None:
        from cocm_desktop.services.enrollment import attest_consent

        ep = self._need_episode()
        if ep is not None:
            self._write(attest_consent, ep.id)

    def record_initiating_visit(self) -> None:
        from cocm_desktop.services.enrollment import record_initiating_visit

        ep = self._need_episode()
        if ep is None:
            return
        self._form("Initiating visit", [Field("visit_on", "Visit date", "date", True)],
                   lambda vals: self.ctx.write(record_initiating_visit, ep.id, vals["visit_on"], patient_id=self.patient_id))

    # ---- recommendations
    def _selected_rec(self) -> Any:
        r = _selected(self.recs_view)
        if r is None:
            QMessageBox.information(self, "Recommendations", "Select a recommendation first.")
        return r

    def decide_selected(self, decision: str) -> None:
        r = self._selected_rec()
        if r is not None:
            self.decide(r.id, decision)

    def decide(self, rec_id: int, decision: str) -> Any:
        """Approve / modify / decline (the treating clinician). Refusals are shown as they come."""
        from cocm_desktop.services.case_review import decide_recommendation

        note = modified = None
        if decision == "modified":
            text, ok = QInputDialog.getMultiLineText(self, "Modify recommendation",
                                                     "The recommendation as you approve it (what changed):")
            if not ok or not text.strip():
                return None
            modified = text.strip()
        elif decision == "declined":
            text, ok = QInputDialog.getMultiLineText(self, "Decline recommendation", "Why (kept with the decision):")
            if not ok:
                return None
            note = text.strip() or None
        return self._write(decide_recommendation, rec_id, decision, note=note, modified_text=modified,
                           what="recommendation")

    def tell_selected(self) -> None:
        from cocm_desktop.services.case_review import tell_patient

        r = self._selected_rec()
        if r is None:
            return
        labels = [TOLD_LABELS.get(m, m) for m in TOLD_MODES]
        choice, ok = QInputDialog.getItem(self, "Told patient", "How was the patient told?", labels, 0, False)
        if ok:
            self._write(tell_patient, r.id, how=TOLD_MODES[labels.index(choice)], what="recommendation")

    def close_selected(self) -> None:
        from cocm_desktop.services.case_review import close_recommendation

        r = self._selected_rec()
        if r is not None:
            self._write(close_recommendation, r.id, what="recommendation")

    # ---- referrals
    def add_referral(self) -> None:
        from cocm_desktop.services.referrals import add_referral

        ep = self._need_episode()
        if ep is None:
            return
        self._form("Add referral", [
            Field("to_whom", "To whom", required=True),
            Field("reason", "Reason", "text", True),
            Field("referred_on", "Referred on", "date", True),
            Field("status", "Status", "choice", choices=[(v, k) for k, v in REFERRAL_STATUSES.items()], value="sent"),
        ], lambda vals: self.ctx.write(add_referral, ep.id, patient_id=self.patient_id, **vals))

    def update_referral(self) -> None:
        from cocm_desktop.services.referrals import update_referral

        r = _selected(self.refs_view)
        if r is None:
            QMessageBox.information(self, "Referrals", "Select a referral first.")
            return
        self._form(f"Referral to {r.to_whom}", [
            Field("status", "Status", "choice", choices=[(v, k) for k, v in REFERRAL_STATUSES.items()], value=r.status),
            Field("seen_confirmed_on", "Seen (confirmed) on", "date", value=r.seen_confirmed_on),
            Field("note", "Note", "text", value=r.note),
        ], lambda vals: self.ctx.write(
            update_referral, r.id, status=vals["status"],
            seen_confirmed_on=vals["seen_confirmed_on"] if vals["status"] == "seen" else None,
            note=vals["note"], patient_id=self.patient_id),
            intro="The seen date is kept only when the status is Seen.")

    # ---- time
    def add_manual_time(self) -> None:
        from cocm_desktop.services.time_log import add_manual_time

        if self.chart is None:
            return
        self._form("Add time", [
            Field("local_date", "Date", "date", True),
            Field("minutes", "Minutes", "int", True, 10, minimum=1, maximum=600),
            Field("activity", "Activity", "choice", choices=[(v, k) for k, v in ACTIVITIES.items()], value="care_coordination"),
            Field("note", "Note"),
        ], lambda vals: self.ctx.write(add_manual_time, patient_id=self.chart.patient.id, **vals))

    # ---- episode status
    def _status(self, to: str, title: str, fields: list[Field], intro: str = "") -> None:
        from cocm_desktop.services.episodes import change_status

        ep = self._need_episode()
        if ep is None:
            return
        self._form(title, fields, lambda vals: self.ctx.write(change_status, ep.id, to, patient_id=self.patient_id, **vals),
                   intro=intro)

    def step_down(self) -> None:
        self._status("relapse_prevention", "Step down to relapse prevention",
                     [Field("on", "On", "date", True), Field("note", "Note", "text")],
                     "Needs a relapse-prevention plan in the care plan. Contact continues every 30 days.")

    def step_up(self) -> None:
        self._status("active", "Step back up to active care",
                     [Field("on", "On", "date", True), Field("note", "Why (relapse)", "text", True)])

    def close_out(self) -> None:
        self._status("closed", "Close out the episode", [
            Field("reason", "Reason", "choice", True, choices=[(r.label, r.value) for r in CloseReason
                                                                if r is not CloseReason.TRANSFERRED]),
            Field("on", "On", "date", True),
            Field("note", "Close-out note", "text", True),
            Field("reentry_path", "How to re-enter care", "text",
                  hint="Required for a disengaged close-out"),
        ], "A transfer closes by confirming the handoff (Episode menu). A disengaged close-out needs the "
           "documented outreach attempts and a re-entry path.")

    def request_transfer(self) -> None:
        from cocm_desktop.services.episodes import request_transfer

        ep = self._need_episode()
        if ep is None:
            return
        self._form("Transfer to specialty care", [Field("to_whom", "To", required=True, value=ep.transfer_to),
                                                  Field("note", "Note", "text")],
                   lambda vals: self.ctx.write(request_transfer, ep.id, vals["to_whom"], note=vals["note"],
                                               patient_id=self.patient_id),
                   intro="The patient stays on the registry until the receiving service confirms the handoff.")

    def confirm_transfer(self) -> None:
        from cocm_desktop.services.episodes import confirm_transfer

        ep = self._need_episode()
        if ep is None:
            return
        self._form("Confirm transfer handoff", [Field("confirmed_on", "Handoff confirmed on", "date", True),
                                                Field("note", "Note", "text")],
                   lambda vals: self.ctx.write(confirm_transfer, ep.id, vals["confirmed_on"], note=vals["note"],
                                               patient_id=self.patient_id),
                   intro=f"Closes the episode as transferred to {ep.transfer_to}.", ok="Confirm and close")

    def re_enroll(self) -> None:
        from cocm_desktop.gui.enroll_dialog import EnrollDialog

        if self.chart is None:
            return
        EnrollDialog(self.ctx, patient_id=self.chart.patient.id, patient_name=self.chart.patient.display_name,
                     parent=self, previous=self.chart.episode,
                     last_seen_on=getattr(self.chart.patient, "last_seen_on", None)).exec()

    # ---- risk
    def open_risk_event(self) -> None:
        from cocm_desktop.services.risk import open_risk_event

        ep = self._need_episode()
        if ep is None:
            return
        self._form("Record a risk event", [
            Field("trigger", "Trigger", "choice", True, choices=[("Patient statement", "statement"),
                                                                  ("Clinician concern", "clinician_concern")]),
            Field("detail", "What happened", "text", True),
        ], lambda vals: self.ctx.write(open_risk_event, ep.id, vals["trigger"], vals["detail"], patient_id=self.patient_id))

    def _open_risk(self) -> Any:
        risks = self.chart.open_risk if self.chart else ()
        return risks[0] if risks else None

    def record_risk_steps(self) -> None:
        from cocm_desktop.services.risk import record_risk_steps

        r = self._open_risk()
        if r is None:
            return
        self._form("Safety protocol steps", [
            Field("safety_assessment_done", "Safety assessment done", "check", value=r.safety_assessment_done),
            Field("clinician_notified", "Treating clinician notified", "check", value=r.clinician_notified),
            Field("after_hours_routing_used", "After-hours routing used", "check", value=r.after_hours_routing_used),
            Field("safety_plan_done", "Safety plan made", "check", value=r.safety_plan_done),
        ], lambda vals: self.ctx.write(record_risk_steps, r.id, patient_id=self.patient_id, **vals))

    def record_risk_outcome(self) -> None:
        from cocm_desktop.services.risk import record_risk_outcome

        r = self._open_risk()
        if r is None:
            return
        self._form("Risk event outcome", [Field("outcome", "Outcome", "text", True)],
                   lambda vals: self.ctx.write(record_risk_outcome, r.id, vals["outcome"], patient_id=self.patient_id),
                   intro="Documenting the outcome closes the risk event and clears the safety banner.")

    def _episode_chosen(self, index: int) -> None:
        eid = self.episode_combo.itemData(index)
        if eid is not None and eid != self.episode_id and self.patient_id is not None:
            self.open_patient(self.patient_id, eid)


__all__ = ["ChartPane", "describe"]
