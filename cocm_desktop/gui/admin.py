"""Clinic-lead screens (Clinic menu) and the account screens everyone has.

- `UsersDialog`: staff list (QAbstractTableModel), add user, change role, reset password, remove
  (deactivate: deletes the key slot and re-keys the database — run off the GUI thread) and
  reactivate. Services in `services.users` enforce the clinic-lead rule and the audit.
- `PolicyDialog`: every number of `domain.policy.policy_fields()` as a spin box (range from the
  field, description as tooltip); saved with `services.policy.update_policy`.
- `AuditReportDialog`: filters, a sortable table, the audit chain's status in plain sight, CSV
  export and the PDF in the print preview.
- `ChangePasswordDialog`: File › Change my password (everyone).
- `ask_restore`: File › Restore from backup: choose, check the backup with the lead's password,
  explain, and hand a `RestoreRequest` to the controller (which closes the clinic, restores with
  `store.backup.restore`, and signs in again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.domain.roles import Role
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import describe, is_expected, show_error
from cocm_desktop.gui.form_dialog import Field, FormDialog, qdate
from cocm_desktop.gui.registry_model import RowRole, SortRole
from cocm_desktop.gui.table_model import Col, RecordTableModel
from cocm_desktop.gui.worker import BusyOverlay, run_in_background

ROLE_CHOICES = [(r.label, r.value) for r in Role]


def _heading(text: str, parent: QWidget, role: str = "title") -> QLabel:
    label = QLabel(text, parent)
    label.setProperty("role", role)
    return label


class _PasswordsMatch:
    """Checks two password fields agree before the service is asked (the service checks the rest)."""

    @staticmethod
    def check(v: dict[str, Any], first: str = "password", second: str = "password_again") -> str:
        from cocm_desktop.gui.form_dialog import FieldError

        if v.get(first) != v.get(second):
            raise FieldError(second, "The two passwords are not the same; type them again.")
        return v[first]


# ---- users ---------------------------------------------------------------------------------------
_INACTIVE = "#829AB1"
_USER_COLUMNS = (
    Col("Name", lambda u: u.display_name, color=lambda u: None if u.active else _INACTIVE),
    Col("Username", lambda u: u.username, color=lambda u: None if u.active else _INACTIVE),
    Col("Role", lambda u: Role(u.role).label, color=lambda u: None if u.active else _INACTIVE),
    Col("Credentials", lambda u: u.credentials or "", color=lambda u: None if u.active else _INACTIVE),
    Col("Status", lambda u: "Active" if u.active else "Removed", color=lambda u: None if u.active else _INACTIVE),
)


class UsersModel(RecordTableModel):
    """Staff accounts; the row behind an index is `index.data(RowRole)`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_USER_COLUMNS, parent)

    @property
    def users(self) -> list[Any]:
        return self.rows

    def set_users(self, users: list[Any]) -> None:
        self.set_rows(users)


