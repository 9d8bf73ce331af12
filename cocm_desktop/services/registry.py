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

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from fractions import Fraction

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.flags import EpisodeFacts, Flag, FlagHit, compute_flags
from cocm_desktop.domain.outcomes import change_from_baseline
from cocm_desktop.domain.policy import Policy
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import (
    Episode,
    Patient,
    RegistryFacts,
    User,
)

from . import registry_facts
from ._perf import without_gc
from ._sql import raw, to_day
from .billing_history import day_reader, plain_rows
from .common import ValidationError, check, load_policy, local_today
from .registry_facts import FACT_COLUMNS, IX

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
    conds = [Episode.status != "closed", Episode.enrolled_on <= today,
             # a patient entered twice and voided leaves the registry (a few rows at most: no join)
             Episode.patient_id.not_in(select(Patient.id).where(Patient.voided_at.is_not(None)))]
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
    cached: bool = True,
) -> list[tuple[RegistryRow, RegistryExtras]]:
    """Rows with their agenda extras (no permission check: callers check their own).

    The facts come from the `registry_facts` cache; rows missing there (new, invalidated by a
    write, computed under another policy or billing month) are computed set-based and stored.
    `cached=False` computes every row afresh and stores nothing (the reference the cache is
    tested against)."""
    session.flush()  # the cache is invalidated at flush time; reads below bypass autoflush
    policy = policy or load_policy(session)
    month = today.replace(day=1)
    cm, cl = aliased(User), aliased(User)
    conds = _scope(today, care_manager_id, status, text, episode_ids)
    fact_cols = [raw(getattr(RegistryFacts, n)) if n in _RAW_FACTS else getattr(RegistryFacts, n)
                 for n in FACT_COLUMNS]
    base = (
        select(Episode.id, Episode.patient_id, Patient.family_name, Patient.given_name, Patient.mrn,
               Episode.care_manager_id, cm.display_name, Episode.treating_clinician_id, cl.display_name,
               Episode.program, Episode.status, raw(Episode.enrolled_on), Episode.primary_scale,
               Episode.next_action, raw(Episode.next_action_on), Episode.transfer_to,
               raw(Episode.transfer_confirmed_on), *(fact_cols if cached else ()))
        .join(Patient, Patient.id == Episode.patient_id)
        .join(cm, cm.id == Episode.care_manager_id)
        .join(cl, cl.id == Episode.treating_clinician_id)
        .where(*conds)
    )
    if cached:
        base = base.outerjoin(RegistryFacts, RegistryFacts.episode_id == Episode.id)
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
    # DB-API tuples: dates and JSON are read raw and decoded once per distinct value below; the
    # booleans come as 0/1, which is all the row assembly asks of them
    base_rows = plain_rows(conn, base.order_by(Patient.family_name, Patient.given_name, Episode.id))
    if not base_rows:
        return []
    n_base = 17
    facts: dict[int, tuple] = {}  # type: ignore[type-arg]
    remission = policy.remission_below
    if cached:
        i_rem, i_month = n_base + IX["remission_below"], n_base + IX["billing_month"]
        decode = _Decoder()
        month_iso = month.isoformat()
        new_month: list[int] = []
        for r in base_rows:
            if r[i_rem] == remission:
                facts[r[0]] = decode(r[n_base:])
                if with_billing and r[i_month] != month_iso:
                    new_month.append(r[0])
        if new_month:  # a new month (or one never computed): only the billing columns are stale
            registry_facts.refresh_billing(session, facts, new_month, month)
    missing = [r[0] for r in base_rows if r[0] not in facts]
    if missing:
        if len(missing) <= _IN_LIMIT:
            scope: object = missing
        elif q:
            scope = select(Episode.id).join(Patient, Patient.id == Episode.patient_id) \
                .join(cm, cm.id == Episode.care_manager_id).join(cl, cl.id == Episode.treating_clinician_id) \
                .where(*conds).where(base.whereclause).scalar_subquery()  # type: ignore[arg-type]
        else:
            scope = select(Episode.id).where(*conds).scalar_subquery()
        fresh = registry_facts.compute(session, scope, policy, month, set(missing))
        if cached:
            registry_facts.store(session, fresh)
        facts.update(fresh)
    day = day_reader()  # enrollment and next-action days repeat across 10k rows: parse each once
    return [_assemble(r, facts[r[0]], today, policy, day) for r in base_rows]


_IN_LIMIT = 900
_DATE_FACTS = frozenset(n for n in FACT_COLUMNS if n.endswith(("_on", "_since")))
_JSON_FACTS = frozenset(("lags", "reviewed_days"))
# Read as stored text and decoded once per distinct value (10k rows share few dates).
_RAW_FACTS = _DATE_FACTS | _JSON_FACTS | {"billing_month"}


