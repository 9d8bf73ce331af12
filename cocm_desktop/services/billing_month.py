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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.activities import ACTIVITIES
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.billing import RuleSet, codes_for, next_code_gap
from cocm_desktop.domain.episode_months import Episode as EpisodeSpan
from cocm_desktop.domain.episode_months import EpisodeMinutes, Month, MonthLabel, label_month, label_months
from cocm_desktop.domain.outcomes import Measurement, is_not_improving, pick_baseline
from cocm_desktop.domain.required_elements import CheckName, MonthFacts, Status, check_month
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.domain.timelog import ExclusionReason, MonthCount, TimeEntryIn, count_month
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


@dataclass(frozen=True)
class Excluded:
    reason: str  # ExclusionReason value or SET_ASIDE
    label: str
    minutes: int


@dataclass(frozen=True)
class ElementCheck:
    name: str  # domain.required_elements.CheckName value
    label: str
    status: str  # ok | warn | block
    reason: str


@dataclass(frozen=True)
class LogLine:
    """One appendix row: an entry's minutes on one day (date, staff, activity, minutes)."""

    local_date: date
    start: datetime | None
    end: datetime | None
    staff_name: str
    staff_role: str
    activity: str  # label
    source: str
    logged_minutes: int
    counted_minutes: int
    excluded_reason: str | None  # label of why (part of) it does not count


@dataclass(frozen=True)
class PatientMonth:
    patient_id: int
    episode_id: int | None  # the episode that decides the month
    patient_name: str
    mrn: str
    date_of_birth: date
    payer: str
    rule_set: str
    program: str  # cocm | bhi
    kind: str  # initial | subsequent | bhi
    episode_month: int | None  # 1 = initial month of the billing episode; None for bhi
    consent_date: date | None
    logged_minutes: int
    counted_minutes: int  # counted under `program`: what the codes come from
    excluded: tuple[Excluded, ...]
    conflict: str | None
    codes: tuple[tuple[str, int], ...]  # reached (billable unless blocked)
    checks: tuple[ElementCheck, ...]
    next_code: str | None
    minutes_needed: int | None
    practitioner_id: int | None
    practitioner_name: str
    care_manager_name: str
    time_log: tuple[LogLine, ...] = field(default=())

    @property
    def excluded_minutes(self) -> int:
        return sum(e.minutes for e in self.excluded)

    @property
    def blocked(self) -> bool:
        return any(c.status == Status.BLOCK for c in self.checks)

    @property
    def block_reasons(self) -> tuple[str, ...]:
        return tuple(c.reason for c in self.checks if c.status == Status.BLOCK)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(c.reason for c in self.checks if c.status == Status.WARN)

    @property
    def billed_codes(self) -> tuple[tuple[str, int], ...]:
        """What goes to the claim: the codes, unless a required element blocks them."""
        return () if self.blocked else self.codes

    @property
    def held_codes(self) -> tuple[tuple[str, int], ...]:
        return self.codes if self.blocked else ()

    @property
    def below_threshold(self) -> bool:
        return not self.codes

    @property
    def status(self) -> str:
        """billable | blocked | below threshold."""
        if not self.codes:
            return "below threshold"
        return "blocked" if self.blocked else "billable"

    @property
    def episode_month_text(self) -> str:
        if self.kind == "bhi":
            return "BHI"
        if self.episode_month is None:
            return self.kind
        return f"{self.kind} (month {self.episode_month})"


def _add_codes(totals: dict[str, int], codes: tuple[tuple[str, int], ...]) -> None:
    for code, units in codes:
        totals[code] = totals.get(code, 0) + units


def _sorted_codes(totals: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(totals.items()))


@dataclass(frozen=True)
class PractitionerGroup:
    practitioner_id: int | None
    name: str
    credentials: str | None
    npi: str | None
    rows: tuple[PatientMonth, ...]

    @property
    def totals(self) -> tuple[tuple[str, int], ...]:
        t: dict[str, int] = {}
        for r in self.rows:
            _add_codes(t, r.billed_codes)
        return _sorted_codes(t)

    @property
    def held(self) -> tuple[tuple[str, int], ...]:
        t: dict[str, int] = {}
        for r in self.rows:
            _add_codes(t, r.held_codes)
        return _sorted_codes(t)

    @property
    def counted_minutes(self) -> int:
        return sum(r.counted_minutes for r in self.rows)


