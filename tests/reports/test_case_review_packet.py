"""The printed case-review packet, read back from the PDF on the demo clinic (today 2026-11-24)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from cocm_desktop.cli import main
from cocm_desktop.reports.case_review_packet import build_case_review_packet
from cocm_desktop.reports.charts import BAND_TINTS, band_tint
from cocm_desktop.services.case_review_packet import packet_data
from cocm_desktop.services.registry import build_registry
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AgendaItem, AuditRecord, CaseReviewSession

TODAY = date(2026, 11, 24)
NEXT_SESSION = date(2026, 11, 26)  # the Thursday after "today" in the demo: scheduled, not held


def _pages(pdf: bytes) -> list[str]:
    import io

    return [p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages]


def _patient_pages(texts: list[str], count: int) -> dict[int, list[str]]:
    """Agenda position → the text of that patient's pages (found by the running header 'n/N  Name')."""
    out: dict[int, list[str]] = {}
    for text in texts:
        m = re.search(rf"\b(\d+)/{count}\s", text)
        if m:
            out.setdefault(int(m.group(1)), []).append(text)
    return out


@pytest.fixture
def demo_packet(demo_path: Path):  # type: ignore[no-untyped-def]
    with Database.open(demo_path, "cm1", "demo") as db, db.session() as s:
        assert db.actor is not None
        packet = packet_data(s, db.actor, today=TODAY)
        registry = {r.episode_id: r for r in build_registry(s, db.actor, today=TODAY)}
    return packet, registry, build_case_review_packet(packet)


def test_default_session_is_the_next_one_and_every_agenda_patient_is_printed_in_order(demo_packet) -> None:  # type: ignore[no-untyped-def]
    packet, _registry, pdf = demo_packet
    assert packet.session_on == NEXT_SESSION and not packet.held
    assert len(packet.patients) >= 5
    texts = _pages(pdf)
    assert texts[0].startswith("PSYCHIATRIC CASE REVIEW")
    # patients appear in agenda order, each starting on a new page with its own running header
    starts = []
    for n, text in enumerate(texts):
        for p in packet.patients:
            if f"{p.position}/{len(packet.patients)}" in text and p.name in text and p.mrn in text:
                starts.append((n, p.position))
                break
    positions = [pos for _n, pos in starts]
    assert sorted(set(positions)) == [p.position for p in packet.patients]
    firsts = [pos for i, pos in enumerate(positions) if i == 0 or positions[i - 1] != pos]
    assert firsts == [p.position for p in packet.patients]
    # agenda groups in the spec's order: safety flags first, then carried over, then by group
    order = ["safety", "new", "not_improving", "medication_question", "follow_up"]
    keys = [(p.group != "safety", p.carried_from is None, order.index(p.group)) for p in packet.patients]
    assert keys == sorted(keys)
    # one care manager's session, sized to its hour
    assert packet.care_manager == "Casey Morgan" and len(packet.patients) <= packet.capacity == 10
    # footer on every page
    for n, text in enumerate(texts, start=1):
        assert "Confidential \u2014 contains PHI" in text
        assert f"Page {n} of {len(texts)}" in text
        assert "26 Nov 2026" in text


def test_printed_figures_equal_what_the_registry_shows(demo_packet) -> None:  # type: ignore[no-untyped-def]
    packet, registry, pdf = demo_packet
    by_position = _patient_pages(_pages(pdf), len(packet.patients))
    for p in packet.patients:
        row = registry[p.episode_id]
        page = "\n".join(by_position[p.position])
        assert p.weeks == row.weeks
        assert re.search(rf"\b{row.weeks}\s*weeks?\b", page), p.position
        last = row.phq9_last if p.primary_scale == "PHQ-9" else row.gad7_last
        base = row.phq9_baseline if p.primary_scale == "PHQ-9" else row.gad7_baseline
        if last is not None and base is not None and p.primary.last_on != p.primary.baseline_on:
            assert re.search(rf"last {last} \(", page), (p.position, last)
        if base is not None:
            assert f"baseline {base} (" in page
        assert f"MRN {p.mrn}" in page


