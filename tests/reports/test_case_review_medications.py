"""The packet's medications, read back from the PDF: the consultant sees today's regimen — an
approved change is on it — with the recent changes (who, why) and an approved change still waiting
for the patient to be told (demo clinic, today 2026-11-24)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from pathlib import Path

from pypdf import PdfReader

from cocm_desktop.reports.case_review_packet import build_case_review_packet
from cocm_desktop.services import case_review
from cocm_desktop.services.case_review_packet import packet_data
from cocm_desktop.services.policy import update_policy
from cocm_desktop.store.database import Database

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 9, 30)


def _page_of(pdf: bytes, position: int, count: int) -> str:
    texts = [p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages]
    mine = [t for t in texts if re.search(rf"\b{position}/{count}\s", t)]
    return " ".join(" ".join(mine).split())


def _packet(demo_path: Path):  # type: ignore[no-untyped-def]
    with Database.open(demo_path, "psych", "demo") as db, db.session() as s:
        assert db.actor is not None
        return packet_data(s, db.actor, today=TODAY)


def _change_first_patients_drug(demo_path: Path):  # type: ignore[no-untyped-def]
    """The consultant recommends a dose change for the first agenda patient on an antidepressant;
    the clinician approves it."""
    before = _packet(demo_path)
    p = next(p for p in before.patients if p.medications)
    line = p.medications[0]
    with Database.open(demo_path, "psych", "demo") as db, db.session() as s:
        assert db.actor is not None
        rec = case_review.record_recommendation(s, db.actor, p.episode_id, kind="medication_change",
                                                drug=line.name.lower(), dose="999 mg",
                                                text="Raise the dose: partial response.", now=NOW)
    with Database.open(demo_path, "doc1", "demo") as db, db.session() as s:
        assert db.actor is not None
        case_review.decide_recommendation(s, db.actor, rec.id, "approved", now=NOW)
    return p, line


def test_an_approved_change_is_the_regimen_the_consultant_reads(demo_path: Path) -> None:
    p, line = _change_first_patients_drug(demo_path)
    packet = _packet(demo_path)
    after = next(x for x in packet.patients if x.episode_id == p.episode_id)
    page = _page_of(build_case_review_packet(packet), after.position, len(packet.patients))
    section = page[page.index("MEDICATIONS"):]
    current = section[:section.index("Recent changes")]
    assert f"{line.name} 999 mg {line.schedule}" in current
    assert f"{line.name} {line.dose} " not in current  # the old dose is history, not the regimen
    assert re.search(rf"24 Nov Dose changed {re.escape(line.name)} {re.escape(line.dose)} "
                     rf"{re.escape(line.schedule or '')} . 999 mg", section), section[:400]
    assert "Dr. Daniel Okafor" in section and "Raise the dose: partial response." in section


def test_with_the_when_told_policy_the_packet_shows_the_change_as_waiting(demo_path: Path) -> None:
    with Database.open(demo_path, "lead", "demo") as db, db.session() as s:
        assert db.actor is not None
        update_policy(s, db.actor, {"medication_change_when_told": 1})
    p, line = _change_first_patients_drug(demo_path)
    packet = _packet(demo_path)
    after = next(x for x in packet.patients if x.episode_id == p.episode_id)
    page = _page_of(build_case_review_packet(packet), after.position, len(packet.patients))
    assert f"{line.name} {line.dose} {line.schedule}" in page  # still the regimen: not told yet
    assert f"Approved, not on the list yet: Change {line.name.lower()} to 999 mg (applies when the patient is told)" \
        in page
