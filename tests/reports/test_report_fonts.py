"""Every report prints names in any script the embedded DejaVu Sans covers (Latin, Greek,
Cyrillic, Vietnamese...) and degrades the rest to a visible "?" rather than a blank box."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from pypdf import PdfReader

from cocm_desktop.reports import pdf_common as pc
from cocm_desktop.reports.case_review_packet import build_case_review_packet
from cocm_desktop.services.case_review_packet import packet_data
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Patient

TODAY = date(2026, 11, 24)


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)


def test_the_embedded_font_is_dejavu_from_the_app_resources() -> None:
    folder = pc.register_fonts()
    assert (folder / "DejaVuSans.ttf").is_file() and (folder / "DejaVuSans-Bold.ttf").is_file()
    assert folder == Path(pc.__file__).resolve().parents[2] / "resources" / "fonts"  # not the system's


def test_printable_keeps_every_letter_the_font_has_and_marks_the_rest() -> None:
    assert pc.printable("Nguyễn, Thảo · Łukasz · Σοφία · Юлия") == "Nguyễn, Thảo · Łukasz · Σοφία · Юлия"
    assert pc.printable("Wang 王 한\nnext") == "Wang ? ?\nnext"  # no CJK or Hangul in DejaVu Sans


def test_case_review_packet_prints_non_latin_patient_names(demo_path: Path) -> None:
    names = [("Nguyễn", "Thảo"), ("Παπαδοπούλου", "Σοφία"), ("Wiśniewski", "Łukasz")]
    with Database.open(demo_path, "cm1", "demo") as db:
        assert db.actor is not None
        with db.session() as s:
            agenda = packet_data(s, db.actor, today=TODAY).patients[: len(names)]
            assert len(agenda) == len(names)
            for p, (family, given) in zip(agenda, names, strict=True):
                row = s.get(Patient, p.patient_id)
                assert row is not None
                row.family_name, row.given_name = family, given
        with db.session() as s:
            packet = packet_data(s, db.actor, today=TODAY)
    text = _text(build_case_review_packet(packet))
    for family, given in names:
        # the cover's agenda, the patient's own page and its running header
        assert text.count(f"{family}, {given}") >= 2, (family, given)
