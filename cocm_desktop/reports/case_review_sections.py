"""The sections of a patient's pages after outcomes: safety (item 9 history, risk events), medications,
contacts and skills, care plan, referrals, and earlier recommendations with their loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from cocm_desktop.reports.case_review_blocks import c, grid, section, th
from cocm_desktop.reports.case_review_style import ALERT, BOLD, QUESTION_BG, WIDTH, P, d_short, t

if TYPE_CHECKING:
    from cocm_desktop.services.case_review_packet_model import PacketPatient


def safety_section(p: PacketPatient, year: int) -> list[Flowable]:
    body: list[Flowable] = []
    positives = [(d, v) for d, v in p.item9_history if v]
    if not p.item9_history:
        body.append(P("No PHQ-9 item 9 answer since enrollment.", "body"))
    else:
        hist = "" if not positives else " \u00b7 ".join(
            (f"<font color='#A31515'><b>{t(d_short(d, year))}: {v}</b></font>" if v else f"{t(d_short(d, year))}: 0")
            for d, v in p.item9_history[-10:])
        more = f" <font color='#5F6368'>(+{len(p.item9_history) - 10} earlier)</font>" if len(
            p.item9_history) > 10 else ""
        first, last = p.item9_history[0][0], p.item9_history[-1][0]
        span = t(d_short(first, year)) if first == last else f"{t(d_short(first, year))} \u2013 {t(d_short(last, year))}"
        if positives:
            body.append(P(f"<font color='#A31515'><b>Item 9 above 0 on {len(positives)} of {len(p.item9_history)} "
                          f"PHQ-9s.</b></font> <font color='#5F6368'>History:</font> {hist}{more}", "body"))
        else:
            n9 = len(p.item9_history)
            body.append(P(f"Item 9 (self-harm thoughts) was 0 on {'the' if n9 == 1 else 'all'} {n9} PHQ-9"
                          f"{'' if n9 == 1 else 's'} since enrollment ({span}).", "body"))
    if p.risks:
        rows = [th("Opened", "Trigger", "Assessment", "Clinician told", "After-hours", "Safety plan", "Outcome")]
        for r in p.risks:
            def yn(v: bool) -> str:
                return "yes" if v else "NO"
            outcome = t(r.outcome) + (f" <font color='#5F6368'>({t(d_short(r.outcome_at, year))})</font>"
                                      if r.outcome_at else "") if r.outcome else \
                "<font color='#A31515'><b>OPEN \u2014 no outcome documented</b></font>"
            rows.append([c(d_short(r.opened_at, year)), c(r.trigger.replace("_", " ")),
                         yn(r.safety_assessment_done), yn(r.clinician_notified),
                         "used" if r.after_hours_routing_used else "not used", yn(r.safety_plan_done),
                         P(outcome, "cell")])
        extra = [("TEXTCOLOR", (col, i), (col, i), ALERT) for i, row in enumerate(rows) for col in (2, 3, 5)
                 if i and row[col] == "NO"]
        body += [Spacer(1, 3), grid(rows, [48, 54, 50, 54, 48, 50, WIDTH - 304], zebra=False, extra=extra)]
    else:
        body.append(P("No risk events in this episode.", "muted"))
    if p.safety_steps:
        body.append(P(f"<font color='#5F6368'>Safety steps in the care plan:</font> {t(p.safety_steps)}", "body"))
    elif positives or any(r.is_open for r in p.risks):
        body.append(P("<font color='#A31515'><b>No safety steps in the care plan.</b></font>", "body"))
    return section("Safety", *body)


def medications_section(p: PacketPatient, year: int) -> list[Flowable]:
    """The current regimen, what the patient reports, the recent changes (who, why) and the approved
    changes not on the list yet: the consultant recommends against today's regimen."""
    body: list[Flowable] = []
    if p.medications:
        rows = [th("Medication", "Dose", "Schedule", "Since", "Note")]
        for m in p.medications:
            since = d_short(m.started_on, year) if m.started_on else "\u2014"
            rows.append([c(m.name), c(m.dose), c(m.schedule or "\u2014"), c(since),
                         P(t(m.note), "cell") if m.note else ""])
        body.append(grid(rows, [120, 70, 80, 56, WIDTH - 326], zebra=False,
                         extra=[("FONTNAME", (0, 1), (0, -1), BOLD)]))
    else:
        body.append(P("No current medication recorded.", "body"))
    reported = []
    if p.adherence is not None:
        reported.append(f"<font color='#5F6368'>Adherence ({t(d_short(p.adherence.on, year))}):</font> "
                        f"{t(p.adherence.text)}")
    if p.side_effects is not None:
        reported.append(f"<font color='#5F6368'>Side effects ({t(d_short(p.side_effects.on, year))}):</font> "
                        f"{t(p.side_effects.text)}")
    elif p.contact_count:
        reported.append("<font color='#5F6368'>Side effects:</font> none reported")
    if reported:
        body += [Spacer(1, 3), P(" &nbsp;\u00b7&nbsp; ".join(reported), "body")]
    for pending in p.medication_pending:
        body.append(P(f"<font color='#8A4B00'><b>Approved, not on the list yet:</b></font> {t(pending)}", "body"))
    if p.medication_changes:
        rows = [th("Date", "Change", "Medication", "By", "Why")]
        for ch in p.medication_changes:
            rows.append([c(d_short(ch.on, year)), c(ch.what), P(f"<b>{t(ch.name)}</b> {t(ch.detail)}", "cell"),
                         c(ch.by), P(t(ch.why), "cell") if ch.why else ""])
        body += [Spacer(1, 3), P("<font color='#5F6368'>Recent changes</font>", "small"),
                 grid(rows, [48, 62, 130, 86, WIDTH - 326], zebra=False)]
    return section("Medications", *body)


