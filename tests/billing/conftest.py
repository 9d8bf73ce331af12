"""Billing test data: patients, episodes and consent written straight into the real encrypted DB.

(Enrollment services belong to another engineer; these rows are what they would write.)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime

import pytest

from cocm_desktop.domain.actor import Actor
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import (
    AgendaItem,
    CarePlanVersion,
    CaseReviewSession,
    Consent,
    Contact,
    Episode,
    Measure,
    Patient,
    TimeEntry,
)

_mrn = itertools.count(1000)


@dataclass
class Builder:
    db: Database
    actors: dict[str, Actor]

    def patient(
        self,
        *,
        family: str = "Rivera",
        given: str = "Ana",
        dob: date = date(1970, 3, 4),
        last_seen_on: date | None = date(2026, 1, 10),
        payer_rule_set_id: int | None = None,
    ) -> int:
        with self.db.session() as s:
            p = Patient(
                mrn=f"MRN{next(_mrn)}",
                family_name=family,
                given_name=given,
                date_of_birth=dob,
                last_seen_on=last_seen_on,
                payer_rule_set_id=payer_rule_set_id,
                payer_name="Medicare Part B",
            )
            s.add(p)
            s.flush()
            return p.id

    def episode(
        self,
        patient_id: int,
        *,
        enrolled_on: date = date(2026, 3, 2),
        program: str = "cocm",
        consent_on: date | None = date(2026, 3, 2),
        clinician: str = "doc1",
        cm: str = "cm1",
        status: str = "active",
        closed_on: date | None = None,
        close_reason: str | None = None,
        initiating_visit_required: bool = False,
        initiating_visit_on: date | None = None,
        care_plan: bool = True,
    ) -> int:
        a = self.actors
        with self.db.session() as s:
            e = Episode(
                patient_id=patient_id,
                program=program,
                status=status,
                enrolled_on=enrolled_on,
                primary_scale="PHQ-9",
                treating_clinician_id=a[clinician].user_id,
                care_manager_id=a[cm].user_id,
                urgent_risk_ruled_out=True,
                initiating_visit_required=initiating_visit_required,
                initiating_visit_on=initiating_visit_on,
                closed_on=closed_on,
                close_reason=close_reason,
            )
            s.add(e)
            s.flush()
            if consent_on is not None:
                s.add(
                    Consent(
                        episode_id=e.id,
                        team_care_explained=True,
                        non_face_to_face_explained=True,
                        cost_sharing_explained=True,
                        patient_agrees=True,
                        consent_on=consent_on,
                        obtained_by_id=a[clinician].user_id,
                        recorded_by_id=a[cm].user_id,
                    )
                )
            if care_plan:
                s.add(
                    CarePlanVersion(
                        episode_id=e.id,
                        version=1,
                        goals="Sleep better",
                        created_by_id=a[cm].user_id,
                        signed_off_on=enrolled_on,
                        signed_off_by_id=a[clinician].user_id,
                    )
                )
            return e.id

    def contact(
        self, episode_id: int, at: datetime, *, cm: str = "cm1", phq9: list[int] | None = None
    ) -> None:
        with self.db.session() as s:
            c = Contact(
                episode_id=episode_id,
                contact_at=at,
                mode="phone",
                kind="follow_up",
                next_step="Call again",
                next_step_on=at.date(),
                staff_id=self.actors[cm].user_id,
            )
            s.add(c)
            s.flush()
            if phq9 is not None:
                s.add(
                    Measure(
                        episode_id=episode_id,
                        instrument="PHQ-9",
                        taken_at=at,
                        items=phq9,
                        total=sum(phq9),
                        band="x",
                        item9=phq9[8],
                        contact_id=c.id,
                        entered_by_id=self.actors[cm].user_id,
                    )
                )

    def raw_entry(
        self,
        patient_id: int,
        episode_id: int | None,
        staff: str,
        day: date,
        minutes: int,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        activity: str = "follow_up",
        billed_elsewhere: str | None = None,
        counts_as_cm: bool = True,
        deleted: bool = False,
        source: str = "manual",
    ) -> int:
        """A stored row exactly as the time-log service writes it (for bulk history); `deleted`:
        soft-deleted as services.time_log does it."""
        with self.db.session() as s:
            t = TimeEntry(
                patient_id=patient_id,
                episode_id=episode_id,
                staff_id=self.actors[staff].user_id,
                local_date=day,
                started_at=start,
                ended_at=end,
                minutes=minutes,
                activity=activity,
                source=source,
                billed_elsewhere=billed_elsewhere,
                counts_as_care_management=counts_as_cm,
                created_by_id=self.actors[staff].user_id,
            )
            if deleted:
                t.deleted_at = datetime.combine(day, datetime.min.time())
                t.deleted_by_id = self.actors[staff].user_id
                t.delete_reason = "Entered twice"
            s.add(t)
            s.flush()
            return t.id

    def review(self, episode_id: int, on: date, *, reviewed: bool = True) -> None:
        """The episode discussed at a case review held on `on`."""
        psych = self.actors["psych"].user_id
        with self.db.session() as s:
            crs = CaseReviewSession(session_on=on, consultant_id=psych, held=True, created_by_id=psych)
            s.add(crs)
            s.flush()
            s.add(
                AgendaItem(
                    session_id=crs.id, episode_id=episode_id, group="new", position=1, reviewed=reviewed
                )
            )


@pytest.fixture
def build(clinic: Database, actors: dict[str, Actor]) -> Builder:
    return Builder(clinic, actors)
