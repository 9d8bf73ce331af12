"""Monthly quality check figures (clinic lead). Another module prints them.

Definitions (for month M, evaluated as of its last day, or today while M is running):
- caseload: episodes open at the as-of date (enrolled on/before it, not closed by then).
- engagement: caseload episodes with a successful contact in M.
- measurement: caseload episodes with a PHQ-9 or GAD-7 in M.
- case-review coverage: caseload CoCM episodes discussed at a case review at least once by the
  as-of date (BHI has no consultant review).
- response / remission: caseload episodes at policy 10–24 whole weeks in treatment; baseline = the
  registry's rule (first primary-scale score on/after enrollment within the window), latest = the
  newest primary-scale score by the as-of date. Episodes with no baseline or no later score count
  in the denominator as not responding (their number is given apart).
- median days enrollment → first follow-up: episodes whose first successful contact dated after
  the enrollment day falls in M.
- registry completeness: caseload rows without a next action date, without a baseline.
- disengaged closures: episodes closed in M with reason `disengaged` (all closures by reason too).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.outcomes import is_remission, is_response, weeks_in_treatment
from cocm_desktop.domain.policy import Policy
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import AgendaItem, CaseReviewSession, Contact, Episode, Measure, Patient, User
from cocm_desktop.store.sql_portable import day_diff

from .common import check, load_policy, local_today, record


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def percent(self) -> float | None:
        return None if self.denominator == 0 else 100.0 * self.numerator / self.denominator

    @property
    def text(self) -> str:
        if self.denominator == 0:
            return "\u2014 (none)"
        return f"{self.numerator}/{self.denominator} ({self.percent:.0f} %)"


@dataclass(frozen=True)
class QualityReport:
    month_start: date
    month_end: date
    as_of: date
    caseload: int
    engagement: Rate
    measurement: Rate
    case_review_coverage: Rate
    outcome_weeks: tuple[int, int]  # (from, to) whole weeks in treatment
    response: Rate
    remission: Rate
    outcome_without_scores: int  # in the outcome window, no baseline or no later score
    median_days_to_first_follow_up: float | None
    first_follow_ups: int  # how many episodes the median is over
    missing_next_action: int
    missing_baseline: int
    caseload_by_care_manager: tuple[tuple[str, int], ...]  # (care manager, open episodes), by name
    disengaged_closures: int
    closures_by_reason: tuple[tuple[str, int], ...]


# patients entered twice and voided count nowhere
_voided_patients = select(Patient.id).where(Patient.voided_at.is_not(None))


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def quality_report(session: Session, actor: Actor, month_start: date, *, today: date | None = None) -> QualityReport:
    """The month's figures (clinic lead); one "report.quality" audit record per call."""
    check(actor, Permission.RUN_QUALITY_REPORT)
    report = month_figures(session, month_start, today=today or local_today(), policy=load_policy(session))
    record(session, actor, "report.quality", object_type="report",
           summary=f"Quality check for {report.month_start:%Y-%m} run")
    return report


