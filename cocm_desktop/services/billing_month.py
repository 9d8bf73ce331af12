"""The month-end billing computation: one row per patient-month, grouped by billing practitioner.

Everything billable is decided by the domain:
- counted and excluded minutes: `domain.timelog.count_month` (every month of the patient's
  history up to this one, so initial/subsequent and the 6-month gap are exact);
- initial vs subsequent, episode month number, program conflicts: `domain.episode_months.label_months`;
- codes and units: `domain.billing.codes_for` under the patient's payer rule set;
- required elements (block/warn with reasons): `domain.required_elements.check_month`.

A patient-month is on the packet when the patient had an episode open during the month or time
logged in it. A blocked row keeps its codes (shown as held) but they are not in the totals.
The billing practitioner is the treating clinician of the episode that decides the month.

Only the clinic lead may run it (`Permission.RUN_BILLING_REPORT`); generating it is audited.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from cocm_desktop.domain.activities import ACTIVITIES
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.billing import RuleSet, codes_for, next_code_gap
from cocm_desktop.domain.episode_months import Episode as EpisodeSpan
from cocm_desktop.domain.episode_months import EpisodeMinutes, Month, MonthLabel, label_month
from cocm_desktop.domain.outcomes import Measurement, is_not_improving, pick_baseline
from cocm_desktop.domain.required_elements import Check, CheckName, MonthFacts, check_month
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.domain.timelog import (
    ExclusionReason,
    MonthCount,
    TimeEntryIn,
    count_month,
    normalize_role,
    overlap_cover,
)
from cocm_desktop.store.models import (
    AgendaItem,
    CarePlanVersion,
    CaseReviewSession,
    Consent,
    Contact,
    Episode,
    Measure,
    Patient,
    PayerRuleSet,
    TimeEntry,
    User,
)

from ._perf import without_gc
from ._sql import raw
from .billing_history import (
    _ENTRY_COLUMNS,
    _date,
    _history_exact,
    _history_fast,
    _row_in,
    episode_for_day,
)
from .billing_history import _moment as _moment  # re-exported: services.billing_progress imports it here
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
    exact_history: bool = False,
) -> BillingMonth:
    """The computation behind `billing_month`, without permission check or audit (for callers that
    already checked, e.g. tests and the benchmark).

    Set-based: a fixed number of Core queries whatever the clinic size. The month itself is counted
    entry by entry with `domain.timelog.count_month` (every line, exclusion and reason of the
    packet). Earlier months only decide initial/subsequent and the 6-month gap, i.e. which episodes
    had counted minutes in which month: they are totalled row by row with the same whole-entry
    rule (`whole_entry_exclusion`), and any patient-month with an entry that another entry of the
    same staff member overlaps is recounted by `count_month`. `exact_history=True` recounts every
    earlier month with `count_month` instead (the reference the fast path is tested against).
    """
    month = _month(month)
    now = now or local_now()
    today = today or local_today()
    if month > Month.of(today):
        raise ValidationError(f"Month: {month} has not started yet.")
    first, last = month.first_day, month.last_day
    as_of = min(today, last)
    conn = session.connection()  # Core rows: no ORM identity map for tens of thousands of rows

    # patients on the packet: an episode open during the month, or time logged in it
    open_q = select(Episode.patient_id).where(
        Episode.enrolled_on <= last, (Episode.closed_on.is_(None)) | (Episode.closed_on >= first)
    )
    time_q = select(TimeEntry.patient_id).where(
        TimeEntry.local_date >= first, TimeEntry.local_date <= last, TimeEntry.deleted_at.is_(None)
    )
    scope = union(open_q, time_q).subquery()
    in_scope = select(scope.c[0])
    patients = {
        r.id: r
        for r in conn.execute(
            select(
                Patient.id,
                Patient.family_name,
                Patient.given_name,
                Patient.mrn,
                Patient.date_of_birth,
                Patient.payer_name,
                Patient.payer_rule_set_id,
            ).where(Patient.id.in_(in_scope))
        )
    }
    if not patients:
        return BillingMonth(clinic_name(session), month, now, generated_by, as_of, ())

    episodes: dict[int, list[_Ep]] = defaultdict(list)
    for e in conn.execute(
        select(
            Episode.id,
            Episode.patient_id,
            Episode.program,
            Episode.enrolled_on,
            Episode.closed_on,
            Episode.close_reason,
            Episode.primary_scale,
            Episode.initiating_visit_required,
            Episode.initiating_visit_on,
            Episode.treating_clinician_id,
            Episode.care_manager_id,
        )
        .where(Episode.patient_id.in_(in_scope))
        .order_by(Episode.id)
    ):
        episodes[e[1]].append(_Ep(*e))
    scope_episodes = select(Episode.id).where(Episode.patient_id.in_(in_scope))
    consents: dict[int, date] = dict(
        conn.execute(  # type: ignore[arg-type]
            select(Consent.episode_id, func.min(Consent.consent_on))
            .where(Consent.patient_agrees.is_(True), Consent.episode_id.in_(scope_episodes))
            .group_by(Consent.episode_id)
        ).all()
    )
    users = {
        u.id: u
        for u in conn.execute(select(User.id, User.display_name, User.role, User.credentials, User.npi))
    }
    roles = {uid: normalize_role(u.role) for uid, u in users.items()}
    consent_cache: dict[tuple[int, Month], date | None] = {}

    def consent_for(pid: int, m: Month) -> date | None:
        key = (pid, m)
        if key not in consent_cache:
            consent_cache[key] = consent_covering(episodes.get(pid, []), consents, m)
        return consent_cache[key]

    # this month, entry by entry (every patient's timed entries: overlap across patients)
    month_rows = conn.execute(
        select(*_ENTRY_COLUMNS).where(
            TimeEntry.deleted_at.is_(None), TimeEntry.local_date >= first, TimeEntry.local_date <= last
        )
    ).all()
    ins_by_patient: dict[int, list[TimeEntryIn]] = defaultdict(list)
    all_ins: list[TimeEntryIn] = []
    for r in month_rows:
        pid = r[1]
        eid = r[2] or (episode_for_day(episodes[pid], _date(r[4])) if pid in patients else None)
        entry = _row_in(r, roles.get(r[3], "unknown"), eid)
        all_ins.append(entry)
        ins_by_patient[pid].append(entry)
    cover = overlap_cover(all_ins)
    targets: dict[int, MonthCount] = {}
    for pid, ins in ins_by_patient.items():
        if pid in patients:
            targets[pid] = count_month(ins, month, consent_for(pid, month), cover=cover)

    history = (
        _history_exact(conn, first, episodes, roles, consent_for)
        if exact_history
        else _history_fast(conn, first, episodes, roles, consent_for)
    )

    rule_sets, default_id = load_rule_sets(session)
    rule_set_names = dict(conn.execute(select(PayerRuleSet.id, PayerRuleSet.name)).all())
    facts = _month_facts(conn, scope_episodes, month, as_of)
    policy = load_policy(session)
    role_labels = {
        uid: Role(u.role).label if u.role in Role._value2member_map_ else u.role for uid, u in users.items()
    }

    codes_cache: dict[tuple, tuple] = {}  # type: ignore[type-arg]
    rows: list[PatientMonth] = []
    for pid in sorted(patients):
        rows.append(
            _patient_month(
                pid,
                patients[pid],
                episodes.get(pid, []),
                consents,
                targets.get(pid),
                history.get(pid, {}),
                users,
                role_labels,
                rule_sets,
                default_id,
                rule_set_names,
                facts,
                month,
                as_of,
                policy,
                codes_cache,
            )
        )

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


@dataclass
class _Facts:
    care_plan: set[int] = field(default_factory=set)
    contacts: dict[int, int] = field(default_factory=dict)
    scales: dict[int, int] = field(default_factory=dict)
    reviews: dict[int, list[date]] = field(default_factory=lambda: defaultdict(list))
    primary: dict[int, list[tuple[object, int]]] = field(default_factory=lambda: defaultdict(list))

    def primary_measures(self, episode_id: int, instrument: str) -> list[Measurement]:
        """The episode's primary-scale scores up to as_of, in entry order, dated by day."""
        return [Measurement(instrument, _date(at), total) for at, total in self.primary.get(episode_id, ())]


