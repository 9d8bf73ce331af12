"""Minutes this month against the next billing threshold, for every registry row at once.

`billing_progress(session, month_start, episode_ids=None)` answers "how far is each episode from
its next code this month" ("12 min to 99493") with a fixed number of queries, whatever the
number of episodes (the registry calls it for the whole caseload on every refresh):

1. episodes (of the patients concerned) and their consent dates;
2. each patient's payer rule set (rule sets parsed once);
3. the month's time entries, one row each, with the staff member's role;
4. which earlier months (the 6 before this one) had counted CoCM time, aggregated in SQL.

Counting follows domain.timelog exactly. The common case (no overlapping timed entries for the
patient this month) is summed on a fast path that applies the same whole-entry rules as
`domain.timelog.count_month` (tests/billing/test_progress.py checks the two agree on random
data); a patient with any overlap is counted by `count_month` itself. Initial vs subsequent month
comes from `domain.episode_months.label_month`, codes and gaps from `domain.billing`.

The history months use a SQL aggregate that ignores overlap (an overlap can only remove part of
a month's minutes, so a month with counted time rarely turns into a month without); the month-end
billing packet (services.billing_month) counts every month exactly.

Read-only: no permission check (everyone may read the registry) and no audit record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.billing import RuleSet, codes_for, next_code_gap
from cocm_desktop.domain.episode_months import (
    GAP_MONTHS_NEW_EPISODE,
    EpisodeMinutes,
    Month,
    label_month,
)
from cocm_desktop.domain.episode_months import (
    Episode as EpisodeSpan,
)
from cocm_desktop.domain.timelog import COUNTED_ROLES, ROLE_CLINICIAN, TimeEntryIn, count_month
from cocm_desktop.store.models import Consent, Episode, Patient, TimeEntry, User
from cocm_desktop.store.reads import time_reads
from cocm_desktop.store.reads.time_reads import TimeEntryRow

from ._perf import without_gc
from .billing_month import consent_covering, episode_for_day
from .payer_rules import load_rule_sets

__all__ = ["BillingProgress", "billing_progress", "progress_label"]

# Above this many requested episodes, filtering happens in Python rather than with a huge IN list.
_IN_LIMIT = 900


@dataclass(frozen=True)
class BillingProgress:
    """One episode's billing position in a month.

    `minutes`: counted minutes of the patient this month under the month's program (what the
    codes are computed from); `codes`: (code, units) reached so far; `next_code` and
    `minutes_needed`: the next code or add-on unit and the minutes still missing (None when
    nothing more can be reached, or no rule applies); `label`: short text for the registry.
    """

    episode_id: int
    patient_id: int
    program: str
    initial: bool
    minutes: int
    codes: tuple[tuple[str, int], ...]
    next_code: str | None
    minutes_needed: int | None
    label: str


def progress_label(codes: Iterable[tuple[str, int]], next_code: str | None, needed: int | None) -> str:
    """ "12 min to 99493", "G2214 reached · 15 min to 99493", "99493 + 1×99494 reached"."""
    # The primary code, then add-on units as "N×code" (the billing office's way of writing units).
    parts = [code if i == 0 else f"{units}×{code}" for i, (code, units) in enumerate(codes)]
    reached = " + ".join(parts)
    if next_code is None:
        return f"{reached} reached" if reached else "no billable code"
    gap = f"{needed} min to {next_code}"
    return f"{reached} reached · {gap}" if reached else gap


@lru_cache(maxsize=4096)
def _single_episode_label(
    program: str, open_in_month: bool, service_offsets: frozenset[int], month: Month
) -> tuple[str, bool] | None:
    """label_month for a patient with one episode, keyed by what the label depends on."""
    start = month.first_day if open_in_month else (month + 1).first_day
    episode = EpisodeSpan("e", program, start)
    minutes = [EpisodeMinutes(month + off, "e", 1) for off in service_offsets]
    label = label_month([episode], minutes, month)
    return None if label is None else (label.program, label.initial)


def counts_fast(
    role: str, billed_elsewhere: str | None, counts_as_cm: bool, day: date, consent: date | None
) -> bool:
    """domain.timelog's whole-entry rules (consultant, role, billed elsewhere, clinician not doing
    care-manager work, consent) for one stored row; overlap is handled separately."""
    if role not in COUNTED_ROLES or billed_elsewhere:
        return False
    if role == ROLE_CLINICIAN and not counts_as_cm:
        return False
    return consent is not None and day >= consent


def _enrolled_by(eps: list, episode_id: int, day: date) -> bool:  # type: ignore[type-arg]
    """Time before its episode's enrollment date does not count (domain.timelog, "before enrollment")."""
    for e in eps:
        if e.id == episode_id:
            return e.enrolled_on <= day  # type: ignore[no-any-return]
    return False


