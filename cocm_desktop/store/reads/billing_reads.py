"""Reads of the month-end billing computation: episodes, patients, consents and the facts the
required-element checks need, for the whole clinic at once (one statement each)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import Connection, func, select

from ..models import (
    AgendaItem,
    CarePlanVersion,
    CaseReviewSession,
    Consent,
    Contact,
    Episode,
    Measure,
    Patient,
)
from ..sql_portable import day_cache, fetch_plain, raw, to_moment

__all__ = [
    "EpisodeRow",
    "PatientRow",
    "ScoreRow",
    "billing_episodes",
    "billing_patients",
    "contacts_per_episode",
    "episodes_with_care_plan",
    "first_consent_by_episode",
    "primary_scale_scores",
    "reviewed_days_by_episode",
    "scales_per_episode",
]

_new = tuple.__new__


class EpisodeRow(NamedTuple):
    """An episode as the billing computation needs it."""

    id: int
    patient_id: int
    program: str
    enrolled_on: date
    closed_on: date | None
    close_reason: str | None
    primary_scale: str
    initiating_visit_required: bool
    initiating_visit_on: date | None
    treating_clinician_id: int | None
    care_manager_id: int | None


class PatientRow(NamedTuple):
    id: int
    family_name: str
    given_name: str
    mrn: str
    date_of_birth: date
    payer_name: str | None
    payer_rule_set_id: int | None


class ScoreRow(NamedTuple):
    episode_id: int
    taken_at: datetime
    total: int
    id: int


def billing_episodes(conn: Connection) -> list[EpisodeRow]:
    """Every episode, by id."""
    e = Episode
    day = day_cache()
    return [
        _new(EpisodeRow, (i, pid, program, day(enrolled), day(closed), reason, scale, bool(iv_required),
                          day(iv_on), prac, cm))
        for i, pid, program, enrolled, closed, reason, scale, iv_required, iv_on, prac, cm in fetch_plain(
            conn,
            select(e.id, e.patient_id, e.program, raw(e.enrolled_on), raw(e.closed_on), e.close_reason,
                   e.primary_scale, e.initiating_visit_required, raw(e.initiating_visit_on),
                   e.treating_clinician_id, e.care_manager_id).order_by(e.id),
        )
    ]


def billing_patients(conn: Connection) -> list[PatientRow]:
    """Every patient with the columns the packet shows (a record entered twice and voided is on
    no packet: its time was voided with it)."""
    p = Patient
    day = day_cache()
    return [
        _new(PatientRow, (r[0], r[1], r[2], r[3], day(r[4]), r[5], r[6]))
        for r in fetch_plain(conn, select(p.id, p.family_name, p.given_name, p.mrn, raw(p.date_of_birth),
                                          p.payer_name, p.payer_rule_set_id).where(p.voided_at.is_(None)))
    ]


def first_consent_by_episode(conn: Connection) -> dict[int, date]:
    """{episode: day of its earliest consent the patient agreed to}."""
    day = day_cache()
    return {
        eid: day(on)  # type: ignore[misc]
        for eid, on in fetch_plain(
            conn,
            select(Consent.episode_id, raw(func.min(Consent.consent_on)))
            .where(Consent.patient_agrees.is_(True)).group_by(Consent.episode_id),
        )
    }


def episodes_with_care_plan(conn: Connection) -> set[int]:
    """Episodes with a live care-plan version (a version voided in error is no plan)."""
    return {eid for (eid,) in fetch_plain(
        conn, select(CarePlanVersion.episode_id).where(CarePlanVersion.voided_at.is_(None)).distinct())}


def contacts_per_episode(conn: Connection, start: datetime, end: datetime) -> dict[int, int]:
    """{episode: live contacts at `start` ≤ time < `end`}."""
    return dict(fetch_plain(  # type: ignore[arg-type]
        conn,
        select(Contact.episode_id, func.count())
        .where(Contact.contact_at >= start, Contact.contact_at < end, Contact.voided_at.is_(None))
        .group_by(Contact.episode_id),
    ))


def scales_per_episode(conn: Connection, start: datetime, end: datetime) -> dict[int, int]:
    """{episode: live scores (any instrument) taken at `start` ≤ time < `end`}."""
    return dict(fetch_plain(  # type: ignore[arg-type]
        conn,
        select(Measure.episode_id, func.count())
        .where(Measure.taken_at >= start, Measure.taken_at < end, Measure.voided_at.is_(None))
        .group_by(Measure.episode_id),
    ))


def reviewed_days_by_episode(conn: Connection) -> dict[int, tuple[date, ...]]:
    """{episode: the days of the case reviews that discussed it, ascending}."""
    day = day_cache()
    reviews: dict[int, list[date]] = defaultdict(list)
    for eid, on in fetch_plain(
        conn,
        select(AgendaItem.episode_id, raw(CaseReviewSession.session_on))
        .join(CaseReviewSession, CaseReviewSession.id == AgendaItem.session_id)
        .where(AgendaItem.reviewed.is_(True), AgendaItem.removed.is_(False)),
    ):
        reviews[eid].append(day(on))  # type: ignore[arg-type]
    return {eid: tuple(sorted(days)) for eid, days in reviews.items()}


def primary_scale_scores(conn: Connection, up_to: datetime) -> list[ScoreRow]:
    """Every live score of an episode's primary scale taken at or before `up_to`, in the episode
    index's order (episode, time taken) so SQLite reads it without sorting."""
    rows = fetch_plain(
        conn,
        select(Measure.episode_id, raw(Measure.taken_at), Measure.total, Measure.id)
        .join(Episode, Episode.id == Measure.episode_id)
        .where(Measure.instrument == Episode.primary_scale, Measure.taken_at <= up_to, Measure.voided_at.is_(None))
        .order_by(Measure.episode_id, Measure.taken_at),
    )
    parse = datetime.fromisoformat if conn.dialect.name == "sqlite" else to_moment  # ISO text on SQLite
    return [_new(ScoreRow, (eid, parse(at), total, mid)) for eid, at, total, mid in rows]