class _Decoder:
    """Cached fact rows → the values `registry_facts.compute` returns (dates, lists)."""

    _dates = tuple(IX[n] for n in _DATE_FACTS)
    _json = tuple(IX[n] for n in _JSON_FACTS)

    def __init__(self) -> None:
        self.days: dict[object, date | None] = {None: None}
        self.lists: dict[str, list | None] = {"null": None}  # type: ignore[type-arg]  # read-only, shared

    def __call__(self, row) -> list:  # type: ignore[no-untyped-def,type-arg]
        f = list(row)
        days = self.days
        for i in self._dates:
            v = f[i]
            if v in days:
                f[i] = days[v]
            else:
                f[i] = days[v] = to_day(v)
        lists = self.lists
        for i in self._json:
            v = f[i]
            if v is not None:  # case-review days repeat across a caseload: parse each list once
                f[i] = lists[v] if v in lists else lists.setdefault(v, json.loads(v))
        return f


_ROW_FIELDS = tuple(f.name for f in fields(RegistryRow))


def _new_row(*values: object) -> RegistryRow:
    """RegistryRow(*values) without the frozen __init__'s per-field object.__setattr__ (a third
    of the registry's Python time at 10k rows); same instance, same equality."""
    row = object.__new__(RegistryRow)
    row.__dict__.update(zip(_ROW_FIELDS, values, strict=True))
    return row


_FACT_SLOTS = tuple(getattr(EpisodeFacts, f.name).__set__ for f in fields(EpisodeFacts))


def _new_facts(*values: object) -> EpisodeFacts:
    """EpisodeFacts(*values), every field given in order, set through its slots without the
    frozen __init__'s per-field object.__setattr__ (half its cost at 10k rows); same instance,
    same equality."""
    facts = object.__new__(EpisodeFacts)
    for put, value in zip(_FACT_SLOTS, values, strict=True):
        put(facts, value)
    return facts


def _assemble(r, f, today: date, policy: Policy, day=_day) -> tuple[RegistryRow, RegistryExtras]:  # type: ignore[no-untyped-def]
    """One registry row from its episode columns `r` and decoded facts `f` (hot loop: 10k rows)."""
    (eid, pid, family, given, mrn, cm_id, cm_name, cl_id, cl_name, program, st, enrolled_on, scale,
     next_action, next_action_on, transfer_to, transfer_confirmed) = r[:17]
    (_pid, _rem, p_last, p_last_on, p_prev, p_prev_on, p_base, p_base_on,
     g_last, g_last_on, g_prev, g_prev_on, g_base, g_base_on, item9, remission_since,
     has_contacts, last_contact_on, failed, open_q, first_contact_on, zero_lag_on, lags,
     awaiting, approved_not_told, open_loops, reviewed, referral_since, risk_since, consent, plan,
     _month, minutes, next_code, minutes_needed, billing_label) = f
    enrolled_on, next_action_on = day(enrolled_on), day(next_action_on)
    window = policy.baseline_window_days
    # A first score outside the baseline window is no baseline (missing element).
    if p_base_on is not None and (p_base_on - enrolled_on).days > window:
        p_base = p_base_on = None
    if g_base_on is not None and (g_base_on - enrolled_on).days > window:
        g_base = g_base_on = None
    if scale == PHQ9:
        s_last, s_last_on, s_prev, s_prev_on, s_base, s_base_on = p_last, p_last_on, p_prev, p_prev_on, p_base, \
            p_base_on
    else:
        s_last, s_last_on, s_prev, s_prev_on, s_base, s_base_on = g_last, g_last_on, g_prev, g_prev_on, g_base, \
            g_base_on
    reviewed_on = None
    if reviewed:  # session days, ISO, ascending: the newest held by today
        today_iso = today.isoformat()
        past = [x for x in reviewed if x <= today_iso]
        reviewed_on = date.fromisoformat(past[-1]) if past else None
    max_lag, lagged_on = registry_facts.lag_facts(
        has_contacts, first_contact_on, zero_lag_on, lags,
        today - timedelta(days=policy.registry_lag_lookback_days))
    failed = failed or 0
    facts = _new_facts(  # EpisodeFacts' fields in their order (tests/services/test_registry_assemble.py)
        enrolled_on, st, program, scale, s_base, s_base_on, s_last, s_last_on, s_prev, s_prev_on,
        remission_since, item9, p_last_on, risk_since, last_contact_on, failed, next_action_on,
        reviewed_on, awaiting, approved_not_told, bool(consent), bool(plan), max_lag, lagged_on,
        referral_since,
    )
    billed = minutes is not None
    row = _new_row(
        eid, pid, f"{family}, {given}", mrn, cm_id, cm_name, cl_id, cl_name, program, st, enrolled_on,
        max(0, (today - enrolled_on).days // 7), scale,  # outcomes.weeks_in_treatment, inlined
        p_base, p_base_on, p_last, p_last_on, _change_text(p_base, p_base_on, p_last, p_last_on),
        g_base, g_base_on, g_last, g_last_on, _change_text(g_base, g_base_on, g_last, g_last_on),
        last_contact_on, failed, next_action, next_action_on, reviewed_on,
        minutes or 0, next_code if billed else None, minutes_needed if billed else None,
        (billing_label or "") if billed else "",
        transfer_to if transfer_to and transfer_confirmed is None else None,
        tuple(compute_flags(facts, today, policy)), facts,
    )
    return row, RegistryExtras(open_q, open_loops or 0)


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
