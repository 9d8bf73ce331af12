"""The demo clinic's medication lines: what each patient takes at enrollment (an antidepressant,
for some a sleep or anxiety medicine, a few stopped later by the clinician), and the dose changes
the consultant recommends and the clinician approves, applied to the list the way the app applies
them (the old line stops the day of the decision, a new line starts with who and why).

No draw from the history's random stream (the rest of the demo stays as it was): the extras follow
the patient's number."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from cocm_desktop.demo.rows import Rows
from cocm_desktop.demo.vocabulary import DRUGS, EXTRA_DRUGS
from cocm_desktop.store.models import Medication, MedicationProposal

# Every column, so the bulk insert sees the same keys on every row.
_LINE = dict(schedule=None, started_on=None, stopped_on=None, note=None, start_reason=None, supersedes_id=None,
             recommendation_id=None, stopped_by_id=None, stop_recorded_at=None, stop_reason=None,
             stop_recommendation_id=None, voided_at=None, voided_by_id=None, void_reason=None)


def _line(rows: Rows, **values: Any) -> dict[str, Any]:
    rows.add(Medication, **{**_LINE, **values})
    return rows.tables[Medication][-1]


def enrollment_lines(rows: Rows, n: int, eid: int, cm: int, doc: int, enrolled: date, today: date,
                     drug: tuple[str, str, str, str], med_start: date) -> None:
    """The antidepressant (recorded by the care manager at enrollment); every third patient also
    takes a sleep or anxiety medicine, which the clinician stops for some once they sleep better."""
    recorded = datetime.combine(enrolled, time(10, 0))
    _line(rows, episode_id=eid, name=drug[0], dose=drug[1], schedule=drug[3], started_on=med_start,
          recorded_by_id=cm, recorded_at=recorded)
    if n % 3 != 1:
        return
    name, dose, schedule, why, stop_why = EXTRA_DRUGS[(n // 3) % len(EXTRA_DRUGS)]
    started = enrolled - timedelta(days=14 * (1 + n % 4))
    stop_on = enrolled + timedelta(weeks=6 + n % 5)
    stops = n % 2 == 1 and stop_on < today
    _line(rows, episode_id=eid, name=name, dose=dose, schedule=schedule, started_on=started,
          note=why, recorded_by_id=cm, recorded_at=recorded,
          stopped_on=stop_on if stops else None, stopped_by_id=doc if stops else None,
          stop_recorded_at=datetime.combine(stop_on, time(15, 0)) if stops else None,
          stop_reason=stop_why if stops else None)


class DemoMedications:
    """The lines of every episode, indexed once, so the case reviews apply approved changes."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.by_episode: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for m in rows.tables[Medication]:
            self.by_episode[m["episode_id"]].append(m)

    def antidepressant(self, eid: int) -> tuple[dict[str, Any], tuple[str, str, str, str]] | None:
        """The episode's current antidepressant line and its vocabulary entry."""
        known = {d[0]: d for d in DRUGS}
        for m in self.by_episode[eid]:
            if m["stopped_on"] is None and m["name"] in known:
                return m, known[m["name"]]
        return None

    def apply_change(self, eid: int, rec_id: int, line: dict[str, Any], dose: str, decided_at: datetime,
                     doc: int, why: str) -> None:
        """The approved dose change: the line stops the day it was decided, the new dose starts."""
        day = decided_at.date()
        if line["started_on"] is not None and day < line["started_on"]:
            return
        line.update(stopped_on=day, stopped_by_id=doc, stop_recorded_at=decided_at,
                    stop_reason=f"Dose changed to {dose}: {why}", stop_recommendation_id=rec_id)
        new = _line(self.rows, episode_id=eid, name=line["name"], dose=dose, schedule=line["schedule"],
                    started_on=day, start_reason=why, supersedes_id=line["id"], recommendation_id=rec_id,
                    recorded_by_id=doc, recorded_at=decided_at)
        self.by_episode[eid].append(new)
        self.rows.add(MedicationProposal, episode_id=eid, recommendation_id=rec_id, action="change",
                      drug=line["name"], dose=dose, schedule=None, state="applied", proposed_at=decided_at,
                      proposed_by_id=doc, applied_at=decided_at, applied_by_id=doc, medication_id=new["id"],
                      note=None)