class UsersDialog(QDialog):
    """Staff accounts (clinic lead)."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = context
        self.setWindowTitle("Users")
        self.setObjectName("usersDialog")
        self.resize(860, 540)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        top = QHBoxLayout()
        top.addWidget(_heading("Users", self))
        top.addStretch(1)
        self.show_removed = QCheckBox("Show removed users", self)
        self.show_removed.toggled.connect(lambda _on: self.reload())
        top.addWidget(self.show_removed)
        layout.addLayout(top)
        hint = QLabel("Each person has their own sign-in. Removing someone keeps their history and audit "
                      "trail, deletes their key and re-keys the database (it takes a moment).", self)
        hint.setProperty("role", "muted")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.model = UsersModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("usersTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for n, width in enumerate((220, 120, 190, 110)):
            self.table.setColumnWidth(n, width)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._sync())
        layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add user…", self)
        self.add_button.setProperty("primary", True)
        self.add_button.clicked.connect(self.add_user)
        self.role_button = QPushButton("Change role…", self)
        self.role_button.clicked.connect(self.change_role)
        self.reset_button = QPushButton("Reset password…", self)
        self.reset_button.clicked.connect(self.reset_password)
        self.remove_button = QPushButton("Remove…", self)
        self.remove_button.setProperty("danger", True)
        self.remove_button.clicked.connect(self.deactivate)
        self.reactivate_button = QPushButton("Reactivate…", self)
        self.reactivate_button.clicked.connect(self.reactivate)
        for b in (self.add_button, self.role_button, self.reset_button, self.remove_button, self.reactivate_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        close = QPushButton("Close", self)
        close.clicked.connect(self.accept)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.status = QLabel("", self)
        self.status.setProperty("role", "muted")
        layout.addWidget(self.status)
        self.busy = BusyOverlay(self, "Working…")
        self.working = False
        self.reload()

    # ---- data
    def reload(self) -> None:
        from cocm_desktop.services.users import list_staff

        selected = self.selected()
        self.model.set_users(list_staff(self.ctx.db, include_inactive=self.show_removed.isChecked()))
        if selected is not None:
            self.select(selected.username)
        self._sync()

    def selected(self) -> Any:
        index = self.table.currentIndex()
        return index.data(RowRole) if index.isValid() else None

    def select(self, username: str) -> bool:
        for row, u in enumerate(self.model.users):
            if u.username == username:
                self.table.selectRow(row)
                return True
        return False

    def _sync(self) -> None:
        u = self.selected()
        me = u is not None and u.username == self.ctx.actor.username
        idle = not self.working
        self.add_button.setEnabled(idle)
        self.role_button.setEnabled(idle and u is not None and u.active)
        self.reset_button.setEnabled(idle and u is not None and u.active and not me)
        self.remove_button.setEnabled(idle and u is not None and u.active and not me)
        self.reactivate_button.setEnabled(idle and u is not None and not u.active)
        if me:
            self.remove_button.setToolTip("You cannot remove yourself; another clinic lead has to do it.")
            self.reset_button.setToolTip("Use File › Change my password for your own password.")
        else:
            self.remove_button.setToolTip("")
            self.reset_button.setToolTip("")

    def _done(self, message: str, username: str | None = None) -> None:
        self.reload()
        if username:
            self.select(username)
        self.status.setText(message)

    # ---- actions
    def _form(self, title: str, fields: list[Field], submit: Callable[[dict[str, Any]], Any], *,
              intro: str = "", ok: str = "Save") -> FormDialog:
        return FormDialog(title, fields, self, intro=intro, ok_text=ok, submit=submit)

    def add_user(self) -> None:
        from cocm_desktop.services.users import add_staff_user

        def submit(v: dict[str, Any]) -> Any:
            password = _PasswordsMatch.check(v)
            return add_staff_user(self.ctx.db, self.ctx.actor, username=v["username"] or "",
                                  display_name=v["display_name"] or "", role=v["role"], password=password or "",
                                  credentials=v["credentials"], npi=v["npi"])

        form = self.add_user_form(submit)
        if form.exec() == QDialog.DialogCode.Accepted and form.result_value is not None:
            self._done(f"{form.result_value.display_name} added.", form.result_value.username)

    def add_user_form(self, submit: Callable[[dict[str, Any]], Any]) -> FormDialog:
        form = self._form("Add user", [
            Field("display_name", "Full name", "line", True),
            Field("username", "Username", "line", True, hint="2–32 characters: letters, digits, dot, dash, underscore."),
            Field("role", "Role", "choice", True, Role.CARE_MANAGER.value, choices=ROLE_CHOICES),
            Field("credentials", "Credentials", "line", False, hint="e.g. LCSW, RN, MD"),
            Field("npi", "NPI", "line", False, hint="10 digits; needed on billing for clinicians."),
            Field("password", "Password", "password", True),
            Field("password_again", "Password again", "password", True),
        ], submit, intro="The new person signs in with this password and can change it under File › Change my "
                         "password.", ok="Add user")
        form.setObjectName("addUserForm")
        return form

    def change_role(self) -> None:
        from cocm_desktop.services.users import change_role

        u = self.selected()
        if u is None:
            return
        form = self._form(f"Change the role of {u.display_name}", [
            Field("role", "Role", "choice", True, u.role, choices=ROLE_CHOICES),
        ], lambda v: change_role(self.ctx.db, self.ctx.actor, u.username, role=v["role"]),
            intro="What they may do changes at their next sign-in.")
        if form.exec() == QDialog.DialogCode.Accepted:
            self._done(f"Role of {u.display_name} changed.", u.username)

    def reset_password(self) -> None:
        from cocm_desktop.services.users import reset_password

        u = self.selected()
        if u is None:
            return

        def submit(v: dict[str, Any]) -> None:
            reset_password(self.ctx.db, self.ctx.actor, u.username, new_password=_PasswordsMatch.check(v) or "")

        form = self._form(f"Reset the password of {u.display_name}", [
            Field("password", "New password", "password", True),
            Field("password_again", "New password again", "password", True),
        ], submit, intro="Give the new password to the person in private; they can change it afterwards.",
            ok="Reset password")
        if form.exec() == QDialog.DialogCode.Accepted:
            self._done(f"Password of {u.display_name} reset.", u.username)

    def reactivate(self) -> None:
        from cocm_desktop.services.users import reactivate_user

        u = self.selected()
        if u is None:
            return
        form = self._form(f"Reactivate {u.display_name}", [
            Field("password", "New password", "password", True),
            Field("password_again", "New password again", "password", True),
        ], lambda v: reactivate_user(self.ctx.db, self.ctx.actor, u.username, password=_PasswordsMatch.check(v) or ""),
            ok="Reactivate")
        if form.exec() == QDialog.DialogCode.Accepted:
            self._done(f"{u.display_name} can sign in again.", u.username)

    def deactivate(self) -> None:
        u = self.selected()
        if u is None:
            return
        form = self._form(f"Remove {u.display_name}", [
            Field("reason", "Reason", "text", True, hint="Kept in the audit log, e.g. “left the clinic”."),
        ], lambda v: None, intro=f"{u.display_name} will no longer be able to sign in. Their history stays. "
                                 "The database is re-keyed, which can take a moment.", ok="Remove user")
        if form.exec() == QDialog.DialogCode.Accepted:
            self.start_deactivate(u.username, form.values()["reason"] or "")

    def start_deactivate(self, username: str, reason: str) -> None:
        """Deactivate + re-key off the GUI thread; the dialog shows a busy veil meanwhile."""
        from cocm_desktop.services.users import deactivate_user

        db, actor = self.ctx.db, self.ctx.actor
        self.working = True
        self._sync()
        self.busy.start("Removing the user and re-keying the database…")

        def finished() -> None:
            self.working = False
            self.busy.stop()

        def done(user: Any) -> None:
            finished()
            self._done(f"{user.display_name} removed; the database was re-keyed.")

        def failed(exc: BaseException) -> None:
            finished()
            self._sync()
            if not is_expected(exc):
                show_error(self, exc)
                return
            self.status.setText(describe(exc)[1])
            show_error(self, exc)

        run_in_background(lambda: deactivate_user(db, actor, username, reason=reason), done, failed)


# ---- policy -----------------------------------------------------------------------------------------
class PolicyDialog(QDialog):
    """Every clinic policy number with its allowed range; saved together, validated as a whole."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        from cocm_desktop.domain.policy import policy_fields
        from cocm_desktop.services.policy import get_policy

        super().__init__(parent)
        self.ctx = context
        self.setWindowTitle("Clinic policy")
        self.setObjectName("policyDialog")
        self.resize(900, 760)
        self.fields = policy_fields()
        current = context.read(get_policy)
        self.saved: Any = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        layout.addWidget(_heading("Clinic policy", self))
        intro = QLabel("The numbers behind locking, cadence, outcomes and registry flags. Changes apply to "
                       "everyone at once and are kept in the audit log with their old values. Hover a "
                       "setting for what it does.", self)
        intro.setProperty("role", "muted")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        body = QWidget(self)
        body.setObjectName("FormBody")
        form = QFormLayout(body)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setVerticalSpacing(6)
        self.spins: dict[str, QSpinBox] = {}
        for f in self.fields:
            spin = QSpinBox(body)
            spin.setObjectName(f"policy_{f.name}")
            spin.setRange(f.minimum, f.maximum)
            spin.setValue(getattr(current, f.name))
            spin.setSuffix(f"  {f.unit}")
            tip = f"{f.description}\nAllowed: {f.minimum}–{f.maximum} {f.unit}. Default: {f.default}."
            spin.setToolTip(tip)
            spin.setFixedWidth(150)
            label = QLabel(f.label, body)
            label.setToolTip(tip)
            spin.valueChanged.connect(lambda _v, name=f.name: self._changed(name))
            self.spins[f.name] = spin
            row = QWidget(body)
            rl = QHBoxLayout(row)
            rl.setContentsMargins(0, 0, 0, 0)
            rl.addWidget(spin)
            about = QLabel(f.description, row)
            about.setProperty("role", "muted")
            about.setWordWrap(True)
            about.setToolTip(tip)
            rl.addWidget(about, 1)
            form.addRow(label, row)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        self.scroll = scroll
        layout.addWidget(scroll, 1)
        self.error = QLabel("", self)
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        self.defaults_button = buttons.addButton("Shipped defaults", QDialogButtonBox.ButtonRole.ResetRole)
        self.defaults_button.setToolTip("Put every setting back to the value the app ships with (not saved yet).")
        self.defaults_button.clicked.connect(self.restore_defaults)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("policySave")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._initial = {name: spin.value() for name, spin in self.spins.items()}

    def _changed(self, name: str) -> None:
        spin = self.spins[name]
        modified = spin.value() != self._initial.get(name, spin.value())
        font = spin.font()
        font.setBold(modified)
        spin.setFont(font)

    def values(self) -> dict[str, int]:
        return {name: spin.value() for name, spin in self.spins.items()}

    def changes(self) -> dict[str, int]:
        return {k: v for k, v in self.values().items() if v != self._initial[k]}

    def restore_defaults(self) -> None:
        for f in self.fields:
            self.spins[f.name].setValue(f.default)

    def _mark(self, message: str) -> None:
        lowered = message.lower()
        hit = None
        for f in sorted(self.fields, key=lambda f: -len(f.label)):
            bad = hit is None and f.label.lower() in lowered
            spin = self.spins[f.name]
            spin.setProperty("invalid", bad)
            spin.style().unpolish(spin)
            spin.style().polish(spin)
            if bad:
                hit = spin
        if hit is not None:
            self.scroll.ensureWidgetVisible(hit)
            hit.setFocus()

    def save(self) -> None:
        from cocm_desktop.services.policy import update_policy

        changes = self.changes()
        if not changes:
            self.accept()
            return
        try:
            self.saved = self.ctx.write(update_policy, changes, what="policy")
        except Exception as exc:
            if not is_expected(exc):
                raise
            message = describe(exc)[1]
            self.error.setText(message)
            self.error.show()
            self._mark(message)
            return
        self.accept()


