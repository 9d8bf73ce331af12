"""Builders for service tests: patients and episodes made through the services themselves."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.episode import TargetCondition
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AuditRecord

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 16, 0)


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour, 0))


def items_for(instrument: str, total: int, item9: int = 0) -> list[int]:
    """Item answers adding up to `total` (item 9 of a PHQ-9 as given)."""
    n = 9 if instrument == "PHQ-9" else 7
    items = [0] * n
    rest = total
    if instrument == "PHQ-9":
        items[8] = item9
        rest -= item9
    for i in range(n if instrument == "GAD-7" else 8):
        take = min(3, rest)
        items[i] = take
        rest -= take
    assert rest == 0, "total out of range"
    return items


@dataclass
class Builder:
    db: Database
    actors: dict[str, Actor]
    _mrn: Any = None
    today: date = TODAY
    now: datetime = NOW
    _s: Any = None  # the open session of a test's call

    @staticmethod
    def at(day: date, hour: int = 10) -> datetime:
        return at(day, hour)

    def __post_init__(self) -> None:
        self._mrn = itertools.count(1000)

    def patient(self, *, last_seen_on: date | None = date(2026, 1, 5), family: str = "Doe", given: str = "Jane",
                by: str = "cm1") -> int:
        from cocm_desktop.services.patients import add_patient

        with self.db.session() as s:
            return add_patient(s, self.actors[by], mrn=f"M{next(self._mrn)}", family_name=family, given_name=given,
                               date_of_birth=date(1980, 5, 17), last_seen_on=last_seen_on, today=TODAY).id

    def episode(
        self, enrolled_on: date, *, by: str = "doc1", cm: str = "cm1", doc: str = "doc1", scale: str = "PHQ-9",
        program: str = "cocm", baseline: int | None = None, family: str = "Doe", given: str = "Jane",
        patient_id: int | None = None,
    ) -> int:
        from cocm_desktop.services.enrollment import ConsentIn, enroll

        pid = patient_id or self.patient(family=family, given=given)
        with self.db.session() as s:
            res = enroll(
                s, self.actors[by], patient_id=pid, enrolled_on=enrolled_on, program=program,
                primary_scale=scale, target_conditions=[TargetCondition("F32.1", "Major depressive disorder")],
                treating_clinician_id=self.actors[doc].user_id, care_manager_id=self.actors[cm].user_id,
                urgent_risk_ruled_out=True, risk_ruled_out_by_id=self.actors[doc].user_id,
                consent=ConsentIn(True, True, True, True, enrolled_on),
                baseline_items=items_for(scale, baseline) if baseline is not None else None,
                baseline_taken_at=at(enrolled_on) if baseline is not None else None,
                now=self.now,
            )
            return res.episode_id

    def measure(self, episode_id: int, day: date, total: int, *, instrument: str = "PHQ-9", item9: int = 0,
                by: str = "cm1", hour: int = 10):  # type: ignore[no-untyped-def]
        from cocm_desktop.services.measures import record_measure

        with self.db.session() as s:
            return record_measure(s, self.actors[by], episode_id, instrument, items_for(instrument, total, item9),
                                  taken_at=at(day, hour), now=self.now)

    def contact(self, episode_id: int, day: date, *, kind: str = "follow_up", reached: bool = True,
                by: str = "cm1", entered: datetime | None = None, minutes: int = 0,
                next_on: date | None = None, question: str | None = None, **kw: Any):  # type: ignore[no-untyped-def]
        from cocm_desktop.services.contacts import record_contact

        with self.db.session() as s:
            return record_contact(
                s, self.actors[by], episode_id, contact_at=at(day), mode="phone", kind=kind, reached=reached,
                next_step="Call again", next_step_on=next_on or max(day, TODAY) + timedelta(days=7),
                minutes=minutes, question_for_consultant=question, now=entered or self.now, **kw)

    def care_plan(self, episode_id: int, *, relapse: str | None = None, by: str = "cm1") -> None:
        from cocm_desktop.services.care_plans import save_care_plan

        with self.db.session() as s:
            save_care_plan(s, self.actors[by], episode_id, goals="Sleep better, walk daily",
                           relapse_prevention_plan=relapse, now=self.now)

    def call(self, fn: Callable[..., Any], user: str, *args: Any, **kw: Any) -> Any:
        with self.db.session() as s:
            return fn(s, self.actors[user], *args, **kw)

    def audit_count(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(AuditRecord)) or 0)


@pytest.fixture
def build(clinic: Database, actors: dict[str, Actor]) -> Builder:
    return Builder(clinic, actors)


def _make_builder(db: Database) -> Builder:
    from cocm_desktop.store.models import User

    with db.session() as s:
        actors = {u.username: Actor(u.id, u.username, u.display_name, u.role) for u in s.scalars(select(User))}
    return Builder(db, actors)


def _copy_clinic(src: Path, dest_dir: Path) -> Path:
    from cocm_desktop.store.keyslots import keyfile_path

    dest = dest_dir / "copy.db"
    shutil.copy2(src, dest)
    shutil.copy2(keyfile_path(src), keyfile_path(dest))
    return dest


@pytest.fixture(scope="session")
def make_builder() -> Callable[[Database], Builder]:
    return _make_builder


@pytest.fixture(scope="session")
def copy_clinic() -> Callable[[Path, Path], Path]:
    return _copy_clinic
