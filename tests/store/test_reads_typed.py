"""The store's read functions hand the services Python values, whatever the engine stores.

On the encrypted file a date is ISO text and a boolean 0/1 at the driver; the services compare
dates with dates and decide on booleans, so a read that let "2026-10-03" or 1 through would be
compared as text or as a number — right on one engine, wrong (or an error) on the clinic server.
Each read is checked on the demo clinic against what the ORM, which converts every value, reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from cocm_desktop.services.registry import collect
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Episode, RegistryFacts, TimeEntry
from cocm_desktop.store.reads import billing_reads, registry_reads, time_reads

TODAY = date(2026, 11, 24)


@pytest.fixture
def demo(demo_path: Path) -> Iterator[Database]:
    db = Database.open(demo_path, "lead", "demo")
    yield db
    db.close()


def test_time_entries_come_back_as_the_orm_reads_them(demo: Database) -> None:
    first, last = date(2026, 10, 1), date(2026, 10, 31)
    with demo.session() as s:
        rows = time_reads.month_entries(s.connection(), first, last)
        orm = {e.id: e for e in s.scalars(select(TimeEntry).where(
            TimeEntry.local_date.between(first, last), TimeEntry.deleted_at.is_(None)))}
    assert rows and {r.id for r in rows} == set(orm)
    assert any(r.started_at is not None for r in rows)
    for r in rows:
        e = orm[r.id]
        assert (r.local_date, r.started_at, r.ended_at, r.minutes, r.counts_as_care_management) == (
            e.local_date, e.started_at, e.ended_at, e.minutes, bool(e.counts_as_care_management))
        assert type(r.local_date) is date and type(r.counts_as_care_management) is bool
        assert r.started_at is None or type(r.started_at) is datetime


def test_billing_episodes_have_dates_and_booleans(demo: Database) -> None:
    with demo.session() as s:
        rows = billing_reads.billing_episodes(s.connection())
        orm = {e.id: e for e in s.scalars(select(Episode))}
    for r in rows:
        e = orm[r.id]
        assert (r.enrolled_on, r.closed_on, r.initiating_visit_on) == (e.enrolled_on, e.closed_on, e.initiating_visit_on)
        assert type(r.initiating_visit_required) is bool


def test_cached_registry_facts_decode_to_dates_and_tuples(demo: Database) -> None:
    with demo.session() as s:
        collect(s, today=TODAY)  # fills the cache
        s.commit()
    with demo.session() as s:
        read = registry_reads.registry_rows(s.connection(), registry_reads.RegistryQuery(TODAY))
        orm = {f.episode_id: f for f in s.scalars(select(RegistryFacts))}
    reviewed = 0
    for episode, facts in read:
        assert facts is not None and type(episode.enrolled_on) is date
        stored = orm[episode.episode_id]
        assert (facts.phq9_last_on, facts.last_contact_on, facts.billing_month) == (
            stored.phq9_last_on, stored.last_contact_on, stored.billing_month)
        assert type(facts.has_consent) is bool
        if facts.reviewed_days:
            reviewed += 1
            assert facts.reviewed_days == tuple(date.fromisoformat(d) for d in stored.reviewed_days)
        if facts.lags:
            assert facts.lags == tuple((date.fromisoformat(d), n) for d, n in stored.lags)
    assert reviewed  # the demo clinic has case reviews, so the JSON decoder ran
