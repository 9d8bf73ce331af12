"""The registry: one row per open episode with every column and flag of the spec.

Built set-based: one base query plus one aggregate query per fact family (measures with window
functions, contacts, recommendations, case reviews, referrals, risk events, consent and care plans)
and the billing engineer's `billing_progress` for minutes, whatever the number of episodes. Flags
come from domain.flags.compute_flags with the clinic policy stored in the database.

Decisions:
- Measures count from the enrollment date on (a pre-enrollment screening never is the baseline nor
  the "last" score). The baseline is the first score on or after enrollment, and only when it is
  within the baseline window; otherwise the episode has no baseline (missing element).
- "Last contact" is the newest *successful* contact; failed outreach attempts are counted apart.
- "Reviewed at case review" = an agenda item marked discussed (or carrying a recommendation) on a
  session's date; being on a future agenda does not count.
- Consent counts as documented when recorded (a care manager's record awaiting the clinician's
  attestation still counts; the chart shows the attestation state).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.flags import EpisodeFacts, Flag, FlagHit, compute_flags
from cocm_desktop.domain.outcomes import change_from_baseline, weeks_in_treatment
from cocm_desktop.domain.policy import Policy
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import (
    AgendaItem,
    CarePlanVersion,
    CaseReviewSession,
    Consent,
    Contact,
    Episode,
    Measure,
    Patient,
    Recommendation,
    Referral,
    RiskEvent,
    TimeEntry,
    User,
)

from ._perf import without_gc
from ._sql import day_diff, raw, to_day
from .common import ValidationError, check, load_policy, local_today

PHQ9, GAD7 = "PHQ-9", "GAD-7"


@dataclass(frozen=True)
class RegistryRow:
    episode_id: int
    patient_id: int
    patient_name: str  # "Family, Given"
    mrn: str
    care_manager_id: int
    care_manager: str
    clinician_id: int
    clinician: str
    program: str
    status: str
    enrolled_on: date
    weeks: int  # whole weeks in treatment
    primary_scale: str
    phq9_baseline: int | None
    phq9_baseline_on: date | None
    phq9_last: int | None
    phq9_last_on: date | None
    phq9_change_text: str  # "−52 %", "+10 %", "—" (see the phq9_change property)
    gad7_baseline: int | None
    gad7_baseline_on: date | None
    gad7_last: int | None
    gad7_last_on: date | None
    gad7_change_text: str
    last_contact_on: date | None  # newest successful contact
    failed_attempts: int  # outreach attempts not reached since then
    next_action: str | None
    next_action_on: date | None
    last_case_review_on: date | None
    minutes_this_month: int
    next_code: str | None
    minutes_to_next_code: int | None
    billing_label: str  # e.g. "12 min to 99493"
    transfer_to: str | None  # a transfer awaiting confirmed handoff
    flags: tuple[FlagHit, ...]
    facts: EpisodeFacts = field(repr=False, compare=False)

    @property
    def phq9_change(self) -> Fraction | None:
        """(baseline − last) / baseline, exact; positive = better; None until a later score exists."""
        return _change(self.phq9_baseline, self.phq9_baseline_on, self.phq9_last, self.phq9_last_on)

    @property
    def gad7_change(self) -> Fraction | None:
        return _change(self.gad7_baseline, self.gad7_baseline_on, self.gad7_last, self.gad7_last_on)

    @property
    def flag_set(self) -> frozenset[Flag]:
        return frozenset(h.flag for h in self.flags)

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def has(self, flag: Flag) -> bool:
        return any(h.flag is flag for h in self.flags)


@dataclass(frozen=True)
class RegistryExtras:
    """Facts the case-review agenda needs beyond the row (not shown as registry columns)."""

    open_question_since: date | None  # oldest unanswered question for the consultant
    open_loops: int  # recommendations not yet closed


_day = to_day


def _scope(
    today: date, care_manager_id: int | None, status: str | Iterable[str] | None, text: str | None,
    episode_ids: Iterable[int] | None,
):  # type: ignore[no-untyped-def]
    """WHERE conditions on Episode (joined with Patient and the two users) for the rows wanted."""
    conds = [Episode.status != "closed", Episode.enrolled_on <= today]
    if care_manager_id is not None:
        conds.append(Episode.care_manager_id == care_manager_id)
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        conds.append(Episode.status.in_(statuses))
    if episode_ids is not None:
        conds.append(Episode.id.in_(list(episode_ids)))
    return conds


def resolve_staff(session: Session, name: str) -> User:
    """A user by username or display name (case-insensitive) — for --care-manager NAME."""
    wanted = name.strip().lower()
    users = list(session.scalars(select(User).where(or_(
        func.lower(User.username) == wanted, func.lower(User.display_name) == wanted))))
    if not users:
        raise ValidationError(f"No staff member named {name!r}.")
    if len(users) > 1:
        raise ValidationError(f"More than one staff member matches {name!r}; use the username.")
    return users[0]


def build_registry(
    session: Session,
    actor: Actor,
    *,
    today: date | None = None,
    care_manager_id: int | None = None,
    flagged_only: bool = False,
    status: str | Iterable[str] | None = None,
    text: str | None = None,
) -> list[RegistryRow]:
    """Registry rows of the open episodes, by patient name. Filters: care manager, flagged only,
    status (one or several), free text (patient name, MRN, care manager, clinician, next action)."""
    check(actor, Permission.READ_REGISTRY)
    rows = collect(session, today=today or local_today(), care_manager_id=care_manager_id, status=status,
                   text=text)
    out = [r for r, _ in rows]
    if flagged_only:
        out = [r for r in out if r.flags]
    return out


@without_gc
def collect(
    session: Session,
    *,
    today: date,
    care_manager_id: int | None = None,
    status: str | Iterable[str] | None = None,
    text: str | None = None,
    episode_ids: Iterable[int] | None = None,
    policy: Policy | None = None,
    with_billing: bool = True,
) -> list[tuple[RegistryRow, RegistryExtras]]:
    """Rows with their agenda extras (no permission check: callers check their own)."""
    policy = policy or load_policy(session)
    cm, cl = aliased(User), aliased(User)
    conds = _scope(today, care_manager_id, status, text, episode_ids)
    base = (
        select(Episode.id, Episode.patient_id, Patient.family_name, Patient.given_name, Patient.mrn,
               Episode.care_manager_id, cm.display_name, Episode.treating_clinician_id, cl.display_name,
               Episode.program, Episode.status, raw(Episode.enrolled_on), Episode.primary_scale,
               Episode.next_action, raw(Episode.next_action_on), Episode.transfer_to,
               Episode.transfer_confirmed_on)
        .join(Patient, Patient.id == Episode.patient_id)
        .join(cm, cm.id == Episode.care_manager_id)
        .join(cl, cl.id == Episode.treating_clinician_id)
        .where(*conds)
    )
    q = (text or "").strip().lower()
    if q:
        like = f"%{q}%"
        base = base.where(or_(
            func.lower(Patient.family_name + ", " + Patient.given_name).like(like),
            func.lower(Patient.given_name + " " + Patient.family_name).like(like),
            func.lower(Patient.mrn).like(like), func.lower(cm.display_name).like(like),
            func.lower(cm.username).like(like), func.lower(cl.display_name).like(like),
            func.lower(func.coalesce(Episode.next_action, "")).like(like),
        ))
    conn = session.connection()  # Core rows: no ORM loading machinery for 10k-row reads
    base_rows = conn.execute(base.order_by(Patient.family_name, Patient.given_name, Episode.id)).all()
    if not base_rows:
        return []
    # Every fact query is limited to the same episodes: the scope as a subquery (cheap to repeat,
    # never a 10 000-item IN list).
    if q:
        scope = select(Episode.id).join(Patient, Patient.id == Episode.patient_id) \
            .join(cm, cm.id == Episode.care_manager_id).join(cl, cl.id == Episode.treating_clinician_id) \
            .where(*conds).where(base.whereclause)  # type: ignore[arg-type]
    else:
        scope = select(Episode.id).where(*conds)
    scope_sq = scope.scalar_subquery()

    measures = _measure_facts(session, scope_sq, policy)
    contacts = _contact_facts(session, scope_sq, today, policy)
    recs = _recommendation_facts(session, scope_sq)
    reviews = dict(conn.execute(
        select(AgendaItem.episode_id, raw(func.max(CaseReviewSession.session_on)))
        .join(CaseReviewSession, CaseReviewSession.id == AgendaItem.session_id)
        .where(AgendaItem.episode_id.in_(scope_sq), AgendaItem.reviewed.is_(True),
               AgendaItem.removed.is_(False), CaseReviewSession.session_on <= today)
        .group_by(AgendaItem.episode_id)).all())
    referrals = dict(conn.execute(
        select(Referral.episode_id, raw(func.min(Referral.referred_on)))
        .where(Referral.episode_id.in_(scope_sq), Referral.status.in_(("sent", "scheduled")))
        .group_by(Referral.episode_id)).all())
    risks = dict(conn.execute(
        select(RiskEvent.episode_id, raw(func.min(RiskEvent.opened_at)))
        .where(RiskEvent.episode_id.in_(scope_sq), RiskEvent.outcome.is_(None))
        .group_by(RiskEvent.episode_id)).all())
    consents = set(conn.execute(
        select(Consent.episode_id).where(Consent.episode_id.in_(scope_sq), Consent.patient_agrees.is_(True))
        .distinct()).scalars())
    plans = set(conn.execute(
        select(CarePlanVersion.episode_id).where(CarePlanVersion.episode_id.in_(scope_sq)).distinct()).scalars())
    ids = [r[0] for r in base_rows]
    billing = _billing(session, today, ids if (q or care_manager_id or status or episode_ids) else None) \
        if with_billing else {}

    window = policy.baseline_window_days
    out: list[tuple[RegistryRow, RegistryExtras]] = []
    empty_m: dict[str, tuple] = {}
    for (eid, pid, family, given, mrn, cm_id, cm_name, cl_id, cl_name, program, st, enrolled_on, scale,
         next_action, next_action_on, transfer_to, transfer_confirmed) in base_rows:
        enrolled_on, next_action_on = _day(enrolled_on), _day(next_action_on)
        reviewed_on = _day(reviews.get(eid))
        m = measures.get(eid, empty_m)
        scales = {}
        for inst in (PHQ9, GAD7):
            last_t, last_at, prev_t, prev_at, base_t, base_at = m.get(inst, (None,) * 6)
            base_on = _day(base_at)
            if base_on is not None and (base_on - enrolled_on).days > window:
                base_t = base_on = None
            scales[inst] = (last_t, _day(last_at), prev_t, _day(prev_at), base_t, base_on)
        p_last, p_last_on, p_prev, p_prev_on, p_base, p_base_on = scales[scale]
        c = contacts.get(eid)
        rec = recs.get(eid)
        risk_since = risks.get(eid)
        ref_since = referrals.get(eid)
        facts = EpisodeFacts(
            enrolled_on=enrolled_on, status=st, program=program, primary_scale=scale,
            baseline_total=p_base, baseline_on=p_base_on, latest_total=p_last, latest_on=p_last_on,
            previous_total=p_prev, previous_on=p_prev_on,
            remission_since=_day(m.get("remission_since")),
            last_phq9_item9=m.get("phq9_item9"), last_phq9_on=scales[PHQ9][1],
            open_risk_since=_day(risk_since),
            last_contact_on=_day(c[0]) if c else None,
            failed_attempts_since_contact=(c[1] or 0) if c else 0,
            next_action_on=next_action_on,
            last_case_review_on=reviewed_on,
            awaiting_approval_since=_day(rec[0]) if rec else None,
            approved_not_told_since=_day(rec[1]) if rec else None,
            has_consent=eid in consents, has_care_plan=eid in plans,
            max_registry_lag_days=c[2] if c else None, lagged_contact_on=_day(c[3]) if c else None,
            oldest_unconfirmed_referral_on=_day(ref_since),
        )
        hits = tuple(compute_flags(facts, today, policy))
        bp = billing.get(eid)
        row = RegistryRow(
            episode_id=eid, patient_id=pid, patient_name=f"{family}, {given}", mrn=mrn,
            care_manager_id=cm_id, care_manager=cm_name, clinician_id=cl_id, clinician=cl_name,
            program=program, status=st, enrolled_on=enrolled_on, weeks=weeks_in_treatment(enrolled_on, today),
            primary_scale=scale,
            **_scale_cols("phq9", scales[PHQ9]), **_scale_cols("gad7", scales[GAD7]),
            last_contact_on=facts.last_contact_on, failed_attempts=facts.failed_attempts_since_contact,
            next_action=next_action, next_action_on=next_action_on, last_case_review_on=reviewed_on,
            minutes_this_month=bp.minutes if bp else 0,
            next_code=bp.next_code if bp else None,
            minutes_to_next_code=bp.minutes_needed if bp else None,
            billing_label=bp.label if bp else "",
            transfer_to=transfer_to if transfer_to and transfer_confirmed is None else None,
            flags=hits, facts=facts,
        )
        extras = RegistryExtras(open_question_since=_day(c[4]) if c else None,
                                open_loops=rec[2] if rec else 0)
        out.append((row, extras))
    return out


def _change(base: int | None, base_on: date | None, last: int | None, last_on: date | None) -> Fraction | None:
    # A lone baseline is not a change: there is one once a later score exists.
    if base_on is None or last_on is None or last_on <= base_on:
        return None
    return change_from_baseline(base, last)


def _change_text(base: int | None, base_on: date | None, last: int | None, last_on: date | None) -> str:
    """Same text as outcomes.format_change(_change(...)) with integer arithmetic (hot path)."""
    if base_on is None or last_on is None or last_on <= base_on or not base or last is None:
        return "\u2014"
    diff = base - last
    percent = 100 * abs(diff) // base  # truncation toward zero, like format_change
    if percent == 0:
        return "0 %"
    return f"\u2212{percent} %" if diff > 0 else f"+{percent} %"


def _scale_cols(prefix: str, s: tuple) -> dict[str, object]:  # type: ignore[type-arg]
    last_t, last_on, _pt, _pon, base_t, base_on = s
    return {
        f"{prefix}_baseline": base_t, f"{prefix}_baseline_on": base_on,
        f"{prefix}_last": last_t, f"{prefix}_last_on": last_on,
        f"{prefix}_change_text": _change_text(base_t, base_on, last_t, last_on),
    }


def _measure_facts(session: Session, scope_sq, policy: Policy) -> dict[int, dict]:  # type: ignore[no-untyped-def,type-arg]
    """Per episode and scale: last, previous, first-after-enrollment; newest PHQ-9 item 9; and the
    start of the current run of primary-scale remission scores.

    One statement: a single window (newest first per episode and scale) joined to a grouped
    subquery (first score, last non-remission score); measured faster than three windows."""
    remission = policy.remission_below
    in_scope = (Measure.episode_id.in_(scope_sq), Measure.taken_at >= Episode.enrolled_on)
    part = (Measure.episode_id, Measure.instrument)
    ranked = (
        select(
            Measure.episode_id, Measure.instrument, Measure.taken_at, Measure.total, Measure.item9,
            (Measure.instrument == Episode.primary_scale).label("is_primary"),
            func.row_number().over(partition_by=part, order_by=(Measure.taken_at.desc(), Measure.id.desc()))
            .label("rd"),
        )
        .join(Episode, Episode.id == Measure.episode_id).where(*in_scope).subquery()
    )
    firsts = (
        select(Measure.episode_id, Measure.instrument, func.min(Measure.taken_at).label("first_at"),
               func.max(case((Measure.total >= remission, Measure.taken_at))).label("last_bad"))
        .join(Episode, Episode.id == Measure.episode_id).where(*in_scope)
        .group_by(Measure.episode_id, Measure.instrument).subquery()
    )
    r, a = ranked.c, firsts.c
    cols = [r.episode_id]
    for inst in (PHQ9, GAD7):
        is_i = r.instrument == inst
        for cond in (r.rd == 1, r.rd == 2, r.taken_at == a.first_at):
            cols.append(func.max(case((and_(is_i, cond), r.total))))
            cols.append(raw(func.max(case((and_(is_i, cond), r.taken_at)))))
    cols.append(func.max(case((and_(r.instrument == PHQ9, r.rd == 1), r.item9))))
    cols.append(raw(func.min(case((and_(r.is_primary, r.total < remission,
                                        or_(a.last_bad.is_(None), r.taken_at > a.last_bad)), r.taken_at)))))
    q = select(*cols).join(firsts, and_(a.episode_id == r.episode_id, a.instrument == r.instrument)) \
        .group_by(r.episode_id)
    out: dict[int, dict] = {}  # type: ignore[type-arg]
    for row in session.connection().execute(q).all():
        out[row[0]] = {PHQ9: row[1:7], GAD7: row[7:13], "phq9_item9": row[13], "remission_since": row[14]}
    return out


def _contact_facts(session: Session, scope_sq, today: date, policy: Policy) -> dict[int, tuple]:  # type: ignore[no-untyped-def,type-arg]
    """(last successful contact, failed attempts since, max registry lag in the look-back, the
    contact with that lag, oldest unanswered question) per episode. One windowed query; both
    windows share one partition and no ordering, so SQLite sorts the contacts once."""
    cutoff = datetime.combine(today - timedelta(days=policy.registry_lag_lookback_days), time.min)
    recent = Contact.contact_at >= cutoff
    lag = day_diff(Contact.entered_at, Contact.contact_at)
    whole = {"partition_by": Contact.episode_id}
    inner = (
        select(
            Contact.episode_id, Contact.contact_at, Contact.kind, Contact.reached,
            recent.label("recent"), lag.label("lag"),
            and_(Contact.question_for_consultant.is_not(None), Contact.question_answered.is_(False))
            .label("open_q"),
            func.max(case((Contact.reached.is_(True), Contact.contact_at))).over(**whole).label("last_ok"),
            # the largest lag ranks first; contacts outside the look-back rank as -1
            func.max(case((recent, lag), else_=-1)).over(**whole).label("top_lag"),
        )
        .where(Contact.episode_id.in_(scope_sq))
        .subquery()
    )
    c = inner.c
    failed = and_(c.kind == "outreach", c.reached.is_(False), or_(c.last_ok.is_(None), c.contact_at > c.last_ok))
    top_lag = and_(c.recent, c.lag == c.top_lag)  # the newest of these is the lagged contact
    q = select(
        c.episode_id, raw(func.max(c.last_ok)), func.count(case((failed, 1))),
        func.max(case((top_lag, c.lag))), raw(func.max(case((top_lag, c.contact_at)))),
        raw(func.min(case((c.open_q, c.contact_at)))),
    ).group_by(c.episode_id)
    return {row[0]: tuple(row[1:]) for row in session.connection().execute(q).all()}


def _recommendation_facts(session: Session, scope_sq) -> dict[int, tuple]:  # type: ignore[no-untyped-def,type-arg]
    q = (
        select(
            Recommendation.episode_id,
            raw(func.min(case((Recommendation.state == "recommended", Recommendation.recommended_at)))),
            raw(func.min(case((Recommendation.state.in_(("approved", "modified")), Recommendation.decided_at)))),
            func.count(case((Recommendation.state != "closed", 1))),
        )
        .where(Recommendation.episode_id.in_(scope_sq))
        .group_by(Recommendation.episode_id)
    )
    return {row[0]: tuple(row[1:]) for row in session.connection().execute(q).all()}


def _billing(session: Session, today: date, ids: list[int] | None) -> dict:  # type: ignore[type-arg]
    month_start = today.replace(day=1)
    try:
        from .billing_progress import billing_progress
    except ImportError:  # pragma: no cover - the billing module ships with the app
        return _local_minutes(session, month_start, ids)
    return billing_progress(session, month_start, ids)


@dataclass(frozen=True)
class _Minutes:  # pragma: no cover - fallback only
    minutes: int
    next_code: str | None = None
    minutes_needed: int | None = None
    label: str = ""


def _local_minutes(session: Session, month_start: date, ids: list[int] | None) -> dict:  # type: ignore[type-arg]  # pragma: no cover
    nxt = (month_start.replace(day=28) + timedelta(days=4)).replace(day=1)
    q = select(TimeEntry.episode_id, func.sum(TimeEntry.minutes)).where(
        TimeEntry.local_date >= month_start, TimeEntry.local_date < nxt, TimeEntry.deleted_at.is_(None))
    if ids is not None:
        q = q.where(TimeEntry.episode_id.in_(ids))
    return {eid: _Minutes(int(m or 0), label=f"{int(m or 0)} min") for eid, m in session.execute(
        q.group_by(TimeEntry.episode_id))}
