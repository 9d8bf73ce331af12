"""Who may do what: the spec's roles table as data, checked by every service call.

The GUI may hide actions, but services call `require()` so a hidden button is never the only guard.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CARE_MANAGER = "care_manager"
    CLINICIAN = "clinician"
    PSYCHIATRIST = "psychiatrist"
    CLINIC_LEAD = "clinic_lead"

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS: dict[Role, str] = {
    Role.CARE_MANAGER: "Care manager",
    Role.CLINICIAN: "Treating clinician",
    Role.PSYCHIATRIST: "Psychiatric consultant",
    Role.CLINIC_LEAD: "Clinic lead",
}


class Permission(StrEnum):
    # Day-to-day care work (care manager and treating clinician).
    ADD_PATIENT = "add_patient"
    EDIT_PATIENT = "edit_patient"
    ENROLL = "enroll"
    RECORD_CONTACT = "record_contact"
    RECORD_MEASURE = "record_measure"
    MANAGE_REFERRALS = "manage_referrals"
    DRAFT_CARE_PLAN = "draft_care_plan"
    RECORD_RISK_EVENT = "record_risk_event"
    CHANGE_EPISODE_STATUS = "change_episode_status"
    # Medications: anyone caring for the patient records what they take (enrollment, another
    # prescriber); only the treating clinician, who owns the medical plan, changes a dose or stops one.
    RECORD_MEDICATION = "record_medication"
    CHANGE_MEDICATION = "change_medication"
    # Consent and initiating visit: the care manager may record them, only the clinician attests.
    RECORD_CONSENT = "record_consent"
    ATTEST_CONSENT = "attest_consent"
    RECORD_INITIATING_VISIT = "record_initiating_visit"
    # Clinician decisions.
    SIGN_OFF_CARE_PLAN = "sign_off_care_plan"
    DECIDE_RECOMMENDATION = "decide_recommendation"
    # Psychiatric consultant.
    RECORD_RECOMMENDATION = "record_recommendation"
    # Case-review sessions and agendas (care manager prepares, consultant runs).
    MANAGE_CASE_REVIEW = "manage_case_review"
    # Telling the patient about an approved change and closing the loop.
    CLOSE_LOOP = "close_loop"
    # Own time log: consultant's time is logged but never counted for CoCM minutes.
    LOG_TIME = "log_time"
    # Clinic lead administration.
    MANAGE_USERS = "manage_users"
    EDIT_POLICY = "edit_policy"
    EDIT_BILLING_RULES = "edit_billing_rules"
    RUN_BILLING_REPORT = "run_billing_report"
    RUN_QUALITY_REPORT = "run_quality_report"
    BACKUP = "backup"
    VIEW_AUDIT = "view_audit"
    # Everyone (each chart opened is audited by the service).
    READ_CHART = "read_chart"
    READ_REGISTRY = "read_registry"

    @property
    def action(self) -> str:
        """What the permission allows, phrased to follow "cannot"."""
        return _ACTIONS[self]


_CM = Role.CARE_MANAGER
_CL = Role.CLINICIAN
_PSY = Role.PSYCHIATRIST
_LEAD = Role.CLINIC_LEAD
_ALL = frozenset(Role)

_GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.ADD_PATIENT: frozenset({_CM, _CL}),
    Permission.EDIT_PATIENT: frozenset({_CM, _CL}),
    Permission.ENROLL: frozenset({_CM, _CL}),
    Permission.RECORD_CONTACT: frozenset({_CM, _CL}),
    Permission.RECORD_MEASURE: frozenset({_CM, _CL}),
    Permission.MANAGE_REFERRALS: frozenset({_CM, _CL}),
    Permission.DRAFT_CARE_PLAN: frozenset({_CM, _CL}),
    Permission.RECORD_RISK_EVENT: frozenset({_CM, _CL}),
    Permission.CHANGE_EPISODE_STATUS: frozenset({_CM, _CL}),
    Permission.RECORD_MEDICATION: frozenset({_CM, _CL}),
    Permission.CHANGE_MEDICATION: frozenset({_CL}),
    Permission.RECORD_CONSENT: frozenset({_CM, _CL}),
    Permission.ATTEST_CONSENT: frozenset({_CL}),
    Permission.RECORD_INITIATING_VISIT: frozenset({_CM, _CL}),
    Permission.SIGN_OFF_CARE_PLAN: frozenset({_CL}),
    Permission.DECIDE_RECOMMENDATION: frozenset({_CL}),
    Permission.RECORD_RECOMMENDATION: frozenset({_PSY}),
    Permission.MANAGE_CASE_REVIEW: frozenset({_CM, _PSY}),
    Permission.CLOSE_LOOP: frozenset({_CM, _CL}),
    Permission.LOG_TIME: frozenset({_CM, _CL, _PSY}),
    Permission.MANAGE_USERS: frozenset({_LEAD}),
    Permission.EDIT_POLICY: frozenset({_LEAD}),
    Permission.EDIT_BILLING_RULES: frozenset({_LEAD}),
    Permission.RUN_BILLING_REPORT: frozenset({_LEAD}),
    Permission.RUN_QUALITY_REPORT: frozenset({_LEAD}),
    Permission.BACKUP: frozenset({_LEAD}),
    Permission.VIEW_AUDIT: frozenset({_LEAD}),
    Permission.READ_CHART: _ALL,
    Permission.READ_REGISTRY: _ALL,
}

_ACTIONS: dict[Permission, str] = {
    Permission.ADD_PATIENT: "add a patient",
    Permission.EDIT_PATIENT: "edit patient details",
    Permission.ENROLL: "enroll a patient",
    Permission.RECORD_CONTACT: "record a contact",
    Permission.RECORD_MEASURE: "record a PHQ-9 or GAD-7",
    Permission.MANAGE_REFERRALS: "manage referrals",
    Permission.DRAFT_CARE_PLAN: "draft a care plan",
    Permission.RECORD_RISK_EVENT: "record a risk event",
    Permission.CHANGE_EPISODE_STATUS: "change an episode's status",
    Permission.RECORD_MEDICATION: "record a medication the patient takes",
    Permission.CHANGE_MEDICATION: "change a medication's dose or stop it",
    Permission.RECORD_CONSENT: "record consent",
    Permission.ATTEST_CONSENT: "attest consent",
    Permission.RECORD_INITIATING_VISIT: "record the initiating visit",
    Permission.SIGN_OFF_CARE_PLAN: "sign off a care plan",
    Permission.DECIDE_RECOMMENDATION: "approve a recommendation (or modify or decline it)",
    Permission.RECORD_RECOMMENDATION: "record a case-review recommendation",
    Permission.MANAGE_CASE_REVIEW: "set up a case review or change its agenda",
    Permission.CLOSE_LOOP: "tell the patient about a recommendation or close its loop",
    Permission.LOG_TIME: "log time",
    Permission.MANAGE_USERS: "manage users",
    Permission.EDIT_POLICY: "change the clinic policy",
    Permission.EDIT_BILLING_RULES: "edit billing rules",
    Permission.RUN_BILLING_REPORT: "run the billing report",
    Permission.RUN_QUALITY_REPORT: "run the quality report",
    Permission.BACKUP: "back up or restore the database",
    Permission.VIEW_AUDIT: "view the audit report",
    Permission.READ_CHART: "read a chart",
    Permission.READ_REGISTRY: "read the registry",
}

# Fixed order so "who does" lists always read the same way.
_ROLE_ORDER = (Role.CARE_MANAGER, Role.CLINICIAN, Role.PSYCHIATRIST, Role.CLINIC_LEAD)


class PermissionDenied(Exception):
    """The acting user's role may not do this; the message is shown to the user as is."""

    def __init__(self, role: Role, permission: Permission) -> None:
        self.role = role
        self.permission = permission
        super().__init__(denial_message(role, permission))


