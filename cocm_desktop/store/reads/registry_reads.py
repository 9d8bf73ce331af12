"""Reads of the registry: the open episodes' rows, the `registry_facts` cache, and the set-based
fact queries that fill it (services.registry_facts decides what a fact means; the SQL is here).

A registry read is one joined statement over 10,000 episodes, so it keeps its fast path: values
come from the driver unprocessed (`fetch_plain`) and are turned into Python types once per
distinct value (dates repeat across a caseload, and so do the JSON lists of case-review days).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from ..models import (
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
    RegistryFacts,
    RiskEvent,
    User,
)
from ..sql_portable import day_cache, day_diff, fetch_plain, raw, to_day

__all__ = [
    "FACT_COLUMNS",
    "ContactFacts",
    "FactsDecoder",
    "cached_facts",
    "MeasureFacts",
    "RecommendationFacts",
    "RegistryEpisode",
    "RegistryFactsRow",
    "RegistryQuery",
    "contact_facts",
    "episode_patients",
    "episodes_with",
    "first_open_referral",
    "first_open_risk",
    "measure_facts",
    "recommendation_facts",
    "registry_rows",
    "reviewed_days",
    "scope_of",
    "update_billing_facts",
    "write_facts",
]

_new = tuple.__new__


class RegistryEpisode(NamedTuple):
    """An open episode's own columns, as the registry shows them."""

    episode_id: int
    patient_id: int
    family_name: str
    given_name: str
    mrn: str
    care_manager_id: int
    care_manager: str
    clinician_id: int
    clinician: str
    program: str
    status: str
    enrolled_on: date
    primary_scale: str
    next_action: str | None
    next_action_on: date | None
    transfer_to: str | None
    transfer_confirmed_on: date | None


class MeasureFacts(NamedTuple):
    """Per episode, scores from the enrollment day on: last, previous and first of each scale."""

    phq9_last: int | None
    phq9_last_on: date | None
    phq9_prev: int | None
    phq9_prev_on: date | None
    phq9_first: int | None
    phq9_first_on: date | None
    gad7_last: int | None
    gad7_last_on: date | None
    gad7_prev: int | None
    gad7_prev_on: date | None
    gad7_first: int | None
    gad7_first_on: date | None
    phq9_item9: int | None  # of the newest PHQ-9
    remission_since: date | None  # start of the current run of primary-scale remission scores


NO_MEASURES = MeasureFacts(*(None,) * 14)


class ContactFacts(NamedTuple):
    has_contacts: bool
    last_contact_on: date | None  # newest successful contact
    failed_attempts: int  # outreach not reached since then
    open_question_since: date | None  # oldest unanswered question for the consultant
    first_contact_on: date | None  # any contact, reached or not
    last_zero_lag_on: date | None  # newest contact entered on the day it happened
    lags: tuple[tuple[date, int], ...] | None  # (day, lag) of contacts entered on another day


NO_CONTACTS = ContactFacts(False, None, 0, None, None, None, None)


class RecommendationFacts(NamedTuple):
    awaiting_approval_since: date | None
    approved_not_told_since: date | None
    open_loops: int


class RegistryFactsRow(NamedTuple):
    """One episode's facts as the `registry_facts` cache holds them (`FACT_COLUMNS` order)."""

    patient_id: int
    remission_below: int  # policy value the facts were computed with
    phq9_last: int | None
    phq9_last_on: date | None
    phq9_prev: int | None
    phq9_prev_on: date | None
    phq9_first: int | None
    phq9_first_on: date | None
    gad7_last: int | None
    gad7_last_on: date | None
    gad7_prev: int | None
    gad7_prev_on: date | None
    gad7_first: int | None
    gad7_first_on: date | None
    phq9_item9: int | None
    remission_since: date | None
    has_contacts: bool
    last_contact_on: date | None
    failed_attempts: int | None
    open_question_since: date | None
    first_contact_on: date | None
    last_zero_lag_on: date | None
    lags: tuple[tuple[date, int], ...] | None
    awaiting_approval_since: date | None
    approved_not_told_since: date | None
    open_loops: int | None
    reviewed_days: tuple[date, ...] | None  # case-review session days, ascending
    referral_since: date | None
    risk_since: date | None
    has_consent: bool
    has_care_plan: bool
    billing_month: date | None  # the month the billing columns describe
    minutes: int | None  # None: no billing progress row
    next_code: str | None
    minutes_needed: int | None
    billing_label: str | None


FACT_COLUMNS: tuple[str, ...] = RegistryFactsRow._fields
_DATE_FACTS = tuple(i for i, n in enumerate(FACT_COLUMNS) if n.endswith(("_on", "_since")) or n == "billing_month")
_I_LAGS, _I_REVIEWED = FACT_COLUMNS.index("lags"), FACT_COLUMNS.index("reviewed_days")
_BOOL_FACTS = tuple(FACT_COLUMNS.index(n) for n in ("has_contacts", "has_consent", "has_care_plan"))