def test_cover_counts_by_group_match_the_patients(demo_packet) -> None:  # type: ignore[no-untyped-def]
    packet, registry, pdf = demo_packet
    cover = " ".join(_pages(pdf)[0].split())
    for g in packet.group_counts:
        assert g.count == sum(1 for p in packet.patients if p.group == g.group)
        assert re.search(rf"\b{g.count}\s*{re.escape(g.label)}", cover), g.label
    assert "Dr. Priya Shah" in cover
    # the caseload line is the session's care manager's: every open episode of theirs
    assert packet.total_open == sum(1 for r in registry.values() if r.care_manager == packet.care_manager)
    assert "Casey Morgan" in cover and "room for 10 patients" in cover
    assert sum(r.on_agenda for r in packet.caseload) == len(packet.patients)


def test_a_held_session_prints_its_saved_agenda_in_order(demo_path: Path) -> None:
    with Database.open(demo_path, "psych", "demo") as db, db.session() as s:
        assert db.actor is not None
        sid, on = s.execute(
            select(CaseReviewSession.id, CaseReviewSession.session_on)
            .join(AgendaItem, AgendaItem.session_id == CaseReviewSession.id)
            .where(CaseReviewSession.held.is_(True)).group_by(CaseReviewSession.id)
            .order_by(func.count(AgendaItem.id).desc(), CaseReviewSession.session_on.desc())).first()
        saved = [r[0] for r in s.execute(
            select(AgendaItem.episode_id).where(AgendaItem.session_id == sid, AgendaItem.removed.is_(False)))]
        cm = s.get(CaseReviewSession, sid).care_manager_id
        packet = packet_data(s, db.actor, on_date=on, care_manager_id=cm, today=TODAY)
    assert packet.held and packet.agenda_saved and packet.session_id == sid
    assert sorted(p.episode_id for p in packet.patients) == sorted(saved)
    texts = _pages(build_case_review_packet(packet))
    assert len(_patient_pages(texts, len(packet.patients))) == len(packet.patients)


@pytest.mark.parametrize("username", ["cm1", "doc1", "psych", "lead"])
def test_every_role_may_print_it_and_it_is_audited(demo_path: Path, username: str) -> None:
    with Database.open(demo_path, username, "demo") as db:
        with db.session() as s:
            assert db.actor is not None
            packet = packet_data(s, db.actor, today=TODAY)
        with db.session() as s:
            rec = s.scalars(select(AuditRecord).where(AuditRecord.action == "report.case_review_packet")
                            .order_by(AuditRecord.seq.desc())).first()
    assert rec is not None and rec.username == username and rec.object_id == packet.session_id
    assert sorted(rec.detail["patient_ids"]) == sorted(p.patient_id for p in packet.patients)
    # no names in the audit summary (PHI discipline)
    assert all(p.name.split(",")[0] not in (rec.summary or "") for p in packet.patients)


def test_question_safety_and_handwriting_block_are_on_the_patient_pages(demo_packet) -> None:  # type: ignore[no-untyped-def]
    packet, _registry, pdf = demo_packet
    by_position = _patient_pages(_pages(pdf), len(packet.patients))
    asked = [p for p in packet.patients if p.questions]
    assert asked, "the demo has patients with a question for the consultant"
    for p in asked:
        page = " ".join(" ".join(by_position[p.position]).split())
        assert "CARE MANAGER'S QUESTION" in page
        assert " ".join(p.questions[0].text.split())[:40] in page
    for p in packet.patients:
        page = "\n".join(by_position[p.position])
        assert "CONSULTANT'S RECOMMENDATION" in page and "Signature" in page
        if any(v for _d, v in p.item9_history):
            assert "Item 9 above 0" in page
    # the Pfizer notice travels with the printed item texts
    assert "educational grant from Pfizer" in "\n".join(_pages(pdf))


