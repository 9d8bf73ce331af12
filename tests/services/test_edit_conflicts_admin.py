"""No lost edits on the admin pages (issue 17 item 3): two clinic leads with the clinic policy or
the same staff account open; the second to save what they saw is told who changed what, nothing
is saved, and after re-reading the save goes through. Both engines."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from cocm_desktop.domain.actor import Actor
from cocm_desktop.services import policy, users
from cocm_desktop.services.common import EditConflict, load_policy
from cocm_desktop.store.models import AuditRecord, User

PASSWORD = "a long password for tests 7"


def _person(clinic, actors, role: str, display: str) -> Actor:  # type: ignore[no-untyped-def]
    """A new staff member (a unique username: login roles on the server are cluster-wide)."""
    name = f"v{secrets.token_hex(4)}"
    staff = users.add_staff_user(clinic, actors["lead"], username=name, display_name=display, role=role,
                                 password=PASSWORD)
    return Actor(staff.id, staff.username, staff.display_name, staff.role)


def _staff(clinic, username: str) -> users.StaffUser:  # type: ignore[no-untyped-def]
    return next(u for u in users.list_staff(clinic, include_inactive=True) if u.username == username)


def _audits(clinic) -> int:  # type: ignore[no-untyped-def]
    with clinic.session() as s:
        return len(list(s.scalars(select(AuditRecord.seq))))


def test_the_second_lead_saving_the_policy_they_saw_is_refused_with_the_first_leads_change(clinic, actors) -> None:  # type: ignore[no-untyped-def]
    lead2 = _person(clinic, actors, "clinic_lead", "Robin Second-Lead")
    with clinic.session() as s:
        seen_1 = policy.policy_for_editing(s, actors["lead"])[1]
        seen_2 = policy.policy_for_editing(s, lead2)[1]
    assert seen_1 == seen_2 == 0  # never changed: no row yet
    minutes = load_policy_now(clinic).case_review_session_minutes
    with clinic.session() as s:
        policy.update_policy(s, actors["lead"], {"case_review_session_minutes": minutes - 15}, expected_version=seen_1)
    audits = _audits(clinic)
    with pytest.raises(EditConflict) as caught, clinic.session() as s:
        policy.update_policy(s, lead2, {"case_review_minutes_per_patient": 10}, expected_version=seen_2)
    message = str(caught.value)
    assert message.startswith(actors["lead"].display_name + " changed this clinic policy at "), message
    assert f"{minutes} → {minutes - 15}" in message and "Your change was not saved" in message
    assert _audits(clinic) == audits
    now = load_policy_now(clinic)
    assert now.case_review_session_minutes == minutes - 15 and now.case_review_minutes_per_patient != 10

    with clinic.session() as s:
        again = policy.policy_version(s, lead2)
    assert again == 1
    with clinic.session() as s:  # saved over the version the message showed: only lead2's number changes
        policy.update_policy(s, lead2, {"case_review_minutes_per_patient": 10}, expected_version=again)
    now = load_policy_now(clinic)
    assert (now.case_review_session_minutes, now.case_review_minutes_per_patient) == (minutes - 15, 10)
    with pytest.raises(EditConflict, match="Robin Second-Lead changed this clinic policy"), clinic.session() as s:
        policy.update_policy(s, actors["lead"], {"case_review_session_minutes": minutes}, expected_version=1)


def load_policy_now(clinic):  # type: ignore[no-untyped-def]
    with clinic.session() as s:
        return load_policy(s)


def test_a_role_change_and_a_removal_over_another_leads_change_are_refused(clinic, actors) -> None:  # type: ignore[no-untyped-def]
    lead2 = _person(clinic, actors, "clinic_lead", "Robin Second-Lead")
    person = _person(clinic, actors, "care_manager", "Sam Newcomer")
    seen = _staff(clinic, person.username).row_version  # both leads have the staff list open

    users.change_role(clinic, actors["lead"], person.username, role="clinician", expected_version=seen)
    audits = _audits(clinic)
    with pytest.raises(EditConflict) as caught:
        users.change_role(clinic, lead2, person.username, role="psychiatrist", expected_version=seen)
    message = str(caught.value)
    assert message.startswith(actors["lead"].display_name + " changed this staff account at "), message
    assert "from care_manager to clinician" in message and "Your change was not saved" in message
    with pytest.raises(EditConflict, match="changed this staff account"):
        users.deactivate_user(clinic, lead2, person.username, reason="Left the clinic", expected_version=seen)
    assert _audits(clinic) == audits
    row = _staff(clinic, person.username)
    assert (row.role, row.active) == ("clinician", True)

    again = _staff(clinic, person.username).row_version  # the list reloads
    assert again == seen + 1
    users.change_role(clinic, lead2, person.username, role="psychiatrist", expected_version=again)
    assert _staff(clinic, person.username).role == "psychiatrist"
    with pytest.raises(EditConflict, match="Robin Second-Lead changed this staff account"):
        users.deactivate_user(clinic, actors["lead"], person.username, reason="Left", expected_version=again)
    users.deactivate_user(clinic, actors["lead"], person.username, reason="Left the clinic",
                          expected_version=again + 1)
    assert _staff(clinic, person.username).active is False
    with clinic.session() as s:
        assert s.get(User, person.user_id).active is False