@dataclass(frozen=True)
class BillingMonth:
    clinic: str
    month: Month
    generated_at: datetime  # local
    generated_by: str
    as_of: date  # checks measured as of this day (month end, or today for the current month)
    groups: tuple[PractitionerGroup, ...]

    @property
    def rows(self) -> tuple[PatientMonth, ...]:
        return tuple(r for g in self.groups for r in g.rows)

    @property
    def totals(self) -> tuple[tuple[str, int], ...]:
        t: dict[str, int] = {}
        for r in self.rows:
            _add_codes(t, r.billed_codes)
        return _sorted_codes(t)

    @property
    def held(self) -> tuple[tuple[str, int], ...]:
        t: dict[str, int] = {}
        for r in self.rows:
            _add_codes(t, r.held_codes)
        return _sorted_codes(t)

    @property
    def below_threshold(self) -> tuple[PatientMonth, ...]:
        return tuple(
            sorted(
                (r for r in self.rows if r.below_threshold),
                key=lambda r: (-r.counted_minutes, r.patient_name),
            )
        )

    @property
    def blocked(self) -> tuple[PatientMonth, ...]:
        return tuple(r for r in self.rows if r.codes and r.blocked)


# ---- shared with services.billing_progress ---------------------------------------------------------


@lru_cache(maxsize=64)
def _month_bounds(month: Month) -> tuple[date, date]:
    return month.first_day, month.last_day


def consent_covering(episodes: list, consent_by_episode: dict[int, date], month: Month) -> date | None:  # type: ignore[type-arg]
    """The consent date that covers a patient-month: the earliest consent among the patient's
    episodes open during the month (a re-enrolled patient's old consent does not cover new time)."""
    first, last = _month_bounds(month)
    dates = [
        consent_by_episode[e.id]
        for e in episodes
        if e.id in consent_by_episode
        and e.enrolled_on <= last
        and (e.closed_on is None or e.closed_on >= first)
    ]
    return min(dates) if dates else None


def episode_for_day(episodes: list, day: date) -> int | None:  # type: ignore[type-arg]
    """Entries logged without an episode belong to the episode open that day (latest enrollment),
    else to the latest episode enrolled by then."""
    open_ = [e for e in episodes if e.enrolled_on <= day and (e.closed_on is None or e.closed_on >= day)]
    pool = open_ or [e for e in episodes if e.enrolled_on <= day]
    if not pool:
        return None
    return max(pool, key=lambda e: (e.enrolled_on, e.id)).id


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


