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
from datetime import date, datetime
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
def _codes_and_gap(
    rule_set: RuleSet, program: str, initial: bool, minutes: int
) -> tuple[tuple[tuple[str, int], ...], tuple[str, int] | None]:
    codes = tuple(codes_for(rule_set, program, initial, minutes))
    return codes, next_code_gap(rule_set, program, initial, minutes)


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


def _counted_predicate():  # type: ignore[no-untyped-def]
    """The same rules as `counts_fast` minus consent, as SQL (for the history aggregate)."""
    return and_(
        TimeEntry.deleted_at.is_(None),
        User.role.in_(sorted(COUNTED_ROLES)),
        or_(TimeEntry.billed_elsewhere.is_(None), TimeEntry.billed_elsewhere == ""),
        or_(User.role != ROLE_CLINICIAN, TimeEntry.counts_as_care_management.is_(True)),
    )


def _overlapping_patients(rows: list) -> set[int]:  # type: ignore[type-arg]
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

    # 1. episodes of the patients concerned
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
    for row in session.execute(q):
        episodes_by_patient[row.patient_id].append(row)
    if wanted is None:
        report = {
            e.id
            for eps in episodes_by_patient.values()
            for e in eps
            if e.enrolled_on <= last and (e.closed_on is None or e.closed_on >= first)
        }
    else:
        report = {e.id for eps in episodes_by_patient.values() for e in eps if e.id in wanted}
    patients = {pid for pid, eps in episodes_by_patient.items() if any(e.id in report for e in eps)}
    if not patients:
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
    consent_by_episode = dict(session.execute(cq).all())

    # 2. rule sets
    rule_sets, default_id = load_rule_sets(session)
    pq = select(Patient.id, Patient.payer_rule_set_id)
    if patient_filter is not None:
        pq = pq.where(Patient.id.in_(patient_filter))
    payer_of = {pid: rs for pid, rs in session.execute(pq) if pid in patients}

    # 3. this month's entries, row by row
    eq = (
        select(
            TimeEntry.id,
            TimeEntry.patient_id,
            TimeEntry.episode_id,
            TimeEntry.staff_id,
            User.role,
            TimeEntry.local_date,
            TimeEntry.started_at,
            TimeEntry.ended_at,
            TimeEntry.minutes,
            TimeEntry.billed_elsewhere,
            TimeEntry.counts_as_care_management,
            TimeEntry.activity,
            TimeEntry.source,
        )
        .join(User, User.id == TimeEntry.staff_id)
        .where(TimeEntry.local_date >= first, TimeEntry.local_date <= last, TimeEntry.deleted_at.is_(None))
    )
    if patient_filter is not None:
        # Other patients' timed entries of the same staff can overlap ours: keep all timed rows.
        eq = eq.where(or_(TimeEntry.patient_id.in_(patient_filter), TimeEntry.started_at.is_not(None)))
    rows = session.execute(eq).all()
    flagged = _overlapping_patients(rows) & patients

    # 4. earlier months with counted CoCM time (for initial vs subsequent)
    window_start = (month + -GAP_MONTHS_NEW_EPISODE).first_day
    consent_sq = (
        select(Consent.episode_id.label("eid"), func.min(Consent.consent_on).label("on"))
        .where(Consent.patient_agrees.is_(True))
        .group_by(Consent.episode_id)
        .subquery()
    )
    year = func.extract("year", TimeEntry.local_date)
    mon = func.extract("month", TimeEntry.local_date)
    hq = (
        select(TimeEntry.patient_id, TimeEntry.episode_id, year, mon)
        .join(User, User.id == TimeEntry.staff_id)
        .join(consent_sq, consent_sq.c.eid == TimeEntry.episode_id)
        .where(
            _counted_predicate(),
            TimeEntry.local_date >= window_start,
            TimeEntry.local_date < first,
            TimeEntry.local_date >= consent_sq.c.on,
        )
        .group_by(TimeEntry.patient_id, TimeEntry.episode_id, year, mon)
        .having(func.sum(TimeEntry.minutes) > 0)
    )
    if patient_filter is not None:
        hq = hq.where(TimeEntry.patient_id.in_(patient_filter))
    history: dict[int, list[EpisodeMinutes]] = defaultdict(list)
    for pid, eid, y, m in session.execute(hq):
        if pid in patients:
            history[pid].append(EpisodeMinutes(Month(int(y), int(m)), eid, 1))

    # counted minutes this month, per patient and episode
    open_episode_on = _open_episode_resolver(episodes_by_patient)
    consent_of = _patient_consent(episodes_by_patient, consent_by_episode, month)
    counted: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    exact_rows: dict[int, list] = defaultdict(list)  # type: ignore[type-arg]
    for r in rows:
        pid = r.patient_id
        if pid not in patients:
            continue
        if pid in flagged:
            exact_rows[pid].append(r)
            continue
        if counts_fast(
            r.role, r.billed_elsewhere, r.counts_as_care_management, r.local_date, consent_of.get(pid)
        ):
            eid = r.episode_id if r.episode_id is not None else open_episode_on(pid, r.local_date)
            if eid is not None:
                counted[pid][eid] += r.minutes
    if flagged:
        _count_exact(rows, exact_rows, flagged, consent_of, open_episode_on, counted)

    result: dict[int, BillingProgress] = {}
    for pid in patients:
        eps = episodes_by_patient[pid]
        per_episode = counted.get(pid, {})
        decision = _decide(eps, history.get(pid, []), per_episode, month)
        rs_id = payer_of.get(pid) or default_id
        rule_set = rule_sets.get(rs_id) if rs_id is not None else None
        for e in eps:
            if e.id not in report:
                continue
            result[e.id] = _progress(e.id, pid, e.program, decision, per_episode, eps, rule_set)
    return result


