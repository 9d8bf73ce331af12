"""Printing the monthly quality report is one user action: one audit record naming the months covered.

The report charts six months; each month's figures used to be audited as if the lead had run the
quality check six times. Demo clinic, today 2026-11-24.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from cocm_desktop.cli import main
from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.reports.quality_report import build_quality_report
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.quality import quality_report
from cocm_desktop.services.quality_report import quality_report_data
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AuditRecord

TODAY = date(2026, 11, 24)


def _last_seq(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1)) or 0)


def _new_records(db: Database, after: int) -> list[tuple[str, str | None, str | None, object]]:
    """(action, username, summary, detail) of every audit record written after seq `after`."""
    with db.session() as s:
        return [
            (r.action, r.username, r.summary, r.detail)
            for r in s.scalars(select(AuditRecord).where(AuditRecord.seq > after).order_by(AuditRecord.seq))
        ]


@pytest.mark.parametrize(
    ("month", "covered"),
    [
        ("2026-11", ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]),
        ("2026-02", ["2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]),  # across a year
    ],
)
def test_printing_the_report_leaves_exactly_one_audit_record_naming_the_months(
    demo_path: Path, month: str, covered: list[str]
) -> None:
    with Database.open(demo_path, "lead", "demo") as db:
        assert db.actor is not None
        before = _last_seq(db)
        with db.session() as s:  # what the Reports menu does: one session, then the PDF
            trend = quality_report_data(s, db.actor, month, today=TODAY)
        assert build_quality_report(trend).startswith(b"%PDF")
        assert _new_records(db, before) == [
            (
                "report.quality_pdf",
                "lead",
                f"Quality report for {month} printed (months {covered[0]} to {covered[-1]})",
                {"month": month, "months": covered},
            )
        ]
        with db.session() as s:
            rec = s.scalars(select(AuditRecord).where(AuditRecord.seq > before)).one()
            assert (rec.object_type, rec.patient_id, rec.user_id) == ("report", None, db.actor.user_id)
    assert [f"{h.month_start:%Y-%m}" for h in trend.history] == covered


def test_the_printed_figures_are_still_the_quality_checks_and_the_check_is_audited_once(
    demo_path: Path,
) -> None:
    with Database.open(demo_path, "lead", "demo") as db:
        assert db.actor is not None
        with db.session() as s:
            trend = quality_report_data(s, db.actor, "2026-11", today=TODAY)
        before = _last_seq(db)
        with db.session() as s:  # the quality screen: one month, one "report.quality" record
            september = quality_report(s, db.actor, date(2026, 9, 1), today=TODAY)
        assert _new_records(db, before) == [("report.quality", "lead", "Quality check for 2026-09 run", None)]
    assert trend.history[3] == september and september.caseload > 0


def test_the_cli_print_leaves_its_sign_in_and_one_report_record(
    demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    out = tmp_path / "quality.pdf"
    with Database.open(demo_path, "lead", "demo") as db:
        before = _last_seq(db)
        code = main(
            [
                "report",
                "quality",
                "--db",
                str(demo_path),
                "--user",
                "lead",
                "--month",
                "2026-10",
                "--out",
                str(out),
            ]
        )
        assert code == 0 and out.read_bytes().startswith(b"%PDF")
        assert [(action, detail) for action, _user, _summary, detail in _new_records(db, before)] == [
            ("login.success", None),
            (
                "report.quality_pdf",
                {
                    "month": "2026-10",
                    "months": ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"],
                },
            ),
        ]


@pytest.mark.parametrize(
    ("username", "month", "refusal"),
    [
        ("cm1", "2026-11", PermissionDenied),
        ("psych", "2026-11", PermissionDenied),
        ("lead", "2026-12", ValidationError),  # not started yet
    ],
)
def test_a_refused_print_writes_no_audit_record(
    demo_path: Path, username: str, month: str, refusal: type[Exception]
) -> None:
    with Database.open(demo_path, username, "demo") as db:
        assert db.actor is not None
        before = _last_seq(db)
        with pytest.raises(refusal), db.session() as s:
            quality_report_data(s, db.actor, month, today=TODAY)
        assert _new_records(db, before) == []
