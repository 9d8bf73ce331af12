"""Registry flags: the twelve at-a-glance warnings of the registry, with a reason for each chip.

The registry query fills one `EpisodeFacts` per open episode with plain values (dates, ints, bools)
that a set-based SQL query can produce; `compute_flags` then costs a few microseconds per row.

Threshold convention: "more than N days" means `(today − date).days > N`, so with N = 14 day 14 is
not flagged and day 15 is. "Within N days" is the complement (day N is still within).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from cocm_desktop.domain.outcomes import weeks_in_treatment
from cocm_desktop.domain.policy import DEFAULT_POLICY, Policy
from cocm_desktop.domain.schedule import Phase, cadence_phase, contact_interval_days, measure_interval_days


class Flag(StrEnum):
    # Declaration order is display priority (safety first).
    SAFETY = "safety"
    CONTACT_OVERDUE = "contact_overdue"
    MEASURE_DUE = "measure_due"
    NOT_IMPROVING = "not_improving"
    NEW_NOT_REVIEWED = "new_not_reviewed"
    RECOMMENDATION_WAITING = "recommendation_waiting"
    NEXT_ACTION_OVERDUE = "next_action_overdue"
    MISSING_ELEMENT = "missing_element"
    REGISTRY_LAG = "registry_lag"
    REFERRAL_UNCONFIRMED = "referral_unconfirmed"
    DISENGAGED = "disengaged"
    STEPDOWN_CANDIDATE = "stepdown_candidate"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def colour(self) -> str:
        """Chip background (hex); all are dark enough for white text."""
        return _COLOURS[self]

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_LABELS = {
    Flag.SAFETY: "Safety",
    Flag.CONTACT_OVERDUE: "Contact overdue",
    Flag.MEASURE_DUE: "Measure due",
    Flag.NOT_IMPROVING: "Not improving",
    Flag.NEW_NOT_REVIEWED: "New, not reviewed",
    Flag.RECOMMENDATION_WAITING: "Recommendation waiting",
    Flag.NEXT_ACTION_OVERDUE: "Next action overdue",
    Flag.MISSING_ELEMENT: "Missing element",
    Flag.REGISTRY_LAG: "Registry lag",
    Flag.REFERRAL_UNCONFIRMED: "Referral unconfirmed",
    Flag.DISENGAGED: "Disengaged?",
    Flag.STEPDOWN_CANDIDATE: "Step-down candidate",
}

_COLOURS = {
    Flag.SAFETY: "#C62828",
    Flag.CONTACT_OVERDUE: "#E65100",
    Flag.MEASURE_DUE: "#B26A00",
    Flag.NOT_IMPROVING: "#6A1B9A",
    Flag.NEW_NOT_REVIEWED: "#1565C0",
    Flag.RECOMMENDATION_WAITING: "#00838F",
    Flag.NEXT_ACTION_OVERDUE: "#BF360C",
    Flag.MISSING_ELEMENT: "#546E7A",
    Flag.REGISTRY_LAG: "#6D4C41",
    Flag.REFERRAL_UNCONFIRMED: "#283593",
    Flag.DISENGAGED: "#AD1457",
    Flag.STEPDOWN_CANDIDATE: "#2E7D32",
}

_DESCRIPTIONS = {
    Flag.SAFETY: "Last PHQ-9 item 9 above 0, or an open risk event without a documented outcome.",
    Flag.CONTACT_OVERDUE: "No successful contact within the cadence.",
    Flag.MEASURE_DUE: "Last primary-scale measure older than the cadence.",
    Flag.NOT_IMPROVING: "10 or more weeks without response, not reviewed at case review in the last 4 weeks.",
    Flag.NEW_NOT_REVIEWED: "Enrolled more than 14 days ago and never on a case review.",
    Flag.RECOMMENDATION_WAITING: "Awaiting clinician approval, or approved but not told to the patient, "
    "for more than 3 days.",
    Flag.NEXT_ACTION_OVERDUE: "The next action's date has passed.",
    Flag.MISSING_ELEMENT: "No consent, no care plan, or no baseline measure.",
    Flag.REGISTRY_LAG: "A recent contact was entered more than 2 days after it happened.",
    Flag.REFERRAL_UNCONFIRMED: "A referral older than 30 days is not confirmed seen.",
    Flag.DISENGAGED: "3 or more failed outreach attempts and no successful contact in 30 days.",
    Flag.STEPDOWN_CANDIDATE: "Remission on two measures at least 4 weeks apart.",
}


class FlagHit:
    """One flag on one registry row: `.flag` and `.reason` (a plain sentence for the chip tooltip).

    The reason is formatted on first access: the registry computes flags for every row but shows a
    tooltip for one, and formatting dates is most of the cost.
    """

    __slots__ = ("flag", "_reason", "_build", "_args")

    def __init__(self, flag: Flag, reason: str | None = None, *, build: Callable[..., str] | None = None,
                 args: tuple[Any, ...] = ()) -> None:
        if reason is None and build is None:
            raise ValueError("A flag hit needs a reason")
        self.flag = flag
        self._reason = reason
        self._build = build
        self._args = args

    @property
    def reason(self) -> str:
        if self._reason is None:
            assert self._build is not None
            self._reason = self._build(*self._args)
        return self._reason

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlagHit):
            return NotImplemented
        return self.flag is other.flag and self.reason == other.reason

    def __hash__(self) -> int:
        return hash((self.flag, self.reason))

    def __repr__(self) -> str:
        return f"FlagHit({self.flag.value!r}, {self.reason!r})"


@dataclass(frozen=True, slots=True)
class EpisodeFacts:
    """Plain per-episode values for the flags; every field a set-based registry query can fill.

    Measures are of the episode's primary scale unless the name says PHQ-9. Dates are the clinic's
    local calendar dates.
    """

    enrolled_on: date
    status: str = "active"  # EpisodeStatus value
    program: str = "cocm"  # Program value
    primary_scale: str = "PHQ-9"
    baseline_total: int | None = None
    baseline_on: date | None = None
    latest_total: int | None = None  # newest primary-scale measure (may be the baseline itself)
    latest_on: date | None = None
    previous_total: int | None = None  # the one before the newest (for the stable phase)
    previous_on: date | None = None
    # First measure of the current unbroken run of remission scores (outcomes.remission_run_start);
    # when None, the step-down flag falls back to previous/latest.
    remission_since: date | None = None
    last_phq9_item9: int | None = None  # from the newest PHQ-9, whatever the primary scale
    last_phq9_on: date | None = None
    open_risk_since: date | None = None  # oldest risk event without a documented outcome
    last_contact_on: date | None = None  # newest *successful* contact
    failed_attempts_since_contact: int = 0  # outreach attempts not reached, after last_contact_on
    next_action_on: date | None = None
    last_case_review_on: date | None = None  # newest case review that discussed this episode
    awaiting_approval_since: date | None = None  # oldest recommendation still "recommended"
    approved_not_told_since: date | None = None  # oldest approved/modified not yet told to patient
    has_consent: bool = False
    has_care_plan: bool = False
    # Largest (entered date − contact date) in days among contacts in policy.registry_lag_lookback_days.
    max_registry_lag_days: int | None = None
    lagged_contact_on: date | None = None  # the contact that had that lag (for the reason text)
    oldest_unconfirmed_referral_on: date | None = None  # sent/scheduled, not seen, not declined

    @property
    def ever_reviewed(self) -> bool:
        return self.last_case_review_on is not None

    @property
    def has_baseline(self) -> bool:
        return self.baseline_total is not None


def registry_lag_days(contact_on: date, entered_at: date) -> int:
    """Whole days between a contact's (local) date and the (local) date it was entered."""
    entered_day = entered_at.date() if isinstance(entered_at, datetime) else entered_at
    contact_day = contact_on.date() if isinstance(contact_on, datetime) else contact_on
    return (entered_day - contact_day).days


