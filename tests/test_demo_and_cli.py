"""The demo clinic and the headless entry points, on real encrypted files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from cocm_desktop.cli import main
from cocm_desktop.demo import DEMO_LOGINS, generate_demo
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Episode, Measure, Recommendation, RiskEvent, TimeEntry


def test_demo_has_every_situation_a_clinic_meets(demo_path: Path) -> None:
    with Database.open(demo_path, "lead", "demo") as db, db.session() as s:
        statuses = dict(s.execute(select(Episode.status, func.count()).group_by(Episode.status)).all())
        reasons = set(s.scalars(select(Episode.close_reason).where(Episode.close_reason.is_not(None))))
        states = set(s.scalars(select(Recommendation.state)))
        programs = set(s.scalars(select(Episode.program)))
        open_risks = s.scalar(select(func.count()).select_from(RiskEvent).where(RiskEvent.outcome.is_(None)))
        item9 = s.scalar(select(func.count()).select_from(Measure).where(Measure.item9 > 0))
        pending_transfer = s.scalar(select(func.count()).select_from(Episode).where(
            Episode.transfer_to.is_not(None), Episode.status != "closed"))
        failed_outreach = s.scalar(text("SELECT count(*) FROM contact WHERE reached = 0"))
        month_minutes = [r[0] for r in s.execute(text(
            "SELECT sum(minutes) FROM time_entry WHERE local_date >= '2026-10-01' "
            "AND local_date < '2026-11-01' GROUP BY patient_id"))]
    assert {"active", "relapse_prevention", "closed"} <= set(statuses)
    assert {"completed", "disengaged", "transferred"} <= reasons
    assert {"recommended", "approved", "modified", "declined", "told_patient", "closed"} <= states
    assert programs == {"cocm", "bhi"}
    assert open_risks >= 1 and item9 >= 1
    assert pending_transfer >= 1 and failed_outreach >= 3
    # months both sides of the thresholds (16, 31/36, 76/86)
    assert min(month_minutes) < 16 and any(31 <= m < 60 for m in month_minutes) and max(month_minutes) > 86


def test_measure_totals_are_computed_from_items(demo_path: Path) -> None:
    from cocm_desktop.domain.instruments import score

    with Database.open(demo_path, "cm1", "demo") as db, db.session() as s:
        for m in s.scalars(select(Measure).limit(200)):
            sc = score(m.instrument, m.items)
            assert (m.total, m.band) == (sc.total, sc.band)


def test_demo_is_deterministic(tmp_path: Path) -> None:
    def fingerprint(path: Path) -> list[tuple]:
        with Database.open(path, "lead", "demo") as db, db.session() as s:
            return [
                tuple(s.execute(text("SELECT count(*), sum(minutes), max(local_date) FROM time_entry")).one()),
                tuple(s.execute(text("SELECT group_concat(family_name || mrn, ',') FROM patient")).one()),
                tuple(s.execute(text("SELECT sum(total), count(*) FROM measure")).one()),
            ]

    a = generate_demo(tmp_path / "a.db", patients=15, seed=3, today=date(2026, 6, 1))
    b = generate_demo(tmp_path / "b.db", patients=15, seed=3, today=date(2026, 6, 1))
    assert fingerprint(a.path) == fingerprint(b.path)
    c = generate_demo(tmp_path / "c.db", patients=15, seed=4, today=date(2026, 6, 1))
    assert fingerprint(c.path) != fingerprint(a.path)


def test_nothing_is_dated_after_today(demo_path: Path) -> None:
    with Database.open(demo_path, "lead", "demo") as db, db.session() as s:
        assert s.scalar(select(func.max(TimeEntry.local_date))) <= date(2026, 11, 24)
        assert s.scalar(select(func.max(Measure.taken_at))).date() <= date(2026, 11, 24)


def test_demo_command_prints_logins_and_every_role_unlocks_headless(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "clinic.db"
    assert main(["demo", "--db", str(db), "--patients", "12", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    for username, _name, role, _c in DEMO_LOGINS:
        assert username in out and role in out
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    for username, name, _role, _c in DEMO_LOGINS:
        assert main(["info", "--db", str(db), "--user", username]) == 0
        info = capsys.readouterr().out
        assert name in info and "Patients:        12" in info and "SQLCipher 4." in info


def test_cli_errors_are_one_plain_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch, demo_path: Path) -> None:
    monkeypatch.setenv("COCM_PASSWORD", "wrong")
    assert main(["info", "--db", str(demo_path), "--user", "lead"]) == 4
    err = capsys.readouterr().err
    assert "Wrong username or password" in err and "Traceback" not in err
    assert main(["info", "--db", str(tmp_path / "missing.db"), "--user", "lead"]) == 4
    assert "There is no database" in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists()
    assert main(["demo", "--db", str(demo_path)]) == 4  # never overwrites
    assert "never overwrites" in capsys.readouterr().err
