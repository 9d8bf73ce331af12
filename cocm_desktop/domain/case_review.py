"""Case review: the automatic agenda and the recommendation loop.

Loop (decision on the declined branch): recommended → approved | modified | declined (treating
clinician) → told_patient (care manager or clinician, with date and how) → closed. A declined
recommendation may be told to the patient when they were expecting a change, or closed directly.
An approved/modified recommendation cannot be closed before the patient has been told.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from cocm_desktop.domain.flags import Flag
from cocm_desktop.domain.roles import Permission, Role, require

# ---------------------------------------------------------------------------------------------
# Agenda


class AgendaGroup(StrEnum):
    # Declaration order is agenda order (the spec's): safety flags first, always.
    SAFETY = "safety"
    NEW = "new"
    NOT_IMPROVING = "not_improving"
    MEDICATION_QUESTION = "medication_question"
    FOLLOW_UP = "follow_up"

    @property
    def label(self) -> str:
        return _GROUP_LABELS[self]


_GROUP_LABELS = {
    AgendaGroup.SAFETY: "Safety flags",
    AgendaGroup.NEW: "New enrollments",
    AgendaGroup.NOT_IMPROVING: "Not improving",
    AgendaGroup.MEDICATION_QUESTION: "Medication questions",
    AgendaGroup.FOLLOW_UP: "Follow-ups from earlier reviews",
}
_GROUP_ORDER = {group: n for n, group in enumerate(AgendaGroup)}


def agenda_groups_for(
    *,
    ever_reviewed: bool,
    flags: Iterable[Flag] = (),
    open_question: bool = False,
    follow_up_requested: bool = False,
) -> frozenset[AgendaGroup]:
    """Which agenda groups an episode qualifies for.

    New = never reviewed (not only after the 14-day flag: every new enrollment is presented).
    Not improving and safety come from the registry flags; medication question = a contact carries
    an unanswered question for the consultant; follow-up = an earlier review asked to see the
    patient again or a recommendation loop is still open.
    """
    flag_set = set(flags)
    groups: set[AgendaGroup] = set()
    if not ever_reviewed:
        groups.add(AgendaGroup.NEW)
    if Flag.NOT_IMPROVING in flag_set:
        groups.add(AgendaGroup.NOT_IMPROVING)
    if open_question:
        groups.add(AgendaGroup.MEDICATION_QUESTION)
    if Flag.SAFETY in flag_set:
        groups.add(AgendaGroup.SAFETY)
    if follow_up_requested:
        groups.add(AgendaGroup.FOLLOW_UP)
    return frozenset(groups)


@dataclass(frozen=True, slots=True)
class AgendaCandidate:
    episode_id: Hashable
    groups: frozenset[AgendaGroup]
    name: str = ""  # patient display name, the tie-breaker
    since: date | None = None  # when the reason arose (enrolled on, question asked…): oldest first


@dataclass(frozen=True, slots=True)
class AgendaItem:
    episode_id: Hashable
    group: AgendaGroup  # the first group in agenda order the patient qualifies for
    reasons: tuple[AgendaGroup, ...]  # every group, in agenda order (shown as chips)
    manual: bool  # added by the care manager
    name: str
    since: date | None
    carried: bool = False  # not reached at the care manager's previous session


def build_agenda(
    candidates: Iterable[AgendaCandidate],
    *,
    added: Iterable[AgendaCandidate] = (),
    dropped: Iterable[Hashable] = (),
    carried: Iterable[Hashable] = (),
) -> list[AgendaItem]:
    """One item per episode in agenda order: safety flags first; then the patients carried over
    (not reached at the previous session) in their groups' order; then everyone else by group.
    Inside a group, oldest `since` first, then name.

    Automatic candidates with no group are ignored. `added` are the care manager's additions: they
    go in their first group, or in follow-ups when they carry none; an added patient already on the
    agenda keeps the automatic place but is marked manual. `dropped` removes episodes (manual drop
    wins over everything, including additions). `carried` only moves episodes that are on the
    agenda anyway (the caller passes carried candidates with their reasons).
    """
    drop = set(dropped)
    carry = set(carried)
    items: dict[Hashable, AgendaItem] = {}
    for cand, manual in [(c, False) for c in candidates] + [(c, True) for c in added]:
        if cand.episode_id in drop:
            continue
        groups = set(cand.groups)
        previous = items.get(cand.episode_id)
        if previous is not None:
            groups |= set(previous.reasons)
            manual = manual or previous.manual
        if not groups:
            if not manual:
                continue
            groups = {AgendaGroup.FOLLOW_UP}
        reasons = tuple(sorted(groups, key=_GROUP_ORDER.__getitem__))
        since = cand.since
        if previous is not None and previous.since is not None and (since is None or previous.since < since):
            since = previous.since
        items[cand.episode_id] = AgendaItem(
            episode_id=cand.episode_id,
            group=reasons[0],
            reasons=reasons,
            manual=manual,
            name=cand.name or (previous.name if previous else ""),
            since=since,
            carried=cand.episode_id in carry,
        )
    return sorted(items.values(), key=_agenda_key)


def _agenda_key(i: AgendaItem) -> tuple:  # type: ignore[type-arg]
    # A carried patient comes before any new reason, but never before a safety flag.
    first = 0 if i.group is AgendaGroup.SAFETY else (1 if i.carried else 2)
    return (first, _GROUP_ORDER[i.group], i.since is None, i.since or date.min, i.name.casefold(), str(i.episode_id))


def session_capacity(session_minutes: int, minutes_per_patient: int) -> int:
    """Patients one session has time for (at least one)."""
    return max(1, session_minutes // max(1, minutes_per_patient))


def size_agenda(
    items: Iterable[AgendaItem], capacity: int, *, pinned: Iterable[Hashable] = (),
) -> tuple[list[AgendaItem], list[AgendaItem]]:
    """Split an ordered agenda into (on the agenda, not reached) for a session with room for
    `capacity` patients.

    Pinned items (added by hand, or already discussed) always stay on the agenda, where their
    group puts them, and use up room; the other items fill what is left in agenda order. The
    rest is "not reached", in the same order (carried first into the next session).
    """
    ordered = list(items)
    pin = set(pinned)
    room = capacity - sum(1 for i in ordered if i.episode_id in pin)
    on: list[AgendaItem] = []
    not_reached: list[AgendaItem] = []
    for item in ordered:
        if item.episode_id in pin:
            on.append(item)
        elif room > 0:
            on.append(item)
            room -= 1
        else:
            not_reached.append(item)
    return on, not_reached


def group_agenda(items: Iterable[AgendaItem]) -> list[tuple[AgendaGroup, list[AgendaItem]]]:
    """Agenda items under their group headings, empty groups omitted (for the packet and the pane)."""
    by_group: dict[AgendaGroup, list[AgendaItem]] = {}
    for item in items:
        by_group.setdefault(item.group, []).append(item)
    return [(g, by_group[g]) for g in AgendaGroup if g in by_group]


# ---------------------------------------------------------------------------------------------
# Recommendations


class RecommendationKind(StrEnum):
    MEDICATION_START = "medication_start"
    MEDICATION_CHANGE = "medication_change"
    MEDICATION_STOP = "medication_stop"
    PSYCHOTHERAPY = "psychotherapy"
    REFERRAL = "referral"
    DIAGNOSIS_CLARIFICATION = "diagnosis_clarification"
    CONTINUE = "continue"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]

    @property
    def needs_drug(self) -> bool:
        return self in MEDICATION_KINDS

    @property
    def needs_dose(self) -> bool:
        return self in (RecommendationKind.MEDICATION_START, RecommendationKind.MEDICATION_CHANGE)


_KIND_LABELS = {
    RecommendationKind.MEDICATION_START: "Start medication",
    RecommendationKind.MEDICATION_CHANGE: "Change medication",
    RecommendationKind.MEDICATION_STOP: "Stop medication",
    RecommendationKind.PSYCHOTHERAPY: "Psychotherapy",
    RecommendationKind.REFERRAL: "Referral",
    RecommendationKind.DIAGNOSIS_CLARIFICATION: "Diagnosis clarification",
    RecommendationKind.CONTINUE: "Continue current plan",
}

MEDICATION_KINDS: frozenset[RecommendationKind] = frozenset(
    {RecommendationKind.MEDICATION_START, RecommendationKind.MEDICATION_CHANGE, RecommendationKind.MEDICATION_STOP}
)


class RecommendationError(ValueError):
    """A recommendation or loop change the rules refuse; the message is shown as is."""


def check_recommendation(kind: RecommendationKind | str, drug: str | None = None, dose: str | None = None) -> None:
    """Medication kinds need the drug; start and change also need the dose (e.g. "sertraline", "50 mg daily")."""
    try:
        k = RecommendationKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in RecommendationKind)
        raise RecommendationError(f"Unknown recommendation kind {kind!r}; use one of: {known}.") from None
    if k.needs_drug and not (drug or "").strip():
        raise RecommendationError(f"{k.label}: name the drug.")
    if k.needs_dose and not (dose or "").strip():
        raise RecommendationError(f"{k.label}: give the dose.")


class LoopState(StrEnum):
    RECOMMENDED = "recommended"
    APPROVED = "approved"
    MODIFIED = "modified"
    DECLINED = "declined"
    TOLD_PATIENT = "told_patient"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]

    @property
    def is_open(self) -> bool:
        return self is not LoopState.CLOSED


_STATE_LABELS = {
    LoopState.RECOMMENDED: "Awaiting clinician",
    LoopState.APPROVED: "Approved",
    LoopState.MODIFIED: "Approved with changes",
    LoopState.DECLINED: "Declined",
    LoopState.TOLD_PATIENT: "Patient told",
    LoopState.CLOSED: "Closed",
}

# (from, to) → the permission the acting role needs.
_LOOP: Mapping[tuple[LoopState, LoopState], Permission] = {
    (LoopState.RECOMMENDED, LoopState.APPROVED): Permission.DECIDE_RECOMMENDATION,
    (LoopState.RECOMMENDED, LoopState.MODIFIED): Permission.DECIDE_RECOMMENDATION,
    (LoopState.RECOMMENDED, LoopState.DECLINED): Permission.DECIDE_RECOMMENDATION,
    (LoopState.APPROVED, LoopState.TOLD_PATIENT): Permission.CLOSE_LOOP,
    (LoopState.MODIFIED, LoopState.TOLD_PATIENT): Permission.CLOSE_LOOP,
    (LoopState.DECLINED, LoopState.TOLD_PATIENT): Permission.CLOSE_LOOP,
    (LoopState.DECLINED, LoopState.CLOSED): Permission.CLOSE_LOOP,
    (LoopState.TOLD_PATIENT, LoopState.CLOSED): Permission.CLOSE_LOOP,
}

TOLD_MODES: tuple[str, ...] = ("phone", "video", "portal", "in_person")


def next_loop_states(state: LoopState | str) -> tuple[LoopState, ...]:
    s = LoopState(state)
    return tuple(to for (frm, to) in _LOOP if frm is s)


def loop_transition(
    state: LoopState | str,
    to: LoopState | str,
    role: Role | str,
    *,
    note: str | None = None,
    told_how: str | None = None,
) -> LoopState:
    """Validate one loop step and return the new state.

    Raises RecommendationError for a step the loop does not have (or missing details: a
    modification needs a note saying what changed; telling the patient needs how — one of
    TOLD_MODES) and roles.PermissionDenied when the role may not take the step. The service stores
    who and when with the new state.
    """
    try:
        src, dst = LoopState(state), LoopState(to)
    except ValueError as exc:
        raise RecommendationError(str(exc)) from None
    permission = _LOOP.get((src, dst))
    if permission is None:
        if src is LoopState.CLOSED:
            raise RecommendationError("This recommendation is closed; record a new one at case review.")
        if dst is LoopState.CLOSED and src in (LoopState.APPROVED, LoopState.MODIFIED):
            raise RecommendationError("Tell the patient about the approved change before closing the loop.")
        if src is LoopState.RECOMMENDED:
            raise RecommendationError("The treating clinician must approve, modify or decline it first.")
        raise RecommendationError(f"A recommendation cannot go from {src.label.lower()} to {dst.label.lower()}.")
    require(role, permission)
    if dst is LoopState.MODIFIED and not (note or "").strip():
        raise RecommendationError("Say what was modified.")
    if dst is LoopState.TOLD_PATIENT and told_how not in TOLD_MODES:
        raise RecommendationError(f"Say how the patient was told: {', '.join(TOLD_MODES)}.")
    return dst


def waiting_since_kind(state: LoopState | str) -> str | None:
    """Which registry fact a loop in this state feeds: "awaiting_approval", "not_told" or None."""
    s = LoopState(state)
    if s is LoopState.RECOMMENDED:
        return "awaiting_approval"
    if s in (LoopState.APPROVED, LoopState.MODIFIED):
        return "not_told"
    return None