def test_unknown_date_is_refused_in_plain_words(demo_path: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    out = tmp_path / "packet.pdf"
    assert main(["report", "case-review", "--db", str(demo_path), "--user", "cm1", "--date", "2026-11-25",
                 "--out", str(out)]) == 3
    assert "No case-review session on 2026-11-25" in capsys.readouterr().err
    assert not out.exists()
    assert main(["report", "case-review", "--db", str(demo_path), "--user", "doc1", "--date",
                 NEXT_SESSION.isoformat(), "--out", str(out)]) == 0
    texts = _pages(out.read_bytes())
    assert "Thursday, 26 November 2026" in texts[0]
    assert out.stat().st_mode & 0o077 == 0  # owner-only: it holds PHI


def test_band_tints_darken_with_severity_so_grey_print_keeps_the_order() -> None:
    def luminance(c) -> float:  # type: ignore[no-untyped-def]
        return 0.2126 * c.red + 0.7152 * c.green + 0.0722 * c.blue

    lums = [luminance(c) for c in BAND_TINTS]
    assert lums == sorted(lums, reverse=True) and len(set(lums)) == len(lums)
    for count in (4, 5):
        tints = [luminance(band_tint(i, count)) for i in range(count)]
        assert tints == sorted(tints, reverse=True) and len(set(tints)) == count



def test_care_manager_flag_prints_that_session_with_its_not_reached_list(
        demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    out = tmp_path / "cm2.pdf"
    assert main(["report", "case-review", "--db", str(demo_path), "--user", "psych", "--care-manager", "Riley Chen",
                 "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "2026-11-26 (Riley Chen's caseload): 10 patients, 1 not reached" in said
    texts = _pages(out.read_bytes())
    cover = " ".join(" ".join(texts[:2]).split())
    assert "Care manager Riley Chen" in cover and "room for 10 patients" in cover
    assert "NOT REACHED IN THIS SESSION (1)" in cover
    with Database.open(demo_path, "psych", "demo") as db, db.session() as s:
        item, cm = s.execute(
            select(AgendaItem.episode_id, CaseReviewSession.care_manager_id)
            .join(CaseReviewSession, CaseReviewSession.id == AgendaItem.session_id)
            .where(CaseReviewSession.session_on == NEXT_SESSION, AgendaItem.not_reached.is_(True))).one()
        packet = packet_data(s, db.actor, on_date=NEXT_SESSION, care_manager_id=cm, today=TODAY)
    assert packet.not_reached[0].name in cover  # listed by name, without pages of its own
    assert all(p.episode_id != item for p in packet.patients)
    # the old flags still work: a date alone prints the user's own session, and says there are others
    assert main(["report", "case-review", "--db", str(demo_path), "--user", "cm2", "--date",
                 NEXT_SESSION.isoformat(), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Riley Chen's caseload" in said and "1 other session that day" in said
    assert main(["report", "case-review", "--db", str(demo_path), "--user", "psych", "--care-manager", "doc1",
                 "--out", str(out)]) == 3
    assert "is not a care manager" in capsys.readouterr().err


def test_a_recommendation_prints_the_day_it_was_recorded(demo_path: Path) -> None:
    """Recorded on 24 Nov at the agenda of the 26 Nov session: the app says 24 Nov, and so does the
    packet now (it printed the session's date, 26 Nov), with the review's date beside it."""
    from datetime import datetime

    from cocm_desktop.services.case_review import record_recommendation, review_view

    with Database.open(demo_path, "psych", "demo") as db:
        with db.session() as s:
            crs = s.scalars(select(CaseReviewSession).where(CaseReviewSession.session_on == NEXT_SESSION)
                            .order_by(CaseReviewSession.id)).first()
            entry = review_view(s, crs).agenda[0]
            rec = record_recommendation(s, db.actor, entry.episode_id, kind="psychotherapy", text="Weekly CBT calls",
                                        agenda_item_id=entry.id, now=datetime(2026, 11, 24, 23, 30))
            assert rec.recommended_at.date() == TODAY  # what the chart and the pane show
        with db.session() as s:
            packet = packet_data(s, db.actor, session_id=crs.id, today=TODAY)
    texts = _pages(build_case_review_packet(packet))
    page = " ".join(" ".join(_patient_pages(texts, len(packet.patients))[1]).split())
    assert "Recorded Recommendation Loop 24 Nov review 26 Nov Psychotherapy" in page
