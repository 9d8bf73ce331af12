"""The audit log: the chain catches edits, deletions (even of the newest rows) and reordering;
`cocm-desktop audit verify` exits non-zero; the clinic lead's report filters, sorts, exports."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text

from cocm_desktop.cli import main
from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.reports.audit_report import build_audit_pdf
from cocm_desktop.services.audit_report import audit_csv, audit_report, query_audit
from cocm_desktop.services.common import NotFound, ValidationError
from cocm_desktop.store import audit
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AuditRecord, Patient

PW = "demo"


def _events(db: Database, n: int = 6) -> None:
    with db.session() as s:
        for i in range(n):
            audit.append(s, user_id=1, username="lead", action="test.event", summary=f"event {i}")


def _tamper(db: Database, sql: str) -> None:
    with db.session() as s:  # someone with the key in hand edits the table directly
        for stmt in sql.split(";"):
            if stmt.strip():
                s.execute(text(stmt))


TAMPERING = {
    "edit a summary": ("UPDATE audit_log SET summary = 'nothing to see' WHERE seq = 5", 5),
    "edit a time": ("UPDATE audit_log SET at_utc = '2020-01-01 00:00:00.000000' WHERE seq = 4", 4),
    "edit the user": ("UPDATE audit_log SET username = 'cm2' WHERE seq = 6", 6),
    "delete a middle row": ("DELETE FROM audit_log WHERE seq = 3", 3),
    "delete the newest rows": ("DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 2 FROM audit_log)", None),
    "reorder two rows": (
        "UPDATE audit_log SET seq = -1 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = 5;"
        "UPDATE audit_log SET seq = 5 WHERE seq = -1", 4),
    "renumber to close a gap": ("DELETE FROM audit_log WHERE seq = 2; UPDATE audit_log SET seq = seq - 1 WHERE seq > 2", 2),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_verify_reports_the_first_broken_link_and_exits_non_zero(clinic: Database, clinic_path: Path, kind: str,
                                                                  capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _events(clinic)
    monkeypatch.setenv("COCM_PASSWORD", PW)
    assert main(["audit", "verify", "--db", str(clinic_path), "--user", "lead"]) == 0
    assert "intact" in capsys.readouterr().out
    sql, first_bad = TAMPERING[kind]
    with clinic.session() as s:
        total = s.scalar(select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1))
    _tamper(clinic, sql)
    assert main(["audit", "verify", "--db", str(clinic_path), "--user", "lead"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out
    expected = first_bad if first_bad is not None else total - 1
    assert f"record {expected}" in out


def test_only_the_clinic_lead_verifies(clinic_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COCM_PASSWORD", PW)
    assert main(["audit", "verify", "--db", str(clinic_path), "--user", "cm1"]) == 3
    assert "cannot view the audit report" in capsys.readouterr().err


def test_a_rekey_keeps_the_chain_verifiable(clinic: Database) -> None:
    _events(clinic, 3)
    clinic.rekey(reason="test")
    _events(clinic, 3)
    with clinic.session() as s:
        assert audit.verify_chain(s).ok


# ---- the report -----------------------------------------------------------------------------
def _utc(local: datetime) -> datetime:
    return local.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture
def history(clinic: Database) -> Database:
    """A known history: three users, two patients, spread over three days (local times)."""
    with clinic.session() as s:
        a = Patient(mrn="A-100", family_name="Alpha", given_name="Ann", date_of_birth=date(1970, 1, 1))
        b = Patient(mrn="B-200", family_name="Beta", given_name="Bob", date_of_birth=date(1971, 1, 1))
        s.add_all([a, b])
        s.flush()
        rows = [
            (datetime(2026, 11, 20, 9, 0), "cm1", "chart.open", a.id),
            (datetime(2026, 11, 20, 23, 59), "cm1", "contact.create", a.id),
            (datetime(2026, 11, 21, 0, 1), "doc1", "chart.open", b.id),
            (datetime(2026, 11, 22, 8, 0), "psych", "chart.open", a.id),
            (datetime(2026, 11, 22, 9, 0), "cm2", "login.failure", None),
            (datetime(2026, 11, 22, 9, 1), "cm2", "login.success", None),
        ]
        for when, user, action, pid in rows:
            audit.append(s, user_id=None, username=user, action=action, patient_id=pid, at_utc=_utc(when),
                         summary="=HYPERLINK(\"http://x\")" if action == "contact.create" else None)
    return clinic


@pytest.mark.parametrize("filters,expected", [
    ({"start": date(2026, 11, 20), "end": date(2026, 11, 20)}, ["chart.open", "contact.create"]),
    ({"start": datetime(2026, 11, 20, 23, 59), "end": datetime(2026, 11, 21, 0, 2)}, ["contact.create", "chart.open"]),
    ({"username": "CM1"}, ["chart.open", "contact.create"]),
    ({"patient_mrn": "A-100"}, ["chart.open", "contact.create", "chart.open"]),
    ({"action": "login", "start": date(2026, 11, 20)}, ["login.failure", "login.success"]),
    ({"action": "chart.open", "start": date(2026, 11, 20), "end": date(2026, 11, 22)}, ["chart.open"] * 3),
])
def test_report_filters(history: Database, actors, filters, expected) -> None:  # type: ignore[no-untyped-def]
    with history.session() as s:
        rows = query_audit(s, actors["lead"], **filters)
    got = [r.action for r in rows if r.at.year == 2026 and r.at < datetime(2026, 11, 23)]
    assert got == expected


@pytest.mark.parametrize("sort,descending,expected_users", [
    ("user", False, ["cm1", "cm1", "cm2", "cm2", "doc1", "psych"]),
    ("user", True, ["psych", "doc1", "cm2", "cm2", "cm1", "cm1"]),
    ("time", True, ["cm2", "cm2", "psych", "doc1", "cm1", "cm1"]),
])
def test_report_sorts(history: Database, actors, sort: str, descending: bool, expected_users) -> None:  # type: ignore[no-untyped-def]
    with history.session() as s:
        rows = query_audit(s, actors["lead"], start=date(2026, 11, 20), end=date(2026, 11, 22), sort=sort,
                           descending=descending)
    assert [r.username for r in rows] == expected_users


def test_report_refusals(history: Database, actors) -> None:  # type: ignore[no-untyped-def]
    with history.session() as s:
        with pytest.raises(PermissionDenied):
            query_audit(s, actors["cm1"])
        with pytest.raises(NotFound):
            query_audit(s, actors["lead"], patient_mrn="NOPE")
        with pytest.raises(ValidationError, match="end is before its start"):
            query_audit(s, actors["lead"], start=date(2026, 11, 22), end=date(2026, 11, 20))
        with pytest.raises(ValidationError, match="Sort by"):
            query_audit(s, actors["lead"], sort="hmac")


def test_report_csv_and_pdf_and_the_report_is_audited(history: Database, actors) -> None:  # type: ignore[no-untyped-def]
    with history.session() as s:
        report = audit_report(s, actors["lead"], start=date(2026, 11, 20), end=date(2026, 11, 22), output="pdf",
                              now=datetime(2026, 11, 24, 12, 0))
    assert report.chain_ok and len(report.rows) == 6
    data = audit_csv(report).decode("utf-8-sig")
    lines = data.splitlines()
    assert lines[0].split(",")[:4] == ["seq", "time_local", "user", "action"]
    assert "'=HYPERLINK" in data and ",=HYPERLINK" not in data  # no formula runs in a spreadsheet
    assert "A-100" in data and "2026-11-20 23:59:00" in data
    pdf = build_audit_pdf(report)
    assert pdf.startswith(b"%PDF")
    txt = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Audit report" in txt and "Intact" in txt and "contact.create" in txt and "B-200" in txt
    with history.session() as s:
        rec = s.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).one()
    assert rec.action == "report.audit" and rec.detail["rows"] == 6 and rec.detail["output"] == "pdf"


def test_report_pdf_shows_a_broken_chain(history: Database, actors) -> None:  # type: ignore[no-untyped-def]
    _tamper(history, "UPDATE audit_log SET summary = 'x' WHERE seq = 2")
    with history.session() as s:
        report = audit_report(s, actors["lead"])
    assert not report.chain_ok
    txt = "".join(p.extract_text() for p in PdfReader(io.BytesIO(build_audit_pdf(report))).pages)
    assert "BROKEN" in txt


def test_audit_report_cli_writes_an_owner_only_file(history: Database, clinic_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                    monkeypatch) -> None:
    monkeypatch.setenv("COCM_PASSWORD", PW)
    out = tmp_path / "audit.csv"
    assert main(["audit", "report", "--db", str(clinic_path), "--user", "lead", "--from", "2026-11-20",
                 "--to", "2026-11-22", "--action", "chart.open", "--out", str(out)]) == 0
    assert (out.stat().st_mode & 0o777) == 0o600
    assert out.read_text(encoding="utf-8-sig").count("chart.open") == 3
    pdf = tmp_path / "audit.pdf"
    assert main(["audit", "report", "--db", str(clinic_path), "--user", "lead", "--out", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    assert main(["audit", "report", "--db", str(clinic_path), "--user", "lead", "--out", str(tmp_path / "a.txt")]) == 3


# ---- every kind of event the spec lists lands in the log -----------------------------------------
def test_security_events_are_all_audited(clinic: Database, clinic_path: Path, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.users import add_staff_user, change_role, deactivate_user, reset_password
    from cocm_desktop.store.backup import make_backup, restore
    from cocm_desktop.store.errors import WrongCredentials

    with pytest.raises(WrongCredentials):
        Database.open(clinic_path, "doc2", "nope")
    Database.open(clinic_path, "doc2", PW).close()
    clinic.lock()
    clinic.unlock("lead", PW)
    add_staff_user(clinic, actors["lead"], username="temp1", display_name="Temp One", role="clinician",
                   password="temp one pass")
    change_role(clinic, actors["lead"], "temp1", role="care_manager")
    reset_password(clinic, actors["lead"], "temp1", new_password="temp one pass 2")
    deactivate_user(clinic, actors["lead"], "temp1", reason="test")
    make_backup(clinic, tmp_path / "b.db")
    with clinic.session() as s:
        assert s.scalar(select(AuditRecord.action).where(AuditRecord.action == "backup.create"))
    clinic.close()
    restore(clinic_path, tmp_path / "b.db", "lead", PW)
    with Database.open(clinic_path, "lead", PW) as db, db.session() as s:
        actions = set(s.scalars(select(AuditRecord.action)))
        assert audit.verify_chain(s).ok
    assert {"login.failure", "login.success", "session.lock", "session.unlock", "user.create", "user.role_change",
            "user.password_reset", "user.deactivate", "key.rekey", "backup.restore"} <= actions


def test_report_pdf_prints_names_in_any_script(history: Database, actors) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    with history.session() as s:
        report = audit_report(s, actors["lead"])
    report = dataclasses.replace(report, clinic="Clínica Łódź — Σοφία", generated_by="Nguyễn Thị Ánh")
    txt = "".join(p.extract_text() for p in PdfReader(io.BytesIO(build_audit_pdf(report))).pages)
    assert "Clínica Łódź — Σοφία" in txt and "Nguyễn Thị Ánh" in txt
