"""Typed change events: what a write changed, for which patients (Anki's OpChanges).

Pure data (no Qt, no SQL): services and the GUI use it through services.changes; the store builds
the clinic server's NOTIFY payload from it (store.server_notify), so there is one wire form.

Every write returns one (through the GUI's operations) and the same events arrive from other
workstations on the clinic server (LISTEN/NOTIFY). Each pane decides from the kinds and patient ids
what to refresh; nobody needs a central handler that knows every pane.

An event never carries PHI: kinds, ids, the writer's username and a time. Its wire form (a NOTIFY
payload, at most a few hundred bytes) is `to_payload` / `from_payload`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

#: the NOTIFY channel of a clinic database (per database: LISTEN/NOTIFY do not cross databases)
CHANNEL = "cocm_changes"
_MAX_IDS = 200  # beyond this many patients an event says "many" (patient_ids empty, everyone refreshes)


class Change(StrEnum):
    """Kinds of change; a pane refreshes when a kind it shows is in the event."""

    PATIENT = "patient"  # demographics, a patient added or voided
    EPISODE = "episode"  # enrollment, status, consent, rule-out attestation
    MEASURE = "measure"
    CONTACT = "contact"
    TIME = "time"  # time entries and the running timer
    CARE_PLAN = "care_plan"
    MEDICATION = "medication"
    REFERRAL = "referral"
    RISK = "risk"
    CASE_REVIEW = "case_review"  # sessions, agendas
    RECOMMENDATION = "recommendation"
    CORRECTION = "correction"
    BILLING = "billing"  # submissions, adjustments acknowledged
    USERS = "users"
    POLICY = "policy"


@dataclass(frozen=True)
class ChangeEvent:
    kinds: frozenset[Change]
    patient_ids: frozenset[int] = frozenset()  # empty with `many`: every patient may have changed
    many: bool = False
    by: str | None = None  # username of the writer
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    origin: str | None = None  # the writing app instance (an event of one's own is not news)

    def touches(self, patient_id: int | None) -> bool:
        """Could this event change what is shown for `patient_id` (None: any patient)?"""
        return self.many or patient_id is None or patient_id in self.patient_ids

    def has(self, *kinds: Change) -> bool:
        return bool(self.kinds.intersection(kinds))

    def to_payload(self) -> str:
        ids = sorted(self.patient_ids)
        many = self.many or len(ids) > _MAX_IDS
        return json.dumps({
            "k": sorted(k.value for k in self.kinds),
            "p": [] if many else ids,
            "m": many,
            "b": self.by,
            "t": self.at.isoformat(timespec="microseconds"),
            "o": self.origin,
        }, separators=(",", ":"))

    @classmethod
    def from_payload(cls, payload: str) -> ChangeEvent | None:
        """The event in a NOTIFY payload; None for anything that is not one (ignored, not fatal)."""
        try:
            data = json.loads(payload)
            kinds = frozenset(Change(k) for k in data["k"] if k in Change._value2member_map_)
            return cls(kinds=kinds, patient_ids=frozenset(int(p) for p in data.get("p", ())),
                       many=bool(data.get("m")), by=data.get("b"),
                       at=datetime.fromisoformat(data["t"]), origin=data.get("o"))
        except (ValueError, KeyError, TypeError):
            return None


def event(*kinds: Change, patients: int | None | frozenset[int] | set[int] = None, by: str | None = None) -> ChangeEvent:
    """Shorthand: `event(Change.MEASURE, patients=pid)`."""
    if patients is None:
        ids: frozenset[int] = frozenset()
    elif isinstance(patients, int):
        ids = frozenset({patients})
    else:
        ids = frozenset(patients)
    return ChangeEvent(kinds=frozenset(kinds), patient_ids=ids, by=by)