def month_figures(session: Session, month_start: date, *, today: date, policy: Policy) -> QualityReport:
    """The figures alone: no permission check, no audit record.

    For callers in services that have checked Permission.RUN_QUALITY_REPORT themselves and write
    one audit record for the user's action (`quality_report`; the printed report's six months in
    services.quality_report)."""
    first = month_start.replace(day=1)
    last = _month_end(first)
    as_of = min(last, today)
    if as_of < first:
        as_of = first
    start_dt, end_dt = datetime.combine(first, time.min), datetime.combine(as_of + timedelta(days=1), time.min)

    eps = session.execute(
        select(Episode.id, Episode.program, Episode.enrolled_on, Episode.primary_scale, Episode.next_action_on,
               User.display_name)
        .join(User, User.id == Episode.care_manager_id)
        .where(Episode.enrolled_on <= as_of, or_(Episode.closed_on.is_(None), Episode.closed_on > as_of),
               Episode.patient_id.not_in(_voided_patients))
    ).all()
    ids = [e.id for e in eps]
    in_ids = Episode.id.in_(ids)

    engaged = set(session.scalars(select(Contact.episode_id).where(
        Contact.episode_id.in_(ids), Contact.reached.is_(True), Contact.contact_at >= start_dt,
        Contact.contact_at < end_dt, Contact.voided_at.is_(None)).distinct()))
    measured = set(session.scalars(select(Measure.episode_id).where(
        Measure.episode_id.in_(ids), Measure.taken_at >= start_dt, Measure.taken_at < end_dt,
        Measure.voided_at.is_(None)).distinct()))
    reviewed = set(session.scalars(
        select(AgendaItem.episode_id).join(CaseReviewSession, CaseReviewSession.id == AgendaItem.session_id)
        .where(AgendaItem.episode_id.in_(ids), AgendaItem.reviewed.is_(True), AgendaItem.removed.is_(False),
               CaseReviewSession.session_on <= as_of).distinct()))
    cocm = [e for e in eps if e.program == "cocm"]

    # Primary-scale scores from enrollment to the as-of date, oldest first.
    scores: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for eid, taken_at, total in session.execute(
        select(Measure.episode_id, Measure.taken_at, Measure.total)
        .join(Episode, Episode.id == Measure.episode_id)
        .where(in_ids, Measure.instrument == Episode.primary_scale, Measure.taken_at >= Episode.enrolled_on,
               Measure.taken_at < end_dt, Measure.voided_at.is_(None))
        .order_by(Measure.episode_id, Measure.taken_at, Measure.id)
    ):
        scores[eid].append((taken_at.date(), total))

    lo, hi = policy.quality_outcome_min_weeks, policy.quality_outcome_max_weeks
    window = resp = remit = no_scores = missing_baseline = 0
    for e in eps:
        s = scores.get(e.id, [])
        baseline = s[0][1] if s and (s[0][0] - e.enrolled_on).days <= policy.baseline_window_days else None
        if baseline is None:
            missing_baseline += 1
        if lo <= weeks_in_treatment(e.enrolled_on, as_of) <= hi:
            window += 1
            latest = s[-1][1] if len(s) >= 2 and baseline is not None else None
            if latest is None:
                no_scores += 1
            resp += is_response(baseline, latest, policy)
            remit += baseline is not None and is_remission(latest, policy)

    # First follow-up: first successful contact after the enrollment day, landing in this month.
    firsts = (
        select(Contact.episode_id.label("eid"), func.min(Contact.contact_at).label("first_at"))
        .join(Episode, Episode.id == Contact.episode_id)
        .where(Contact.reached.is_(True), Contact.voided_at.is_(None),
               day_diff(Contact.contact_at, Episode.enrolled_on) >= 1)
        .group_by(Contact.episode_id).subquery()
    )
    gaps = [
        (first_at.date() - enrolled_on).days
        for enrolled_on, first_at in session.execute(
            select(Episode.enrolled_on, firsts.c.first_at).join(firsts, firsts.c.eid == Episode.id)
            .where(firsts.c.first_at >= start_dt, firsts.c.first_at < end_dt))
    ]
    closures = Counter(dict(session.execute(
        select(Episode.close_reason, func.count()).where(
            Episode.closed_on >= first, Episode.closed_on <= as_of, Episode.status == "closed",
            Episode.patient_id.not_in(_voided_patients))
        .group_by(Episode.close_reason)).all()))
    return QualityReport(
        month_start=first, month_end=last, as_of=as_of, caseload=len(eps),
        engagement=Rate(len(engaged), len(eps)), measurement=Rate(len(measured), len(eps)),
        case_review_coverage=Rate(sum(1 for e in cocm if e.id in reviewed), len(cocm)),
        outcome_weeks=(lo, hi), response=Rate(resp, window), remission=Rate(remit, window),
        outcome_without_scores=no_scores,
        median_days_to_first_follow_up=float(statistics.median(gaps)) if gaps else None,
        first_follow_ups=len(gaps),
        missing_next_action=sum(1 for e in eps if e.next_action_on is None),
        missing_baseline=missing_baseline,
        caseload_by_care_manager=tuple(sorted(Counter(e.display_name for e in eps).items())),
        disengaged_closures=closures.get("disengaged", 0),
        closures_by_reason=tuple(sorted((k or "?", v) for k, v in closures.items())),
    )

