"""Medication rules (workflow-and-rules.md, "Medications"): pure, no Qt, no SQL.

- A line is one drug at one dose: a dose change stops it and starts a new line; a stop closes it.
- An approved (or modified) medication recommendation proposes one change: start a drug, change
  its dose, or stop it. Which current line it changes is found by the drug's name (letter case
  and spacing aside); when that is not one line exactly, the clinician applies it by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from .case_review import RecommendationKind


class ChangeAction(StrEnum):
    START = "start"
    CHANGE = "change"
    STOP = "stop"

    @property
    def label(self) -> str:
        return {"start": "Start", "change": "Change dose", "stop": "Stop"}[self.value]


class ProposalState(StrEnum):
    PENDING = "pending"  # approved; waits for the patient to be told (clinic policy)
    APPLIED = "applied"
    NEEDS_REVIEW = "needs_review"  # could not be matched to one current line: the clinician applies it by hand
    WITHDRAWN = "withdrawn"  # the approval was corrected away before it was applied

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]


_STATE_LABELS = {
    ProposalState.PENDING: "Applies when the patient is told",
    ProposalState.APPLIED: "Applied",
    ProposalState.NEEDS_REVIEW: "Needs the clinician",
    ProposalState.WITHDRAWN: "Withdrawn",
}

_ACTION_OF_KIND = {
    RecommendationKind.MEDICATION_START: ChangeAction.START,
    RecommendationKind.MEDICATION_CHANGE: ChangeAction.CHANGE,
    RecommendationKind.MEDICATION_STOP: ChangeAction.STOP,
}


def action_of(kind: str) -> ChangeAction | None:
    """The list change a recommendation kind proposes (None: not a medication recommendation)."""
    try:
        return _ACTION_OF_KIND.get(RecommendationKind(kind))
    except ValueError:
        return None


def same_drug(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


class LineLike(Protocol):
    id: int
    name: str


def match_line(drug: str, current: Iterable[LineLike]) -> tuple[LineLike | None, str | None]:
    """The one current line of this drug, or (None, why not) when there is none or several."""
    hits = [m for m in current if same_drug(m.name, drug)]
    if len(hits) == 1:
        return hits[0], None
    if not hits:
        return None, f"{drug} is not on the current medications"
    return None, f"{drug} is on the current medications {len(hits)} times; choose the line by hand"


@dataclass(frozen=True)
class Plan:
    """What applying a proposal does: stop `stop_id` (if any) and start a line (if `start`)."""

    stop_id: int | None
    start: bool
    problem: str | None = None  # set: nothing is done, the clinician applies it by hand


def plan_change(action: ChangeAction | str, drug: str, current: Sequence[LineLike]) -> Plan:
    """Start: a new line (refused when the drug is already current: that is a dose change).
    Change: stop the drug's current line and start the new dose. Stop: stop its line."""
    action = ChangeAction(action)
    line, why = match_line(drug, current)
    if action is ChangeAction.START:
        if line is not None or why and "times" in why:
            return Plan(None, False, f"{drug} is already on the current medications; change its dose instead")
        return Plan(None, True)
    if line is None:
        return Plan(None, False, why)
    return Plan(line.id, action is ChangeAction.CHANGE)


def describe(action: ChangeAction | str, drug: str, dose: str | None, schedule: str | None = None) -> str:
    """"Change dose: sertraline → 100 mg daily", "Stop: bupropion XL"."""
    action = ChangeAction(action)
    what = " ".join(x for x in (dose, schedule) if x)
    if action is ChangeAction.STOP:
        return f"Stop {drug}"
    if action is ChangeAction.CHANGE:
        return f"Change {drug} to {what}"
    return f"Start {drug} {what}".rstrip()
