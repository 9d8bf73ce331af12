"""The demo clinic's weekly case reviews: a session a week per care manager with their consultant,
agenda items and the consultant's recommendations in every loop state, then each care manager's
next session's agenda, built by the demo generator (audited as "system").

A held session discusses what fits its hour (the policy's default length and minutes per patient);
a patient beyond that is kept as "not reached" there and discussed at the next session."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from cocm_desktop.demo.medications import DemoMedications
from cocm_desktop.demo.rows import Rows
from cocm_desktop.demo.staff import Staff
from cocm_desktop.demo.vocabulary import DRUGS
from cocm_desktop.domain.case_review import AgendaGroup, session_capacity
from cocm_desktop.domain.policy import DEFAULT_POLICY
from cocm_desktop.store.clinic_db import ClinicDatabase
from cocm_desktop.store.models import AgendaItem, CaseReviewSession, Episode, Recommendation

# What a patient's history asks of the case review: (day, episode id, agenda group,
# care manager's question or None, archetype).
ReviewWish = tuple[date, int, str, str | None, str]


class CaseReviews:
    """Written after every patient's history, from the review wishes that history collected."""

    def __init__(self, rng: random.Random, today: date, start: date, staff: Staff, rows: Rows) -> None:
        self.rng, self.today, self.start, self.staff, self.rows = rng, today, start, staff, rows
        self._states_used: set[str] = set()
        self.meds = DemoMedications(rows)

    def write(self, review_wishes: list[ReviewWish]) -> None:
        """A session a week per care manager (held before today, the next one not yet): cm1 and
        cm2 on Thursdays, the network's others spread over the week. Each wish goes on the agenda
        of the care manager's first held session on or after its day that still has room, once per
        episode and session, and gets the consultant's recommendation; a full session lists the
        patient as not reached and the next one takes them, carried over."""
        r, today, staff = self.rows, self.today, self.staff
        capacity = session_capacity(DEFAULT_POLICY.case_review_session_minutes,
                                    DEFAULT_POLICY.case_review_minutes_per_patient)
        held_by_cm: dict[int, list[tuple[date, int]]] = {}
        for n, cm in enumerate(staff.care_managers):
            weekday = 3 if n < 2 else n % 5
            day = self.start + timedelta(days=(weekday - self.start.weekday()) % 7)
            held_by_cm[cm] = []
            while day < today + timedelta(days=7):
                sid = r.add(CaseReviewSession, session_on=day, consultant_id=staff.consultant_for(cm),
                            care_manager_id=cm, minutes=DEFAULT_POLICY.case_review_session_minutes,
                            minutes_per_patient=DEFAULT_POLICY.case_review_minutes_per_patient,
                            attendees="Care manager, psychiatric consultant", held=day < today, created_by_id=cm,
                            created_at=datetime.combine(day - timedelta(days=2), time(9, 0)))
                held_by_cm[cm].append((day, sid))
                day += timedelta(days=7)
            held_by_cm[cm] = [(d, sid) for d, sid in held_by_cm[cm] if d < today]
        episodes = self.rows.tables[Episode]
        positions: dict[int, int] = defaultdict(int)
        seen: set[tuple[int, int]] = set()
        missed: dict[tuple[int, int], int] = {}  # (session, episode) not reached → its agenda item
        order = {"new": 0, "not_improving": 1, "medication_question": 2, "safety": 3, "follow_up": 4}
        wishes = sorted(review_wishes, key=lambda w: (w[0], order[w[2]]))
        for wish_day, eid, group, _question, _kind in wishes:
            held = held_by_cm[episodes[eid - 1]["care_manager_id"]]
            later = [(d, sid) for d, sid in held if d >= wish_day]
            if any((sid, eid) in seen for _d, sid in later[:1]):
                continue
            full = [(d, sid) for d, sid in later if positions[sid] >= capacity]
            target = next(((d, sid) for d, sid in later if positions[sid] < capacity), None)
            carried_from = None
            for d_full, sid_full in full:
                if target is not None and d_full > target[0]:
                    break
                if (sid_full, eid) not in missed:  # no time left that week: not reached, carried over
                    missed[(sid_full, eid)] = r.add(AgendaItem, session_id=sid_full, episode_id=eid, group=group,
                                                    position=0, reason=_REASONS[group], not_reached=True)
                carried_from = sid_full
            if target is None or (target[1], eid) in seen:
                continue  # not reached by today: the next session's agenda takes it
            d, sid = target
            seen.add((sid, eid))
            positions[sid] += 1
            aid = r.add(AgendaItem, session_id=sid, episode_id=eid, group=group, position=0,
                        reason=_REASONS[group], reviewed=True, discussion="Discussed with consultant.",
                        carried_from_id=carried_from)
            self._recommend(sid, aid, eid, d, group)
        self._number_agendas()

    def _number_agendas(self) -> None:
        """Positions in agenda order (safety first, carried over, then by group); not reached after."""
        rank = {g.value: n for n, g in enumerate(AgendaGroup)}
        by_session: dict[int, list[dict]] = defaultdict(list)  # type: ignore[type-arg]
        for item in self.rows.tables[AgendaItem]:
            by_session[item["session_id"]].append(item)
        for items in by_session.values():
            items.sort(key=lambda i: (bool(i.get("not_reached")), 0 if i["group"] == "safety" else
                                      1 if i.get("carried_from_id") else 2, rank[i["group"]], i["id"]))
            for n, item in enumerate(items, start=1):
                item["position"] = n

    def _recommend(self, sid: int, aid: int, eid: int, on: date, group: str) -> None:
        rng, today = self.rng, self.today
        rng.choice(DRUGS)  # kept: the rest of the demo draws as before
        line = self.meds.antidepressant(eid)
        if group in ("not_improving", "medication_question") and line is not None and line[0]["dose"] != line[1][2]:
            name, higher = line[1][0], line[1][2]
            kind, text, dname, dose = ("medication_change",
                                       f"Increase {name} to {higher} {line[0]['schedule']}; recheck PHQ-9 in 4 weeks.",
                                       name, higher)
        elif group in ("not_improving", "medication_question") and line is not None:
            kind, text, dname, dose = ("continue", f"Continue {line[0]['name']} {line[0]['dose']} another 4 weeks "
                                       "before switching; add behavioral activation.", None, None)
        elif group == "safety":
            kind, text, dname, dose = ("continue", "Keep weekly contact until item 9 is 0 twice; review safety plan.",
                                       None, None)
        else:
            kind, text, dname, dose = rng.choice((
                ("psychotherapy", "Start behavioral activation with weekly calls.", None, None),
                ("continue", "Continue current plan; recheck at 4 weeks.", None, None),
                ("referral", "Refer for CBT at Riverside Counseling.", None, None),
            ))
        at = datetime.combine(on, time(13, 0))
        age = (today - on).days
        # Older loops are closed; recent ones spread over every state (the registry flags stuck ones).
        if age > 28:
            state = "closed"
        else:
            missing = [s for s in ("recommended", "approved", "modified", "declined", "told_patient")
                       if s not in self._states_used]
            state = missing[0] if missing else rng.choice(
                ("recommended", "approved", "modified", "declined", "told_patient", "closed"))
        self._states_used.add(state)
        decided = state in ("approved", "modified", "declined", "told_patient", "closed")
        told = state in ("told_patient", "closed")
        ep = self.rows.tables[Episode][eid - 1]
        doc, cm = ep["treating_clinician_id"], ep["care_manager_id"]
        decision_at = at + timedelta(days=rng.choice((0, 1, 2, 5)))
        told_at = decision_at + timedelta(days=rng.choice((1, 2, 4)))
        rec_id = self.rows.add(Recommendation, session_id=sid, agenda_item_id=aid, episode_id=eid, kind=kind, drug=dname,
                      dose=dose, text=text, state=state, recommended_at=at, recommended_by_id=self.staff.psych,
                      decided_at=min(decision_at, datetime.combine(today, time(8))) if decided else None,
                      decided_by_id=doc if decided else None,
                      decision_note="Agree" if state != "declined" else "Patient prefers to stay on current dose",
                      modified_text=f"{text} Start at half the increase for one week." if state == "modified" else None,
                      told_at=min(told_at, datetime.combine(today, time(8))) if told else None,
                      told_by_id=cm if told else None, told_how="Phone" if told else None,
                      closed_at=min(told_at, datetime.combine(today, time(8))) if state == "closed" else None)
        if kind == "medication_change" and decided and state != "declined" and line is not None:
            # approved (or modified): on the list from the clinician's decision (the default policy)
            self.meds.apply_change(eid, rec_id, line[0], dose or "", min(decision_at, datetime.combine(today, time(8))),
                                   doc, "Case-review recommendation approved by the treating clinician: "
                                   + (f"{text} Start at half the increase for one week." if state == "modified" else text))


# What the case-review service writes as an item's reasons: its group's label.
_REASONS = {g.value: g.label for g in AgendaGroup}


def prepare_next_review(db: ClinicDatabase, today: date) -> None:
    """Every care manager's next session gets its agenda, built by the demo generator (no one has
    signed in yet: the audit says "system", not a care manager)."""
    from cocm_desktop.services.case_review import prepare_agendas

    with db.session() as s:
        upcoming = list(s.scalars(select(CaseReviewSession.id).where(CaseReviewSession.held.is_(False))
                                  .order_by(CaseReviewSession.session_on, CaseReviewSession.id)))
        prepare_agendas(s, upcoming, today=today, by="system", summary="Agenda built by the demo generator")