_MODES = {"in_person": "in person", "phone": "phone", "video": "video", "portal": "portal"}
_KINDS = {"follow_up": "follow-up", "relapse_prevention": "relapse prevention", "close_out": "close-out",
          "assessment": "assessment", "outreach": "outreach"}


def contacts_section(p: PacketPatient, year: int) -> list[Flowable]:
    body: list[Flowable] = []
    if p.skills:
        skills = " \u00b7 ".join(f"<b>{t(s.skill)}</b> \u00d7{s.times} (last {t(d_short(s.last_on, year))})"
                                 for s in p.skills[:5])
        body += [P(f"<font color='#5F6368'>Skills practised:</font> {skills}", "body"), Spacer(1, 3)]
    if p.contacts:
        rows = [th("Date", "Contact", "By", "Summary", "Next step")]
        for ct in p.contacts:
            what = f"{_MODES.get(ct.mode, ct.mode)} {_KINDS.get(ct.kind, ct.kind)}"
            if not ct.reached:
                what += " \u2014 <font color='#A31515'>not reached</font>"
            summary = t(ct.summary or "")
            rows.append([d_short(ct.at, year), P(what, "small"), P(t(ct.staff), "small"), P(summary, "small"),
                         P(f"{t(ct.next_step)} <font color='#5F6368'>({t(d_short(ct.next_step_on, year))})</font>",
                           "small")])
        body.append(grid(rows, [42, 78, 68, WIDTH - 42 - 78 - 68 - 120, 120], zebra=False))
        if p.contact_count > len(p.contacts):
            body.append(P(f"{len(p.contacts)} most recent of {p.contact_count} contacts.", "muted"))
    else:
        body.append(P("No contacts recorded yet.", "body"))
    return section("Contacts", *body, keep=False)


def care_plan_section(p: PacketPatient, year: int) -> list[Flowable]:
    cp = p.care_plan
    rows: list[list[Flowable]] = []
    if p.patient_goals:
        rows.append([P("Patient's goals", "kv_k"), P(f"\u201c{t(p.patient_goals)}\u201d", "body")])
    if cp is not None:
        signed = f"signed off {t(d_short(cp.signed_off_on, year))}" if cp.signed_off_on else \
            "<font color='#A31515'>not signed off</font>"
        rows.append([P("Care plan", "kv_k"), P(f"version {cp.version}, {signed}", "body")])
        rows.append([P("Goals", "kv_k"), P(t(cp.goals), "body")])
        if cp.skill_plan:
            rows.append([P("Skill plan", "kv_k"), P(t(cp.skill_plan), "body")])
        if cp.follow_up_cadence:
            rows.append([P("Follow-up", "kv_k"), P(t(cp.follow_up_cadence), "body")])
    else:
        rows.append([P("Care plan", "kv_k"), P("<font color='#A31515'>No care plan yet.</font>", "body")])
    if p.next_action:
        rows.append([P("Next action", "kv_k"), P(f"{t(p.next_action)} ({t(d_short(p.next_action_on, year))})",
                                                 "body")])
    tbl = Table(rows, colWidths=[78, WIDTH - 78])
    tbl.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 1),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 1), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return section("Care plan", tbl)


