from __future__ import annotations

import pytest

from cocm_desktop.domain.roles import (
    Permission,
    PermissionDenied,
    Role,
    can,
    denial_message,
    require,
    roles_with,
)

CM, CL, PSY, LEAD = Role.CARE_MANAGER, Role.CLINICIAN, Role.PSYCHIATRIST, Role.CLINIC_LEAD

# The spec's roles table, row by row: permission → roles that may.
TABLE = {
    Permission.ADD_PATIENT: {CM, CL},
    Permission.ENROLL: {CM, CL},
    Permission.RECORD_CONTACT: {CM, CL},
    Permission.RECORD_MEASURE: {CM, CL},
    Permission.MANAGE_REFERRALS: {CM, CL},
    Permission.DRAFT_CARE_PLAN: {CM, CL},
    Permission.RECORD_CONSENT: {CM, CL},
    Permission.RECORD_INITIATING_VISIT: {CM, CL},
    Permission.ATTEST_CONSENT: {CL},
    Permission.SIGN_OFF_CARE_PLAN: {CL},
    Permission.DECIDE_RECOMMENDATION: {CL},
    Permission.RECORD_RECOMMENDATION: {PSY},
    Permission.CLOSE_LOOP: {CM, CL},
    Permission.LOG_TIME: {CM, CL, PSY},
    Permission.MANAGE_USERS: {LEAD},
    Permission.EDIT_POLICY: {LEAD},
    Permission.RUN_BILLING_REPORT: {LEAD},
    Permission.RUN_QUALITY_REPORT: {LEAD},
    Permission.BACKUP: {LEAD},
    Permission.VIEW_AUDIT: {LEAD},
    Permission.READ_CHART: {CM, CL, PSY, LEAD},
    Permission.READ_REGISTRY: {CM, CL, PSY, LEAD},
    Permission.MANAGE_CASE_REVIEW: {CM, PSY},
    Permission.CHANGE_EPISODE_STATUS: {CM, CL},
    Permission.RECORD_RISK_EVENT: {CM, CL},
    Permission.EDIT_PATIENT: {CM, CL},
    Permission.EDIT_BILLING_RULES: {LEAD},
    # Medications: the care team records what the patient takes; the clinician changes or stops it.
    Permission.RECORD_MEDICATION: {CM, CL},
    Permission.CHANGE_MEDICATION: {CL},
}


def test_table_covers_every_permission():
    assert set(TABLE) == set(Permission)


@pytest.mark.parametrize(("permission", "role"), [(p, r) for p in TABLE for r in Role])
def test_table(permission, role):
    expected = role in TABLE[permission]
    assert can(role, permission) is expected
    assert can(role.value, permission.value) is expected  # stored strings work too
    if expected:
        require(role, permission)
    else:
        with pytest.raises(PermissionDenied) as exc:
            require(role, permission)
        assert exc.value.role is role and exc.value.permission is permission


def test_every_permission_has_roles_and_an_action():
    for p in Permission:
        assert roles_with(p), p
        assert p.action and not p.action.endswith(".")


def test_role_values_and_labels():
    assert [r.value for r in Role] == ["care_manager", "clinician", "psychiatrist", "clinic_lead"]
    assert [r.label for r in Role] == ["Care manager", "Treating clinician", "Psychiatric consultant", "Clinic lead"]


@pytest.mark.parametrize(
    ("role", "permission", "message"),
    [
        (CM, Permission.DECIDE_RECOMMENDATION,
         "A care manager cannot approve a recommendation (or modify or decline it); the treating clinician does."),
        (LEAD, Permission.LOG_TIME,
         "A clinic lead cannot log time; the care manager, the treating clinician or the psychiatric consultant does."),
        (PSY, Permission.RECORD_CONTACT,
         "A psychiatric consultant cannot record a contact; the care manager or the treating clinician does."),
        (CL, Permission.RECORD_RECOMMENDATION,
         "A treating clinician cannot record a case-review recommendation; the psychiatric consultant does."),
    ],
)
def test_plain_language_denials(role, permission, message):
    assert denial_message(role, permission) == message
    with pytest.raises(PermissionDenied, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        require(role, permission)


def test_unknown_role_is_an_error_not_a_grant():
    with pytest.raises(ValueError):
        can("admin", Permission.READ_CHART)
    with pytest.raises(ValueError):
        require("superuser", Permission.MANAGE_USERS)