@dataclass(frozen=True)
class RegistryQuery:
    """Which open episodes a registry read lists (enrolled by `today`, not closed)."""

    today: date
    care_manager_id: int | None = None
    statuses: tuple[str, ...] | None = None
    text: str | None = None  # free text: patient name, MRN, care manager, clinician, next action
    episode_ids: tuple[int, ...] | None = None


def _base(query: RegistryQuery, *columns: Any):  # type: ignore[no-untyped-def]
    cm, cl = aliased(User), aliased(User)
    conds = [Episode.status != "closed", Episode.enrolled_on <= query.today,
             # a patient entered twice and voided leaves the registry (a few rows at most: no join)
             Episode.patient_id.not_in(select(Patient.id).where(Patient.voided_at.is_not(None)))]
    if query.care_manager_id is not None:
        conds.append(Episode.care_manager_id == query.care_manager_id)
    if query.statuses:
        conds.append(Episode.status.in_(query.statuses))
    if query.episode_ids is not None:
        conds.append(Episode.id.in_(query.episode_ids))
    wanted = [c(cm, cl) if callable(c) else c for c in columns]
    q = (
        select(*wanted)
        .join(Patient, Patient.id == Episode.patient_id)
        .join(cm, cm.id == Episode.care_manager_id)
        .join(cl, cl.id == Episode.treating_clinician_id)
        .where(*conds)
    )
    text = (query.text or "").strip().lower()
    if text:
        like = f"%{text}%"
        q = q.where(or_(
            func.lower(Patient.family_name + ", " + Patient.given_name).like(like),
            func.lower(Patient.given_name + " " + Patient.family_name).like(like),
            func.lower(Patient.mrn).like(like), func.lower(cm.display_name).like(like),
            func.lower(cm.username).like(like), func.lower(cl.display_name).like(like),
            func.lower(func.coalesce(Episode.next_action, "")).like(like),
        ))
    return q


_EPISODE_COLUMNS = (
    Episode.id, Episode.patient_id, Patient.family_name, Patient.given_name, Patient.mrn,
    Episode.care_manager_id, lambda cm, cl: cm.display_name, Episode.treating_clinician_id,
    lambda cm, cl: cl.display_name, Episode.program, Episode.status, raw(Episode.enrolled_on),
    Episode.primary_scale, Episode.next_action, raw(Episode.next_action_on), Episode.transfer_to,
    raw(Episode.transfer_confirmed_on),
)
_N_EPISODE = len(_EPISODE_COLUMNS)
_FACT_SELECT = tuple(
    raw(getattr(RegistryFacts, n)) if i in _DATE_FACTS or i in (_I_LAGS, _I_REVIEWED) else getattr(RegistryFacts, n)
    for i, n in enumerate(FACT_COLUMNS)
)


class FactsDecoder:
    """Cached fact values → Python types, each distinct stored value decoded once."""

    def __init__(self) -> None:
        self.day: Callable[[object], date | None] = day_cache()
        self.lags: dict[object, object] = {}  # JSON text → decoded (SQLite)
        self.days: dict[object, object] = {}

    def __call__(self, values: Sequence[Any]) -> RegistryFactsRow:
        f = list(values)
        day = self.day
        for i in _DATE_FACTS:
            f[i] = day(f[i])
        for i in _BOOL_FACTS:  # SQLite hands booleans as 0/1
            f[i] = bool(f[i])
        for i, cache, decode in ((_I_LAGS, self.lags, _decode_lags), (_I_REVIEWED, self.days, _decode_days)):
            v = f[i]
            if v is not None:
                try:
                    f[i] = cache[v]  # SQLite: the JSON text, the same for many rows
                except KeyError:
                    f[i] = cache[v] = decode(v, day)
                except TypeError:  # psycopg hands JSON decoded (a list: not a key)
                    f[i] = decode(v, day)
        return _new(RegistryFactsRow, f)  # type: ignore[no-any-return]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # psycopg hands JSON decoded


def _decode_lags(value: Any, day: Callable[[object], date | None]) -> tuple[tuple[date, int], ...] | None:
    items = _json(value)
    return None if items is None else tuple((day(d), lag) for d, lag in items)  # type: ignore[misc]


def _decode_days(value: Any, day: Callable[[object], date | None]) -> tuple[date, ...] | None:
    items = _json(value)
    return None if items is None else tuple(day(d) for d in items)  # type: ignore[misc]