def roles_with(permission: Permission) -> tuple[Role, ...]:
    granted = _GRANTS[Permission(permission)]
    return tuple(role for role in _ROLE_ORDER if role in granted)


def permissions_of(role: Role) -> frozenset[Permission]:
    role = Role(role)
    return frozenset(p for p, roles in _GRANTS.items() if role in roles)


def can(role: Role | str, permission: Permission | str) -> bool:
    """True when the role may do this. Unknown role or permission strings raise ValueError."""
    return Role(role) in _GRANTS[Permission(permission)]


def require(role: Role | str, permission: Permission | str) -> None:
    role, permission = Role(role), Permission(permission)
    if role not in _GRANTS[permission]:
        raise PermissionDenied(role, permission)


def _article(word: str) -> str:
    return "An" if word[:1].lower() in "aeiou" else "A"


def denial_message(role: Role, permission: Permission) -> str:
    """E.g. "A care manager cannot approve a recommendation (...); the treating clinician does."."""
    role, permission = Role(role), Permission(permission)
    who = [f"the {r.label.lower()}" for r in roles_with(permission)]
    if not who:
        doers = "nobody does"
    elif len(who) == 1:
        doers = f"{who[0]} does"
    else:
        doers = f"{', '.join(who[:-1])} or {who[-1]} does"
    label = role.label.lower()
    return f"{_article(label)} {label} cannot {permission.action}; {doers}."
