"""The month-end billing computation: one row per patient-month, grouped by billing practitioner.

Everything billable is decided by the domain rules:
- counted and excluded minutes, as `domain.timelog.count_month` counts them: this month entry by
  entry (services.billing_month_count), the earlier months that decide initial/subsequent and the
  6-month gap from grouped SQL (services.billing_history);
- initial vs subsequent, episode month number, program conflicts: `domain.episode_months.label_month`
  (`billing_history.label_one_episode` for a patient with one episode);
- codes and units: `domain.billing.codes_for` under the patient's payer rule set;
- required elements (block/warn with reasons): `domain.required_elements.check_month`, "not
  improving" from the primary-scale scores (services.billing_month_facts).
Each shortcut is tested against the reference run, `compute_billing_month(..., exact=True)`, which
calls count_month for every patient-month and label_month for every patient
(tests/billing/test_billing_month_fast.py). Measured on the 10,000-patient benchmark clinic
(October 2026, 8,070 patient-months): about 1.1 s on 2 cores, from 2.2 s.

A patient-month is on the packet when the patient had an episode open during the month or time
logged in it. A blocked row keeps its codes (shown as held) but they are not in the totals.
The billing practitioner is the treating clinician of the episode that decides the month.

Only the clinic lead may run it (`Permission.RUN_BILLING_REPORT`); generating it is audited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.billing import RuleSet, codes_for, next_code_gap
from cocm_desktop.domain.episode_months import Episode as EpisodeSpan
from cocm_desktop.domain.episode_months import EpisodeMinutes, Month, MonthLabel, label_month
from cocm_desktop.domain.required_elements import Check, CheckName, MonthFacts, check_month
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.domain.timelog import ExclusionReason, normalize_role
from cocm_desktop.store.models import Consent, Episode, Patient, PayerRuleSet, TimeEntry, User

from ._perf import without_gc
from ._sql import raw
from .billing_history import (
    _ENTRY_COLUMNS,
    History,
    _history_exact,
    _history_fast,
    day_reader,
    episode_for_day,
    label_one_episode_at,
    plain_rows,
)
from .billing_history import _moment as _moment  # re-exported: services.billing_progress imports it here
from .billing_month_count import Tally, count_patients
from .billing_month_facts import Facts, month_facts, not_improving
from .billing_month_model import (
    BillingMonth,
    ElementCheck,
    Excluded,
    LogLine,
    PatientMonth,
    PractitionerGroup,
)
from .common import ValidationError, check, clinic_name, load_policy, local_now, local_today, record
from .payer_rules import load_rule_sets

__all__ = [
    "CHECK_LABELS",
    "EXCLUSION_LABELS",
    "SET_ASIDE",
    "BillingMonth",
    "ElementCheck",
    "Excluded",
    "LogLine",
    "PatientMonth",
    "PractitionerGroup",
    "billing_month",
    "compute_billing_month",
    "consent_covering",
    "episode_for_day",
    "parse_month",
]

EXCLUSION_LABELS: dict[str, str] = {
    ExclusionReason.CONSULTANT: "Psychiatric consultant time",
    ExclusionReason.ROLE_NOT_COUNTED: "Role not counted",
    ExclusionReason.BILLED_ELSEWHERE: "Billed as another service",
    ExclusionReason.NOT_CARE_MANAGEMENT: "Clinician time, not care-manager work",
    ExclusionReason.NO_CONSENT: "No consent documented",
    ExclusionReason.BEFORE_CONSENT: "Before the consent date",
    ExclusionReason.OVERLAP: "Overlapping entries (counted once)",
}
SET_ASIDE = "other_program"
EXCLUSION_LABELS[SET_ASIDE] = "Other program this month (set aside)"

CHECK_LABELS: dict[str, str] = {
    CheckName.CONSENT: "Consent",
    CheckName.INITIATING_VISIT: "Initiating visit",
    CheckName.CARE_PLAN: "Care plan",
    CheckName.CONTACT: "Contact this month",
    CheckName.VALIDATED_SCALE: "PHQ-9/GAD-7 this month",
    CheckName.CASE_REVIEW: "Case review",
}


# ---- shared with services.billing_progress ---------------------------------------------------------


@lru_cache(maxsize=64)
def _month_bounds(month: Month) -> tuple[date, date]:
    return month.first_day, month.last_day


def consent_covering(episodes: list, consent_by_episode: dict[int, date], month: Month) -> date | None:  # type: ignore[type-arg]
    """The consent date that covers a patient-month: the earliest consent among the patient's
    episodes open during the month (a re-enrolled patient's old consent does not cover new time)."""
    first, last = _month_bounds(month)
    best = None
    for e in episodes:
        on = consent_by_episode.get(e.id)
        if (
            on is not None
            and e.enrolled_on <= last
            and (e.closed_on is None or e.closed_on >= first)
            and (best is None or on < best)
        ):
            best = on
    return best


# ---- computation -----------------------------------------------------------------------------------


def billing_month(
    session: Session,
    actor: Actor,
    month: Month | date | str,
    *,
    now: datetime | None = None,
    today: date | None = None,
) -> BillingMonth:
    """The month's billing packet content. Clinic lead only; audited as a report run."""
    check(actor, Permission.RUN_BILLING_REPORT)
    result = compute_billing_month(session, month, generated_by=actor.display_name, now=now, today=today)
    rows = result.rows
    record(
        session,
        actor,
        "report.billing",
        object_type="billing_month",
        summary=f"Billing packet for {result.month}: {len(rows)} patient-months, "
        f"{sum(1 for r in rows if r.status == 'billable')} billable, {len(result.blocked)} blocked",
        detail={"month": str(result.month), "totals": dict(result.totals), "held": dict(result.held)},
    )
    return result


def parse_month(value: Month | date | str) -> Month:
    """A Month from "YYYY-MM", a date or a Month; a clear ValidationError otherwise."""
    return _month(value)


def _month(value: Month | date | str) -> Month:
    if isinstance(value, str):
        try:
            return Month.parse(value)
        except ValueError:
            raise ValidationError(
                f"Month: “{value}” is not a month; write it as YYYY-MM (e.g. 2026-11)."
            ) from None
    return Month.of(value)


@without_gc
def compute_billing_month(
    session: Session,
    month: Month | date | str,
    *,
    generated_by: str = "",
    now: datetime | None = None,
    today: date | None = None,
    exact: bool = False,
    only_patients: Collection[int] | None = None,
) -> BillingMonth:
    """The computation behind `billing_month`, without permission check or audit (for callers that
    already checked, e.g. tests and the benchmark).

    Set-based: a fixed number of Core queries whatever the clinic size. The month itself is counted
    entry by entry (`services.billing_month_count`: every line, exclusion and reason of the packet,
    as `domain.timelog.count_month` counts them). Earlier months only decide initial/subsequent
    and the 6-month gap, i.e. which episodes had counted minutes in which month
    (`services.billing_history`: grouped SQL, recounted by `count_month` wherever an overlap could
    change the answer), labelled by `label_month` (`label_one_episode` when the patient has one
    episode).

    `exact=True` is the reference the fast paths are tested against: `count_month` for every
    patient-month, this one and every earlier one, and `label_month` for every patient.

    `only_patients` limits the rows to those patients (the same rows as in the whole month: every
    entry of the month is still read, since one person's entries for two patients can overlap);
    services.billing_submissions recomputes only the patients a later write touched.
    """
    month = _month(month)
    now = now or local_now()
    today = today or local_today()
    if month > Month.of(today):
        raise ValidationError(f"Month: {month} has not started yet.")
    first, last = month.first_day, month.last_day
    as_of = min(today, last)
    conn = session.connection()  # Core rows: no ORM identity map for tens of thousands of rows

    day = day_reader()
    episodes: dict[int, list[_Ep]] = defaultdict(list)
    for i, pid, program, enrolled, closed, reason, scale, iv_required, iv_on, prac, cm in plain_rows(
        conn, select(*_EPISODE_COLUMNS).order_by(Episode.id)
    ):
        episodes[pid].append(
            _Ep(
                i,
                pid,
                program,
                day(enrolled),
                day(closed),
                reason,
                scale,
                bool(iv_required),
                day(iv_on),
                prac,
                cm,
            )
        )
    # this month's entries, read from the month index alone (it carries every column asked for)
    month_rows = plain_rows(
        conn,
        select(*_ENTRY_COLUMNS).where(
            TimeEntry.deleted_at.is_(None), TimeEntry.local_date >= first, TimeEntry.local_date <= last
        ),
    )

    # patients on the packet: an episode open during the month, or time logged in it
    scope = {r[1] for r in month_rows}
    for pid, eps in episodes.items():
        if any(e.enrolled_on <= last and (e.closed_on is None or e.closed_on >= first) for e in eps):
            scope.add(pid)
    if only_patients is not None:
        scope.intersection_update(only_patients)
    patients = {
        r[0]: _Patient(r[0], r[1], r[2], r[3], day(r[4]), r[5], r[6])
        # a patient entered twice and voided is on no packet (its time was voided with it)
        for r in plain_rows(conn, select(*_PATIENT_COLUMNS).where(Patient.voided_at.is_(None)))
        if r[0] in scope
    }
    if not patients:
        return BillingMonth(clinic_name(session), month, now, generated_by, as_of, ())

    consents: dict[int, date] = {
        eid: day(on)  # type: ignore[misc]
        for eid, on in plain_rows(
            conn,
            select(Consent.episode_id, raw(func.min(Consent.consent_on)))
            .where(Consent.patient_agrees.is_(True))
            .group_by(Consent.episode_id),
        )
    }
    users = {
        u.id: u
        for u in conn.execute(select(User.id, User.display_name, User.role, User.credentials, User.npi))
    }
    roles = {uid: normalize_role(u.role) for uid, u in users.items()}
    role_labels = {
        uid: Role(u.role).label if u.role in Role._value2member_map_ else u.role for uid, u in users.items()
    }
    consent_for = _consent_index(episodes, consents)

    tallies = count_patients(
        month_rows,
        month,
        patients,
        episodes,
        consent_for,
        {uid: u.display_name for uid, u in users.items()},
        role_labels,
        roles,
        EXCLUSION_LABELS,
        exact=exact,
    )
    rule_sets, default_id = load_rule_sets(session)
    rule_set_names = dict(conn.execute(select(PayerRuleSet.id, PayerRuleSet.name)).all())
    policy = load_policy(session)
    # the scores first, while the episode pages they join are still in the page cache
    stalled = not_improving(
        conn, [e for pid in patients for e in episodes.get(pid, ())], as_of, policy, exact=exact
    )
    facts = month_facts(conn, month)
    history = (
        _history_exact(conn, first, episodes, roles, consent_for, set(patients))
        if exact
        else _history_fast(conn, first, episodes, roles, consent_for, set(patients), consents)
    )

    ctx = _Context(month, as_of, consent_for, users, rule_sets, default_id, rule_set_names, facts, stalled)
    ctx.exact = exact
    rows = [
        _patient_month(ctx, pid, patients[pid], episodes.get(pid, []), tallies.get(pid), history)
        for pid in sorted(patients)
    ]

    groups: dict[int | None, list[PatientMonth]] = defaultdict(list)
    for r in rows:
        groups[r.practitioner_id].append(r)
    out = []
    for prac_id, prac_rows in groups.items():
        u = users.get(prac_id) if prac_id is not None else None
        prac_rows.sort(key=lambda r: (r.patient_name.lower(), r.mrn))
        out.append(
            PractitionerGroup(
                prac_id,
                u.display_name if u else "No treating clinician",
                u.credentials if u else None,
                u.npi if u else None,
                tuple(prac_rows),
            )
        )
    out.sort(key=lambda g: (g.practitioner_id is None, g.name.lower()))
    return BillingMonth(clinic_name(session), month, now, generated_by, as_of, tuple(out))


class _Ep(NamedTuple):
    """An episode as the computation needs it (attribute access on plain tuples is cheap)."""

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


_EPISODE_COLUMNS = (
    Episode.id,
    Episode.patient_id,
    Episode.program,
    raw(Episode.enrolled_on),
    raw(Episode.closed_on),
    Episode.close_reason,
    Episode.primary_scale,
    Episode.initiating_visit_required,
    raw(Episode.initiating_visit_on),
    Episode.treating_clinician_id,
    Episode.care_manager_id,
)


class _Patient(NamedTuple):
    id: int
    family_name: str
    given_name: str
    mrn: str
    date_of_birth: date
    payer_name: str | None
    payer_rule_set_id: int | None


_PATIENT_COLUMNS = (
    Patient.id,
    Patient.family_name,
    Patient.given_name,
    Patient.mrn,
    raw(Patient.date_of_birth),
    Patient.payer_name,
    Patient.payer_rule_set_id,
)


def _consent_index(episodes: dict[int, list[_Ep]], consents: dict[int, date]):  # type: ignore[no-untyped-def]
    """`consent_covering` as a function of (patient, month), for many look-ups."""
    spans = {
        pid: [(e.enrolled_on, e.closed_on, consents[e.id]) for e in eps if e.id in consents]
        for pid, eps in episodes.items()
    }
    bounds: dict[Month, tuple[date, date]] = {}

    def consent_for(pid: int, month: Month) -> date | None:
        mine = spans.get(pid)
        if not mine:
            return None
        b = bounds.get(month)
        if b is None:
            b = bounds[month] = (month.first_day, month.last_day)
        first, last = b
        best = None
        for enrolled, closed, on in mine:
            if enrolled <= last and (closed is None or closed >= first) and (best is None or on < best):
                best = on
        return best

    return consent_for


class _Context:
    """What every patient-month row reads."""

    def __init__(  # type: ignore[no-untyped-def]
        self, month, as_of, consent_for, users, rule_sets, default_id, rule_set_names, facts, not_improving
    ) -> None:
        self.month: Month = month
        self.as_of: date = as_of
        self.consent_for = consent_for
        self.users = users
        self.rule_sets: dict[int, RuleSet] = rule_sets
        self.default_id: int | None = default_id
        self.rule_set_names: dict[int, str] = rule_set_names
        self.facts: Facts = facts
        self.not_improving: dict[int, bool] = not_improving
        self.exact = False  # label_month for every patient (the reference run)
        self.codes_cache: dict[tuple, tuple] = {}  # type: ignore[type-arg]
        self.excluded_cache: dict[tuple[str, int], Excluded] = {}
        self.checks_cache: dict[tuple[str, str, str], ElementCheck] = {}


def _element_checks(ctx: _Context, checks: list[Check]) -> tuple[ElementCheck, ...]:
    """The packet's form of a month's checks (equal checks share one ElementCheck)."""
    cache = ctx.checks_cache
    out = []
    for c in checks:
        key = (c.name, c.status, c.reason)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = ElementCheck(
                str(c.name), CHECK_LABELS.get(c.name, str(c.name)), str(c.status), c.reason
            )
        out.append(hit)
    return tuple(out)


def _per_patient(counts: dict[int, int], eps: list) -> int:  # type: ignore[type-arg]
    if len(eps) == 1:
        return counts.get(eps[0].id, 0)
    return sum(counts.get(e.id, 0) for e in eps)


def _minus_minutes(item: tuple[object, int]) -> int:
    return -item[1]


def _patient_month(
    ctx: _Context,
    pid: int,
    patient,  # type: ignore[no-untyped-def]
    eps: list,  # type: ignore[type-arg]
    tally: Tally | None,
    history: History,
) -> PatientMonth:
    month = ctx.month
    label = _label(ctx, pid, eps, tally, history)
    if label is not None:
        decider = eps[0] if len(eps) == 1 else next((e for e in eps if e.id == label.episode_id), None)
    else:
        decider = max(eps, key=lambda e: (e.enrolled_on, e.id)) if eps else None
    program = label.program if label is not None else (decider.program if decider else "cocm")
    initial = bool(label and label.initial)
    kind = label.kind if label is not None else ("bhi" if program == "bhi" else "subsequent")
    counted = label.minutes if label is not None else 0

    rs_id = patient.payer_rule_set_id if patient.payer_rule_set_id in ctx.rule_sets else ctx.default_id
    rule_set = ctx.rule_sets.get(rs_id) if rs_id is not None else None
    codes: tuple[tuple[str, int], ...] = ()
    gap = None
    if rule_set is not None and program in rule_set.programs:
        key = (rs_id, program, initial, counted)
        hit = ctx.codes_cache.get(key)
        if hit is None:
            hit = ctx.codes_cache[key] = (
                tuple(codes_for(rule_set, program, initial, counted)),
                next_code_gap(rule_set, program, initial, counted),
            )
        codes, gap = hit

    excluded: list[Excluded] = []
    if tally is not None and tally.excluded_by_reason:
        by_reason = tally.excluded_by_reason
        for reason, mins in (
            sorted(by_reason.items(), key=_minus_minutes) if len(by_reason) > 1 else by_reason.items()
        ):
            excluded.append(_excluded(ctx, str(reason), mins))
    if label is not None and label.set_aside_minutes:
        excluded.append(_excluded(ctx, SET_ASIDE, label.set_aside_minutes))

    consent = ctx.consent_for(pid, month)
    checks: tuple[ElementCheck, ...] = ()
    if decider is not None:
        facts = ctx.facts
        mf = MonthFacts(
            month=month,
            program=program,
            consent_date=consent,
            first_counted_date=tally.first_counted_date if tally else None,
            initiating_visit_required=bool(decider.initiating_visit_required),
            initiating_visit_date=decider.initiating_visit_on,
            care_plan_on_file=decider.id in facts.care_plan,
            contacts_this_month=_per_patient(facts.contacts, eps),
            scales_this_month=_per_patient(facts.scales, eps),
            case_review_dates=facts.reviews.get(decider.id, ()),
            not_improving=ctx.not_improving.get(decider.id, False),
            as_of=ctx.as_of,
        )
        checks = _element_checks(ctx, check_month(mf))

    users = ctx.users
    prac = users.get(decider.treating_clinician_id) if decider is not None else None
    cm = users.get(decider.care_manager_id) if decider is not None else None
    names = ctx.rule_set_names
    return PatientMonth(
        patient_id=pid,
        episode_id=decider.id if decider else None,
        patient_name=f"{patient.family_name}, {patient.given_name}",
        mrn=patient.mrn,
        date_of_birth=patient.date_of_birth,
        payer=patient.payer_name or (names.get(rs_id, "") if rs_id else ""),
        rule_set=names.get(rs_id, "none") if rs_id else "none",
        program=program,
        kind=kind,
        episode_month=label.episode_month if label else None,
        consent_date=consent,
        logged_minutes=tally.logged_minutes if tally else 0,
        counted_minutes=counted,
        excluded=tuple(excluded),
        conflict=label.conflict if label else None,
        codes=codes,
        checks=checks,
        next_code=gap[0] if gap else None,
        minutes_needed=gap[1] if gap else None,
        practitioner_id=prac.id if prac else None,
        practitioner_name=prac.display_name if prac else "No treating clinician",
        care_manager_name=cm.display_name if cm else "",
        time_log=tally.time_log if tally else (),
    )


def _label(ctx: _Context, pid: int, eps: list, tally: Tally | None, history: History) -> MonthLabel | None:  # type: ignore[type-arg]
    """The month's label (`domain.episode_months.label_month`; `label_one_episode_at` when the
    patient has one episode)."""
    month = ctx.month
    if not eps:
        return None
    counted = tally.counted_by_episode if tally else {}
    if len(eps) == 1 and not ctx.exact:
        ep = eps[0]
        one = history.single.get(pid)
        if (one[0] == ep.id) if one is not None else pid not in history:
            minutes = 0
            for eid, n in counted.items():
                if eid == ep.id:
                    minutes = n
                elif eid is not None and n:
                    break  # time under an episode that is not the patient's: label_month says so
            else:
                return label_one_episode_at(ep, one[1] if one else [], month, minutes)
    mine = history.get(pid)
    if mine is None and pid in history.single:
        eid, indices = history.single[pid]
        mine = {Month(i // 12, i % 12 + 1): {eid: 1} for i in indices}
    minutes_ = (
        [EpisodeMinutes(m, eid, n) for m, per in mine.items() for eid, n in per.items()] if mine else []
    )
    minutes_ += [EpisodeMinutes(month, eid, n) for eid, n in counted.items() if eid is not None and n]
    spans = [EpisodeSpan(e.id, e.program, e.enrolled_on, e.closed_on, e.close_reason) for e in eps]
    # label_month labels the earlier months exactly as label_months does, then this one
    return label_month(spans, minutes_, month)


def _excluded(ctx: _Context, reason: str, minutes: int) -> Excluded:
    key = (reason, minutes)
    hit = ctx.excluded_cache.get(key)
    if hit is None:
        hit = ctx.excluded_cache[key] = Excluded(reason, EXCLUSION_LABELS.get(reason, reason), minutes)
    return hit