def registry_rows(
    conn: Connection, query: RegistryQuery, *, cached: bool = True
) -> list[tuple[RegistryEpisode, RegistryFactsRow | None]]:
    """The open episodes `query` lists, by patient name, each with its cached facts (None when
    the cache has no row for it, or `cached` is False)."""
    q = _base(query, *_EPISODE_COLUMNS, *(_FACT_SELECT if cached else ()))
    if cached:
        q = q.outerjoin(RegistryFacts, RegistryFacts.episode_id == Episode.id)
    rows = fetch_plain(conn, q.order_by(Patient.family_name, Patient.given_name, Episode.id))
    day = day_cache()  # enrollment and next-action days repeat across 10k rows: parse each once
    decode = FactsDecoder()
    decode.day = day
    n = _N_EPISODE
    i_rem = n + FACT_COLUMNS.index("remission_below")  # NOT NULL in every cached row
    out: list[tuple[RegistryEpisode, RegistryFactsRow | None]] = []
    for r in rows:
        episode = _new(RegistryEpisode, (
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], day(r[11]), r[12], r[13],
            day(r[14]), r[15], day(r[16]),
        ))
        out.append((episode, decode(r[n:]) if cached and r[i_rem] is not None else None))
    return out


def scope_of(query: RegistryQuery, missing: Collection[int], *, in_limit: int = 900) -> Any:
    """The episode ids a fact computation covers to fill `missing`: the list itself when short,
    else the query's episodes as a subquery (cheaper than a long IN list)."""
    if len(missing) <= in_limit:
        return sorted(missing)
    return _base(query, Episode.id).scalar_subquery()


# ---- the fact queries (scope: a scalar subquery of episode ids, or a list) ------------------------

def episode_patients(conn: Connection, scope: Any) -> dict[int, int]:
    """{episode: patient} of the episodes in `scope`."""
    return dict(conn.execute(select(Episode.id, Episode.patient_id).where(Episode.id.in_(scope))).all())  # type: ignore[arg-type]


def reviewed_days(conn: Connection, scope: Any) -> dict[int, tuple[date, ...]]:
    """{episode: the days of the case-review sessions that discussed it, ascending}."""
    day = day_cache()
    out: dict[int, set[date]] = defaultdict(set)
    for eid, on in fetch_plain(conn, select(AgendaItem.episode_id, raw(CaseReviewSession.session_on))
                               .join(CaseReviewSession, CaseReviewSession.id == AgendaItem.session_id)
                               .where(AgendaItem.episode_id.in_(scope), AgendaItem.reviewed.is_(True),
                                      AgendaItem.removed.is_(False))):
        out[eid].add(day(on))  # type: ignore[arg-type]
    return {eid: tuple(sorted(days)) for eid, days in out.items()}


def first_open_referral(conn: Connection, scope: Any) -> dict[int, date]:
    """{episode: day of its oldest referral still sent or scheduled}."""
    return {eid: to_day(on) for eid, on in fetch_plain(conn,  # type: ignore[misc]
        select(Referral.episode_id, raw(func.min(Referral.referred_on)))
        .where(Referral.episode_id.in_(scope), Referral.status.in_(("sent", "scheduled")),
               Referral.voided_at.is_(None))
        .group_by(Referral.episode_id))}


def first_open_risk(conn: Connection, scope: Any) -> dict[int, date]:
    """{episode: day its oldest risk event without an outcome was opened}."""
    return {eid: to_day(at) for eid, at in fetch_plain(conn,  # type: ignore[misc]
        select(RiskEvent.episode_id, raw(func.min(RiskEvent.opened_at)))
        .where(RiskEvent.episode_id.in_(scope), RiskEvent.outcome.is_(None), RiskEvent.voided_at.is_(None))
        .group_by(RiskEvent.episode_id))}


def episodes_with(conn: Connection, scope: Any, what: str) -> set[int]:
    """The episodes of `scope` with a consent the patient agreed to (`what="consent"`) or a care
    plan (`what="care_plan"`)."""
    if what == "consent":
        q = select(Consent.episode_id).where(Consent.episode_id.in_(scope), Consent.patient_agrees.is_(True))
    elif what == "care_plan":
        q = select(CarePlanVersion.episode_id).where(CarePlanVersion.episode_id.in_(scope),
                                                     CarePlanVersion.voided_at.is_(None))
    else:
        raise ValueError(f"unknown fact {what!r}")
    return set(conn.execute(q.distinct()).scalars())


