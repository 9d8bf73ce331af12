"""The demo clinic's weekly case review: sessions, agenda items and the consultant's
recommendations in every loop state, then the next session's agenda as the care manager builds it."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from cocm_desktop.demo.rows import Rows
from cocm_desktop.demo.staff import Staff
from cocm_desktop.demo.vocabulary import DRUGS
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AgendaItem, CaseReviewSession, Episode, Recommendation, User

# What a patient's history asks of the case review: (day, episode id, agenda group,
# care manager's question or None, archetype).
ReviewWish = tuple[date, int, str, str | None, str]


class CaseReviews:
    """Written after every patient's history, from the review wishes that history collected."""

    def __init__(self, rng: random.Random, today: date, start: date, staff: Staff, rows: Rows) -> None:
        self.rng, self.today, self.start, self.staff, self.rows = rng, today, start, staff, rows
        self._states_used: set[str] = set()

    def write(self, review_wishes: list[ReviewWish]) -> None:
        """A session every Thursday (held before today, the next one not yet); each wish goes on the
        agenda of the first held session on or after its day, once per episode and session, and
        gets the consultant's recommendation."""
        r, today = self.rows, self.today
        # Thursdays from the first enrollment to the next one ahead (not yet held)
        first = self.start + timedelta(days=(3 - self.start.weekday()) % 7)
        sessions: list[tuple[date, int]] = []
        day = first
        while day <= today + timedelta(days=7):
            sid = r.add(CaseReviewSession, session_on=day, consultant_id=self.staff.psych,
                        attendees="Care managers, psychiatric consultant", held=day < today,
                        created_by_id=self.staff.care_managers[0],
                        created_at=datetime.combine(day - timedelta(days=2), time(9, 0)))
            sessions.append((day, sid))
            day += timedelta(days=7)
        held = [(d, sid) for d, sid in sessions if d < today]
        positions: dict[int, int] = defaultdict(int)
        seen: set[tuple[int, int]] = set()
        order = {"new": 0, "not_improving": 1, "medication_question": 2, "safety": 3, "follow_up": 4}
        wishes = sorted(review_wishes, key=lambda w: (w[0], order[w[2]]))
        for wish_day, eid, group, _question, _kind in wishes:
            target = next(((d, sid) for d, sid in held if d >= wish_day), None)
            if target is None:
                continue
            d, sid = target
            if (sid, eid) in seen:
                continue
            seen.add((sid, eid))
            positions[sid] += 1
            aid = r.add(AgendaItem, session_id=sid, episode_id=eid, group=group, position=positions[sid],
                        reason={"new": "New enrollment", "not_improving": "Not improving at 10+ weeks",
                                "medication_question": "Care manager question", "safety": "Safety flag",
                                "follow_up": "Follow-up"}[group],
                        reviewed=True, discussion="Discussed with consultant.")
            self._recommend(sid, aid, eid, d, group)

    def _recommend(self, sid: int, aid: int, eid: int, on: date, group: str) -> None:
        rng, today = self.rng, self.today
        drug = rng.choice(DRUGS)
        if group in ("not_improving", "medication_question"):
            kind, text, dname, dose = ("medication_change", f"Increase {drug[0]} to {drug[2]}; recheck PHQ-9 in 4 weeks.",
                                       drug[0], drug[2])
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
        self.rows.add(Recommendation, session_id=sid, agenda_item_id=aid, episode_id=eid, kind=kind, drug=dname,
                      dose=dose, text=text, state=state, recommended_at=at, recommended_by_id=self.staff.psych,
                      decided_at=min(decision_at, datetime.combine(today, time(8))) if decided else None,
                      decided_by_id=doc if decided else None,
                      decision_note="Agree" if state != "declined" else "Patient prefers to stay on current dose",
                      modified_text=f"{text} Start at half the increase for one week." if state == "modified" else None,
                      told_at=min(told_at, datetime.combine(today, time(8))) if told else None,
                      told_by_id=cm if told else None, told_how="Phone" if told else None,
                      closed_at=min(told_at, datetime.combine(today, time(8))) if state == "closed" else None)


def prepare_next_review(db: Database, today: date) -> None:
    """The care manager builds the next session's agenda, as the clinic does before each review."""
    from cocm_desktop.domain.actor import Actor
    from cocm_desktop.services.case_review import rebuild_agenda

    with db.session() as s:
        upcoming = s.scalar(select(CaseReviewSession.id).where(CaseReviewSession.held.is_(False))
                            .order_by(CaseReviewSession.session_on))
        cm = s.scalar(select(User).where(User.username == "cm1"))
        if upcoming is not None and cm is not None:
            rebuild_agenda(s, Actor(cm.id, cm.username, cm.display_name, cm.role), upcoming, today=today)