def _seconds_patients(rows: list[TimeEntryRow]) -> set[int]:
    """Patients with a timed row that is not whole minutes (a timer's seconds): `count_month` adds
    the month's exact durations before rounding down."""
    out: set[int] = set()
    for r in rows:
        if r.started_at is not None and r.ended_at is not None and r.patient_id not in out and _has_seconds(r):
            out.add(r.patient_id)
    return out


def _has_seconds(r: TimeEntryRow) -> bool:
    assert r.started_at is not None and r.ended_at is not None
    span = r.ended_at - r.started_at
    return span // _MINUTE == r.minutes and span % _MINUTE != timedelta(0)


_MINUTE = timedelta(minutes=1)


def _overlapping_patients(rows: list[TimeEntryRow]) -> set[int]:
    """Patients having a timed entry that overlaps another timed entry of the same staff member."""
    by_staff: dict[int, list[tuple[datetime, datetime, int]]] = defaultdict(list)
    for r in rows:
        if r.started_at is not None and r.ended_at is not None:
            by_staff[r.staff_id].append((r.started_at, r.ended_at, r.patient_id))
    flagged: set[int] = set()
    for spans in by_staff.values():
        if len(spans) < 2:
            continue
        spans.sort()
        reach, reach_patient = spans[0][1], spans[0][2]
        for start, end, patient in spans[1:]:
            if start < reach:
                flagged.add(patient)
                flagged.add(reach_patient)
            if end > reach:
                reach, reach_patient = end, patient
    return flagged


