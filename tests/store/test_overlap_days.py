"""`time_overlap_day` (store.overlap_days): after every kind of write it lists exactly the staff
days on which one person's live timed entries overlap, as found by comparing every pair of
entries (the month-end billing history trusts it to find the months to recount). The single
cases run on an empty clinic, so that only the test's own entries meet; the bulk import, a
random week and the migration run on the demo clinic.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from itertools import combinations

import pytest
from alembic import command
from sqlalchemy import delete, insert, select, update

from cocm_desktop.domain.actor import Actor
from cocm_desktop.services import patients as patients_service
from cocm_desktop.services import time_log
from cocm_desktop.store.database import Database
from cocm_desktop.store.migrate import alembic_config
from cocm_desktop.store.models import Patient, TimeEntry, TimeOverlapDay, User

NOW = datetime(2026, 11, 24, 15, 0)
DAY = date(2026, 11, 20)


@pytest.fixture
def demo(demo_path) -> Database:  # type: ignore[no-untyped-def]
    db = Database.open(demo_path, "lead", "demo")
    yield db  # type: ignore[misc]
    db.close()


@pytest.fixture
def empty(clinic: Database) -> Database:
    """The test clinic (no time logged yet) with three patients."""
    cm1 = actor(clinic, "cm1")
    with clinic.session() as s:
        for n in range(3):
            patients_service.add_patient(
                s, cm1, mrn=f"MRN{n}", family_name=f"Family{n}", given_name="Test",
                date_of_birth=date(1960, 1, 1 + n), today=DAY,
            )
    return clinic


def actor(db: Database, username: str) -> Actor:
    with db.session() as s:
        u = s.scalars(select(User).where(User.username == username)).one()
        return Actor(u.id, u.username, u.display_name, u.role)


def listed(db: Database) -> set[tuple[date, int]]:
    with db.session() as s:
        return {(d, st) for d, st in s.execute(select(TimeOverlapDay.local_date, TimeOverlapDay.staff_id))}


def every_pair(db: Database) -> set[tuple[date, int]]:
    """The reference: staff days with two live timed entries whose spans intersect."""
    by_day: dict[tuple[date, int], list[tuple[datetime, datetime]]] = defaultdict(list)
    with db.session() as s:
        for d, st, start, end in s.execute(
            select(TimeEntry.local_date, TimeEntry.staff_id, TimeEntry.started_at, TimeEntry.ended_at).where(
                TimeEntry.deleted_at.is_(None), TimeEntry.started_at.is_not(None), TimeEntry.ended_at.is_not(None)
            )
        ):
            by_day[(d, st)].append((start, end))
    return {
        key
        for key, spans in by_day.items()
        if any(a0 < b1 and b0 < a1 for (a0, a1), (b0, b1) in combinations(spans, 2))
    }


def patients(db: Database, n: int) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(Patient.id).order_by(Patient.id).limit(n)))


def log(db: Database, who: str, patient_id: int, start: datetime, minutes: int) -> list[int]:
    with db.session() as s:
        views = time_log.add_manual_time(
            s, actor(db, who), patient_id=patient_id, activity="care_coordination",
            started_at=start, ended_at=start + timedelta(minutes=minutes), now=NOW,
        )
    return [v.id for v in views]


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute)


def test_demo_clinic_bulk_insert_is_listed_as_every_pair_finds(demo: Database) -> None:
    # the demo generator writes its time entries with bulk ORM inserts, a few of them overlapping
    assert listed(demo) == every_pair(demo)
    assert listed(demo)


def test_overlap_between_two_patients_is_listed_and_cleared_by_deleting_one(empty: Database) -> None:
    a, b = patients(empty, 2)
    cm1 = actor(empty, "cm1").user_id
    log(empty, "cm1", a, at(9), 30)
    log(empty, "cm1", b, at(9, 30), 30)  # touching, not overlapping
    assert (DAY, cm1) not in listed(empty)
    [late] = log(empty, "cm1", b, at(9, 50), 20)  # runs into nothing: the 9:30 entry ends at 10:00
    assert (DAY, cm1) in listed(empty)
    with empty.session() as s:
        time_log.delete_time_entry(s, actor(empty, "cm1"), late, "logged twice", now=NOW)
    assert (DAY, cm1) not in listed(empty)
    assert listed(empty) == every_pair(empty)


def test_an_entry_inside_a_longer_one_is_an_overlap_even_when_not_neighbours(empty: Database) -> None:
    a, b, c = patients(empty, 3)
    cm2 = actor(empty, "cm2").user_id
    log(empty, "cm2", a, at(13), 120)  # 13:00–15:00
    log(empty, "cm2", b, at(13, 10), 10)  # inside it
    log(empty, "cm2", c, at(14, 30), 10)  # inside it too, after the short one ended
    assert (DAY, cm2) in listed(empty)
    assert listed(empty) == every_pair(empty)


def test_another_persons_time_at_the_same_hour_is_no_overlap(empty: Database) -> None:
    a, b = patients(empty, 2)
    log(empty, "cm1", a, at(11), 30)
    log(empty, "cm2", b, at(11), 30)
    assert (DAY, actor(empty, "cm1").user_id) not in listed(empty)
    assert (DAY, actor(empty, "cm2").user_id) not in listed(empty)


def test_a_span_across_midnight_is_checked_on_both_days(empty: Database) -> None:
    a, b = patients(empty, 2)
    cm1 = actor(empty, "cm1").user_id
    log(empty, "cm1", a, at(23, 30), 60)  # 23:30–00:30, two entries
    log(empty, "cm1", b, at(0, 10, DAY + timedelta(days=1)), 10)
    assert (DAY + timedelta(days=1), cm1) in listed(empty)
    assert (DAY, cm1) not in listed(empty)


def test_moving_an_entry_to_another_day_or_person_updates_both(empty: Database) -> None:
    a, b = patients(empty, 2)
    cm1, cm2 = actor(empty, "cm1").user_id, actor(empty, "cm2").user_id
    log(empty, "cm1", a, at(10), 30)
    [second] = log(empty, "cm1", b, at(10, 15), 30)
    assert (DAY, cm1) in listed(empty)
    with empty.session() as s:  # a correction made through the ORM: the entry was cm2's
        s.get(TimeEntry, second).staff_id = cm2
    assert (DAY, cm1) not in listed(empty)
    log(empty, "cm2", a, at(10, 40), 10)
    assert (DAY, cm2) in listed(empty)
    with empty.session() as s:  # and the whole run moves a week back
        e = s.get(TimeEntry, second)
        e.local_date -= timedelta(days=7)
        e.started_at -= timedelta(days=7)
        e.ended_at -= timedelta(days=7)
    assert (DAY, cm2) not in listed(empty)
    assert listed(empty) == every_pair(empty)


def test_bulk_statements_are_followed(empty: Database) -> None:
    a, b = patients(empty, 2)
    cm1 = actor(empty, "cm1").user_id
    first = log(empty, "cm1", a, at(8), 30)
    log(empty, "cm1", b, at(8, 20), 30)
    with empty.session() as s:  # soft delete in bulk
        s.execute(update(TimeEntry).where(TimeEntry.id.in_(first)).values(deleted_at=NOW))
    assert (DAY, cm1) not in listed(empty)
    with empty.session() as s:  # undeleted, then moved in bulk to another day
        s.execute(update(TimeEntry).where(TimeEntry.id.in_(first)).values(deleted_at=None))
    assert (DAY, cm1) in listed(empty)
    with empty.session() as s:
        s.execute(update(TimeEntry).where(TimeEntry.id.in_(first)).values(local_date=DAY - timedelta(days=1)))
    assert listed(empty) == every_pair(empty)
    with empty.session() as s:  # hard delete and a bulk insert of an overlapping entry
        s.execute(delete(TimeEntry).where(TimeEntry.id.in_(first)))
        s.execute(insert(TimeEntry), [dict(
            patient_id=a, staff_id=cm1, local_date=DAY, started_at=at(8, 40), ended_at=at(9),
            minutes=20, activity="care_coordination", source="manual", created_by_id=cm1,
        )])
    assert (DAY, cm1) in listed(empty)
    assert listed(empty) == every_pair(empty)


def test_a_random_week_of_work_keeps_the_table_true(demo: Database) -> None:
    rng = random.Random(11)
    pids = patients(demo, 12)
    live: list[int] = []
    for _ in range(60):
        who = rng.choice(["cm1", "cm2"])
        if live and rng.random() < 0.2:
            entry = live.pop(rng.randrange(len(live)))
            with demo.session() as s:
                try:
                    time_log.delete_time_entry(s, actor(demo, who), entry, "wrong patient", now=NOW)
                except Exception:  # noqa: BLE001 - the other care manager's entry: not theirs to delete
                    live.append(entry)
            continue
        day = DAY - timedelta(days=rng.randrange(7))
        live += log(demo, who, rng.choice(pids), at(rng.randrange(8, 17), rng.randrange(60), day), rng.randrange(5, 50))
        assert listed(demo) == every_pair(demo)
    assert listed(demo) == every_pair(demo)
    assert listed(demo)  # the week did produce overlaps to check


def test_the_migration_fills_the_table_from_existing_entries(demo: Database) -> None:
    a, b = patients(demo, 2)
    log(demo, "cm1", a, at(10), 30)
    log(demo, "cm1", b, at(10, 15), 30)
    expected = every_pair(demo)
    assert expected
    with demo.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004_time_entry_staff_day")
    with demo.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert listed(demo) == expected
