"""The registry's facts per episode, computed set-based and kept in the `registry_facts` cache.

`compute(session, scope, policy, month)` answers, for the episodes of `scope` (a scalar subquery
of episode ids or a short list), everything the registry needs beyond the episode row itself,
with one query per fact family whatever the number of episodes:
measures (one window query), contacts (one window query + the registry-lag exceptions),
recommendations, case reviews, referrals, risk events, consents, care plans, and the month's
billing progress. Every value is independent of "today": windows that move with the date (the
registry-lag look-back, "case reviews held by today", the baseline window) are applied by
`registry` when it reads a row.

`store(session, facts)` writes them to the cache (store.invalidation deletes stale rows on every
write). The statements and the row type (`RegistryFactsRow`, in `FACT_COLUMNS` order, the cache's
columns) are in store.reads.registry_reads.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from cocm_desktop.domain.policy import Policy
from cocm_desktop.store import write_locks
from cocm_desktop.store.reads import registry_reads
from cocm_desktop.store.reads.registry_reads import (
    FACT_COLUMNS,
    NO_CONTACTS,
    NO_MEASURES,
    RecommendationFacts,
    RegistryFactsRow,
)

__all__ = ["FACT_COLUMNS", "RegistryFactsRow", "cache_candidates", "cache_differences", "cacheable", "compute", "lag_facts", "refresh_billing", "store"]

_NO_RECOMMENDATIONS = RecommendationFacts(None, None, 0)


def compute(
    session: Session, scope: Any, policy: Policy, month: date, wanted: set[int] | None = None,
) -> dict[int, RegistryFactsRow]:
    """Facts per episode id of `scope`.

    `scope`: a scalar subquery of episode ids, or a list of ids. `wanted`: keep only these ids
    (when the scope is wider than what is missing). `month`: first day of the billing month."""
    conn = session.connection()
    patients = registry_reads.episode_patients(conn, scope)
    ids = set(patients) if wanted is None else set(patients) & wanted
    if not ids:
        return {}
    measures = registry_reads.measure_facts(conn, scope, policy.remission_below)
    contacts = registry_reads.contact_facts(conn, scope)
    recs = registry_reads.recommendation_facts(conn, scope)
    reviews = registry_reads.reviewed_days(conn, scope)
    referrals = registry_reads.first_open_referral(conn, scope)
    risks = registry_reads.first_open_risk(conn, scope)
    consents = registry_reads.episodes_with(conn, scope, "consent")
    plans = registry_reads.episodes_with(conn, scope, "care_plan")
    from .billing_progress import billing_progress

    billing = billing_progress(session, month, ids)
    out: dict[int, RegistryFactsRow] = {}
    for eid in ids:
        bp = billing.get(eid)
        out[eid] = RegistryFactsRow(
            patients[eid], policy.remission_below,
            *measures.get(eid, NO_MEASURES),
            *contacts.get(eid, NO_CONTACTS),
            *recs.get(eid, _NO_RECOMMENDATIONS),
            reviews.get(eid), referrals.get(eid), risks.get(eid), eid in consents, eid in plans,
            month,
            *((bp.minutes, bp.next_code, bp.minutes_needed, bp.label) if bp else (None, None, None, None)),
        )
    return out


def cache_candidates(session: Session, patients: set[int]) -> set[int]:
    """The patients one registry read tries to cache: all of them on the file engine; on the
    server at most `write_locks.READ_PATIENT_LOCKS` (lowest ids first), so a read holds few locks
    for a short computation and a cold cache fills over a few reads."""
    if not write_locks.on_server(session):
        return set(patients)
    return set(sorted(patients)[:write_locks.READ_PATIENT_LOCKS])


def cacheable(session: Session, patients: set[int]) -> set[int]:
    """The patients whose facts a registry read may store: all of them on the file engine (its
    writers are serialised); on the server those no write is under way for, locked until the
    read commits (store.write_locks). Call before computing."""
    conn = session.connection()
    return write_locks.cacheable(conn, patients) if write_locks.on_server(conn) else set(patients)


def store(session: Session, facts: dict[int, RegistryFactsRow]) -> bool:
    """Write facts to the cache (replacing rows of the same episodes). False when the database
    cannot be written (opened read-only): the registry is then simply computed every time."""
    if not facts:
        return True
    try:
        with session.begin_nested():
            registry_reads.write_facts(session.connection(), facts)
    except OperationalError:
        return False
    except IntegrityError:
        # On the clinic server another window or workstation cached the same episodes at the
        # same moment (the file engine serialises writers, so this cannot happen there): its rows
        # stand, these facts are still returned.
        return False
    return True


def cache_differences(session: Session, policy: Policy) -> list[int]:
    """Episodes whose cached facts differ from facts computed afresh now (empty: the cache is
    exact). Rows cached under another remission threshold are never used, so not compared; each
    row is compared for the billing month it describes."""
    cached = registry_reads.cached_facts(session.connection())
    by_month: dict[date | None, list[int]] = {}
    for eid, row in cached.items():
        if row.remission_below == policy.remission_below:
            by_month.setdefault(row.billing_month, []).append(eid)
    stale: list[int] = []
    for month, ids in by_month.items():
        fresh = compute(session, sorted(ids), policy, month or date.min)
        stale += [eid for eid in ids if fresh.get(eid) != cached[eid]]
    return sorted(stale)


def refresh_billing(
    session: Session, facts: dict[int, RegistryFactsRow], episode_ids: list[int], month: date
) -> None:
    """Recompute only the billing columns of `episode_ids` for `month`, in `facts` (replaced in
    the dict) and in the cache: the first registry of a month costs one billing pass, not every
    fact query."""
    from .billing_progress import billing_progress

    episode_ids = sorted(episode_ids)  # id order: two reads updating the same rows cannot deadlock
    progress = billing_progress(session, month, episode_ids)
    for eid in episode_ids:
        bp = progress.get(eid)
        cols = (bp.minutes, bp.next_code, bp.minutes_needed, bp.label) if bp else (None, None, None, None)
        facts[eid] = facts[eid]._replace(
            billing_month=month, minutes=cols[0], next_code=cols[1], minutes_needed=cols[2], billing_label=cols[3])
    try:
        with session.begin_nested():
            registry_reads.update_billing_facts(session.connection(), month, ((eid, facts[eid]) for eid in episode_ids))
    except OperationalError:
        pass  # read-only database: computed again next time


def lag_facts(
    has_contacts: bool, first_on: date | None, zero_on: date | None,
    lags: tuple[tuple[date, int], ...] | None, cutoff: date,
) -> tuple[int | None, date | None]:
    """(largest registry lag among contacts on/after `cutoff`, the newest contact with it) —
    the same answer as ranking every contact: contacts before the cut-off rank as −1, and the
    result is None when the top rank belongs to no recent contact."""
    if not has_contacts:
        return None, None
    top: int | None = -1 if first_on is not None and first_on < cutoff else None
    best_on: date | None = None
    recent: list[tuple[int, date]] = []
    if zero_on is not None and zero_on >= cutoff:
        recent.append((0, zero_on))
    for day, lag in lags or ():
        if day >= cutoff:
            recent.append((lag, day))
    for lag, _on in recent:
        if top is None or lag > top:
            top = lag
    if top is None:
        return None, None
    for lag, day in recent:
        if lag == top and (best_on is None or day > best_on):
            best_on = day
    return (top, best_on) if best_on is not None else (None, None)