@without_gc
def billing_progress(
    session: Session, month_start: date, episode_ids: Iterable[int] | None = None
) -> dict[int, BillingProgress]:
    """Progress per episode id for the month containing `month_start`.

    `episode_ids`: the episodes to report (e.g. the registry's open episodes); None = every
    episode open during the month. Episodes of one patient share the patient-month's numbers.
    """
    month = Month.of(month_start)
    first, last = month.first_day, month.last_day
    wanted = None if episode_ids is None else set(episode_ids)
    if wanted is not None and not wanted:
        return {}

    conn = session.connection()  # Core results: no ORM row processing on 10k-row reads
    # 1. episodes of the patients concerned, their consent dates, payer rule sets
    q = select(
        Episode.id,
        Episode.patient_id,
        Episode.program,
        Episode.enrolled_on,
        Episode.closed_on,
        Episode.close_reason,
    )
    patient_filter = None
    if wanted is not None and len(wanted) <= _IN_LIMIT:
        patient_filter = select(Episode.patient_id).where(Episode.id.in_(wanted)).scalar_subquery()
        q = q.where(Episode.patient_id.in_(patient_filter))
    episodes_by_patient: dict[int, list] = defaultdict(list)  # type: ignore[type-arg]
    report: set[int] = set()
    for row in conn.execute(q).all():
        episodes_by_patient[row.patient_id].append(row)
        if wanted is None:
            if row.enrolled_on <= last and (row.closed_on is None or row.closed_on >= first):
                report.add(row.id)
        elif row.id in wanted:
            report.add(row.id)
    if not report:
        return {}
    cq = (
        select(Consent.episode_id, func.min(Consent.consent_on))
        .where(Consent.patient_agrees.is_(True))
        .group_by(Consent.episode_id)
    )
    if patient_filter is not None:
        cq = cq.where(
            Consent.episode_id.in_(select(Episode.id).where(Episode.patient_id.in_(patient_filter)))
        )
    consent_by_episode: dict[int, date] = dict(conn.execute(cq).all())  # type: ignore[arg-type]
    rule_sets, default_id = load_rule_sets(session)
    pq = select(Patient.id, Patient.payer_rule_set_id).where(Patient.payer_rule_set_id.is_not(None))
    if patient_filter is not None:
        pq = pq.where(Patient.id.in_(patient_filter))
    payer_of: dict[int, int] = dict(conn.execute(pq).all())  # type: ignore[arg-type]
    roles: dict[int, str] = dict(conn.execute(select(User.id, User.role)).all())  # type: ignore[arg-type]

    # 2. this month's entries, row by row (served by the covering index on time_entry); other
    # patients' timed entries of the same staff can overlap ours: every timed row is read
    rows = time_reads.month_entries(conn, first, last, patients=patient_filter)
    flagged = _overlapping_patients(rows) | _seconds_patients(rows)

    # 3. the last earlier month with counted CoCM time, per episode, within the 6-month window:
    # the latest date with time by a counting role; it counts when on/after that episode's consent
    # (all earlier time in the window is then before consent too).
    counting = sorted(uid for uid, role in roles.items() if role in COUNTED_ROLES and role != ROLE_CLINICIAN)
    clinicians = sorted(uid for uid, role in roles.items() if role == ROLE_CLINICIAN)
    window_start = (month + -GAP_MONTHS_NEW_EPISODE).first_day
    hq = (
        select(TimeEntry.patient_id, TimeEntry.episode_id, func.max(TimeEntry.local_date))
        .where(
            TimeEntry.local_date >= window_start,
            TimeEntry.local_date < first,
            TimeEntry.deleted_at.is_(None),
            or_(TimeEntry.billed_elsewhere.is_(None), TimeEntry.billed_elsewhere == ""),
            or_(
                TimeEntry.staff_id.in_(counting),
                and_(TimeEntry.staff_id.in_(clinicians), TimeEntry.counts_as_care_management.is_(True)),
            ),
        )
        .group_by(TimeEntry.patient_id, TimeEntry.episode_id)
    )
    if patient_filter is not None:
        hq = hq.where(TimeEntry.patient_id.in_(patient_filter))
    last_service: dict[int, list[tuple[int | None, date]]] = defaultdict(list)
    for pid, eid, day in conn.execute(hq).all():
        last_service[pid].append((eid, day))

    # 4. counted minutes this month (fast path unless the patient has overlapping entries)
    consent_of = _patient_consent(episodes_by_patient, consent_by_episode, month)
    counted: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    exact_rows: dict[int, list[TimeEntryRow]] = defaultdict(list)
    for r in rows:
        pid = r.patient_id
        if pid not in episodes_by_patient:
            continue
        if pid in flagged:
            exact_rows[pid].append(r)
            continue
        if counts_fast(
            roles.get(r.staff_id, ""), r.billed_elsewhere, r.counts_as_care_management, r.local_date, consent_of.get(pid)
        ):
            eid = r.episode_id if r.episode_id is not None else episode_for_day(episodes_by_patient[pid], r.local_date)
            if eid is not None and _enrolled_by(episodes_by_patient[pid], eid, r.local_date):
                counted[pid][eid] += r.minutes
    if flagged:
        _count_exact(
            rows,
            exact_rows,
            flagged & set(episodes_by_patient),
            consent_of,
            roles,
            episodes_by_patient,
            counted,
        )

    # 5. per patient: initial/subsequent, codes, label
    result: dict[int, BillingProgress] = {}
    cache: dict[tuple, tuple] = {}  # type: ignore[type-arg]
    for pid, eps in episodes_by_patient.items():
        if not any(e.id in report for e in eps):
            continue
        per_episode = counted.get(pid, {})
        history = []
        for eid, day in last_service.get(pid, ()):
            if eid is None:
                eid = episode_for_day(eps, day)
            on = consent_by_episode.get(eid) if eid is not None else None
            if on is not None and day >= on:
                history.append(EpisodeMinutes(Month.of(day), eid, 1))
        program, initial = _decide(eps, history, per_episode, month) or (None, False)
        rs_id = payer_of.get(pid, default_id)
        if rs_id not in rule_sets:
            rs_id = default_id
        for e in eps:
            if e.id not in report:
                continue
            prog = program or e.program
            minutes = sum(m for eid, m in per_episode.items() if _program_of(eps, eid) == prog)
            key = (rs_id, prog, initial, minutes)
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = _codes_label(
                    rule_sets.get(rs_id) if rs_id is not None else None, prog, initial, minutes
                )
            result[e.id] = BillingProgress(e.id, pid, prog, initial and prog == "cocm", minutes, *hit)
    return result


def _program_of(eps: list, episode_id: int) -> str | None:  # type: ignore[type-arg]
    for e in eps:
        if e.id == episode_id:
            return e.program  # type: ignore[no-any-return]
    return None