# ---- audit report ---------------------------------------------------------------------------------
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
    Col("Object", lambda r: f"{r.object_type} {r.object_id}" if r.object_type else "",
        sort=lambda r: r.object_type or ""),
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
        layout.addWidget(_heading("Audit report", self))
        filters = QHBoxLayout()
        today = date.today()
        self.start = QDateEdit(qdate(today - timedelta(days=7)), self)
        self.end = QDateEdit(qdate(today), self)
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
            try:
                Path(name).write_bytes(audit_csv(report))
            except OSError as exc:
                QMessageBox.warning(self, "Not saved", f"The CSV could not be written: {exc.strerror or exc}")
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


# ---- own password ------------------------------------------------------------------------------------
class ChangePasswordDialog(FormDialog):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        self.ctx = context
        super().__init__("Change my password", [
            Field("current", "Current password", "password", True),
            Field("password", "New password", "password", True),
            Field("password_again", "New password again", "password", True),
        ], parent, intro=f"For {context.actor.display_name} ({context.actor.username}). Other people's "
                         "passwords are not affected.", ok_text="Change password", submit=self._submit)
        self.setObjectName("changePasswordDialog")

    def _submit(self, v: dict[str, Any]) -> None:
        from cocm_desktop.services.users import change_own_password

        new = _PasswordsMatch.check(v)
        change_own_password(self.ctx.db, self.ctx.actor, current_password=v["current"] or "", new_password=new or "")



