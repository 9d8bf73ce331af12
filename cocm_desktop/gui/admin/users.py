"""Staff accounts: `UsersDialog` (Clinic › Users: list, add, change role, reset password, remove
— deactivate, delete the key slot and re-key off the GUI thread — and reactivate; `services.users`
enforces the clinic-lead rule, the password rules and the audit), `ChangePasswordDialog`
(File › Change my password) and `NewPasswordDialog` (right after a sign-in whose password must be
changed first: chosen by the clinic lead, or below today's rules).
"""


from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cocm_desktop.domain.roles import Role
from cocm_desktop.gui.admin._common import PasswordsMatch, heading
from cocm_desktop.gui.context import AppContext
from cocm_desktop.gui.errors import describe, is_expected, show_error
from cocm_desktop.gui.form_dialog import Field, FormDialog, expected
from cocm_desktop.gui.operations import Operation
from cocm_desktop.gui.registry_model import RowRole
from cocm_desktop.gui.table_model import Col, RecordTableModel
from cocm_desktop.gui.worker import BusyOverlay
from cocm_desktop.services.changes import Change
from cocm_desktop.services.clinic import Clinic
from cocm_desktop.services.errors import EditConflict
from cocm_desktop.services.passwords import RULES_SUMMARY as PASSWORD_HINT

ROLE_CHOICES = [(r.label, r.value) for r in Role]

_INACTIVE = "#829AB1"
_USER_COLUMNS = (
    Col("Name", lambda u: u.display_name, color=lambda u: None if u.active else _INACTIVE),
    Col("Username", lambda u: u.username, color=lambda u: None if u.active else _INACTIVE),
    Col("Role", lambda u: Role(u.role).label, color=lambda u: None if u.active else _INACTIVE),
    Col("Credentials", lambda u: u.credentials or "", color=lambda u: None if u.active else _INACTIVE),
    Col("Status", lambda u: _status(u), color=lambda u: None if u.active else _INACTIVE),
)