def _codes_label(rule_set: RuleSet | None, program: str, initial: bool, minutes: int) -> tuple:  # type: ignore[type-arg]
    if rule_set is None or program not in rule_set.programs:
        return (), None, None, f"{minutes} min · no payer rule for {program}"
    codes = tuple(codes_for(rule_set, program, initial, minutes))
    gap = next_code_gap(rule_set, program, initial, minutes)
    next_code, needed = gap if gap is not None else (None, None)
    return codes, next_code, needed, progress_label(codes, next_code, needed)


def _decide(
    eps: list,  # type: ignore[type-arg]
    history: list[EpisodeMinutes],
    per_episode: dict[int, int],
    month: Month,
) -> tuple[str, bool] | None:
    """(program, initial) of the patient-month, via domain.episode_months.label_month."""
    if len(eps) == 1:
        e = eps[0]
        offsets = {em.month - month for em in history}
        if per_episode.get(e.id):
            offsets.add(0)
        first, last = _bounds(month)
        open_in = e.enrolled_on <= last and (e.closed_on is None or e.closed_on >= first)
        return _single_episode_label(e.program, open_in, frozenset(offsets), month)
    spans = [EpisodeSpan(e.id, e.program, e.enrolled_on, e.closed_on, e.close_reason) for e in eps]
    minutes = list(history) + [EpisodeMinutes(month, eid, m) for eid, m in per_episode.items() if m]
    known = {s.episode_id for s in spans}
    label = label_month(spans, [m for m in minutes if m.episode_id in known], month)
    return None if label is None else (label.program, label.initial)


@lru_cache(maxsize=64)
def _bounds(month: Month) -> tuple[date, date]:
    return month.first_day, month.last_day


def _patient_consent(
    episodes_by_patient: dict[int, list],  # type: ignore[type-arg]
    consent_by_episode: dict[int, date],
    month: Month,
) -> dict[int, date]:
    out: dict[int, date] = {}
    for pid, eps in episodes_by_patient.items():
        on = consent_covering(eps, consent_by_episode, month)
        if on is not None:
            out[pid] = on
    return out


def _entry_in(r: TimeEntryRow, role: str, episode_id: int | None) -> TimeEntryIn:
    """A month row as domain.timelog sees it; activity is not needed for counting."""
    if r.started_at is not None and r.ended_at is not None:
        return TimeEntryIn(
            r.id,
            r.staff_id,
            role,
            r.patient_id,
            "other",
            start=r.started_at,
            end=r.ended_at,
            minutes=r.minutes,
            billed_elsewhere=r.billed_elsewhere,
            counts_as_care_management=r.counts_as_care_management,
            source="timer",
            episode_id=episode_id,
        )
    return TimeEntryIn(
        r.id,
        r.staff_id,
        role,
        r.patient_id,
        "other",
        local_date=r.local_date,
        minutes=r.minutes,
        billed_elsewhere=r.billed_elsewhere,
        counts_as_care_management=r.counts_as_care_management,
        episode_id=episode_id,
    )


def _count_exact(
    rows: list[TimeEntryRow],
    exact_rows: dict[int, list[TimeEntryRow]],
    flagged: set[int],
    consent_of: dict[int, date],
    roles: dict[int, str],
    episodes_by_patient: dict[int, list],  # type: ignore[type-arg]
    counted: dict[int, dict[int, int]],
) -> None:
    """Patients with overlapping entries: domain.timelog.count_month decides."""
    staff_timed: dict[int, list[TimeEntryRow]] = defaultdict(list)
    for r in rows:
        if r.started_at is not None:
            staff_timed[r.staff_id].append(r)
    for pid in flagged:
        mine = exact_rows.get(pid, [])
        if not mine:
            continue
        eps = episodes_by_patient[pid]
        staff = {r.staff_id for r in mine}
        others = [
            _entry_in(r, roles.get(r.staff_id, ""), None)
            for s in staff
            for r in staff_timed[s]
            if r.patient_id != pid
        ]
        entries = [
            _entry_in(
                r,
                roles.get(r.staff_id, ""),
                r.episode_id if r.episode_id is not None else episode_for_day(eps, r.local_date),
            )
            for r in mine
        ]
        result = count_month(
            entries, Month.of(mine[0].local_date), consent_of.get(pid), other_patient_entries=others,
            enrolled={e.id: e.enrolled_on for e in eps},
        )
        for eid, minutes in result.counted_by_episode().items():
            if eid is not None:
                counted[pid][int(eid)] += minutes
