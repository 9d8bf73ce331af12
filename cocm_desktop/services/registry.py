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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from fractions import Fraction

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.flags import EpisodeFacts, Flag, FlagHit, compute_flags
from cocm_desktop.domain.outcomes import change_from_baseline
from cocm_desktop.domain.policy import Policy
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store import invalidation
from cocm_desktop.store.clinic_db import ClinicDatabase
from cocm_desktop.store.models import User
from cocm_desktop.store.reads import registry_reads
from cocm_desktop.store.reads.registry_reads import RegistryEpisode, RegistryFactsRow, RegistryQuery

from . import registry_facts
from ._perf import without_gc
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


def registry_rows_of(session: Session, actor: Actor, patient_ids: Iterable[int], *,
                     today: date | None = None) -> list[RegistryRow]:
    """The registry rows of these patients only, exactly as `build_registry` lists them (none for a
    patient no longer on the registry): what a change to a few patients needs re-reading."""
    check(actor, Permission.READ_REGISTRY)
    episodes = registry_reads.episodes_of_patients(session.connection(), patient_ids)
    if not episodes:
        return []
    return [r for r, _ in collect(session, today=today or local_today(), episode_ids=episodes)]


def warm_cache(db: ClinicDatabase, *, today: date | None = None,
               stop: Callable[[], bool] | None = None) -> int:
    """Fill the facts cache for every open episode in short units of work; the number of rounds.

    On the clinic server one registry read stores the facts of at most `READ_PATIENT_LOCKS`
    patients (store.write_locks: a read holds few locks, briefly), so a clinic loaded in bulk
    (`server demo`) would answer its first whole-clinic reads from a mostly cold cache. Each round
    here is its own transaction over the next batch; a round that stores nothing (writers busy with
    those patients) ends the warm-up — the registry computes what is missing, as always. On the
    file one round stores everything. `stop()` true ends it between rounds (a sign-out)."""
    left: int | None = None
    rounds = 0
    while True:
        def one_round(session: Session) -> int:
            day = today or local_today()
            policy = load_policy(session)
            month = day.replace(day=1)
            rows = registry_reads.registry_rows(session.connection(), RegistryQuery(day))
            stale = [e for e, f in rows if f is None or f.remission_below != policy.remission_below
                     or f.billing_month != month]
            batch = registry_facts.cache_candidates(session, {e.patient_id for e in stale})
            if batch:
                collect(session, today=day, policy=policy,
                        episode_ids=[e.episode_id for e in stale if e.patient_id in batch])
            return len(stale)

        if stop is not None and stop():
            return rounds
        stale_now = db.run(one_round)
        rounds += 1
        if stale_now == 0 or (left is not None and stale_now >= left):
            return rounds
        left = stale_now


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
    if cached and invalidation.pending(session):
        cached = False  # this unit of work wrote on the server: its stale rows go only at commit
    policy = policy or load_policy(session)
    month = today.replace(day=1)
    statuses = None if not status else ((status,) if isinstance(status, str) else tuple(status))
    query = RegistryQuery(today, care_manager_id, statuses, text,
                          None if episode_ids is None else tuple(episode_ids))
    conn = session.connection()  # Core rows: no ORM loading machinery for 10k-row reads
    base_rows = registry_reads.registry_rows(conn, query, cached=cached)
    if not base_rows:
        return []
    facts: dict[int, RegistryFactsRow] = {}
    remission = policy.remission_below
    keep: set[int] = set()  # patients whose facts this read may store
    if cached:
        new_month: list[int] = []
        for e, f in base_rows:
            if f is not None and f.remission_below == remission:
                facts[e.episode_id] = f
                if with_billing and f.billing_month != month:
                    new_month.append(e.episode_id)
        renew = set(new_month)
        stale = [e for e, _ in base_rows if e.episode_id not in facts or e.episode_id in renew]
        candidates = registry_facts.cache_candidates(session, {e.patient_id for e in stale})
        later = [e.episode_id for e in stale if e.patient_id not in candidates]
        if later:  # computed (not stored) before any lock is taken, so locks are held briefly
            for eid in later:
                facts.pop(eid, None)
            facts.update(registry_facts.compute(
                session, registry_reads.scope_of(query, later, in_limit=_IN_LIMIT), policy, month, set(later)))
        # Locked (on the server) before their facts are computed: no write to these patients can
        # commit between the computation and this read's commit (store.write_locks).
        keep = registry_facts.cacheable(session, candidates)
        for e in stale:
            if e.patient_id in candidates and e.patient_id not in keep and e.episode_id in renew:
                del facts[e.episode_id]  # its billing is computed afresh below, not stored
        new_month = [e.episode_id for e in stale if e.episode_id in renew and e.patient_id in keep]
        if new_month:  # a new month (or one never computed): only the billing columns are stale
            registry_facts.refresh_billing(session, facts, new_month, month)
    missing = [e.episode_id for e, _ in base_rows if e.episode_id not in facts]
    if missing:
        scope = registry_reads.scope_of(query, missing, in_limit=_IN_LIMIT)
        fresh = registry_facts.compute(session, scope, policy, month, set(missing))
        if cached:
            registry_facts.store(session, {eid: f for eid, f in fresh.items() if f.patient_id in keep})
        facts.update(fresh)
    return [_assemble(e, facts[e.episode_id], today, policy) for e, _ in base_rows]


_IN_LIMIT = 900


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


def _assemble(
    r: RegistryEpisode, f: RegistryFactsRow, today: date, policy: Policy
) -> tuple[RegistryRow, RegistryExtras]:
    """One registry row from its episode columns `r` and facts `f` (hot loop: 10k rows; both
    unpacked in their declared field order)."""
    (eid, pid, family, given, mrn, cm_id, cm_name, cl_id, cl_name, program, st, enrolled_on, scale,
     next_action, next_action_on, transfer_to, transfer_confirmed) = r
    (_pid, _rem, p_last, p_last_on, p_prev, p_prev_on, p_base, p_base_on,
     g_last, g_last_on, g_prev, g_prev_on, g_base, g_base_on, item9, remission_since,
     has_contacts, last_contact_on, failed, open_q, first_contact_on, zero_lag_on, lags,
     awaiting, approved_not_told, open_loops, reviewed, referral_since, risk_since, consent, plan,
     _month, minutes, next_code, minutes_needed, billing_label) = f
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
    if reviewed:  # session days, ascending: the newest held by today
        past = [x for x in reviewed if x <= today]
        reviewed_on = past[-1] if past else None
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
