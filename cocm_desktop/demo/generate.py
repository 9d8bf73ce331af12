"""`generate_demo`: the demo clinic end to end, from an empty encrypted database to a clinic with
staff, patients, a year of history, case reviews and every demo login's key slot.

`create_demo_clinic` is its first step: a clinic marked as demo (setting `demo` = true, so its
logins keep the password "demo" without being asked to change it) with the six demo logins.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import insert, select

from cocm_desktop.demo.case_reviews import CaseReviews, prepare_next_review
from cocm_desktop.demo.history import ClinicHistory
from cocm_desktop.demo.rows import Rows
from cocm_desktop.demo.staff import DEMO_LOGINS, DEMO_PASSWORD, make_staff
from cocm_desktop.services.common import DEMO_KEY
from cocm_desktop.store import audit
from cocm_desktop.store.bulk import after_bulk_insert
from cocm_desktop.store.clinic_db import ClinicDatabase
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import (
    AgendaItem,
    CarePlanVersion,
    CaseReviewSession,
    ClinicSetting,
    Consent,
    Contact,
    Diagnosis,
    Episode,
    EpisodeStatusChange,
    Measure,
    Medication,
    MedicationProposal,
    Patient,
    PayerRuleSet,
    Recommendation,
    Referral,
    RiskEvent,
    TimeEntry,
)

DEMO_CLINIC_NAME = "Maple Street Family Medicine (demo)"


@dataclass
class DemoSummary:
    """What `generate_demo` made: where, how much, and the logins (username, role)."""

    path: Path
    patients: int
    episodes: int
    measures: int
    contacts: int
    time_entries: int
    logins: list[tuple[str, str]] = field(default_factory=list)


def create_demo_clinic(path: Path | str, *, clinic_name: str = DEMO_CLINIC_NAME,
                       password: str = DEMO_PASSWORD) -> Database:
    """A demo clinic without patients, open as `lead`: marked as demo, the six demo logins, each
    with a key slot for `password`. Bypasses the password rules on purpose (README's demo logins)."""
    path = Path(path)
    db, _recovery = Database.create(path, clinic_name=clinic_name, lead_username="lead",
                                    lead_display_name="Lee Adams", lead_password=password)
    try:
        add_demo_staff(db, password)
    except BaseException:
        _discard(db)
        raise
    return db


def add_demo_staff(db: ClinicDatabase, password: str) -> None:
    """Mark a new clinic (either engine, open as its first lead) as a demo and add the other five
    demo logins with `password`."""
    with db.session() as s:
        s.add(ClinicSetting(key=DEMO_KEY, value=True))
        make_staff(s, 0)
    for username, _name, _role, _creds in DEMO_LOGINS[1:]:
        db.add_key_slot(username, password)


def _discard(db: Database) -> None:
    db.close()
    for leftover in (db.path, Path(f"{db.path}-wal"), Path(f"{db.path}-shm"), db.keyfile_path):
        leftover.unlink(missing_ok=True)


def generate_demo(
    path: Path | str,
    *,
    patients: int = 60,
    seed: int = 7,
    today: date | None = None,
    months: int = 12,
    password: str = DEMO_PASSWORD,
) -> DemoSummary:
    """Create an encrypted demo clinic at `path` (which must not exist)."""
    if patients < 1:
        raise ValueError("A demo clinic needs at least one patient.")
    path = Path(path)
    db = create_demo_clinic(path, password=password)
    try:
        summary = fill_demo(db, patients=patients, seed=seed, today=today or date.today(), months=months)
    except BaseException:
        _discard(db)
        raise
    db.close()
    return summary


def fill_demo(db: ClinicDatabase, *, patients: int, seed: int, today: date, months: int) -> DemoSummary:
    """Patients, a year of history and case reviews, written into a demo clinic made by
    `create_demo_clinic` or `add_demo_staff` (either engine), open as its lead."""
    if patients < 1:
        raise ValueError("A demo clinic needs at least one patient.")
    assert db.actor is not None
    rng = random.Random(seed)
    with db.session() as s:
        staff = make_staff(s, patients)
        medicare_id = s.scalar(select(PayerRuleSet.id).where(PayerRuleSet.is_default.is_(True)))
        rows = Rows()
        gen = ClinicHistory(rng, today, months, staff, rows, medicare_id)
        for n in range(patients):
            gen.patient(n)
        CaseReviews(rng, today, gen.start, staff, rows).write(gen.review_wishes)
        for model in (Patient, Episode, EpisodeStatusChange, Diagnosis, Consent, Medication,
                      CarePlanVersion, Contact, Measure, Referral, RiskEvent, CaseReviewSession,
                      AgendaItem, Recommendation, MedicationProposal, TimeEntry):
            batch = rows.tables.get(model, [])
            for i in range(0, len(batch), 20000):
                s.execute(insert(model), batch[i : i + 20000])
        after_bulk_insert(s, [model.__tablename__ for model in rows.tables])
        audit.append(s, user_id=db.actor.user_id, username=db.actor.username, action="demo.generate",
                     summary=f"Demo clinic generated: {patients} patients, seed {seed}")
        summary = DemoSummary(
            path=db.path, patients=patients, episodes=len(rows.tables[Episode]),
            measures=len(rows.tables[Measure]), contacts=len(rows.tables[Contact]),
            time_entries=len(rows.tables[TimeEntry]),
            logins=[(u, r) for u, _n, r, _c in DEMO_LOGINS],
        )
    prepare_next_review(db, today)
    return summary
