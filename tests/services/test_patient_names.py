"""Patient names, MRN and other one-line details refuse hidden characters; every script is accepted.

A NUL, a bidi override or isolate, a tab or any other control character cannot be seen on screen or
in print, but it is stored and searched: "\u202eNIM" shows as "MIN", a pasted NUL breaks the
registry search. They are refused with a message naming the field, and nothing is written.
"""

from __future__ import annotations

import itertools
import unicodedata
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cocm_desktop.domain.actor import Actor
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.patients import add_patient, update_patient
from cocm_desktop.services.users import add_staff_user
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AuditRecord, Patient, User

TODAY = date(2026, 11, 24)
_mrns = itertools.count(1)

HIDDEN = [
    ("NUL", "a\x00b"),
    ("NUL at the end", "Smith\x00"),
    ("start of heading", "\x01Smith"),
    ("escape", "Sm\x1bith"),
    ("tab inside", "Van\tDyke"),
    ("delete", "Smi\x7fth"),
    ("C1 next line inside", "Smi\x85th"),
    ("C1 control sequence introducer", "Smi\x9bth"),
    ("LRE", "\u202aSmith"),
    ("RLE", "\u202bSmith"),
    ("PDF", "Smith\u202c"),
    ("LRO", "\u202dSmith"),
    ("RLO", "\u202eSmith"),
    ("LRI", "\u2066Smith"),
    ("RLI", "\u2067Smith"),
    ("FSI", "\u2068Smith"),
    ("PDI", "Smith\u2069"),
    ("LRM", "Smi\u200eth"),
    ("RLM", "Smi\u200fth"),
    ("Arabic letter mark", "Smi\u061cth"),
    ("soft hyphen", "Smi\u00adth"),
    ("byte-order mark", "\ufeffSmith"),
    ("line separator inside", "Smi\u2028th"),
    ("private use", "Smi\ue000th"),
    ("tag character", "Smith\U000e0041"),
]

FIELDS = [("mrn", "MRN"), ("family_name", "Family name"), ("given_name", "Given name")]
ONE_LINE_OPTIONAL = [
    ("phone", "Phone"),
    ("preferred_contact", "Preferred contact"),
    ("payer_name", "Payer"),
    ("member_id", "Member id"),
    ("sex", "Sex"),
]


def _patient_values(**over: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        mrn=f"N-{next(_mrns)}", family_name="Doe", given_name="Jane", date_of_birth=date(1980, 5, 17)
    )
    values.update(over)
    return values


def _counts(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Patient)) or 0),
            int(s.scalar(select(func.count()).select_from(AuditRecord)) or 0),
        )


@pytest.mark.parametrize(("key", "label"), FIELDS + ONE_LINE_OPTIONAL)
def test_new_patient_with_a_hidden_character_is_refused_naming_the_field(
    clinic: Database,
    actors: dict[str, Actor],
    key: str,
    label: str,
) -> None:
    before = _counts(clinic)
    wrong = []
    for what, value in HIDDEN:  # one database for the whole table: each refusal must leave it as it was
        try:
            with clinic.session() as s:
                add_patient(s, actors["cm1"], **_patient_values(**{key: value}), today=TODAY)
        except ValidationError as exc:
            if str(exc) != f"{label} contains a hidden control character; retype it.":
                wrong.append((what, str(exc)))
        else:
            wrong.append((what, "accepted"))
        if _counts(clinic) != before:
            wrong.append((what, "something was written"))
            before = _counts(clinic)
    assert wrong == []


@pytest.mark.parametrize(("key", "label"), FIELDS)
@pytest.mark.parametrize(
    ("what", "value"), [HIDDEN[0], HIDDEN[12], HIDDEN[15], HIDDEN[4]], ids=["NUL", "RLO", "FSI", "tab"]
)
def test_correcting_a_patient_to_a_hidden_character_is_refused_and_nothing_changes(
    clinic: Database,
    actors: dict[str, Actor],
    key: str,
    label: str,
    what: str,
    value: str,
) -> None:
    with clinic.session() as s:
        p = add_patient(s, actors["cm1"], **_patient_values(), today=TODAY)
    before = _counts(clinic)
    with (
        pytest.raises(ValidationError, match=f"^{label} contains a hidden control character"),
        clinic.session() as s,
    ):
        update_patient(s, actors["cm1"], p.id, **{key: value}, reason="Typo", today=TODAY)
    assert _counts(clinic) == before
    with clinic.session() as s:
        row = s.get(Patient, p.id)
        assert (row.mrn, row.family_name, row.given_name) == (p.mrn, "Doe", "Jane")