# ---- restore --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RestoreRequest:
    source: Path
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password
        return f"RestoreRequest({self.source.name!r}, {self.username!r})"


def verify_backup(source: Path, username: str, password: str) -> Any:
    """Open the backup with this password and run every check on it, without writing to it.

    Returns store.backup.Verification; WrongCredentials / RestoreRefused / PermissionDenied when it
    cannot be used. (`restore` repeats these checks before it touches anything.)
    """
    from cocm_desktop.store.backup import verify_backup as verify

    return verify(Path(source), username, password)


def ask_restore(context: AppContext, parent: QWidget) -> RestoreRequest | None:
    """Choose a backup, check it with the lead's password, explain what happens. None = cancelled."""
    db_path = context.db.path
    name, _ = QFileDialog.getOpenFileName(parent, "Restore from backup", str(db_path.parent),
                                          "Clinic databases (*.db *.cocm);;All files (*)")
    if not name:
        return None
    source = Path(name)
    password, ok = QInputDialog.getText(parent, "Restore from backup",
                                        f"Your password ({context.actor.username}) — it must open the backup:",
                                        QLineEdit.EchoMode.Password)
    if not ok or not password:
        return None
    try:
        from PySide6.QtGui import QGuiApplication

        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            verification = verify_backup(source, context.actor.username, password)
        finally:
            QGuiApplication.restoreOverrideCursor()
    except Exception as exc:
        if not is_expected(exc):
            raise
        show_error(parent, exc)
        return None
    if not verification.ok:
        QMessageBox.warning(parent, "Backup not usable",
                            f"“{source.name}” failed its checks, so nothing was changed:\n{verification.describe()}")
        return None
    return confirm_restore(parent, RestoreRequest(source, context.actor.username, password), verification, db_path)


def confirm_restore(parent: QWidget, request: RestoreRequest, verification: Any, db_path: Path) -> RestoreRequest | None:
    answer = QMessageBox.question(
        parent, "Restore from backup",
        f"“{request.source.name}” passed every check: {verification.describe()}\n\n"
        "To restore, CoCM Desktop closes this clinic, replaces the database with the backup, and opens it "
        "again; you then sign in again. Everything entered after the backup was made will be gone from the "
        f"restored database. The current database is kept, renamed “{db_path.name}.replaced-<date-time>”.\n\n"
        "Restore now?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
    return request if answer == QMessageBox.StandardButton.Yes else None
