"""Monthly quality report PDF and its CLI, on the demo clinic (today 2026-11-24)."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from cocm_desktop.cli import main
from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.reports.quality_report import build_quality_report
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.quality import quality_report
from cocm_desktop.services.quality_report import month_back, parse_month, quality_report_data
from cocm_desktop.store.database import Database

TODAY = date(2026, 11, 24)


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages).split())


@pytest.mark.parametrize(("first", "n", "expected"), [
    (date(2026, 11, 1), 5, date(2026, 6, 1)), (date(2026, 2, 1), 3, date(2025, 11, 1)),
    (date(2026, 1, 1), 1, date(2025, 12, 1)), (date(2026, 1, 1), 0, date(2026, 1, 1)),
])
def test_month_back_crosses_years(first: date, n: int, expected: date) -> None:
    assert month_back(first, n) == expected


@pytest.mark.parametrize("bad", ["2026-13", "Nov 2026", "2026", ""])
def test_bad_month_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(ValidationError, match="Month"):
        parse_month(bad)


def test_figures_in_the_pdf_are_the_quality_service_figures(demo_path: Path) -> None:
    with Database.open(demo_path, "lead", "demo") as db, db.session() as s:
        assert db.actor is not None
        trend = quality_report_data(s, db.actor, "2026-11", today=TODAY)
        direct = quality_report(s, db.actor, date(2026, 11, 1), today=TODAY)
        october = quality_report(s, db.actor, date(2026, 10, 1), today=TODAY)
    assert trend.month == direct and trend.history[-2] == october
    assert [h.month_start for h in trend.history] == [date(2026, m, 1) for m in range(6, 12)]
    text = _text(build_quality_report(trend))
    for title, rate in (("ENGAGEMENT", direct.engagement), ("MEASUREMENT", direct.measurement),
                        ("CASE-REVIEW COVERAGE", direct.case_review_coverage), ("RESPONSE", direct.response),
                        ("REMISSION", direct.remission)):
        assert rate.denominator > 0
        assert re.search(rf"{title} {rate.percent:.0f}% {rate.numerator} of {rate.denominator}\b", text), title
    # last six months' bars carry each month's value
    for h in trend.history[:-1]:
        if h.engagement.percent is not None:
            assert f"{h.engagement.percent:.0f}%" in text
    assert f"{direct.caseload} open episodes" in text
    for name, n in direct.caseload_by_care_manager:
        assert re.search(rf"{re.escape(name)}( \d+){{5}} {n}\b", text)


@pytest.mark.parametrize("username", ["cm1", "doc1", "psych"])
def test_only_the_clinic_lead_may_run_it(demo_path: Path, username: str) -> None:
    with Database.open(demo_path, username, "demo") as db, db.session() as s:
        assert db.actor is not None
        with pytest.raises(PermissionDenied, match="clinic lead"):
            quality_report_data(s, db.actor, "2026-11", today=TODAY)


def test_cli_refuses_other_roles_with_a_clear_message_and_writes_nothing(
    demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    out = tmp_path / "quality.pdf"
    code = main(["report", "quality", "--db", str(demo_path), "--user", "cm1", "--month", "2026-11",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 3
    assert err.strip() == "Not allowed: A care manager cannot run the quality report; the clinic lead does."
    assert not out.exists()
    assert main(["report", "quality", "--db", str(demo_path), "--user", "lead", "--month", "2026-11",
                 "--out", str(out)]) == 0
    assert "November 2026" in _text(out.read_bytes())