NAMES = [
    ("Nguyễn", "Thị Minh"),  # precomposed Vietnamese
    ("Nguye\u0302\u0303n", "Thi\u0323"),  # the same typed with combining marks
    ("Łukasz", "Żółć"),
    ("Σοφία", "Παπαδοπούλου"),
    ("王", "小明"),
    ("محمد", "عبد الله"),
    ("כהן", "שׂרה"),
    ("फ़र्रुख़", "अर्जुन"),
    ("فرخ\u200cزاد", "مهر\u200cناز"),  # Persian: the zero-width non-joiner is part of the spelling
    ("O'Brien-Smith", "Mary Ann"),
    ("Ｆｕｌｌｗｉｄｔｈ", "テスト"),
]


@pytest.mark.parametrize(("family", "given_name"), NAMES)
def test_names_in_every_script_are_stored_exactly_trimmed(
    clinic: Database,
    actors: dict[str, Actor],
    family: str,
    given_name: str,
) -> None:
    mrn = f"Ü-{next(_mrns)}"
    with clinic.session() as s:
        p = add_patient(
            s,
            actors["cm1"],
            **_patient_values(mrn=f"  {mrn}\n", family_name=f"  {family} ", given_name=f"\t{given_name}  "),
            today=TODAY,
        )
    with clinic.session() as s:
        row = s.get(Patient, p.id)
        assert (row.mrn, row.family_name, row.given_name) == (mrn, family, given_name)


def _hidden(ch: str) -> bool:
    """The rule, stated independently of the service: control, format (except ZWJ/ZWNJ), surrogate,
    private-use, unassigned, line and paragraph separator."""
    cat = unicodedata.category(ch)
    return (cat[0] == "C" or cat in ("Zl", "Zp")) and ch not in "\u200c\u200d"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(family=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30))
def test_any_family_name_is_stored_exactly_or_refused_for_a_hidden_character(
    clinic: Database,
    actors: dict[str, Actor],
    family: str,
) -> None:
    before = _counts(clinic)
    stripped = family.strip()
    try:
        with clinic.session() as s:
            p = add_patient(s, actors["cm1"], **_patient_values(family_name=family), today=TODAY)
    except ValidationError as exc:
        assert _counts(clinic) == before
        if not stripped:
            assert str(exc) == "Family name is required."
        else:
            assert any(_hidden(ch) for ch in stripped)
            assert str(exc) == "Family name contains a hidden control character; retype it."
        return
    assert stripped and not any(_hidden(ch) for ch in stripped)
    with clinic.session() as s:
        assert s.get(Patient, p.id).family_name == stripped


@pytest.mark.parametrize(
    ("display_name", "refused"),
    [
        ("Łukasz Nowak", False),
        ("Dr. 王 小明", False),
        ("Casey\u202eMorgan", True),
        ("Casey\x00", True),
        ("Casey\u2028Morgan", True),
    ],
)
def test_staff_names_follow_the_same_rule(
    clinic: Database, actors: dict[str, Actor], display_name: str, refused: bool
) -> None:
    with clinic.session() as s:
        users_before = int(s.scalar(select(func.count()).select_from(User)) or 0)
    if refused:
        with pytest.raises(ValidationError, match="invisible or control characters"):
            add_staff_user(
                clinic,
                actors["lead"],
                username="newcm",
                display_name=display_name,
                role="care_manager",
                password="secret words",
            )
        with clinic.session() as s:
            assert s.scalar(select(func.count()).select_from(User)) == users_before
    else:
        added = add_staff_user(
            clinic,
            actors["lead"],
            username="newcm",
            display_name=display_name,
            role="care_manager",
            password="secret words",
        )
        assert added.display_name == display_name
