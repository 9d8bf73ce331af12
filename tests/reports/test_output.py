"""reports.output: every file the app writes appears whole or not at all, owner-only, and what a
killed run leaves behind is removed later without ever touching a save in progress."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from cocm_desktop import cli
from cocm_desktop.reports.output import OutputError, private_file, remove_leftovers, temp_name, write_private


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_replaces_a_world_readable_file_with_an_owner_only_one(tmp_path: Path, permissive_umask) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "registry.csv"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, b"new")
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o600
    assert _names(tmp_path) == ["registry.csv"]


def test_a_failing_writer_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "billing.csv"
    target.write_text("complete,export\n")
    with pytest.raises(RuntimeError), private_file(target, text=True) as fh:
        fh.write("half,")
        raise RuntimeError("the database went away")
    assert target.read_text() == "complete,export\n" and _names(tmp_path) == ["billing.csv"]


def test_two_writers_of_one_file_never_mix(tmp_path: Path) -> None:
    """Each save has its own temp name: the file is always one writer's whole data (a shared
    temp name let one writer truncate or rename the other's half-written copy)."""
    target = tmp_path / "report.pdf"
    payloads = [bytes([ord("a") + n]) * 1_000_000 for n in range(2)]
    errors: list[BaseException] = []

    def save(data: bytes) -> None:
        try:
            for _ in range(15):
                write_private(target, data)
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_bytes() in payloads and _names(tmp_path) == ["report.pdf"]


def test_a_missing_folder_is_one_plain_sentence(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as caught:
        write_private(tmp_path / "no-such-folder" / "audit.csv", b"x")
    assert str(caught.value) == f"{tmp_path / 'no-such-folder' / 'audit.csv'} could not be written: No such file or directory."


def test_leftovers_of_killed_runs_are_removed_but_never_a_save_in_progress(tmp_path: Path) -> None:
    old = tmp_path / temp_name("registry.csv")
    fresh = tmp_path / temp_name("registry.csv")
    for p in (old, fresh):
        p.write_text("half")
    _age(old, 2 * 3600)
    mine = tmp_path / "registry.csv"
    others = [tmp_path / ".registry.csv.part", tmp_path / "notes.cocm-partial-1", tmp_path / ".partial-ab12.db"]
    for p in [mine, *others]:
        p.write_text("keep")
        _age(p, 2 * 3600)
    folder_like = tmp_path / temp_name("x")
    folder_like.mkdir()
    _age(folder_like, 2 * 3600)
    assert remove_leftovers(tmp_path) == [old]
    assert not old.exists() and fresh.exists() and mine.exists() and folder_like.is_dir()
    assert all(p.exists() for p in others)
    # other owners' temp names (the backups' ones) go through the same function with their patterns
    assert remove_leftovers(tmp_path, [".partial-*"]) == [others[2]]
    assert remove_leftovers(tmp_path / "gone") == []


def test_a_save_sweeps_its_folder_and_a_command_sweeps_the_database_folder(
    clinic_path: Path, tmp_path: Path, monkeypatch, capsys  # type: ignore[no-untyped-def]
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    stale = exports / temp_name("billing.csv")
    stale.write_text("half")
    _age(stale, 7200)
    write_private(exports / "audit.csv", b"x")
    assert _names(exports) == ["audit.csv"]

    beside_db = clinic_path.parent / temp_name("registry.csv")
    beside_db.write_text("half")
    _age(beside_db, 7200)
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    assert cli.main(["info", "--db", str(clinic_path), "--user", "lead"]) == 0
    assert not beside_db.exists() and clinic_path.exists()
    capsys.readouterr()