def measure_facts(conn: Connection, scope: Any, remission_below: int) -> dict[int, MeasureFacts]:
    """Per episode with scores from the enrollment date on: `MeasureFacts`.

    One statement: a single window (newest first per episode and scale) joined to a grouped
    subquery (first score, last non-remission score); measured faster than three windows."""
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
               func.max(case((Measure.total >= remission_below, Measure.taken_at))).label("last_bad"))
        .join(Episode, Episode.id == Measure.episode_id).where(*in_scope)
        .group_by(Measure.episode_id, Measure.instrument).subquery()
    )
    r, a = ranked.c, firsts.c
    cols = [r.episode_id]
    for inst in ("PHQ-9", "GAD-7"):
        is_i = r.instrument == inst
        for cond in (r.rd == 1, r.rd == 2, r.taken_at == a.first_at):
            cols.append(func.max(case((and_(is_i, cond), r.total))))
            cols.append(raw(func.max(case((and_(is_i, cond), r.taken_at)))))
    cols.append(func.max(case((and_(r.instrument == "PHQ-9", r.rd == 1), r.item9))))
    cols.append(raw(func.min(case((and_(r.is_primary, r.total < remission_below,
                                        or_(a.last_bad.is_(None), r.taken_at > a.last_bad)), r.taken_at)))))
    q = select(*cols).join(firsts, and_(a.episode_id == r.episode_id, a.instrument == r.instrument)) \
        .group_by(r.episode_id)
    out: dict[int, MeasureFacts] = {}
    for row in conn.execute(q).all():
        values = [to_day(v) if i % 2 == 0 else v for i, v in enumerate(row[1:13], start=1)]
        out[row[0]] = MeasureFacts(*values, row[13], to_day(row[14]))
    return out


def contact_facts(conn: Connection, scope: Any) -> dict[int, ContactFacts]:
    """Per episode with live contacts: `ContactFacts`. One windowed query plus the contacts entered
    on another day than they happened (the registry applies its look-back window to those)."""
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
    lags: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for eid, at, days in conn.execute(
        select(Contact.episode_id, raw(Contact.contact_at), lag)
        .where(Contact.episode_id.in_(scope), Contact.voided_at.is_(None), lag != 0)
        .order_by(Contact.episode_id, Contact.contact_at)
    ).all():
        lags[eid].append((to_day(at), days))  # type: ignore[arg-type]
    return {
        eid: ContactFacts(True, to_day(last_ok), failed_n or 0, to_day(open_q), to_day(first), to_day(zero),
                          tuple(lags[eid]) if eid in lags else None)
        for eid, last_ok, failed_n, open_q, first, zero in conn.execute(q).all()
    }


def recommendation_facts(conn: Connection, scope: Any) -> dict[int, RecommendationFacts]:
    """Per episode with recommendations: the oldest awaiting approval, the oldest approved (or
    modified) not yet told, and how many are not closed."""
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
    return {eid: RecommendationFacts(to_day(a), to_day(b), n or 0) for eid, a, b, n in conn.execute(q).all()}


# ---- the cache ---------------------------------------------------------------------------------------

def _stored(values: RegistryFactsRow) -> dict[str, Any]:
    row = values._asdict()
    lags, days = values.lags, values.reviewed_days  # JSON holds ISO days
    row["lags"] = None if lags is None else [[d.isoformat(), lag] for d, lag in lags]
    row["reviewed_days"] = None if days is None else [d.isoformat() for d in days]
    return row


def write_facts(conn: Connection, facts: dict[int, RegistryFactsRow]) -> None:
    """Replace the cache rows of these episodes (in the caller's transaction)."""
    ids = sorted(facts)  # in id order: two reads caching the same rows at once cannot deadlock
    for i in range(0, len(ids), 500):
        conn.execute(delete(RegistryFacts).where(RegistryFacts.episode_id.in_(ids[i:i + 500])))
    conn.execute(insert(RegistryFacts), [{"episode_id": eid, **_stored(facts[eid])} for eid in ids])


def cached_facts(conn: Connection) -> dict[int, RegistryFactsRow]:
    """Every row of the cache, by episode (the exactness check compares them with fresh facts)."""
    decode = FactsDecoder()
    return {r[0]: decode(r[1:]) for r in fetch_plain(conn, select(RegistryFacts.episode_id, *_FACT_SELECT))}


def update_billing_facts(conn: Connection, month: date, facts: Iterable[tuple[int, RegistryFactsRow]]) -> None:
    """Write the billing columns of these episodes' cache rows for `month`."""
    values = [{"eid": eid, "b_month": month, "b_minutes": f.minutes, "b_code": f.next_code,
               "b_needed": f.minutes_needed, "b_label": f.billing_label} for eid, f in facts]
    if not values:
        return
    conn.execute(
        update(RegistryFacts).where(RegistryFacts.episode_id == bindparam("eid")).values(
            billing_month=bindparam("b_month"), minutes=bindparam("b_minutes"),
            next_code=bindparam("b_code"), minutes_needed=bindparam("b_needed"),
            billing_label=bindparam("b_label")),
        values)


def episodes_of_patients(conn: Connection, patient_ids: Iterable[int]) -> list[int]:
    """Every episode of these patients (a registry read narrows them to the ones it lists)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return []
    return list(conn.execute(select(Episode.id).where(Episode.patient_id.in_(ids))).scalars())
