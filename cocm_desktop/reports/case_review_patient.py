"""One agenda patient's pages: a new page with the running header, the header block (chips, name,
identity, key facts, diagnoses, flags), the care manager's question, then the sections in reading
order and the consultant's handwriting block."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from reportlab.platypus import CondPageBreak, Flowable, PageBreak, Spacer, Table, TableStyle

from cocm_desktop.reports.case_review_blocks import Chip, chip_row
from cocm_desktop.reports.case_review_boxes import HandwritingBlock, QuestionBox
from cocm_desktop.reports.case_review_document import Marker
from cocm_desktop.reports.case_review_outcomes import outcomes_section
from cocm_desktop.reports.case_review_sections import (
    care_plan_section,
    contacts_section,
    medications_section,
    recommendations_section,
    referrals_section,
    safety_section,
)
from cocm_desktop.reports.case_review_style import ACCENT, ALERT, HEAD_BG, MUTED, WIDTH, P, d_short, t

if TYPE_CHECKING:
    from cocm_desktop.services.case_review_packet_model import PacketPatient


def patient_pages(p: PacketPatient, count: int, year: int, on: date) -> list[Flowable]:
    story: list[Flowable] = [PageBreak(), Marker(f"{p.position}/{count}  {p.name}  \u00b7  MRN {p.mrn}",
                                                 ("patient", p.episode_id))]

    # header: group chips, name, identity line | key facts
    chips = [Chip(f"{p.position}  {p.group_label}", ACCENT)]
    chips += [Chip(r, ACCENT, outline=True) for r in p.reasons if r != p.group_label]
    if p.manual:
        chips.append(Chip("added by care manager", MUTED, outline=True))
    if p.carried_from is not None:
        chips.append(Chip(f"not reached {d_short(p.carried_from, year)}", MUTED, outline=True))
    ident = [f"MRN <b>{t(p.mrn)}</b>", f"{p.age} y"] + ([t(p.sex)] if p.sex else []) + [
        f"born {t(d_short(p.date_of_birth))}"]
    left = [chip_row(chips, width=WIDTH * 0.58), Spacer(1, 3), P(t(p.name), "name"), P(" \u00b7 ".join(ident), "sub")]
    program = {"cocm": "CoCM", "bhi": "BHI"}.get(p.program, p.program)
    status = p.status.replace("_", " ")
    kv = [
        ("Clinician", t(p.clinician)), ("Care manager", t(p.care_manager)),
        ("Enrolled", f"{t(d_short(p.enrolled_on))} \u00b7 {program}, {t(status)}"),
        ("In treatment", f"<font size=11>{p.weeks}</font> week{'' if p.weeks == 1 else 's'}"),
        ("Last review", t(d_short(p.last_case_review_on, year)) if p.last_case_review_on else "never"),
    ]
    right = Table([[P(t(k), "kv_k"), P(v, "kv_v")] for k, v in kv], colWidths=[58, WIDTH * 0.42 - 58])
    right.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 0.8), ("BOTTOMPADDING", (0, 0), (-1, -1), 0.8),
                               ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]))
    header = Table([[left, right]], colWidths=[WIDTH * 0.58, WIDTH * 0.42])
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                                ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
    story.append(header)
    story.append(Spacer(1, 6))
    dx = "; ".join(f"<b>{t(code)}</b> {t(desc)}" + (" (primary)" if primary and len(p.diagnoses) > 1 else "")
                   for code, desc, primary in p.diagnoses) or "<i>No target condition recorded</i>"
    story.append(P(f"<font color='#5F6368'>Diagnoses</font>&nbsp;&nbsp;{dx}", "body"))
    if p.flags:
        story.append(Spacer(1, 4))
        story.append(chip_row([Chip(label, ALERT if label == "Safety" else MUTED, outline=label != "Safety")
                               for label, _ in p.flags]))
    story.append(Spacer(1, 6))

    # the question
    if p.questions:
        paras = []
        for q in p.questions:
            paras.append((t(q.text), "question"))
            paras.append((f"\u2014 {t(q.asked_by)}, {t(d_short(q.asked_on, year))}", "question_by"))
        story.append(QuestionBox("Care manager's question" + ("s" if len(p.questions) > 1 else ""), paras))
    else:
        why = [(t(p.reason_text or ", ".join(p.reasons)), "body")]
        why += [(f"<b>{t(label)}:</b> {t(reason)}", "small") for label, reason in p.flags if reason]
        why.append(("No question recorded for the consultant.", "question_by"))
        story.append(QuestionBox("Why on the agenda", why, bar=ACCENT, fill=HEAD_BG))
    story.append(Spacer(1, 10))

    story += outcomes_section(p, year, on)
    story += safety_section(p, year)
    story += medications_section(p, year)
    story += contacts_section(p, year)
    story += care_plan_section(p, year)
    story += referrals_section(p, year)
    story += recommendations_section(p, year)
    story.append(CondPageBreak(HandwritingBlock().height + 6))
    story.append(HandwritingBlock())
    return story
