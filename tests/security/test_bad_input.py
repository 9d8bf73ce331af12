"""Bad input, property-based: odd Unicode, huge text, odd dates, minutes and item scores.

Each input is either accepted and stored exactly (as the service documents: trimmed) or refused
with a clear ValidationError, and then nothing at all was written (row and audit counts unchanged).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cocm_desktop.domain.episode import TargetCondition
from cocm_desktop.services.common import NotFound, ValidationError
from cocm_desktop.store.database import Database
from cocm_desktop.store.keyslots import keyfile_path
from cocm_desktop.store.models import AuditRecord, Measure, Patient, TimeEntry, User

NOW = datetime(2026, 11, 24, 15, 0)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Names: every plane of Unicode (surrogates cannot be encoded and are left out), plus the classics.
odd_text = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=60),
    st.sampled_from(
        [
            "O'Brien",
            "Nguyễn",
            "Zoë",
            "José María",
            "李小龙",
            "محمد",
            "  padded  ",
            "\u202eevil",
            "a\x00b",
            "tab\there",
            "Ｆｕｌｌｗｉｄｔｈ",
            "👩‍⚕️",
            "e\u0301",
            "x" * 201,
            "x" * 5000,
        ]
    ),
)


def _counts(db: Database, *models: type) -> tuple[int, ...]:
    with db.session() as s:
        return tuple(int(s.scalar(select(func.count()).select_from(m)) or 0) for m in (*models, AuditRecord))


@SETTINGS
@given(
    family=odd_text,
    given_name=odd_text,
    notes=st.one_of(st.none(), odd_text, st.just("n" * 100_000)),
    dob=st.dates(min_value=date(1800, 1, 1), max_value=date(2100, 12, 31)),
)
def test_add_patient_stores_exactly_or_refuses_cleanly(
    clinic: Database, actors, family, given_name, notes, dob
) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.patients import add_patient

    before = _counts(clinic, Patient)
    mrn = f"H-{before[0]}"
    try:
        with clinic.session() as s:
            p = add_patient(
                s,
                actors["cm1"],
                mrn=mrn,
                family_name=family,
                given_name=given_name,
                date_of_birth=dob,
                notes=notes,
                today=NOW.date(),
            )
    except ValidationError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        assert _counts(clinic, Patient) == before
        return
    with clinic.session() as s:
        row = s.get(Patient, p.id)
        assert (row.family_name, row.given_name, row.notes, row.date_of_birth) == (
            family.strip(),
            given_name.strip(),
            (notes or "").strip() or None,
            dob,
        )
    assert _counts(clinic, Patient) == (before[0] + 1, before[1] + 1)


@pytest.fixture
def episode(clinic: Database, actors) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.enrollment import ConsentIn, enroll
    from cocm_desktop.services.patients import add_patient

    cm, doc = actors["cm1"], actors["doc1"]
    with clinic.session() as s:
        pid = add_patient(
            s,
            cm,
            mrn="P-1",
            family_name="Prop",
            given_name="Erty",
            date_of_birth=date(1970, 1, 1),
            last_seen_on=date(2026, 10, 1),
            today=NOW.date(),
        ).id
    with clinic.session() as s:
        ep = enroll(
            s,
            doc,
            patient_id=pid,
            enrolled_on=date(2026, 10, 5),
            target_conditions=[TargetCondition("F32.1", "Major depressive disorder")],
            treating_clinician_id=doc.user_id,
            care_manager_id=cm.user_id,
            urgent_risk_ruled_out=True,
            risk_ruled_out_by_id=doc.user_id,
            consent=ConsentIn(True, True, True, True, date(2026, 10, 5)),
            now=NOW,
        ).episode_id
    return pid, ep


@SETTINGS
@given(
    minutes=st.one_of(st.integers(-100, 2000), st.sampled_from([0, 1, 1440, 1441, 10**12, -(10**12)])),
    day=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    note=st.one_of(st.none(), odd_text),
)
def test_manual_minutes_and_dates(clinic: Database, actors, episode, minutes, day, note) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.time_log import add_manual_time

    pid, _ep = episode
    before = _counts(clinic, TimeEntry)
    try:
        with clinic.session() as s:
            views = add_manual_time(
                s,
                actors["cm1"],
                patient_id=pid,
                activity="outreach",
                minutes=minutes,
                local_date=day,
                note=note,
                now=NOW,
            )
    except ValidationError as exc:
        assert str(exc)
        assert _counts(clinic, TimeEntry) == before
        return
    assert 0 < minutes <= 1440 and day <= NOW.date()
    assert sum(v.minutes for v in views) == minutes
    assert _counts(clinic, TimeEntry)[0] == before[0] + len(views)


@SETTINGS
@given(
    instrument=st.sampled_from(["PHQ-9", "GAD-7", "PHQ-2", ""]),
    items=st.lists(st.integers(-2, 5), min_size=0, max_size=11),
    taken=st.datetimes(min_value=datetime(2026, 9, 1), max_value=datetime(2026, 12, 31)),
)
@example(instrument="GAD-7", items=[0] * 7, taken=datetime(2026, 9, 1))  # valid items, before enrollment
def test_measure_item_scores(clinic: Database, actors, episode, instrument, items, taken) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.measures import record_measure

    _pid, ep = episode
    before = _counts(clinic, Measure)
    try:
        with clinic.session() as s:
            result = record_measure(s, actors["cm1"], ep, instrument, items, taken_at=taken, now=NOW)
    except (ValidationError, NotFound) as exc:
        assert str(exc)
        assert _counts(clinic, Measure) == before
        return
    n = {"PHQ-9": 9, "GAD-7": 7}[instrument]
    assert len(items) == n and all(0 <= i <= 3 for i in items)
    assert taken <= NOW  # a score before the enrollment date is kept: a screening score, never the baseline
    assert result.total == sum(items)
    assert _counts(clinic, Measure)[0] == before[0] + 1


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    username=st.one_of(st.text(max_size=40), st.from_regex(r"[a-z][a-z0-9._-]{1,31}", fullmatch=True)),
    display_name=odd_text,
    password=st.one_of(st.text(max_size=12), st.text(min_size=10, max_size=40), st.just("p" * 2000)),
)
def test_add_user_stores_exactly_or_refuses_cleanly(
    clinic: Database, actors, username, display_name, password
) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.users import add_staff_user

    before = _counts(clinic, User)
    keys_before = keyfile_path(clinic.path).read_bytes()
    try:
        user = add_staff_user(
            clinic,
            actors["lead"],
            username=username,
            display_name=display_name,
            role="care_manager",
            password=password,
        )
    except ValidationError as exc:
        assert str(exc)
        assert _counts(clinic, User) == before
        assert keyfile_path(clinic.path).read_bytes() == keys_before  # no slot written either
        return
    assert user.username == username.strip().lower() and user.display_name == display_name.strip()
    assert clinic.check_password(user.username, password)
    # user.create, the signed binding of their new signing key and the signed access grant
    assert _counts(clinic, User) == (before[0] + 1, before[1] + 3)