def phase_of(facts: EpisodeFacts, policy: Policy = DEFAULT_POLICY) -> Phase:
    """Cadence phase from the facts: the previous measure counts only when taken after the baseline."""
    followups: list[int] = []
    if facts.latest_total is not None and facts.latest_on is not None and (
        facts.baseline_on is None or facts.latest_on > facts.baseline_on
    ):
        if facts.previous_total is not None and facts.previous_on is not None and (
            facts.baseline_on is None or facts.previous_on > facts.baseline_on
        ):
            followups.append(facts.previous_total)
        followups.append(facts.latest_total)
    return cadence_phase(facts.status, facts.baseline_total, followups, policy)


class _Cutoffs:
    """Policy thresholds turned into dates for one `today`: "more than N days before today" becomes
    `d < today − N`, a cheap comparison with no per-row arithmetic."""

    __slots__ = (
        "today", "policy", "contact", "measure", "baseline", "not_improving_enrolled", "review",
        "new", "waiting", "referral", "disengaged",
    )

    def __init__(self, today: date, policy: Policy) -> None:
        def back(days: int) -> date:
            return today - timedelta(days=days)

        self.today = today
        self.policy = policy
        self.contact = {phase: back(contact_interval_days(phase, policy)) for phase in Phase}
        self.measure = {phase: back(measure_interval_days(phase, policy)) for phase in Phase}
        self.baseline = back(policy.baseline_window_days)
        self.not_improving_enrolled = back(7 * policy.not_improving_weeks)  # enrolled on/before → ≥ N weeks
        self.review = back(policy.not_improving_review_window_days)
        self.new = back(policy.new_not_reviewed_days)
        self.waiting = back(policy.recommendation_waiting_days)
        self.referral = back(policy.referral_unconfirmed_days)
        self.disengaged = back(policy.disengaged_days)


