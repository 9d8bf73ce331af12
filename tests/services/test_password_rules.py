"""Password rules (NIST SP 800-63B) and the password a clinic lead sets, on real encrypted clinics.

Each rule refuses with a sentence naming it, and nothing is written (no row, no key slot). A
password the lead chose (new user, reset, reactivation) is marked in the same transaction and
must be changed at the first sign-in; the person's own change clears the mark.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cocm_desktop.services import passwords
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.passwords import MIN_PASSWORD, check_new_password, password_problem
from cocm_desktop.services.users import (
    LEAD_SET_PASSWORD,
    add_staff_user,
    change_own_password,
    create_clinic,
    deactivate_user,
    password_change_due,
    reactivate_user,
    reset_password,
)
from cocm_desktop.store.database import Database
from cocm_desktop.store.keyslots import keyfile_path
from cocm_desktop.store.models import ClinicSetting, User

GOOD = "plum kettle lantern"  # 19 characters, not on the list


def _must_change(db: Database, username: str) -> bool:
    with db.session() as s:
        return bool(s.scalar(select(User.password_must_change).where(User.username == username)))


# ---- the rules ----------------------------------------------------------------------------------
@pytest.mark.parametrize("password, rule", [
    ("demo", "at least 10 characters; this one has 4"),
    ("1234", "at least 10 characters; this one has 4"),
    ("0000", "at least 10 characters"),
    ("", "at least 10 characters; it is empty"),
    ("x" * 1025, "at most 1024 characters"),
    ("1234567890", "list of common passwords"),
    ("Password123", "list of common passwords"),  # compared case-insensitively
    ("QWERTYUIOP", "list of common passwords"),
    ("jordan.smith", "cannot be the username"),
    ("Jordan.Smith", "cannot be the username"),
    ("Riverside Family Medicine", "cannot be the clinic's name"),
    ("riversidefamilymedicine", "cannot be the clinic's name"),
])
def test_each_rule_refuses_with_its_own_sentence(password: str, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule):
        check_new_password(password, username="jordan.smith", clinic_name="Riverside Family Medicine")


def test_the_minimum_is_ten_characters_exactly() -> None:
    assert MIN_PASSWORD == 10
    assert "this one has 9" in password_problem("zebra sky", username="cm1")
    assert password_problem("zebra skyw", username="cm1") is None
    assert password_problem("x" * 1024, username="cm1") is None  # the maximum itself is allowed


def test_no_composition_rules() -> None:
    # all lower case letters and spaces, no digit, no symbol: long and unusual is what counts
    assert password_problem("plum kettle lantern", username="cm1", clinic_name="Test Clinic") is None


def test_length_counts_code_points_after_nfkc() -> None:
    # "é" typed as e + combining accent is one character after NFKC: five of them are five, not ten
    assert "this one has 5" in password_problem("e\u0301" * 5, username="cm1")
    # non-Latin passwords are as welcome as any: ten Greek letters
    assert password_problem("αβγδεζηθικ", username="cm1") is None
    # a ligature counts as the letters it stands for (ﬀ → ff), so five are ten characters —
    # and "ffffffffff" is on the list
    assert "list of common passwords" in password_problem("\ufb00" * 5, username="cm1")
    # full-width digits are digits: "１２３４５６７８９０" is 1234567890
    assert "list of common passwords" in password_problem("１２３４５６７８９０", username="cm1")


def test_the_list_is_the_bundled_one_read_once() -> None:
    path = passwords.common_passwords_path()
    assert path is not None and path.name == "common-passwords.txt.gz"
    assert (path.parent / "LICENSE").is_file()  # the licence travels with it
    listed = passwords.common_passwords()
    assert isinstance(listed, frozenset) and len(listed) > 19_000
    assert passwords.common_passwords() is listed  # loaded once per process
    assert {"password", "qwerty", "iloveyou"} <= listed


def test_a_missing_list_is_a_plain_refusal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(passwords, "_resource_roots", lambda: [tmp_path])
    passwords.common_passwords.cache_clear()
    try:
        with pytest.raises(passwords.PasswordListMissing, match="reinstall"):
            check_new_password(GOOD, username="cm1")
    finally:
        passwords.common_passwords.cache_clear()


# ---- the services apply them --------------------------------------------------------------------
@pytest.mark.file_only  # the key file is unchanged
def test_adding_a_user_with_a_weak_password_writes_nothing(clinic: Database, actors) -> None:  # type: ignore[no-untyped-def]
    keys_before = keyfile_path(clinic.path).read_bytes()
    for weak, rule in (("1234", "at least 10"), ("iloveyou12", "common"), ("sam.lee.rn", "username"),
                       ("TEST CLINIC", "clinic's name")):
        with pytest.raises(ValidationError, match=rule):
            add_staff_user(clinic, actors["lead"], username="sam.lee.rn", display_name="Sam Lee",
                           role="care_manager", password=weak)
    with clinic.session() as s:
        assert s.scalar(select(User).where(User.username == "sam.lee.rn")) is None
    assert keyfile_path(clinic.path).read_bytes() == keys_before


def test_reset_and_reactivation_refuse_weak_passwords(clinic: Database, actors) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="at least 10"):
        reset_password(clinic, actors["lead"], "cm1", new_password="0000")
    assert not _must_change(clinic, "cm1")  # nothing written
    deactivate_user(clinic, actors["lead"], "doc2", reason="left")
    with pytest.raises(ValidationError, match="common"):
        reactivate_user(clinic, actors["lead"], "doc2", password="qwerty1234")
    with clinic.session() as s:
        assert not s.scalar(select(User.active).where(User.username == "doc2"))


def test_a_new_clinic_refuses_a_weak_lead_password(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    for weak, rule in (("1234", "at least 10"), ("password12", "common"), ("Maple Clinic", "clinic's name"),
                       ("jsmith", "at least 10")):
        with pytest.raises(ValidationError, match=rule):
            create_clinic(path, clinic_name="Maple Clinic", lead_username="jsmith",
                          lead_display_name="Jordan Smith", lead_password=weak)
        assert not path.exists() and not keyfile_path(path).exists()
    db, code = create_clinic(path, clinic_name="Maple Clinic", lead_username="jsmith",
                             lead_display_name="Jordan Smith", lead_password=GOOD)
    with db:
        assert code
        # the lead chose their own password: nothing to change at the next sign-in
        assert not _must_change(db, "jsmith")
        assert password_change_due(db, GOOD) is None


# ---- set by the lead → changed at first sign-in --------------------------------------------------
def test_a_password_set_by_the_lead_must_be_changed_and_the_change_clears_it(
        clinic: Database, clinic_path: Path, actors) -> None:  # type: ignore[no-untyped-def]
    add_staff_user(clinic, actors["lead"], username="sam", display_name="Sam Lee", role="care_manager",
                   password=GOOD)
    assert _must_change(clinic, "sam")
    with Database.open(clinic_path, "sam", GOOD) as db:
        assert password_change_due(db, GOOD) == LEAD_SET_PASSWORD
        with pytest.raises(ValidationError, match="must differ"):
            change_own_password(db, db.actor, current_password=GOOD, new_password=GOOD)
        with pytest.raises(ValidationError, match="at least 10"):
            change_own_password(db, db.actor, current_password=GOOD, new_password="short")
        assert _must_change(db, "sam")
        change_own_password(db, db.actor, current_password=GOOD, new_password="sam's own secret words")
        assert not _must_change(db, "sam")
    with Database.open(clinic_path, "sam", "sam's own secret words") as db:
        assert password_change_due(db, "sam's own secret words") is None


def test_reset_and_reactivation_mark_the_password_for_a_change(clinic: Database, clinic_path: Path, actors) -> None:  # type: ignore[no-untyped-def]
    reset_password(clinic, actors["lead"], "cm1", new_password=GOOD)
    assert _must_change(clinic, "cm1")
    deactivate_user(clinic, actors["lead"], "doc2", reason="left")
    reactivate_user(clinic, actors["lead"], "doc2", password="doc two is back")
    assert _must_change(clinic, "doc2")
    with Database.open(clinic_path, "doc2", "doc two is back") as db:
        assert password_change_due(db, "doc two is back") == LEAD_SET_PASSWORD
    # a lead resetting their own password chose it themselves
    reset_password(clinic, actors["lead"], "lead", new_password="the lead's own words")
    assert not _must_change(clinic, "lead")


def test_a_weak_password_from_before_the_rules_must_be_changed_in_a_real_clinic(tmp_path: Path) -> None:
    # Database.create (the store) takes any password: a clinic made before the rules may hold "1234".
    path = tmp_path / "old.db"
    db, _code = Database.create(path, clinic_name="Old Clinic", lead_username="lead",
                                lead_display_name="Lee", lead_password="1234")
    db.close()
    with Database.open(path, "lead", "1234") as db:
        due = password_change_due(db, "1234")
        assert due is not None and "at least 10 characters" in due
        assert password_change_due(db, "demo") is not None  # a real clinic never accepts "demo"


def test_the_demo_clinic_keeps_demo_without_a_change(demo_path: Path) -> None:
    with Database.open(demo_path, "cm1", "demo") as db:
        with db.session() as s:
            assert s.get(ClinicSetting, "demo").value is True
        assert password_change_due(db, "demo") is None
        # but a new password there follows the rules like anywhere else
        with pytest.raises(ValidationError, match="at least 10"):
            change_own_password(db, db.actor, current_password="demo", new_password="demo2")