def _month_facts(conn, scope_episodes, month: Month, as_of: date) -> _Facts:  # type: ignore[no-untyped-def]
    """Set-based: what the required-element checks need, for all episodes at once."""
    f = _Facts()
    start = datetime.combine(month.first_day, datetime.min.time())
    end = datetime.combine((month + 1).first_day, datetime.min.time())
    f.care_plan = set(
        conn.execute(
            select(CarePlanVersion.episode_id)
            .where(CarePlanVersion.episode_id.in_(scope_episodes))
            .distinct()
        ).scalars()
    )
    f.contacts = dict(
        conn.execute(
            select(Contact.episode_id, func.count())
            .where(
                Contact.episode_id.in_(scope_episodes), Contact.contact_at >= start, Contact.contact_at < end
            )
            .group_by(Contact.episode_id)
        ).all()
    )
    f.scales = dict(
        conn.execute(
            select(Measure.episode_id, func.count())
            .where(Measure.episode_id.in_(scope_episodes), Measure.taken_at >= start, Measure.taken_at < end)
            .group_by(Measure.episode_id)
        ).all()
    )
    # the primary scale's scores up to as_of: baseline and latest (not improving?)
    as_of_end = datetime.combine(as_of, datetime.max.time())
    for eid, taken_at, total in conn.execute(
        select(Measure.episode_id, raw(Measure.taken_at), Measure.total)
        .join(Episode, Episode.id == Measure.episode_id)
        .where(
            Measure.episode_id.in_(scope_episodes),
            Measure.instrument == Episode.primary_scale,
            Measure.taken_at <= as_of_end,
        )
        .order_by(Measure.id)
    ).all():
        f.primary[eid].append((taken_at, total))
    for eid, on in conn.execute(
        select(AgendaItem.episode_id, CaseReviewSession.session_on)
        .join(CaseReviewSession, CaseReviewSession.id == AgendaItem.session_id)
        .where(
            AgendaItem.episode_id.in_(scope_episodes),
            AgendaItem.reviewed.is_(True),
            AgendaItem.removed.is_(False),
        )
    ):
        f.reviews[eid].append(on)
    return f