_cutoff_cache: _Cutoffs | None = None


def _cutoffs(today: date, policy: Policy) -> _Cutoffs:
    global _cutoff_cache
    cached = _cutoff_cache
    if cached is None or cached.policy is not policy or cached.today != today:
        cached = _cutoff_cache = _Cutoffs(today, policy)
    return cached


def _target(baseline: int | None, total: int | None, policy: Policy) -> bool:
    # Inline form of outcomes.at_target (hot path): remission, or ≥ response % reduction.
    if total is None:
        return False
    if total < policy.remission_below:
        return True
    return bool(baseline) and 100 * (baseline - total) >= policy.response_percent * baseline  # type: ignore[operator]


# Reason builders: called only when a tooltip is shown.
def _r_safety(item9: int | None, on: date | None, risk_since: date | None) -> str:
    parts = []
    if item9:
        parts.append(f"Last PHQ-9 item 9 = {item9} on {on}")
    if risk_since is not None:
        parts.append(f"Risk event of {risk_since} has no documented outcome")
    return "; ".join(parts)


def _r_contact(last: date | None, enrolled: date, phase: Phase, interval: int) -> str:
    what = f"No successful contact since {last}" if last is not None else (
        f"No successful contact since enrollment on {enrolled}"
    )
    return f"{what}; {phase.label.lower()} cadence is every {interval} days"


def _r_baseline(scale: str, enrolled: date, window: int) -> str:
    return f"No {scale} since enrollment on {enrolled}; the baseline was due within {window} days"


def _r_measure(scale: str, latest: date, phase: Phase, interval: int) -> str:
    return f"Last {scale} on {latest}; {phase.label.lower()} cadence is every {interval} days"


def _r_not_improving(f: EpisodeFacts, today: date) -> str:
    scale = f.primary_scale
    if f.baseline_total is not None and f.latest_total is not None:
        scores = f"{scale} {f.baseline_total} \u2192 {f.latest_total}"
    else:
        scores = f"no baseline {scale}" if f.baseline_total is None else f"no follow-up {scale}"
    review = f"last case review {f.last_case_review_on}" if f.last_case_review_on is not None else "never reviewed"
    weeks = weeks_in_treatment(f.enrolled_on, today)
    return f"{weeks} weeks in treatment without response ({scores}); {review}"


def _r_new(enrolled: date, today: date) -> str:
    return f"Enrolled {enrolled} ({(today - enrolled).days} days ago) and never discussed at case review"


def _r_waiting(awaiting: date | None, not_told: date | None) -> str:
    parts = []
    if awaiting is not None:
        parts.append(f"Recommendation awaiting clinician approval since {awaiting}")
    if not_told is not None:
        parts.append(f"Approved recommendation not yet told to the patient since {not_told}")
    return "; ".join(parts)


def _r_next_action(on: date) -> str:
    return f"Next action was due {on}"


def _r_missing(consent: bool, care_plan: bool, baseline: bool, scale: str) -> str:
    missing = [what for ok, what in ((consent, "consent"), (care_plan, "care plan"),
                                     (baseline, f"baseline {scale}")) if not ok]
    return "Missing: " + ", ".join(missing)


def _r_lag(lag: int, on: date | None) -> str:
    where = f" on {on}" if on is not None else ""
    return f"A contact{where} was entered {lag} days after it happened"


def _r_referral(on: date, today: date) -> str:
    return f"Referral of {on} not confirmed seen after {(today - on).days} days"


def _r_disengaged(attempts: int, since: date) -> str:
    return f"{attempts} failed outreach attempts; no successful contact since {since}"


def _r_stepdown(scale: str, start: date, latest: int | None, latest_on: date) -> str:
    return f"{scale} in remission since {start} (latest {latest} on {latest_on})"