def compute_billing_month(
    session: Session,
    month: Month | date | str,
    *,
    generated_by: str = "",
    now: datetime | None = None,
    today: date | None = None,
) -> BillingMonth:
    """The computation behind `billing_month`, without permission check or audit (for callers that
    already checked, e.g. tests and the benchmark)."""
    month = _month(month)
    now = now or local_now()
    today = today or local_today()
    if month > Month.of(today):
        raise ValidationError(f"Month: {month} has not started yet.")
    first, last = month.first_day, month.last_day
    as_of = min(today, last)

    # patients on the packet: an episode open during the month, or time logged in it
    open_q = select(Episode.patient_id).where(
        Episode.enrolled_on <= last, (Episode.closed_on.is_(None)) | (Episode.closed_on >= first)
    )
    time_q = select(TimeEntry.patient_id).where(
        TimeEntry.local_date >= first, TimeEntry.local_date <= last, TimeEntry.deleted_at.is_(None)
    )
    patient_ids = set(session.scalars(open_q)) | set(session.scalars(time_q))
    if not patient_ids:
        return BillingMonth(clinic_name(session), month, now, generated_by, as_of, ())

    patients = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(patient_ids)))}
    episodes: dict[int, list[Episode]] = defaultdict(list)
    for e in session.scalars(select(Episode).where(Episode.patient_id.in_(patient_ids)).order_by(Episode.id)):
        episodes[e.patient_id].append(e)
    episode_ids = [e.id for eps in episodes.values() for e in eps]
    consents = dict(
        session.execute(
            select(Consent.episode_id, func.min(Consent.consent_on))
            .where(Consent.patient_agrees.is_(True), Consent.episode_id.in_(episode_ids))
            .group_by(Consent.episode_id)
        ).all()
    )
    users = {u.id: u for u in session.scalars(select(User))}

    # all time up to month end (history decides initial/subsequent), plus other patients' timed
    # entries of the same staff on the same days (overlap across patients)
    entries = list(
        session.scalars(
            select(TimeEntry).where(
                TimeEntry.deleted_at.is_(None),
                TimeEntry.local_date <= last,
                TimeEntry.patient_id.in_(patient_ids),
            )
        )
    )
    staff_days = {(t.staff_id, t.local_date) for t in entries if t.started_at is not None}
    others_by_staff_day: dict[tuple[int, date], list[TimeEntry]] = defaultdict(list)
    if staff_days:
        lo = min(d for _, d in staff_days)
        for t in session.scalars(
            select(TimeEntry).where(
                TimeEntry.deleted_at.is_(None),
                TimeEntry.started_at.is_not(None),
                TimeEntry.local_date >= lo,
                TimeEntry.local_date <= last,
                TimeEntry.staff_id.in_({s for s, _ in staff_days}),
            )
        ):
            if (t.staff_id, t.local_date) in staff_days:
                others_by_staff_day[(t.staff_id, t.local_date)].append(t)
    by_patient: dict[int, list[TimeEntry]] = defaultdict(list)
    for t in entries:
        by_patient[t.patient_id].append(t)

    rule_sets, default_id = load_rule_sets(session)
    rule_set_names = dict(session.execute(select(PayerRuleSet.id, PayerRuleSet.name)).all())
    facts = _month_facts(session, episode_ids, month, as_of)
    policy = load_policy(session)

    rows: list[PatientMonth] = []
    for pid in sorted(patient_ids):
        rows.append(
            _patient_month(
                pid,
                patients[pid],
                episodes.get(pid, []),
                consents,
                by_patient.get(pid, []),
                others_by_staff_day,
                users,
                rule_sets,
                default_id,
                rule_set_names,
                facts,
                month,
                as_of,
                policy,
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


def _entry_in(t: TimeEntry, role: str, episode_id: int | None) -> TimeEntryIn:
    common = dict(
        entry_id=t.id,
        staff_user_id=t.staff_id,
        staff_role=role,
        patient_id=t.patient_id,
        activity=t.activity,
        minutes=t.minutes,
        billed_elsewhere=t.billed_elsewhere,
        counts_as_care_management=bool(t.counts_as_care_management),
        source=t.source,
        episode_id=episode_id,
    )
    if t.started_at is not None and t.ended_at is not None:
        return TimeEntryIn(start=t.started_at, end=t.ended_at, **common)  # type: ignore[arg-type]
    return TimeEntryIn(local_date=t.local_date, **common)  # type: ignore[arg-type]


@dataclass
class _Facts:
    care_plan: set[int] = field(default_factory=set)
    contacts: dict[int, int] = field(default_factory=dict)
    scales: dict[int, int] = field(default_factory=dict)
    reviews: dict[int, list[date]] = field(default_factory=lambda: defaultdict(list))
    measures: dict[int, list[Measurement]] = field(default_factory=lambda: defaultdict(list))


def _month_facts(session: Session, episode_ids: list[int], month: Month, as_of: date) -> _Facts:
    """Set-based: what the required-element checks need, for all episodes at once."""
    f = _Facts()
    start = datetime.combine(month.first_day, datetime.min.time())
    end = datetime.combine((month + 1).first_day, datetime.min.time())
    f.care_plan = set(
        session.scalars(
            select(CarePlanVersion.episode_id).where(CarePlanVersion.episode_id.in_(episode_ids)).distinct()
        )
    )
    f.contacts = dict(
        session.execute(
            select(Contact.episode_id, func.count())
            .where(Contact.episode_id.in_(episode_ids), Contact.contact_at >= start, Contact.contact_at < end)
            .group_by(Contact.episode_id)
        ).all()
    )
    as_of_end = datetime.combine(as_of, datetime.max.time())
    for eid, instrument, taken_at, total in session.execute(
        select(Measure.episode_id, Measure.instrument, Measure.taken_at, Measure.total).where(
            Measure.episode_id.in_(episode_ids), Measure.taken_at <= max(as_of_end, end)
        )
    ):
        if start <= taken_at < end:
            f.scales[eid] = f.scales.get(eid, 0) + 1
        if taken_at <= as_of_end:
            f.measures[eid].append(Measurement(instrument, taken_at.date(), total))
    for eid, on in session.execute(
        select(AgendaItem.episode_id, CaseReviewSession.session_on)
        .join(CaseReviewSession, CaseReviewSession.id == AgendaItem.session_id)
        .where(
            AgendaItem.episode_id.in_(episode_ids),
            AgendaItem.reviewed.is_(True),
            AgendaItem.removed.is_(False),
        )
    ):
        f.reviews[eid].append(on)
    return f


def _patient_month(
    pid: int,
    patient: Patient,
    eps: list[Episode],
    consents: dict[int, date],
    mine: list[TimeEntry],
    others_by_staff_day: dict[tuple[int, date], list[TimeEntry]],
    users: dict[int, User],
    rule_sets: dict[int, RuleSet],
    default_id: int | None,
    rule_set_names: dict[int, str],
    facts: _Facts,
    month: Month,
    as_of: date,
    policy,  # type: ignore[no-untyped-def]
) -> PatientMonth:
    def role_of(staff_id: int) -> str:
        u = users.get(staff_id)
        return u.role if u else "unknown"

    by_month: dict[Month, list[TimeEntry]] = defaultdict(list)
    for t in mine:
        by_month[Month.of(t.local_date)].append(t)
    minutes: list[EpisodeMinutes] = []
    target: MonthCount | None = None
    for m in sorted(by_month):
        rows = by_month[m]
        ins = [
            _entry_in(t, role_of(t.staff_id), t.episode_id or episode_for_day(eps, t.local_date))
            for t in rows
        ]
        seen = {t.id for t in rows}
        others = [
            _entry_in(o, role_of(o.staff_id), None)
            for key in {(t.staff_id, t.local_date) for t in rows if t.started_at is not None}
            for o in others_by_staff_day.get(key, ())
            if o.patient_id != pid and o.id not in seen
        ]
        mc = count_month(ins, m, consent_covering(eps, consents, m), other_patient_entries=others)
        if m == month:
            target = mc
        for eid, counted in mc.counted_by_episode().items():
            if eid is not None and counted:
                minutes.append(EpisodeMinutes(m, eid, counted))

    spans = [EpisodeSpan(e.id, e.program, e.enrolled_on, e.closed_on, e.close_reason) for e in eps]
    label: MonthLabel | None = next((lb for lb in label_months(spans, minutes) if lb.month == month), None)
    if label is None and spans:
        label = label_month(spans, minutes, month)
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
        codes = tuple(codes_for(rule_set, program, initial, counted))
        gap = next_code_gap(rule_set, program, initial, counted)

    excluded: list[Excluded] = []
    if target is not None:
        for reason, mins in sorted(target.excluded_by_reason().items(), key=lambda kv: -kv[1]):
            excluded.append(Excluded(str(reason), EXCLUSION_LABELS.get(reason, str(reason)), mins))
    if label is not None and label.set_aside_minutes:
        excluded.append(Excluded(SET_ASIDE, EXCLUSION_LABELS[SET_ASIDE], label.set_aside_minutes))

    consent = consent_covering(eps, consents, month)
    checks: tuple[ElementCheck, ...] = ()
    if decider is not None:
        ms = facts.measures.get(decider.id, [])
        primary = [m for m in ms if m.instrument == decider.primary_scale]
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
        checks = tuple(
            ElementCheck(str(c.name), CHECK_LABELS.get(c.name, str(c.name)), str(c.status), c.reason)
            for c in check_month(mf)
        )

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
                    Role(u.role).label if u and u.role in Role._value2member_map_ else (u.role if u else "?"),
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
        patient_name=patient.display_name,
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