@lru_cache(maxsize=4096)
def _element_check(c: Check) -> ElementCheck:
    return ElementCheck(str(c.name), CHECK_LABELS.get(c.name, str(c.name)), str(c.status), c.reason)


def _patient_month(
    pid: int,
    patient,  # type: ignore[no-untyped-def]
    eps: list,  # type: ignore[type-arg]
    consents: dict[int, date],
    target: MonthCount | None,
    history: dict[Month, dict[int, int]],
    users: dict,  # type: ignore[type-arg]
    role_labels: dict[int, str],
    rule_sets: dict[int, RuleSet],
    default_id: int | None,
    rule_set_names: dict[int, str],
    facts: _Facts,
    month: Month,
    as_of: date,
    policy,  # type: ignore[no-untyped-def]
    codes_cache: dict[tuple, tuple],  # type: ignore[type-arg]
) -> PatientMonth:
    minutes = [EpisodeMinutes(m, eid, n) for m, per in history.items() for eid, n in per.items()]
    if target is not None:
        for eid, counted in target.counted_by_episode().items():
            if eid is not None and counted:
                minutes.append(EpisodeMinutes(month, eid, counted))

    spans = [EpisodeSpan(e.id, e.program, e.enrolled_on, e.closed_on, e.close_reason) for e in eps]
    # label_month labels the earlier months exactly as label_months does, then this one
    label: MonthLabel | None = label_month(spans, minutes, month) if spans else None
    by_id = {e.id: e for e in eps}
    decider = (
        by_id.get(label.episode_id)
        if label is not None
        else (max(eps, key=lambda e: (e.enrolled_on, e.id)) if eps else None)
    )  # type: ignore[arg-type]
    program = label.program if label is not None else (decider.program if decider else "cocm")
    initial = bool(label and label.initial)
    kind = label.kind if label is not None else ("bhi" if program == "bhi" else "subsequent")
    counted = label.minutes if label is not None else 0

    rs_id = patient.payer_rule_set_id if patient.payer_rule_set_id in rule_sets else default_id
    rule_set = rule_sets.get(rs_id) if rs_id is not None else None
    codes: tuple[tuple[str, int], ...] = ()
    gap = None
    if rule_set is not None and program in rule_set.programs:
        key = (rs_id, program, initial, counted)
        if key not in codes_cache:
            codes_cache[key] = (
                tuple(codes_for(rule_set, program, initial, counted)),
                next_code_gap(rule_set, program, initial, counted),
            )
        codes, gap = codes_cache[key]

    excluded: list[Excluded] = []
    if target is not None:
        for reason, mins in sorted(target.excluded_by_reason().items(), key=lambda kv: -kv[1]):
            excluded.append(Excluded(str(reason), EXCLUSION_LABELS.get(reason, str(reason)), mins))
    if label is not None and label.set_aside_minutes:
        excluded.append(Excluded(SET_ASIDE, EXCLUSION_LABELS[SET_ASIDE], label.set_aside_minutes))

    consent = consent_covering(eps, consents, month)
    checks: tuple[ElementCheck, ...] = ()
    if decider is not None:
        primary = facts.primary_measures(decider.id, decider.primary_scale)
        baseline = pick_baseline(decider.enrolled_on, primary, policy=policy)
        latest = max(primary, key=lambda m: m.taken_on) if primary else None
        not_improving = is_not_improving(
            decider.enrolled_on,
            as_of,
            baseline.total if baseline else None,
            latest.total if latest else None,
            policy,
        )
        mf = MonthFacts(
            month=month,
            program=program,
            consent_date=consent,
            first_counted_date=target.first_counted_date if target else None,
            initiating_visit_required=bool(decider.initiating_visit_required),
            initiating_visit_date=decider.initiating_visit_on,
            care_plan_on_file=decider.id in facts.care_plan,
            contacts_this_month=sum(facts.contacts.get(e.id, 0) for e in eps),
            scales_this_month=sum(facts.scales.get(e.id, 0) for e in eps),
            case_review_dates=tuple(sorted(facts.reviews.get(decider.id, []))),
            not_improving=not_improving,
            as_of=as_of,
        )
        checks = tuple(_element_check(c) for c in check_month(mf))

    log: list[LogLine] = []
    if target is not None:
        why: dict[tuple[object, date], str] = {}
        for ex in target.exclusions:
            why.setdefault((ex.entry_id, ex.local_date), EXCLUSION_LABELS.get(ex.reason, str(ex.reason)))
        for line in target.lines:
            u = users.get(line.staff_user_id)
            log.append(
                LogLine(
                    line.local_date,
                    line.start,
                    line.end,
                    u.display_name if u else "?",
                    role_labels.get(line.staff_user_id, "?"),
                    ACTIVITIES.get(line.activity, line.activity),
                    line.source,
                    line.logged_minutes,
                    line.counted_minutes,
                    why.get((line.entry_id, line.local_date)),
                )
            )

    prac = users.get(decider.treating_clinician_id) if decider is not None else None
    cm = users.get(decider.care_manager_id) if decider is not None else None
    return PatientMonth(
        patient_id=pid,
        episode_id=decider.id if decider else None,
        patient_name=f"{patient.family_name}, {patient.given_name}",
        mrn=patient.mrn,
        date_of_birth=patient.date_of_birth,
        payer=patient.payer_name or (rule_set_names.get(rs_id, "") if rs_id else ""),
        rule_set=rule_set_names.get(rs_id, "none") if rs_id else "none",
        program=program,
        kind=kind,
        episode_month=label.episode_month if label else None,
        consent_date=consent,
        logged_minutes=target.logged_minutes if target else 0,
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
        time_log=tuple(log),
    )