def compute_flags(facts: EpisodeFacts, today: date, policy: Policy = DEFAULT_POLICY) -> list[FlagHit]:
    """All flags of one open episode, in Flag order. Closed episodes have none.

    Decisions beyond the spec table: "measure due" and "contact overdue" follow the cadence phase
    (schedule.py) of the primary scale; with no measure yet the baseline is due at the end of the
    baseline window; with no successful contact yet, enrollment counts as the last contact.
    "New, not reviewed" is CoCM only (BHI has no psychiatric case review). Step-down candidates
    exclude episodes already in relapse prevention. "Not improving" treats remission as at target.
    """
    f = facts
    status = f.status
    if status == "closed":
        return []
    c = _cutoffs(today, policy)
    hits: list[FlagHit] = []
    baseline = f.baseline_total
    latest = f.latest_total
    latest_on = f.latest_on

    if f.last_phq9_item9 or f.open_risk_since is not None:
        hits.append(FlagHit(Flag.SAFETY, build=_r_safety, args=(f.last_phq9_item9, f.last_phq9_on, f.open_risk_since)))

    # Cadence phase (same rule as schedule.cadence_phase, inlined for speed).
    if status == "relapse_prevention":
        phase = Phase.RELAPSE_PREVENTION
    else:
        phase = Phase.EARLY
        b_on = f.baseline_on
        p_on = f.previous_on
        if (
            latest_on is not None and p_on is not None and f.previous_total is not None
            and (b_on is None or p_on > b_on)
            and _target(baseline, latest, policy) and _target(baseline, f.previous_total, policy)
        ):
            phase = Phase.STABLE

    since = f.last_contact_on or f.enrolled_on
    if since < c.contact[phase]:
        hits.append(FlagHit(Flag.CONTACT_OVERDUE, build=_r_contact, args=(
            f.last_contact_on, f.enrolled_on, phase, contact_interval_days(phase, policy))))

    if latest_on is None:
        if f.enrolled_on < c.baseline:
            hits.append(FlagHit(Flag.MEASURE_DUE, build=_r_baseline, args=(
                f.primary_scale, f.enrolled_on, policy.baseline_window_days)))
    elif latest_on < c.measure[phase]:
        hits.append(FlagHit(Flag.MEASURE_DUE, build=_r_measure, args=(
            f.primary_scale, latest_on, phase, measure_interval_days(phase, policy))))

    reviewed = f.last_case_review_on
    if (
        f.enrolled_on <= c.not_improving_enrolled
        and (reviewed is None or reviewed < c.review)
        and not _target(baseline, latest, policy)
    ):
        hits.append(FlagHit(Flag.NOT_IMPROVING, build=_r_not_improving, args=(f, today)))

    if reviewed is None and f.program == "cocm" and f.enrolled_on < c.new:
        hits.append(FlagHit(Flag.NEW_NOT_REVIEWED, build=_r_new, args=(f.enrolled_on, today)))

    awaiting = f.awaiting_approval_since
    awaiting = awaiting if awaiting is not None and awaiting < c.waiting else None
    not_told = f.approved_not_told_since
    not_told = not_told if not_told is not None and not_told < c.waiting else None
    if awaiting is not None or not_told is not None:
        hits.append(FlagHit(Flag.RECOMMENDATION_WAITING, build=_r_waiting, args=(awaiting, not_told)))

    if f.next_action_on is not None and f.next_action_on < today:
        hits.append(FlagHit(Flag.NEXT_ACTION_OVERDUE, build=_r_next_action, args=(f.next_action_on,)))

    if not (f.has_consent and f.has_care_plan and baseline is not None):
        hits.append(FlagHit(Flag.MISSING_ELEMENT, build=_r_missing, args=(
            f.has_consent, f.has_care_plan, baseline is not None, f.primary_scale)))

    lag = f.max_registry_lag_days
    if lag is not None and lag > policy.registry_lag_days:
        hits.append(FlagHit(Flag.REGISTRY_LAG, build=_r_lag, args=(lag, f.lagged_contact_on)))

    referral = f.oldest_unconfirmed_referral_on
    if referral is not None and referral < c.referral:
        hits.append(FlagHit(Flag.REFERRAL_UNCONFIRMED, build=_r_referral, args=(referral, today)))

    if f.failed_attempts_since_contact >= policy.disengaged_attempts and since < c.disengaged:
        hits.append(FlagHit(Flag.DISENGAGED, build=_r_disengaged, args=(f.failed_attempts_since_contact, since)))

    if (
        status != "relapse_prevention"
        and latest_on is not None
        and latest is not None
        and latest < policy.remission_below
    ):
        start = f.remission_since
        if start is None and f.previous_on is not None and f.previous_total is not None and (
            f.previous_total < policy.remission_below
        ):
            start = f.previous_on
        if start is not None and (latest_on - start).days >= policy.stepdown_remission_gap_days:
            hits.append(FlagHit(Flag.STEPDOWN_CANDIDATE, build=_r_stepdown, args=(
                f.primary_scale, start, latest, latest_on)))
    return hits


def compute_flags_many(
    rows: Iterable[EpisodeFacts], today: date, policy: Policy = DEFAULT_POLICY
) -> list[list[FlagHit]]:
    """compute_flags for a whole registry, in input order."""
    return [compute_flags(row, today, policy) for row in rows]
