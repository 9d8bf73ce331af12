"""The chart pane's widgets: header card, safety banner, flag strip, trend and measures, and the
tabs (overview, contacts, care plan, recommendations, referrals, time, history). Built once;
`chart_fill.ChartFill` fills them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.domain import instruments as inst
from cocm_desktop.domain.activities import CONTACT_KINDS, CONTACT_MODES, REFERRAL_STATUSES
from cocm_desktop.gui.chart_widgets import rich_label, scrolled, short_datetime, table_view
from cocm_desktop.gui.registry_model import fmt_date
from cocm_desktop.gui.resources import ACCENT, icon
from cocm_desktop.gui.table_model import Col, RecordTableModel
from cocm_desktop.gui.trend_chart import TrendChart
from cocm_desktop.gui.worker import BusyOverlay

RISK_TRIGGERS = {"item9": "PHQ-9 item 9 above 0", "statement": "patient statement",
                 "clinician_concern": "clinician concern"}


class ChartLayout:
    """Mixin of `ChartPane`: builds its widgets (attributes the pane fills and the actions use)."""

    @staticmethod
    def _status_text(s: object) -> str:
        from cocm_desktop.domain.episode import CloseReason, EpisodeStatus

        frm = EpisodeStatus(s.from_status).label if s.from_status else "—"  # type: ignore[attr-defined]
        text = f"{frm} → {EpisodeStatus(s.to_status).label}"  # type: ignore[attr-defined]
        if s.reason in CloseReason._value2member_map_:  # type: ignore[attr-defined]
            text += f" ({CloseReason(s.reason).label})"  # type: ignore[attr-defined]
        return text

    @staticmethod
    def _risk_steps_text(r: object) -> str:
        from cocm_desktop.services.risk import STEPS

        short = {"safety_assessment_done": "assessment", "clinician_notified": "clinician notified",
                 "after_hours_routing_used": "after-hours", "safety_plan_done": "safety plan"}
        parts = []
        for step in STEPS:
            if getattr(r, step):
                label = short[step]
                if step == "clinician_notified" and r.notified_clinician:  # type: ignore[attr-defined]
                    label = f"{r.notified_clinician} notified {short_datetime(r.notified_at)}"  # type: ignore[attr-defined]
                parts.append("✓ " + label)
            else:
                why = r.step_reasons.get(step)  # type: ignore[attr-defined]
                parts.append(f"✗ {short[step]}" + (f" ({why})" if why else ""))
        return ", ".join(parts)

    def _measure_note(self, m: object) -> str:
        if getattr(m, "voided", False):
            return "voided"
        marker = self._marker("measure", m).strip(" \u00b7")
        return ", ".join(x for x in ("baseline" if m.is_baseline else "", marker) if x)  # type: ignore[attr-defined]

    def _marker(self, kind: str, row: object) -> str:
        """"  · amended" after an amended entry while corrections are shown."""
        if not self.show_corrections.isChecked():
            return ""
        key = row.id  # type: ignore[attr-defined]
        return "  \u00b7 amended" if key in self.amended_ids(kind) else ""

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
        self.show_corrections = QCheckBox("Show corrections", self.header)
        self.show_corrections.setObjectName("showCorrections")
        self.show_corrections.setToolTip("Also list entries voided in error (struck through) and show what was "
                                         "amended, by whom, when and why")
        self.show_corrections.toggled.connect(lambda _on: self._fill_lists() if self.chart is not None else None)
        row1.addWidget(self.show_corrections)
        hl.addLayout(row1)
        self.voided_label = QLabel("", self.header)
        self.voided_label.setObjectName("voidedPatientLabel")
        self.voided_label.setWordWrap(True)
        self.voided_label.setStyleSheet("color:#B71C1C; font-weight:600;")
        self.voided_label.hide()
        hl.addWidget(self.voided_label)
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
            Col("Date", lambda m: short_datetime(m.taken_at), lambda m: m.taken_at.isoformat(), width=138),
            Col("Scale", lambda m: m.instrument, width=62),
            Col("Total", lambda m: str(m.total), lambda m: m.total, width=50,
                align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            Col("Band", lambda m: m.band, width=118),
            Col("Item 9", lambda m: "—" if m.instrument != inst.PHQ9 else str(m.items[inst.SAFETY_ITEM - 1]),
                width=56, color=lambda m: "#C62828" if m.instrument == inst.PHQ9 and m.items[inst.SAFETY_ITEM - 1] else None),
            Col("", lambda m: self._measure_note(m), width=80,
                color=lambda m: "#8A4B00" if self._marker("measure", m) else None),
            Col("Entered by", lambda m: m.entered_by),
        ], self, struck=lambda m: m.voided, row_tip=lambda m: self.correction_tip("measure", m))
        self.measures_view = table_view(left, self.measures_model, "measuresTable")
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
        self.overview_label = rich_label(overview)
        self.overview_label.setObjectName("overviewText")
        ol.addWidget(self.overview_label)
        row = QHBoxLayout()
        self.attest_button = QPushButton("Attest consent", overview)
        self.attest_button.clicked.connect(self.attest_consent)
        row.addWidget(self.attest_button)
        self.confirm_rule_out_button = QPushButton("Confirm urgent risk ruled out", overview)
        self.confirm_rule_out_button.setObjectName("confirmRuleOutButton")
        self.confirm_rule_out_button.clicked.connect(self.confirm_rule_out)
        self.decline_rule_out_button = QPushButton("I did not rule it out…", overview)
        self.decline_rule_out_button.setObjectName("declineRuleOutButton")
        self.decline_rule_out_button.clicked.connect(self.decline_rule_out)
        row.addWidget(self.confirm_rule_out_button)
        row.addWidget(self.decline_rule_out_button)
        row.addStretch(1)
        ol.addLayout(row)
        ol.addStretch(1)
        self.tabs.addTab(scrolled(overview), "Overview")

        # Contacts
        contacts = QWidget()
        cl = QVBoxLayout(contacts)
        self.contacts_model = RecordTableModel([
            Col("When", lambda c: short_datetime(c.contact_at), lambda c: c.contact_at.isoformat(), width=140),
            Col("Kind", lambda c: CONTACT_KINDS.get(c.kind, c.kind) + ("" if c.reached else " · not reached"), width=150,
                color=lambda c: None if c.reached else "#B26A00"),
            Col("Mode", lambda c: CONTACT_MODES.get(c.mode, c.mode), width=80),
            Col("Min", lambda c: str(c.minutes), lambda c: c.minutes, width=40,
                align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            Col("Next step", lambda c: f"{fmt_date(c.next_step_on)} · {c.next_step}{self._marker('contact', c)}",
                lambda c: c.next_step_on.toordinal()),
        ], self, struck=lambda c: c.voided, row_tip=lambda c: self.correction_tip("contact", c))
        self.contacts_view = table_view(contacts, self.contacts_model, "contactsTable")
        self.contacts_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.contacts_view.selectionModel().currentRowChanged.connect(self._contact_selected)
        cl.addWidget(self.contacts_view, 3)
        self.contact_detail = rich_label(contacts)
        cl.addWidget(scrolled(self.contact_detail), 2)
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
        self.plans_model = RecordTableModel([
            Col("Version", lambda p: str(p.version), lambda p: p.version, width=60),
            Col("Written", lambda p: short_datetime(p.created_at), lambda p: p.created_at.isoformat(), width=140),
            Col("By", lambda p: p.created_by, width=150),
            Col("Sign-off", lambda p: (f"{fmt_date(p.signed_off_on)} {p.signed_off_by or ''}" if p.signed_off_on
                                       else "awaiting") + self._marker("care_plan_version", p)),
        ], self, struck=lambda p: p.voided, row_tip=lambda p: self.correction_tip("care_plan_version", p))
        self.plans_view = table_view(plan, self.plans_model, "carePlanVersionsTable")
        self.plans_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.plans_view.setMaximumHeight(130)
        pl.addWidget(self.plans_view)
        self.plan_label = rich_label(plan)
        pl.addWidget(scrolled(self.plan_label), 1)
        self.tabs.addTab(plan, "Care plan")

        # Recommendations
        recs = QWidget()
        rl = QVBoxLayout(recs)
        self.recs_model = RecordTableModel([
            Col("Recommended", lambda r: short_datetime(r.recommended_at), lambda r: r.recommended_at.isoformat(), width=140),
            Col("Kind", lambda r: r.kind_label, width=130),
            Col("State", lambda r: r.state_label, width=130,
                color=lambda r: "#B26A00" if r.state in ("recommended", "approved", "modified") else None),
            Col("Recommendation", lambda r: self._rec_text(r) + self._marker("recommendation", r),
                tip=lambda r: self._rec_text(r)),
        ], self, struck=lambda r: r.voided, row_tip=lambda r: self.correction_tip("recommendation", r))
        self.recs_view = table_view(recs, self.recs_model, "recommendationsTable")
        self.recs_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.recs_view.selectionModel().currentRowChanged.connect(self._rec_selected)
        rl.addWidget(self.recs_view, 2)
        self.rec_detail = rich_label(recs)
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

        # Medications (chart_medications): the regimen, its history and approved changes waiting
        self.meds_tab = self._build_medications_tab()
        self.tabs.addTab(self.meds_tab, "Medications")

        # Referrals
        refs = QWidget()
        fl = QVBoxLayout(refs)
        self.refs_model = RecordTableModel([
            Col("Referred", lambda r: fmt_date(r.referred_on), lambda r: r.referred_on.toordinal(), width=90),
            Col("To", lambda r: r.to_whom, width=170),
            Col("Status", lambda r: REFERRAL_STATUSES.get(r.status, r.status)
                + (f" ({fmt_date(r.seen_confirmed_on)})" if r.seen_confirmed_on else ""), width=120),
            Col("Reason", lambda r: r.reason + self._marker("referral", r), tip=lambda r: r.reason),
        ], self, struck=lambda r: r.voided, row_tip=lambda r: self.correction_tip("referral", r))
        self.refs_view = table_view(refs, self.refs_model, "referralsTable")
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
            Col("Note", lambda t: ((t.billed_elsewhere and f"billed as {t.billed_elsewhere}") or (t.note or ""))
                + self._marker("time_entry", t), tip=lambda t: t.note),
        ], self, struck=lambda t: t.deleted, row_tip=lambda t: self.correction_tip("time_entry", t))
        self.time_view = table_view(time_tab, self.time_model, "timeTable")
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
        status_title = QLabel("Status changes (right-click to correct one made in error)", hist)
        status_title.setProperty("role", "subtitle")
        hl.addWidget(status_title)
        self.status_model = RecordTableModel([
            Col("On", lambda s: fmt_date(s.changed_on), lambda s: (s.changed_on.toordinal(), s.id), width=90),
            Col("Change", lambda s: self._status_text(s), width=260),
            Col("By", lambda s: s.changed_by, width=150),
            Col("Note", lambda s: (s.note or "") + self._marker("episode_status_change", s), tip=lambda s: s.note),
        ], self, struck=lambda s: s.voided, row_tip=lambda s: self.correction_tip("episode_status_change", s))
        self.status_view = table_view(hist, self.status_model, "statusChangesTable")
        self.status_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.status_view.setMaximumHeight(150)
        hl.addWidget(self.status_view)
        self.history_label = rich_label(hist)
        hl.addWidget(scrolled(self.history_label))
        self.tabs.addTab(hist, "History")

        # Patient details (amended with a reason; double-click or right-click a row)
        details = QWidget()
        dl = QVBoxLayout(details)
        hint = QLabel("Double-click a detail to amend it (with a reason); right-click for more.", details)
        hint.setProperty("role", "muted")
        dl.addWidget(hint)
        self.details_model = RecordTableModel([
            Col("Detail", lambda d: d.label, width=200),
            Col("Value", lambda d: d.text + self._marker("patient", d)),
        ], self, row_tip=lambda d: self.correction_tip("patient", d))
        self.details_view = table_view(details, self.details_model, "detailsTable")
        self.details_view.setSortingEnabled(False)
        dl.addWidget(self.details_view, 1)
        drow = QHBoxLayout()
        drow.addStretch(1)
        self.void_patient_button = QPushButton("Void this record (entered twice)…", details)
        self.void_patient_button.setObjectName("voidPatientButton")
        self.void_patient_button.clicked.connect(self.void_patient_record)
        drow.addWidget(self.void_patient_button)
        self.restore_patient_button = QPushButton("Restore this record (voided in error)…", details)
        self.restore_patient_button.setObjectName("restorePatientButton")
        self.restore_patient_button.clicked.connect(self.restore_patient_record)
        self.restore_patient_button.hide()
        drow.addWidget(self.restore_patient_button)
        dl.addLayout(drow)
        self.tabs.addTab(details, "Details")

        # Safety: every risk event with its protocol steps (corrected where shown)
        safety = QWidget()
        sl = QVBoxLayout(safety)
        self.risks_model = RecordTableModel([
            Col("Opened", lambda r: short_datetime(r.opened_at), lambda r: r.opened_at.isoformat(), width=138),
            Col("Trigger", lambda r: RISK_TRIGGERS.get(r.trigger, r.trigger), width=150),
            Col("Steps", lambda r: self._risk_steps_text(r), width=230, tip=lambda r: self._risk_steps_text(r)),
            Col("Outcome", lambda r: (r.outcome or "open") + self._marker("risk_event", r),
                color=lambda r: "#C62828" if r.is_open else None, tip=lambda r: r.outcome),
        ], self, struck=lambda r: r.voided, row_tip=lambda r: self.correction_tip("risk_event", r))
        self.risks_view = table_view(safety, self.risks_model, "riskEventsTable")
        self.risks_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        sl.addWidget(self.risks_view, 1)
        self.tabs.addTab(safety, "Safety")
