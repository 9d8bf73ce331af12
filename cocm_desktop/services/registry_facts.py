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
write); `FACT_COLUMNS` is the order of values in a facts tuple and of the cache's columns.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from cocm_desktop.domain.policy import Policy
from cocm_desktop.store.models import (
    AgendaItem,
    CarePlanVersion,
    CaseReviewSession,
    Consent,
    Contact,
    Episode,
    Measure,
    Recommendation,
    Referral,
    RegistryFacts,
    RiskEvent,
)

from ._sql import day_diff, raw, to_day

PHQ9, GAD7 = "PHQ-9", "GAD-7"

FACT_COLUMNS = (
    "patient_id", "remission_below",
    "phq9_last", "phq9_last_on", "phq9_prev", "phq9_prev_on", "phq9_first", "phq9_first_on",
    "gad7_last", "gad7_last_on", "gad7_prev", "gad7_prev_on", "gad7_first", "gad7_first_on",
    "phq9_item9", "remission_since",
    "has_contacts", "last_contact_on", "failed_attempts", "open_question_since", "first_contact_on",
    "last_zero_lag_on", "lags",
    "awaiting_approval_since", "approved_not_told_since", "open_loops", "reviewed_days",
    "referral_since", "risk_since", "has_consent", "has_care_plan",
    "billing_month", "minutes", "next_code", "minutes_needed", "billing_label",
)
# Positions in a facts tuple, for the registry's hot loop.
IX = {name: i for i, name in enumerate(FACT_COLUMNS)}
_NO_MEASURES = (None,) * 14
_NO_CONTACTS = (False, None, 0, None, None, None, None)


def compute(
    session: Session, scope, policy: Policy, month: date, wanted: set[int] | None = None,  # type: ignore[no-untyped-def]
) -> dict[int, tuple]:  # type: ignore[type-arg]
    """Facts tuples (FACT_COLUMNS order, dates as `date`) per episode id of `scope`.

    `scope`: a scalar subquery of episode ids, or a list of ids. `wanted`: keep only these ids
    (when the scope is wider than what is missing). `month`: first day of the billing month."""
    conn = session.connection()
    patients = dict(conn.execute(select(Episode.id, Episode.patient_id).where(Episode.id.in_(scope))).all())
    ids = set(patients) if wanted is None else set(patients) & wanted
    if not ids:
        return {}
    measures = _measure_facts(session, scope, policy)
    contacts = _contact_facts(session, scope)
    recs = _recommendation_facts(session, scope)
    reviews: dict[int, list[str]] = defaultdict(list)
    for eid, on in conn.execute(
        select(AgendaItem.episode_id, raw(CaseReviewSession.session_on))
        .join(CaseReviewSession, CaseReviewSession.id == AgendaItem.session_id)
        .where(AgendaItem.episode_id.in_(scope), AgendaItem.reviewed.is_(True), AgendaItem.removed.is_(False))
        .distinct()
    ).all():
        reviews[eid].append(to_day(on).isoformat())  # type: ignore[union-attr]
    referrals = dict(conn.execute(
        select(Referral.episode_id, raw(func.min(Referral.referred_on)))
        .where(Referral.episode_id.in_(scope), Referral.status.in_(("sent", "scheduled")), Referral.voided_at.is_(None))
        .group_by(Referral.episode_id)).all())
    risks = dict(conn.execute(
        select(RiskEvent.episode_id, raw(func.min(RiskEvent.opened_at)))
        .where(RiskEvent.episode_id.in_(scope), RiskEvent.outcome.is_(None), RiskEvent.voided_at.is_(None))
        .group_by(RiskEvent.episode_id)).all())
    consents = set(conn.execute(
        select(Consent.episode_id).where(Consent.episode_id.in_(scope), Consent.patient_agrees.is_(True))
        .distinct()).scalars())
    plans = set(conn.execute(
        select(CarePlanVersion.episode_id).where(CarePlanVersion.episode_id.in_(scope), CarePlanVersion.voided_at.is_(None)).distinct()).scalars())
    from .billing_progress import billing_progress

    billing = billing_progress(session, month, ids)
    out: dict[int, tuple] = {}  # type: ignore[type-arg]
    for eid in ids:
        rec = recs.get(eid, (None, None, 0))
        bp = billing.get(eid)
        out[eid] = (
            patients[eid], policy.remission_below,
            *measures.get(eid, _NO_MEASURES),
            *contacts.get(eid, _NO_CONTACTS),
            to_day(rec[0]), to_day(rec[1]), rec[2] or 0,
            sorted(reviews[eid]) if eid in reviews else None,
            to_day(referrals.get(eid)), to_day(risks.get(eid)), eid in consents, eid in plans,
            month,
            *((bp.minutes, bp.next_code, bp.minutes_needed, bp.label) if bp else (None, None, None, None)),
        )
    return out


def store(session: Session, facts: dict[int, tuple]) -> bool:  # type: ignore[type-arg]
    """Write facts to the cache (replacing rows of the same episodes). False when the database
    cannot be written (opened read-only): the registry is then simply computed every time."""
    if not facts:
        return True
    try:
        with session.begin_nested():
            conn = session.connection()
            ids = list(facts)
            for i in range(0, len(ids), 500):
                conn.execute(delete(RegistryFacts).where(RegistryFacts.episode_id.in_(ids[i:i + 500])))
            conn.execute(insert(RegistryFacts), [
                {"episode_id": eid, **dict(zip(FACT_COLUMNS, values, strict=True))}
                for eid, values in facts.items()])
    except OperationalError:
        return False
    return True