def referrals_section(p: PacketPatient, year: int) -> list[Flowable]:
    if not p.referrals:
        return [P("<font color='#17365D'><b>REFERRALS</b></font>&nbsp;&nbsp; none", "body"), Spacer(1, 7)]
    rows = [th("Referred", "To", "Reason", "Status")]
    for r in p.referrals:
        status = r.status + (f", seen {d_short(r.seen_on, year)}" if r.seen_on else "")
        status = f"<b>{t(status)}</b>" if r.status in ("sent", "scheduled") else t(status)
        rows.append([c(d_short(r.referred_on, year)), P(t(r.to_whom), "cell_b"), P(t(r.reason), "cell"),
                     P(status, "cell")])
    return section("Referrals", grid(rows, [52, 140, WIDTH - 52 - 140 - 96, 96], zebra=False))


def recommendations_section(p: PacketPatient, year: int) -> list[Flowable]:
    if not p.recommendations:
        return [P("<font color='#17365D'><b>EARLIER RECOMMENDATIONS</b></font>&nbsp;&nbsp; none \u2014 first review",
                  "body"), Spacer(1, 7)]
    rows = [th("Recorded", "Recommendation", "Loop")]
    for r in p.recommendations[:6]:
        what = f"<b>{t(r.kind)}</b>"
        if r.drug:
            what += f": {t(r.drug)}" + (f" {t(r.dose)}" if r.dose else "")
        what += f" \u2014 {t(r.text)}"
        if r.modified_text:
            what += f"<br/><font color='#5F6368'>Modified to:</font> {t(r.modified_text)}"
        if not r.is_open:  # a closed loop needs one line
            how = f" ({t(r.told_how).lower()})" if r.told_how else ""
            loop = [f"Closed \u00b7 told {t(d_short(r.told_on, year))}{how}" if r.told_on else
                    f"Closed \u00b7 decided {t(d_short(r.decided_on, year))}" if r.decided_on else "Closed"]
        else:
            loop = [f"<b>{t(r.state_label)}</b>"]
            if r.decided_on:
                verb = {"declined": "Declined"}.get(r.state, "Decided")
                loop.append(f"{verb} {t(d_short(r.decided_on, year))}" +
                            (f" by {t(r.decided_by)}" if r.decided_by else ""))
                if r.state == "declined" and r.decision_note:
                    loop.append(f"\u201c{t(r.decision_note)}\u201d")
            else:
                loop.append(f"waiting since {t(d_short(r.recommended_on, year))}")
            if r.told_on:
                loop.append(f"Told {t(d_short(r.told_on, year))}" + (f" ({t(r.told_how).lower()})" if r.told_how else ""))
        # The day it was recorded (what the app shows); a session on another day is named beside it.
        when = t(d_short(r.recommended_on, year))
        if r.session_on is not None and r.session_on != r.recommended_on:
            when += f"<br/><font color='#5F6368'>review {t(d_short(r.session_on, year))}</font>"
        rows.append([P(when, "cell"), P(what, "cell"),
                     P("<br/>".join(loop), "small")])
    extra = [("BACKGROUND", (0, i), (-1, i), QUESTION_BG) for i, r in enumerate(p.recommendations[:6], start=1)
             if r.is_open]
    body: list[Flowable] = [grid(rows, [52, WIDTH - 52 - 130, 130], zebra=False, extra=extra)]
    if len(p.recommendations) > 6:
        body.append(P(f"6 most recent of {len(p.recommendations)} recommendations.", "muted"))
    open_n = sum(1 for r in p.recommendations if r.is_open)
    if open_n:
        body.append(P(f"{open_n} loop{'s' if open_n > 1 else ''} still open (shaded).", "muted"))
    return section("Earlier recommendations", *body)