def _status(u: Any) -> str:
    if not u.active:
        return "Removed"
    return "Active · new password at next sign-in" if u.password_must_change else "Active"


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
        top.addWidget(heading("Users", self))
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
    def _op(self, work: Callable[[], Any]) -> Operation:
        """A change of the staff list, off the GUI thread (the form waits for it)."""
        return self.ctx.perform(work, changes=Change.USERS)

    def _reactivate(self, username: str, password: str) -> Operation:
        from cocm_desktop.services.users import reactivate_user

        db, actor = self.ctx.db, self.ctx.actor
        return self._op(lambda: reactivate_user(db, actor, username, password=password))

    def _form(self, title: str, fields: list[Field], submit: Callable[[dict[str, Any]], Any], *,
              intro: str = "", ok: str = "Save") -> FormDialog:
        return FormDialog(title, fields, self, intro=intro, ok_text=ok, submit=submit)

    def add_user(self) -> None:
        from cocm_desktop.services.users import add_staff_user

        db, actor = self.ctx.db, self.ctx.actor

        def submit(v: dict[str, Any]) -> Any:
            password = PasswordsMatch.check(v)
            return self._op(lambda: add_staff_user(db, actor, username=v["username"] or "",
                                                   display_name=v["display_name"] or "", role=v["role"],
                                                   password=password or "", credentials=v["credentials"],
                                                   npi=v["npi"]))

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
            Field("password", "Password", "password", True, hint=PASSWORD_HINT),
            Field("password_again", "Password again", "password", True),
        ], submit, intro="The new person signs in once with this password and then chooses their own. "
                         + PASSWORD_HINT, ok="Add user")
        form.setObjectName("addUserForm")
        return form

    def change_role(self) -> None:
        from cocm_desktop.services.users import change_role

        u = self.selected()
        if u is None:
            return
        db, actor = self.ctx.db, self.ctx.actor
        form = self._form(f"Change the role of {u.display_name}", [
            Field("role", "Role", "choice", True, u.role, choices=ROLE_CHOICES),
        ], lambda v: self._op(lambda: change_role(db, actor, u.username, role=v["role"],
                                                  expected_version=expected(v, u.row_version))),
            intro="What they may do changes at their next sign-in.")
        if form.exec() == QDialog.DialogCode.Accepted:
            self._done(f"Role of {u.display_name} changed.", u.username)
        else:
            self.reload()  # cancelled, perhaps after another lead's change: the list shows it

    def reset_password(self) -> None:
        from cocm_desktop.services.users import reset_password

        u = self.selected()
        if u is None:
            return
        db, actor = self.ctx.db, self.ctx.actor

        def submit(v: dict[str, Any]) -> Any:
            new = PasswordsMatch.check(v) or ""
            return self._op(lambda: reset_password(db, actor, u.username, new_password=new))

        form = self._form(f"Reset the password of {u.display_name}", [
            Field("password", "New password", "password", True, hint=PASSWORD_HINT),
            Field("password_again", "New password again", "password", True),
        ], submit, intro="Give the new password to the person in private; they choose their own at their "
                         "next sign-in. " + PASSWORD_HINT, ok="Reset password")
        if form.exec() == QDialog.DialogCode.Accepted:
            self._done(f"Password of {u.display_name} reset.", u.username)

    def reactivate(self) -> None:
        u = self.selected()
        if u is None:
            return
        form = self._form(f"Reactivate {u.display_name}", [
            Field("password", "New password", "password", True, hint=PASSWORD_HINT),
            Field("password_again", "New password again", "password", True),
        ], lambda v: self._reactivate(u.username, PasswordsMatch.check(v) or ""),
            intro="They sign in once with this password and then choose their own. " + PASSWORD_HINT,
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
            self.start_deactivate(u.username, form.values()["reason"] or "", expected_version=u.row_version)

    def start_deactivate(self, username: str, reason: str, *, expected_version: int | None = None) -> None:
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
            if isinstance(exc, EditConflict):
                self.reload()  # the list shows the other lead's change the message names
            self._sync()
            if not is_expected(exc):
                show_error(self, exc)
                return
            self.status.setText(describe(exc)[1])
            show_error(self, exc)

        self.ctx.perform(lambda: deactivate_user(db, actor, username, reason=reason, expected_version=expected_version),
                         changes=Change.USERS,
                         done=done, failed=failed)



class ChangePasswordDialog(FormDialog):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        self.ctx = context
        super().__init__("Change my password", [
            Field("current", "Current password", "password", True),
            Field("password", "New password", "password", True, hint=PASSWORD_HINT),
            Field("password_again", "New password again", "password", True),
        ], parent, intro=f"For {context.actor.display_name} ({context.actor.username}). Other people's "
                         "passwords are not affected. " + PASSWORD_HINT, ok_text="Change password",
            submit=self._submit)
        self.setObjectName("changePasswordDialog")

    def _submit(self, v: dict[str, Any]) -> Operation:
        from cocm_desktop.services.users import change_own_password

        new = PasswordsMatch.check(v)
        db, actor = self.ctx.db, self.ctx.actor
        return self.ctx.perform(lambda: change_own_password(db, actor, current_password=v["current"] or "",
                                                            new_password=new or ""), changes=Change.USERS)


class NewPasswordDialog(FormDialog):
    """Shown right after a sign-in whose password must be changed first (`reason` says why).

    The password just typed at the sign-in is the current one; Cancel is "Sign out". Opened
    window-modal over the sign-in (`open()`), so the main window never appears before it is done.
    """

    def __init__(self, db: Clinic, reason: str, current_password: str, parent: QWidget | None = None) -> None:
        assert db.actor is not None
        self.db = db
        self._current = current_password
        super().__init__("Choose your password", [
            Field("password", "New password", "password", True, hint=PASSWORD_HINT),
            Field("password_again", "New password again", "password", True),
        ], parent, intro=f"{reason}\n\nFor {db.actor.display_name} ({db.actor.username}). {PASSWORD_HINT}",
            ok_text="Save and continue", submit=self._submit)
        self.setObjectName("newPasswordDialog")
        self.setMinimumWidth(520)
        buttons = self.findChild(QDialogButtonBox)
        assert buttons is not None
        self.sign_out_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.sign_out_button.setText("Sign out")
        self.sign_out_button.setObjectName("signOutButton")

    def show_error(self, message: str) -> None:
        super().show_error(message)
        # The wrapped refusal gets its own room instead of squeezing the wrapped text above it.
        layout = self.layout()
        layout.activate()
        needed = layout.totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def _submit(self, v: dict[str, Any]) -> None:
        from cocm_desktop.services.users import change_own_password

        assert self.db.actor is not None
        new = PasswordsMatch.check(v)
        change_own_password(self.db, self.db.actor, current_password=self._current, new_password=new or "")
        self._current = ""