def refresh_billing(session: Session, facts: dict[int, list], episode_ids: list[int], month: date) -> None:  # type: ignore[type-arg]
    """Recompute only the billing columns of `episode_ids` for `month`, in `facts` (decoded rows,
    edited in place) and in the cache: the first registry of a month costs one billing pass,
    not every fact query."""
    from .billing_progress import billing_progress

    progress = billing_progress(session, month, episode_ids)
    values = []
    for eid in episode_ids:
        bp = progress.get(eid)
        cols = (bp.minutes, bp.next_code, bp.minutes_needed, bp.label) if bp else (None, None, None, None)
        f = facts[eid]
        f[IX["billing_month"]] = month
        f[IX["minutes"]:IX["billing_label"] + 1] = cols
        values.append({"eid": eid, "b_month": month, "b_minutes": cols[0], "b_code": cols[1],
                       "b_needed": cols[2], "b_label": cols[3]})
    try:
        with session.begin_nested():
            session.connection().execute(
                update(RegistryFacts).where(RegistryFacts.episode_id == bindparam("eid")).values(
                    billing_month=bindparam("b_month"), minutes=bindparam("b_minutes"),
                    next_code=bindparam("b_code"), minutes_needed=bindparam("b_needed"),
                    billing_label=bindparam("b_label")),
                values)
    except OperationalError:
        pass  # read-only database: computed again next time


def _measure_facts(session: Session, scope, policy: Policy) -> dict[int, tuple]:  # type: ignore[no-untyped-def,type-arg]
    """Per episode: (last, last day, previous, previous day, first, first day) for PHQ-9 then GAD-7,
    the newest PHQ-9's item 9 and the start of the current run of primary-scale remission scores;
    scores from the enrollment date on.

    One statement: a single window (newest first per episode and scale) joined to a grouped
    subquery (first score, last non-remission score); measured faster than three windows."""
    remission = policy.remission_below
    in_scope = (Measure.episode_id.in_(scope), Measure.taken_at >= Episode.enrolled_on, Measure.voided_at.is_(None))
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
    out: dict[int, tuple] = {}  # type: ignore[type-arg]
    for row in session.connection().execute(q).all():
        out[row[0]] = tuple(to_day(v) if i % 2 == 0 else v for i, v in enumerate(row[1:13], start=1)) \
            + (row[13], to_day(row[14]))
    return out


def _contact_facts(session: Session, scope) -> dict[int, tuple]:  # type: ignore[no-untyped-def,type-arg]
    """Per episode with contacts: (True, newest successful contact day, failed outreach attempts
    since, oldest unanswered question day, first contact day, newest same-day-entered contact day,
    [[day, lag], ...] for contacts entered on another day). One windowed query plus the
    exceptions; the registry applies the look-back window to the lags when it reads them."""
    lag = day_diff(Contact.entered_at, Contact.contact_at)
    inner = (
        select(
            Contact.episode_id, Contact.contact_at, Contact.kind, Contact.reached, lag.label("lag"),
            and_(Contact.question_for_consultant.is_not(None), Contact.question_answered.is_(False))
            .label("open_q"),
            func.max(case((Contact.reached.is_(True), Contact.contact_at)))
            .over(partition_by=Contact.episode_id).label("last_ok"),
        )
        .where(Contact.episode_id.in_(scope), Contact.voided_at.is_(None))
        .subquery()
    )
    c = inner.c
    failed = and_(c.kind == "outreach", c.reached.is_(False), or_(c.last_ok.is_(None), c.contact_at > c.last_ok))
    q = select(
        c.episode_id, raw(func.max(c.last_ok)), func.count(case((failed, 1))),
        raw(func.min(case((c.open_q, c.contact_at)))), raw(func.min(c.contact_at)),
        raw(func.max(case((c.lag == 0, c.contact_at)))),
    ).group_by(c.episode_id)
    lags: dict[int, list[list]] = defaultdict(list)  # type: ignore[type-arg]
    for eid, at, days in session.connection().execute(
        select(Contact.episode_id, raw(Contact.contact_at), lag)
        .where(Contact.episode_id.in_(scope), Contact.voided_at.is_(None), lag != 0)
        .order_by(Contact.episode_id, Contact.contact_at)
    ).all():
        lags[eid].append([to_day(at).isoformat(), days])  # type: ignore[union-attr]
    return {
        eid: (True, to_day(last_ok), failed_n or 0, to_day(open_q), to_day(first), to_day(zero),
              lags.get(eid))
        for eid, last_ok, failed_n, open_q, first, zero in session.connection().execute(q).all()
    }


def _recommendation_facts(session: Session, scope) -> dict[int, tuple]:  # type: ignore[no-untyped-def,type-arg]
    q = (
        select(
            Recommendation.episode_id,
            raw(func.min(case((Recommendation.state == "recommended", Recommendation.recommended_at)))),
            raw(func.min(case((Recommendation.state.in_(("approved", "modified")), Recommendation.decided_at)))),
            func.count(case((Recommendation.state != "closed", 1))),
        )
        .where(Recommendation.episode_id.in_(scope), Recommendation.voided_at.is_(None))
        .group_by(Recommendation.episode_id)
    )
    return {row[0]: tuple(row[1:]) for row in session.connection().execute(q).all()}


def lag_facts(
    has_contacts: bool, first_on: date | None, zero_on: date | None, lags: list | None, cutoff: date,  # type: ignore[type-arg]
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
    for day_iso, lag in lags or ():
        day = date.fromisoformat(day_iso)
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