def _progress(
    episode_id: int,
    patient_id: int,
    own_program: str,
    decision: tuple[str, bool] | None,
    per_episode: dict[int, int],
    eps: list,  # type: ignore[type-arg]
    rule_set: RuleSet | None,
) -> BillingProgress:
    program, initial = decision if decision is not None else (own_program, False)
    programs = {e.id: e.program for e in eps}
    minutes = sum(m for eid, m in per_episode.items() if programs.get(eid) == program)
    if rule_set is None or program not in rule_set.programs:
        return BillingProgress(
            episode_id,
            patient_id,
            program,
            initial,
            minutes,
            (),
            None,
            None,
            f"{minutes} min · no payer rule for {program}",
        )
    codes, gap = _codes_and_gap(rule_set, program, initial, minutes)
    next_code, needed = gap if gap is not None else (None, None)
    return BillingProgress(
        episode_id,
        patient_id,
        program,
        initial,
        minutes,
        codes,
        next_code,
        needed,
        progress_label(codes, next_code, needed),
    )


def _decide(
    eps: list,
    history: list[EpisodeMinutes],
    per_episode: dict[int, int],  # type: ignore[type-arg]
    month: Month,
) -> tuple[str, bool] | None:
    """(program, initial) of the patient-month, via domain.episode_months.label_month."""
    spans = [EpisodeSpan(e.id, e.program, e.enrolled_on, e.closed_on, e.close_reason) for e in eps]
    if len(spans) == 1:
        offsets = {em.month - month for em in history if em.minutes}
        if per_episode.get(spans[0].episode_id):
            offsets.add(0)
        return _single_episode_label(spans[0].program, spans[0].open_in(month), frozenset(offsets), month)
    minutes = list(history) + [EpisodeMinutes(month, eid, m) for eid, m in per_episode.items() if m]
    known = {s.episode_id for s in spans}
    label = label_month(spans, [m for m in minutes if m.episode_id in known], month)
    return None if label is None else (label.program, label.initial)


def _open_episode_resolver(episodes_by_patient: dict[int, list]):  # type: ignore[no-untyped-def,type-arg]
    def resolve(patient_id: int, day: date) -> int | None:
        return episode_for_day(episodes_by_patient.get(patient_id, []), day)

    return resolve


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


def _entry_in(r, episode_id: int | None) -> TimeEntryIn:  # type: ignore[no-untyped-def]
    if r.started_at is not None and r.ended_at is not None:
        return TimeEntryIn(
            r.id,
            r.staff_id,
            r.role,
            r.patient_id,
            r.activity,
            start=r.started_at,
            end=r.ended_at,
            minutes=r.minutes,
            billed_elsewhere=r.billed_elsewhere,
            counts_as_care_management=r.counts_as_care_management,
            source=r.source,
            episode_id=episode_id,
        )
    return TimeEntryIn(
        r.id,
        r.staff_id,
        r.role,
        r.patient_id,
        r.activity,
        local_date=r.local_date,
        minutes=r.minutes,
        billed_elsewhere=r.billed_elsewhere,
        counts_as_care_management=r.counts_as_care_management,
        source=r.source,
        episode_id=episode_id,
    )


def _count_exact(
    rows: list,
    exact_rows: dict[int, list],
    flagged: set[int],  # type: ignore[type-arg]
    consent_of: dict[int, date],
    open_episode_on,
    counted: dict[int, dict[int, int]],
) -> None:  # type: ignore[no-untyped-def]
    """Patients with overlapping entries: domain.timelog.count_month decides."""
    staff_timed: dict[int, list] = defaultdict(list)  # type: ignore[type-arg]
    for r in rows:
        if r.started_at is not None:
            staff_timed[r.staff_id].append(r)
    for pid in flagged:
        mine = exact_rows.get(pid, [])
        if not mine:
            continue
        staff = {r.staff_id for r in mine}
        others = [_entry_in(r, None) for s in staff for r in staff_timed[s] if r.patient_id != pid]
        entries = [
            _entry_in(r, r.episode_id if r.episode_id is not None else open_episode_on(pid, r.local_date))
            for r in mine
        ]
        month = Month.of(mine[0].local_date)
        result = count_month(entries, month, consent_of.get(pid), other_patient_entries=others)
        for eid, minutes in result.counted_by_episode().items():
            if eid is not None:
                counted[pid][int(eid)] += minutes
