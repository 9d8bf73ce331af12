"""Each demo patient's clinic history, written as rows for one bulk insert.

A patient is enrolled (demographics, episode, diagnosis, consent, medication, care plan) and then
walked week by week on the clinic's cadence: contacts, measures when due, time logged so months
land above and below each billing threshold, risk events, referrals, step-down and endings. What an
episode asks of the weekly case review is collected in `review_wishes` for `CaseReviews`.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from cocm_desktop.demo.archetypes import archetype_order, items_for_total, trajectory
from cocm_desktop.demo.case_reviews import ReviewWish
from cocm_desktop.demo.medications import enrollment_lines
from cocm_desktop.demo.rows import Rows, Scheduler
from cocm_desktop.demo.staff import Staff
from cocm_desktop.demo.vocabulary import (
    DIAGNOSES,
    DRUGS,
    FAMILY,
    GIVEN,
    GOALS,
    PAYERS,
    REFERRAL_TARGETS,
    SKILLS,
)
from cocm_desktop.domain.activities import ACTIVITY_FOR_CONTACT_KIND
from cocm_desktop.domain.instruments import score
from cocm_desktop.store.models import (
    CarePlanVersion,
    Consent,
    Contact,
    Diagnosis,
    Episode,
    EpisodeStatusChange,
    Measure,
    Patient,
    Referral,
    RiskEvent,
    TimeEntry,
)


class ClinicHistory:
    """Every patient's year: enrolment, then week by week until today or the episode closes."""

    def __init__(self, rng: random.Random, today: date, months: int, staff: Staff, rows: Rows,
                 medicare_id: int | None) -> None:
        self.rng, self.today, self.staff, self.rows = rng, today, staff, rows
        # the time log's everyday slips come from a stream of their own, so adding them left the
        # rest of the clinic's history as it was
        self.slips = random.Random(repr(rng.getstate()[1][:8]))
        self.start = today - timedelta(days=months * 30)
        self.medicare_id = medicare_id
        self.sched = Scheduler()
        # what each episode asks of the weekly case review (written after every patient's history)
        self.review_wishes: list[ReviewWish] = []
        self.kinds = archetype_order()

    def _slip(self, pid: int, eid: int, cm: int, day: date, start: datetime, minutes: int) -> None:
        """What a real time log also holds, so the billing packet and the benchmark meet it: about
        one contact in 150 logged again by hand and deleted with a reason, and one in 300 with a
        pharmacy call that overlapped it (the overlapping minutes count once)."""
        roll = self.slips.random()
        if roll < 1 / 150:
            deleted = datetime.combine(day, time(17, 30))
            self.rows.add(TimeEntry, patient_id=pid, episode_id=eid, staff_id=cm, local_date=day, started_at=start,
                          ended_at=start + timedelta(minutes=minutes), minutes=minutes, activity="care_coordination",
                          source="manual", created_by_id=cm, created_at=start + timedelta(minutes=minutes + 5),
                          deleted_at=deleted, deleted_by_id=cm, delete_reason="Logged twice; the contact already has it")
        elif roll < 1 / 150 + 1 / 300:
            call = start + timedelta(minutes=minutes // 2)
            self.rows.add(TimeEntry, patient_id=pid, episode_id=eid, staff_id=cm, local_date=day, started_at=call,
                          ended_at=call + timedelta(minutes=10), minutes=10, activity="care_coordination",
                          source="manual", note="Pharmacy called back about the refill", created_by_id=cm,
                          created_at=call + timedelta(minutes=15))

    # ---- one patient ------------------------------------------------------------------------
    def patient(self, n: int) -> None:
        rng, r = self.rng, self.rows
        kind = self.kinds[n % len(self.kinds)] if n < len(self.kinds) else rng.choice(self.kinds)
        family, given = rng.choice(FAMILY), rng.choice(GIVEN)
        dob = date(rng.randint(1942, 2004), rng.randint(1, 12), rng.randint(1, 28))
        payer = rng.choices([p for p, _ in PAYERS], weights=[w for _, w in PAYERS])[0]
        span = (self.today - self.start).days
        if kind == "new":
            enrolled = self.today - timedelta(days=rng.randint(2, 20))
        elif kind == "transferred" and n % 2:  # a transfer being arranged right now
            enrolled = self.today - timedelta(days=rng.randint(88, 100))
        elif kind == "disengaged":
            enrolled = self.today - timedelta(days=rng.randint(60, min(150, span)))
        elif kind == "safety" and n % 2:  # item 9 answered in the last few weeks: risk still open
            enrolled = self.today - timedelta(days=rng.randint(20, 30))
        elif kind in ("completed", "stepped_down", "relapse", "transferred"):
            enrolled = self.start + timedelta(days=rng.randint(0, max(1, span - 190)))
        else:
            enrolled = self.start + timedelta(days=rng.randint(0, max(1, span - 21)))
        last_seen = None if rng.random() < 0.2 else enrolled - timedelta(days=rng.choice((20, 60, 200, 420)))
        pid = r.add(Patient, mrn=f"D{100000 + n:06d}", family_name=family, given_name=given,
                    date_of_birth=dob, sex=rng.choice(("F", "M", "F", "X" if n % 37 == 0 else "M")),
                    phone=f"555-01{n % 100:02d}", portal=rng.random() < 0.7,
                    preferred_contact=rng.choice(("Phone after 5 pm", "Portal message", "Phone + portal")),
                    payer_rule_set_id=self.medicare_id, payer_name=payer,
                    member_id=f"M{rng.randint(10**8, 10**9 - 1)}", last_seen_on=last_seen,
                    created_by_id=self.staff.care_managers[0])
        cm = self.staff.care_managers[(n // 3) % len(self.staff.care_managers)]
        doc = self.staff.clinicians[n % len(self.staff.clinicians)]
        scale = "GAD-7" if rng.random() < 0.2 else "PHQ-9"
        program = "bhi" if rng.random() < 0.12 else "cocm"
        needs_iv = last_seen is None or (enrolled - last_seen).days > 365
        iv_missing = needs_iv and n % 41 == 17
        eid = r.add(Episode, patient_id=pid, program=program, status="enrolled", enrolled_on=enrolled,
                    primary_scale=scale, treating_clinician_id=doc, care_manager_id=cm,
                    urgent_risk_ruled_out=True, urgent_risk_ruled_out_by_id=doc,
                    # the clinician confirmed the rule-out the care manager recorded (a few still pending)
                    risk_rule_out_attested_by_id=None if n % 47 == 5 else doc,
                    risk_rule_out_attested_at=None if n % 47 == 5 else datetime.combine(enrolled, time(17, 5)),
                    initiating_visit_required=needs_iv,
                    initiating_visit_on=None if (not needs_iv or iv_missing) else enrolled - timedelta(days=rng.randint(0, 6)),
                    history=rng.choice(("Two prior depressive episodes; first at 30.", "No prior treatment.",
                                        "Anxiety since college; worse after job loss.")),
                    patient_goals=rng.choice(GOALS), created_by_id=cm,
                    created_at=datetime.combine(enrolled, time(9, 0)))
        self._status(eid, None, "enrolled", enrolled, cm)
        code, text = rng.choice(DIAGNOSES[scale])
        r.add(Diagnosis, episode_id=eid, icd10=code, description=text, is_primary=True)
        if n % 53 != 11:  # a few consents still missing: the registry flags them
            r.add(Consent, episode_id=eid, team_care_explained=True, non_face_to_face_explained=True,
                  cost_sharing_explained=True, patient_agrees=True, consent_on=enrolled,
                  obtained_by_id=doc, recorded_by_id=cm, attested_by_id=doc,
                  attested_at=datetime.combine(enrolled, time(17, 0)))
        drug = rng.choice(DRUGS)
        med_start = enrolled - timedelta(days=rng.choice((0, 0, 30, 90)))
        enrollment_lines(r, n, eid, cm, doc, enrolled, self.today, drug, med_start)
        self._course(n, kind, eid, pid, cm, doc, enrolled, scale, program, drug)

    def _status(self, eid: int, src: str | None, dst: str, on: date, by: int, reason: str | None = None,
                note: str | None = None) -> None:
        self.rows.add(EpisodeStatusChange, episode_id=eid, from_status=src, to_status=dst, reason=reason,
                      note=note, changed_on=on, changed_by_id=by, changed_at=datetime.combine(on, time(16, 0)))

    def _course(self, n: int, kind: str, eid: int, pid: int, cm: int, doc: int, enrolled: date,
                scale: str, program: str, drug: tuple[str, str, str, str]) -> None:
        """Walk one episode week by week: contacts on cadence, measures when due, reviews, endings."""
        rng, r, today = self.rng, self.rows, self.today
        baseline = rng.randint(13, 23) if scale == "PHQ-9" else rng.randint(10, 18)
        close: tuple[date, str, str | None, str | None] | None = None
        status = "enrolled"
        if enrolled + timedelta(days=2) <= today:
            self._status(eid, "enrolled", "active", enrolled + timedelta(days=2), cm)
            status = "active"
        # Care plan v1 (a few never written: registry shows "missing element")
        if n % 47 != 5 and enrolled + timedelta(days=3) <= today:
            signed = enrolled + timedelta(days=5) <= today
            r.add(CarePlanVersion, episode_id=eid, version=1, goals=rng.choice(GOALS),
                  medication_plan=f"{drug[0]} {drug[1]} {drug[3]}; review at 6 weeks",
                  skill_plan=f"{rng.choice(SKILLS)}; practise 3 times a week",
                  follow_up_cadence="Phone every 2 weeks; PHQ-9 every 4 weeks",
                  next_checkin_on=enrolled + timedelta(days=14),
                  safety_steps="Crisis line 988 on the fridge; call clinic if worse" if kind == "safety" else None,
                  contact_preferences="Phone + portal", created_by_id=cm,
                  created_at=datetime.combine(enrolled + timedelta(days=3), time(11, 0)),
                  signed_off_on=enrolled + timedelta(days=5) if signed else None,
                  signed_off_by_id=doc if signed else None)
        day, week_no, measures_taken = enrolled, 0, []
        remissions, failed_attempts = 0, 0
        safety_done = stepped = responded = False
        stepped_on: date | None = None
        last_wish_week = -99.0
        transfer_asked: date | None = None
        next_step_on = enrolled + timedelta(days=7)
        disengage_at = rng.randint(4, 7)
        closes_disengaged = kind == "disengaged" and n % 2 == 0
        while day <= today:
            week = (day - enrolled).days / 7
            reached = not (kind == "disengaged" and week > disengage_at)
            if not reached:
                c_kind = "outreach"
                failed_attempts += 1
            else:
                c_kind = "assessment" if day == enrolled else ("relapse_prevention" if stepped else "follow_up")
            minutes = rng.choice((8, 12, 15, 20, 25, 30, 35, 40)) if reached else rng.choice((3, 5))
            mode = rng.choice(("phone", "phone", "video", "portal", "in_person")) if reached else "phone"
            start = self.sched.slot(cm, day, minutes, rng)
            if not reached:
                gap = rng.choice((5, 7, 9))
            elif stepped:
                gap = rng.choice((21, 26, 28))
            elif responded:
                gap = rng.choice((14, 21, 28))
            else:
                gap = rng.choice((7, 10, 12, 14))
            next_step_on = day + timedelta(days=gap)
            question = None
            if kind in ("non_responder", "partial") and 9 <= week < 11:
                question = f"Still no response on {drug[0]} {drug[1]}. Increase, switch, or augment?"
            lag_days = rng.choice((3, 4)) if n % 29 == 3 and day > today - timedelta(days=20) else 0
            cid = r.add(Contact, episode_id=eid, contact_at=start, mode=mode, kind=c_kind, reached=reached,
                        adherence=("Taking daily" if rng.random() < 0.8 else "Missed several doses") if reached else None,
                        side_effects=rng.choice((None, None, "Mild nausea first week", "Some insomnia")) if reached else None,
                        skill_practised=rng.choice(SKILLS) if reached else None,
                        summary=("Reviewed mood, sleep and activity plan." if reached
                                 else "No answer; left a voicemail and sent a portal message."),
                        next_step=("Follow-up call" if reached else "Try again by phone and portal"),
                        next_step_on=next_step_on, question_for_consultant=question,
                        minutes=minutes, staff_id=cm,
                        entered_at=start + timedelta(days=lag_days, minutes=minutes + 10))
            r.add(TimeEntry, patient_id=pid, episode_id=eid, staff_id=cm, local_date=day, started_at=start,
                  ended_at=start + timedelta(minutes=minutes), minutes=minutes,
                  activity=ACTIVITY_FOR_CONTACT_KIND[c_kind], source="contact", contact_id=cid,
                  created_by_id=cm, created_at=start + timedelta(minutes=minutes))
            self._slip(pid, eid, cm, day, start, minutes)
            if question:
                self.review_wishes.append((day, eid, "medication_question", question, kind))
            # measure when due (every 2–4 weeks early, ~8 weeks once stable)
            interval = 56 if stepped else (28 if responded else rng.choice((14, 21, 28)))
            if reached and (not measures_taken or (day - measures_taken[-1]).days >= interval):
                total = baseline if not measures_taken else trajectory(kind, baseline, week, rng)
                total = min(total, 27 if scale == "PHQ-9" else 21)
                item9 = 0
                if scale == "PHQ-9" and kind == "safety" and not safety_done and 2 <= week <= 7:
                    item9, safety_done = rng.choice((1, 2)), True
                mid = self._measure(eid, scale, start + timedelta(minutes=2), total, item9, cm, cid)
                measures_taken.append(day)
                if item9:
                    self._risk(eid, mid, start, doc, cm, open_=(day > today - timedelta(days=21)))
                if scale == "PHQ-9" and rng.random() < 0.3:
                    self._measure(eid, "GAD-7", start + timedelta(minutes=4),
                                  min(21, max(0, int(total * 0.7) + rng.choice((-1, 0, 1)))), 0, cm, cid)
                remissions = remissions + 1 if total < 5 else 0
                responded = responded or total * 2 <= baseline
                if remissions >= 2 and not stepped and status == "active" and week >= 12 and kind != "relapse":
                    stepped, stepped_on = True, day
                    r.add(CarePlanVersion, episode_id=eid, version=2, goals="Stay well; keep routines",
                          medication_plan=f"Continue {drug[0]} for 6–12 months",
                          skill_plan="Weekly activity plan; early-warning signs list",
                          follow_up_cadence="Monthly check-in; PHQ-9 every 8 weeks",
                          next_checkin_on=day + timedelta(days=30),
                          relapse_prevention_plan="Early signs: sleep loss, withdrawing. Action: call care manager, restart skills.",
                          contact_preferences="Phone + portal", created_by_id=cm,
                          created_at=datetime.combine(day, time(15, 0)),
                          signed_off_on=day, signed_off_by_id=doc)
                    self._status(eid, "active", "relapse_prevention", day, cm)
                    status = "relapse_prevention"
            # other work this month: coordination, registry upkeep (varies billing totals)
            if rng.random() < 0.45:
                extra = rng.choice((5, 10, 15, 20, 30))
                t = self.sched.slot(cm, day, extra, rng)
                r.add(TimeEntry, patient_id=pid, episode_id=eid, staff_id=cm, local_date=day, started_at=t,
                      ended_at=t + timedelta(minutes=extra), minutes=extra,
                      activity=rng.choice(("care_coordination", "registry_upkeep", "care_plan")),
                      source=rng.choice(("timer", "manual")), created_by_id=cm,
                      created_at=t + timedelta(minutes=extra))
            # case review: new enrollments, then every ~6 weeks while not responding after week 10
            if week_no == 1 and program == "cocm":
                self.review_wishes.append((day, eid, "new", None, kind))
            elif program == "cocm" and not responded and week >= 10 and week - last_wish_week >= 6:
                group = "not_improving" if last_wish_week < 0 else "follow_up"
                self.review_wishes.append((day, eid, group, None, kind))
                last_wish_week = week
            week_no += 1
            # endings
            if stepped and stepped_on and (day - stepped_on).days >= 84 and kind != "relapse":
                close = (day, "completed", "Goals met; remission held through relapse prevention.", None)
                break
            wants_transfer = (kind == "transferred" and week >= 12) or (kind == "non_responder" and week >= 26)
            if wants_transfer and transfer_asked is None:
                transfer_asked = day
                self._referral(eid, day, cm, to="County Behavioral Health", reason="Needs specialty care",
                               confirmed=day + timedelta(days=21) <= today)
            if transfer_asked and (day - transfer_asked).days >= 21:
                close = (day, "transferred", "Transferred to County Behavioral Health; intake confirmed.", None)
                break
            if closes_disengaged and failed_attempts >= 3:
                close = (day, "disengaged", "No response to 3 outreach attempts by phone and portal.",
                         "Patient may call the care manager line or ask their doctor at any visit to re-enroll.")
                break
            day = next_step_on
        if kind in ("partial", "non_responder") and n % 3 == 0 and close is None and enrolled < today - timedelta(days=40):
            self._referral(eid, today - timedelta(days=45 if n % 6 == 0 else 10), cm,
                           to=rng.choice(REFERRAL_TARGETS), reason="Add weekly psychotherapy", confirmed=False)
        ep = r.tables[Episode][-1]
        ep.update(next_action="Outreach attempt" if kind == "disengaged" else "Follow-up call",
                  next_action_on=None if close else next_step_on)
        if transfer_asked:
            ep["transfer_to"] = "County Behavioral Health"
        if close:
            on, reason, note, reentry = close
            ep.update(status="closed", close_reason=reason, closed_on=on, close_note=note, reentry_path=reentry)
            if reason == "transferred":
                ep["transfer_confirmed_on"] = on
            self._status(eid, status, "closed", on, cm, reason=reason, note=note)
        else:
            ep["status"] = status

    def _referral(self, eid: int, on: date, by: int, *, to: str, reason: str, confirmed: bool) -> None:
        status = "seen" if confirmed else self.rng.choice(("sent", "scheduled"))
        self.rows.add(Referral, episode_id=eid, to_whom=to, reason=reason, referred_on=on, status=status,
                      seen_confirmed_on=on + timedelta(days=21) if confirmed and on + timedelta(days=21) <= self.today else None,
                      created_by_id=by, updated_at=datetime.combine(on, time(12, 0)))

    def _measure(self, eid: int, instrument: str, at: datetime, total: int, item9: int, by: int,
                 contact_id: int) -> int:
        n_items = 9 if instrument == "PHQ-9" else 7
        items = items_for_total(self.rng, n_items, total, item9)
        s = score(instrument, items)
        return self.rows.add(Measure, episode_id=eid, instrument=instrument, taken_at=at, items=items,
                             total=s.total, band=s.band, item9=items[8] if n_items == 9 else None,
                             difficulty=self.rng.randint(0, 3) if n_items == 9 else None,
                             contact_id=contact_id, entered_by_id=by, entered_at=at + timedelta(minutes=20))

    def _risk(self, eid: int, mid: int, at: datetime, doc: int, cm: int, open_: bool) -> None:
        self.review_wishes.append((at.date(), eid, "safety", None, "safety"))
        self.rows.add(RiskEvent, episode_id=eid, measure_id=mid, trigger="item9", opened_at=at,
                      detail="PHQ-9 item 9 answered above zero", safety_assessment_done=True,
                      clinician_notified=True, notified_clinician_id=doc, notified_at=at + timedelta(minutes=25),
                      after_hours_routing_used=False, safety_plan_done=not open_,
                      step_reasons=None if open_ else {"after_hours_routing_used": "During office hours"},
                      outcome=None if open_ else "No plan or intent; safety plan reviewed; crisis line given.",
                      outcome_at=None if open_ else at + timedelta(hours=2), opened_by_id=cm,
                      outcome_by_id=None if open_ else doc)

