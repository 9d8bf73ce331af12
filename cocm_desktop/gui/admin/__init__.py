"""Clinic-lead screens (Clinic menu) and the account screens everyone has, one module each:
`users` (UsersDialog, ChangePasswordDialog), `policy` (PolicyDialog), `audit` (AuditReportDialog)
and `restore` (ask_restore, confirm_restore, RestoreRequest, verify_backup).
"""

from cocm_desktop.gui.admin.audit import AUDIT_FAMILIES, AuditModel, AuditReportDialog
from cocm_desktop.gui.admin.policy import PolicyDialog
from cocm_desktop.gui.admin.restore import RestoreRequest, ask_restore, confirm_restore, verify_backup
from cocm_desktop.gui.admin.users import ROLE_CHOICES, ChangePasswordDialog, UsersDialog, UsersModel

__all__ = [
    "AUDIT_FAMILIES",
    "ROLE_CHOICES",
    "AuditModel",
    "AuditReportDialog",
    "ChangePasswordDialog",
    "PolicyDialog",
    "RestoreRequest",
    "UsersDialog",
    "UsersModel",
    "ask_restore",
    "confirm_restore",
    "verify_backup",
]
