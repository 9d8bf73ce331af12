"""Clinic › Audit report: filters, a sortable table, the audit chain's status in plain sight, CSV
export and the PDF in the print preview."""


from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.gui.admin._common import heading
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import show_error
from cocm_desktop.gui.form_dialog import qdate
from cocm_desktop.gui.inputs import DateEdit
from cocm_desktop.gui.registry_model import SortRole
from cocm_desktop.gui.table_model import Col, RecordTableModel
from cocm_desktop.gui.worker import BusyOverlay, run_in_background
from cocm_desktop.services.audit_report import object_text

AUDIT_FAMILIES = [
    ("All actions", None), ("Sign-in (login)", "login"), ("Lock / unlock (session)", "session"),
    ("Charts opened (chart)", "chart"), ("Patients", "patient"), ("Episodes", "episode"),
    ("Measures", "measure"), ("Contacts", "contact"), ("Time", "time"), ("Timer", "timer"),
    ("Care plans", "care_plan"), ("Recommendations", "recommendation"), ("Case review", "case_review"),
    ("Risk events", "risk"), ("Referrals", "referral"), ("Users", "user"), ("Policy", "policy"),
    ("Backups", "backup"), ("Reports", "report"),
]


_AUDIT_COLUMNS = (
    Col("#", lambda r: str(r.seq), sort=lambda r: r.seq),
    Col("Time", lambda r: r.at.strftime("%Y-%m-%d %H:%M:%S"), sort=lambda r: r.at),
    Col("User", lambda r: r.username),
    Col("Action", lambda r: r.action),
    Col("Patient MRN", lambda r: r.patient_mrn or ""),
    Col("Object", object_text, sort=object_text),
    Col("Summary", lambda r: r.summary or "", tip=lambda r: r.summary or None),
)


class AuditModel(RecordTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_AUDIT_COLUMNS, parent, id_of=lambda r: r.seq)


