"""Submitted months and billing adjustments on the real demo clinic (60 patients, 2026-11-24):
a late time entry in a submitted month is listed (patient, month, codes before → after, minutes,
who and why) until the clinic lead acknowledges it; only the lead marks and acknowledges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.services.billing_month import compute_billing_month
from cocm_desktop.services.billing_submissions import (
    acknowledge_adjustment,
    billing_adjustments,
    mark_month_submitted,
)
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.time_log import add_manual_time, delete_time_entry
from cocm_desktop.services.worklists import WorkKind, worklist
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AuditRecord, BillingSubmissionLine, User

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 16, 0)
OCT = "2026-10"


@pytest.fixture
def demo(demo_path: Path) -> Iterator[tuple[Database, dict[str, Actor]]]:
    db = Database.open(demo_path, "lead", "demo")
    with db.session() as s:
        actors = {u.username: Actor(u.id, u.username, u.display_name, u.role) for u in s.scalars(select(User))}
    yield db, actors
    db.close()


def _submit(db: Database, lead: Actor) -> None:
    with db.session() as s:
        mark_month_submitted(s, lead, OCT, today=TODAY)


def _adjustments(db: Database, lead: Actor, month: str | None = OCT) -> list:  # type: ignore[type-arg]
    with db.session() as s:
        return billing_adjustments(s, lead, month=month, today=TODAY)


def _g2214_row(db: Database):  # type: ignore[no-untyped-def]
    """An October CoCM patient-month below 99493 (16–30 counted minutes: G2214), not blocked."""
    with db.session() as s:
        rows = compute_billing_month(s, OCT, today=TODAY).rows
    return next(r for r in rows if r.codes and r.codes[0][0] == "G2214" and not r.blocked)


def test_a_late_entry_is_an_adjustment_until_the_lead_acknowledges_it(demo) -> None:  # type: ignore[no-untyped-def]
    db, a = demo
    row = _g2214_row(db)
    _submit(db, a["lead"])
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(BillingSubmissionLine)) == len(
            compute_billing_month(s, OCT, today=TODAY).rows)
    assert _adjustments(db, a["lead"]) == []

    with db.session() as s:  # cm1 logs a call from October 30 late, in November
        add_manual_time(s, a["cm1"], patient_id=row.patient_id, activity="care_coordination", minutes=20,
                        local_date=date(2026, 10, 30), note="Call with pharmacy", now=NOW)
    (adj,) = _adjustments(db, a["lead"])
    assert adj.patient_id == row.patient_id and str(adj.month) == OCT
    assert adj.codes_before == row.codes and adj.codes_after[0][0] == "99493"
    assert adj.minutes_before == row.counted_minutes and adj.minutes_after == row.counted_minutes + 20
    assert adj.codes_text.startswith("G2214 ×1 → 99493")
    assert any("cm1" in c and "20 min" in c and "2026-10-30" in c for c in adj.changes)
    with db.session() as s:  # in the lead's worklist too
        wl = worklist(s, a["lead"], today=TODAY, now=NOW)
    (item,) = [i for i in wl.items if i.kind is WorkKind.BILLING_ADJUSTMENT]
    assert item.patient_id == row.patient_id and "G2214 ×1 → 99493" in item.what and item.ref_text == OCT
    assert wl.counts[WorkKind.BILLING_ADJUSTMENT] == 1

    with db.session() as s:
        acknowledge_adjustment(s, a["lead"], OCT, row.patient_id, note="Corrected claim sent", today=TODAY)
    assert _adjustments(db, a["lead"]) == []
    with db.session() as s:
        ack = s.scalars(select(AuditRecord).where(AuditRecord.action == "billing.adjustment_ack")).one()
        assert ack.patient_id == row.patient_id and ack.username == "lead" and "99493" in (ack.summary or "")
        with pytest.raises(ValidationError, match="no billing adjustment"):
            acknowledge_adjustment(s, a["lead"], OCT, row.patient_id, today=TODAY)

    # a later correction is compared with what was acknowledged, and says why
    with db.session() as s:
        entry = s.scalar(select(func.max(AuditRecord.object_id)).where(AuditRecord.action == "time.add"))
        delete_time_entry(s, a["cm1"], entry, "Entered for the wrong patient", now=NOW)
    (again,) = _adjustments(db, a["lead"])
    assert again.codes_before[0][0] == "99493" and again.codes_after == row.codes
    assert any("Entered for the wrong patient" in c for c in again.changes)


def test_time_in_a_later_month_or_a_chart_read_is_no_adjustment(demo) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.chart import open_chart

    db, a = demo
    row = _g2214_row(db)
    _submit(db, a["lead"])
    with db.session() as s:
        add_manual_time(s, a["cm1"], patient_id=row.patient_id, activity="care_coordination", minutes=30,
                        local_date=date(2026, 11, 20), now=NOW)
        open_chart(s, a["doc1"], patient_id=row.patient_id)
    assert _adjustments(db, a["lead"]) == []


def test_only_the_clinic_lead_marks_a_month_submitted_or_acknowledges(demo) -> None:  # type: ignore[no-untyped-def]
    db, a = demo
    for user in ("cm1", "doc1", "psych"):
        with db.session() as s, pytest.raises(PermissionDenied):
            mark_month_submitted(s, a[user], OCT, today=TODAY)
    _submit(db, a["lead"])
    row = _g2214_row(db)
    with db.session() as s:
        add_manual_time(s, a["cm1"], patient_id=row.patient_id, activity="care_coordination", minutes=20,
                        local_date=date(2026, 10, 30), now=NOW)
    for user in ("cm1", "doc1"):
        with db.session() as s, pytest.raises(PermissionDenied):
            acknowledge_adjustment(s, a[user], OCT, row.patient_id, today=TODAY)
        with db.session() as s, pytest.raises(PermissionDenied):
            billing_adjustments(s, a[user], today=TODAY)
        with db.session() as s:  # their worklists never show billing
            assert not [i for i in worklist(s, a[user], today=TODAY, now=NOW).items
                        if i.kind is WorkKind.BILLING_ADJUSTMENT]
    assert len(_adjustments(db, a["lead"])) == 1  # still there: nobody else could clear it


def test_a_month_is_submitted_once_and_only_after_it_ended(demo) -> None:  # type: ignore[no-untyped-def]
    db, a = demo
    _submit(db, a["lead"])
    with db.session() as s, pytest.raises(ValidationError, match="already marked submitted"):
        mark_month_submitted(s, a["lead"], OCT, today=TODAY)
    with db.session() as s, pytest.raises(ValidationError, match="has not ended"):
        mark_month_submitted(s, a["lead"], "2026-11", today=TODAY)
    with db.session() as s, pytest.raises(ValidationError, match="YYYY-MM"):
        mark_month_submitted(s, a["lead"], "October", today=TODAY)
    with db.session() as s:
        rec = s.scalars(select(AuditRecord).where(AuditRecord.action == "billing.submit")).one()
        assert rec.username == "lead" and OCT in (rec.summary or "")


def test_report_billing_marks_submitted_lists_adjustments_and_acknowledges(  # type: ignore[no-untyped-def]
    demo, demo_path, tmp_path, monkeypatch, capsys
) -> None:
    from cocm_desktop import cli

    db, a = demo
    row = _g2214_row(db)
    db.close()  # the command opens the file itself
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    pdf = tmp_path / "oct.pdf"
    args = ["report", "billing", "--db", str(demo_path), "--user", "lead", "--month", OCT, "--out", str(pdf)]
    assert cli.main([*args, "--mark-submitted"]) == 0
    assert "Marked 2026-10 submitted" in capsys.readouterr().out
    assert cli.main([*args, "--mark-submitted"]) == 3  # once only
    assert "already marked submitted" in capsys.readouterr().err
    db2 = Database.open(demo_path, "cm1", "demo")
    with db2.session() as s:
        add_manual_time(s, db2.actor, patient_id=row.patient_id, activity="care_coordination", minutes=20,
                        local_date=date(2026, 10, 30), now=NOW)
    db2.close()
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "1 adjustment not yet acknowledged" in out and f"({row.mrn}) 2026-10: codes G2214 ×1 → 99493" in out
    first_page = PdfReader(str(pdf)).pages[0].extract_text()
    assert "Adjustments since this month was submitted" in first_page and row.mrn in first_page
    assert cli.main([*args, "--acknowledge", row.mrn, "--acknowledge", "NO-SUCH"]) == 3  # all or none
    assert "no patient has the MRN" in capsys.readouterr().err
    assert cli.main([*args, "--acknowledge", row.mrn]) == 0
    out = capsys.readouterr().out
    assert f"Acknowledged: {row.patient_name} ({row.mrn})" in out and "0 adjustments not yet acknowledged" in out
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    assert cli.main(["report", "billing", "--db", str(demo_path), "--user", "cm1", "--month", OCT,
                     "--out", str(pdf), "--mark-submitted"]) == 3
