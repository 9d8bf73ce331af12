"""The printed case-review packet (reportlab, built in memory): `build_case_review_packet(packet) -> bytes`.

Pure rendering: takes services.case_review_packet_model.CaseReviewPacket and touches no database.

Layout (US Letter): a cover (session, consultant, care managers, agenda counts by group, caseload
per care manager, the agenda at a glance), then one section per agenda patient, each starting on a
new page: header, the care manager's question, outcomes (score table, item answers of the newest
measure, trend chart), safety, medications, contacts and skills, care plan, referrals, earlier
recommendations and their loop, and a ruled block for the consultant's handwritten recommendation.
Every page: a running header naming the patient (loose pages find their way back) and a footer
with clinic, session date, "Confidential — contains PHI" and page x of y.

The pieces: case_review_style (page, type, colour, text helpers), case_review_document (running
header, footer, page x of y), case_review_blocks and case_review_boxes (tables, chips, drawn boxes),
case_review_cover, case_review_patient (one patient's pages), case_review_outcomes (scores, items,
trend chart), case_review_sections (safety, medications, contacts, care plan, referrals, earlier
recommendations). The quality report borrows the page furniture: the names it imports from this
module are re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cocm_desktop.reports.case_review_blocks import SectionHead, grid, th
from cocm_desktop.reports.case_review_cover import cover_pages
from cocm_desktop.reports.case_review_document import build_document
from cocm_desktop.reports.case_review_patient import patient_pages
from cocm_desktop.reports.case_review_style import BOLD, MUTED, RULE, WIDTH, P, d_long, d_short, t, t_plain

if TYPE_CHECKING:  # the read model lives in services; rendering only reads attributes
    from cocm_desktop.services.case_review_packet_model import CaseReviewPacket

# build_case_review_packet, and the page furniture the quality report borrows from here
__all__ = [
    "BOLD", "MUTED", "RULE", "WIDTH", "P", "SectionHead", "build_case_review_packet", "build_document", "d_short",
    "grid", "t", "t_plain", "th",
]


def build_case_review_packet(packet: CaseReviewPacket) -> bytes:
    """The packet as PDF bytes (in memory; nothing written to disk). One layout pass."""
    year = packet.session_on.year
    story = cover_pages(packet)
    for p in packet.patients:
        story += patient_pages(p, len(packet.patients), year, max(packet.session_on, packet.as_of))
    return build_document(
        story, title=f"Case review packet {packet.session_on.isoformat()}",
        footer_left=f"{packet.clinic} \u00b7 Case review {d_short(packet.session_on)}",
        subject="Psychiatric case review", header_right=f"Case review \u00b7 {d_long(packet.session_on)}",
    )