class AuditReportDialog(QDialog):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = context
        self.report: Any = None
        self.setWindowTitle("Audit report")
        self.setObjectName("auditReportDialog")
        self.resize(1180, 720)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        layout.addWidget(heading("Audit report", self))
        filters = QHBoxLayout()
        today = date.today()
        self.start = DateEdit(qdate(today - timedelta(days=7)), self)
        self.end = DateEdit(qdate(today), self)
        for w in (self.start, self.end):
            w.setCalendarPopup(True)
            w.setDisplayFormat("yyyy-MM-dd")
        self.user = QComboBox(self)
        self.user.setObjectName("auditUser")
        self.user.addItem("All users", None)
        from cocm_desktop.services.users import list_staff

        for u in list_staff(context.db, include_inactive=True):
            self.user.addItem(f"{u.display_name} ({u.username})", u.username)
        self.mrn = QLineEdit(self)
        self.mrn.setObjectName("auditMrn")
        self.mrn.setPlaceholderText("Patient MRN")
        self.mrn.setMaximumWidth(140)
        self.action = QComboBox(self)
        self.action.setObjectName("auditAction")
        for label, value in AUDIT_FAMILIES:
            self.action.addItem(label, value)
        self.run_button = QPushButton("Run", self)
        self.run_button.setProperty("primary", True)
        self.run_button.clicked.connect(self.run)
        for label, w in (("From", self.start), ("to", self.end), ("User", self.user), ("", self.mrn),
                         ("Action", self.action)):
            if label:
                filters.addWidget(QLabel(label, self))
            filters.addWidget(w)
        filters.addWidget(self.run_button)
        filters.addStretch(1)
        layout.addLayout(filters)
        self.chain = QLabel("Run the report to verify the audit chain.", self)
        self.chain.setObjectName("auditChain")
        self.chain.setWordWrap(True)
        self.chain.setProperty("role", "notice")
        layout.addWidget(self.chain)
        self.model = AuditModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SortRole)
        self.table = QTableView(self)
        self.table.setObjectName("auditTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setProperty("dense", True)
        hh = self.table.horizontalHeader()
        hh.setStretchLastSection(True)
        hh.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for n, width in enumerate((60, 150, 90, 170, 100, 130)):
            self.table.setColumnWidth(n, width)
        layout.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        self.count = QLabel("", self)
        self.count.setProperty("role", "muted")
        bottom.addWidget(self.count)
        bottom.addStretch(1)
        self.csv_button = QPushButton("Export CSV…", self)
        self.csv_button.clicked.connect(self.export_csv)
        self.pdf_button = QPushButton("PDF / Print…", self)
        self.pdf_button.clicked.connect(self.show_pdf)
        close = QPushButton("Close", self)
        close.clicked.connect(self.accept)
        for b in (self.csv_button, self.pdf_button, close):
            bottom.addWidget(b)
        layout.addLayout(bottom)
        self.busy = BusyOverlay(self.table, "Verifying the audit chain…")
        self.csv_button.setEnabled(False)
        self.pdf_button.setEnabled(False)

    def filters(self) -> dict[str, Any]:
        from cocm_desktop.gui.form_dialog import pydate

        return dict(start=pydate(self.start.date()), end=pydate(self.end.date()), username=self.user.currentData(),
                    patient_mrn=self.mrn.text().strip() or None, action=self.action.currentData())

    def _build(self, output: str, then: Callable[[Any], None]) -> None:
        from cocm_desktop.services.audit_report import audit_report

        ctx, filters = self.ctx, self.filters()
        self.run_button.setEnabled(False)
        self.busy.start("Verifying the audit chain…")

        def done(report: Any) -> None:
            self.busy.stop()
            self.run_button.setEnabled(True)
            then(report)

        def failed(exc: BaseException) -> None:
            self.busy.stop()
            self.run_button.setEnabled(True)
            show_error(self, exc)

        run_in_background(lambda: ctx.read(audit_report, output=output, **filters), done, failed)

    def run(self) -> None:
        self._build("screen", self.show_report)

    def show_report(self, report: Any) -> None:
        self.report = report
        self.model.set_rows(list(report.rows))
        self.count.setText(f"{len(report.rows)} records · {report.period} · {report.filters}")
        if report.chain_ok:
            self.chain.setText(f"✔  Audit chain intact — {report.chain_records} records, every link verified.")
            self.chain.setProperty("role", "ok")
        else:
            self.chain.setText(f"✖  AUDIT CHAIN BROKEN — {report.chain_message} Records may have been altered or "
                               "deleted; keep this report and call your IT support.")
            self.chain.setProperty("role", "error")
        self.chain.style().unpolish(self.chain)
        self.chain.style().polish(self.chain)
        self.csv_button.setEnabled(True)
        self.pdf_button.setEnabled(True)

    def export_csv(self) -> None:
        from cocm_desktop.services.audit_report import audit_csv

        name, _ = QFileDialog.getSaveFileName(self, "Export the audit report", str(Path.home() / "audit-report.csv"),
                                              "CSV (*.csv)")
        if not name:
            return

        def write(report: Any) -> None:
            from cocm_desktop.reports.output import OutputError, write_private

            try:
                write_private(name, audit_csv(report))  # owner-only, whole or not at all
            except OutputError as exc:
                QMessageBox.warning(self, "Not saved", str(exc))
                return
            self.count.setText(f"Saved {Path(name).name} ({len(report.rows)} records).")

        self._build("csv", write)

    def show_pdf(self) -> None:
        from cocm_desktop.gui.print_preview import show_pdf_preview
        from cocm_desktop.reports.audit_report import build_audit_pdf

        ctx, filters = self.ctx, self.filters()
        from cocm_desktop.services.audit_report import audit_report

        self.busy.start("Building the PDF…")

        def work() -> bytes:
            return build_audit_pdf(ctx.read(audit_report, output="pdf", **filters))

        def done(pdf: bytes) -> None:
            self.busy.stop()
            show_pdf_preview(self, pdf, "Audit report")

        def failed(exc: BaseException) -> None:
            self.busy.stop()
            show_error(self, exc)

        run_in_background(work, done, failed)
