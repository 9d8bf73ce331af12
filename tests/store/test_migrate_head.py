"""The schema check without Alembic: the head from the file names, the version read, what still migrates."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text

from cocm_desktop.store import migrate
from cocm_desktop.store.database import Database
from cocm_desktop.store.engine import make_engine

PW = "demo"


def test_head_from_file_names_is_alembics_head() -> None:
    assert migrate.head_revision() == migrate.script_head_revision()


def test_every_migration_file_is_named_by_its_numbered_revision() -> None:
    # The convention head_revision() relies on: versions/<revision id>.py, ids "NNNN_what", one line.
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = list(scripts.walk_revisions())  # head first
    files = sorted(p for p in migrate.VERSIONS_DIR.glob("*.py") if p.name != "__init__.py")
    assert [Path(rev.path).name for rev in reversed(revisions)] == [p.name for p in files]
    for rev in revisions:
        assert Path(rev.path).stem == rev.revision
        assert re.fullmatch(r"\d{4}_\w+", rev.revision), rev.revision
    assert len(scripts.get_heads()) == 1


def _alembic_reads(conn) -> str | None:  # type: ignore[no-untyped-def]
    return MigrationContext.configure(conn).get_current_revision()


@pytest.mark.parametrize(
    "setup, expected",
    [
        ([], None),  # a brand-new encrypted file: no version table
        (["CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"], None),
        (
            [
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
                "INSERT INTO alembic_version VALUES ('0003_registry_facts')",
            ],
            "0003_registry_facts",
        ),
        (
            [
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
                "INSERT INTO alembic_version VALUES ('9999_from_the_future')",
            ],
            "9999_from_the_future",
        ),
    ],
)
def test_current_revision_reads_what_alembic_reads(
    tmp_path: Path, setup: list[str], expected: str | None
) -> None:
    engine = make_engine(tmp_path / "x.db", secrets.token_bytes(32))
    try:
        with engine.begin() as conn:
            for statement in setup:
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == expected
            assert _alembic_reads(conn) == expected
    finally:
        engine.dispose()


def test_several_version_rows_are_refused_as_alembic_refuses_them(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "x.db", secrets.token_bytes(32))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
            conn.execute(text("INSERT INTO alembic_version VALUES ('a'), ('b')"))
        with engine.connect() as conn, pytest.raises(CommandError):
            migrate.current_revision(conn)
    finally:
        engine.dispose()


def test_created_clinic_is_stamped_at_head(clinic: Database) -> None:
    with clinic.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.script_head_revision()


def test_older_file_is_backed_up_then_upgraded(clinic_path: Path) -> None:
    head = migrate.head_revision()
    previous = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(head).down_revision
    assert isinstance(previous, str)
    with Database.open(clinic_path, "lead", PW) as db, db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), previous)
    with Database.open(clinic_path, "lead", PW) as db, db.engine.connect() as conn:
        assert migrate.current_revision(conn) == head
    backup = clinic_path.with_name(f"{clinic_path.stem}.before-upgrade-{previous}{clinic_path.suffix}")
    assert backup.is_file()
    with Database.open(backup, "lead", PW) as old:  # the copy opens with the same sign-in (and upgrades)
        assert old.actor.username == "lead"


_OPEN_AND_REPORT = """
import sys
from cocm_desktop.store.database import Database
with Database.open(sys.argv[1], "lead", "demo") as db:
    assert db.actor.username == "lead"
print(sorted(m for m in sys.modules if m == "alembic" or m.startswith("alembic.")))
"""


def test_opening_a_current_file_does_not_load_alembic(clinic_path: Path) -> None:
    # A fresh interpreter: this test process has Alembic loaded already.
    done = subprocess.run(
        [sys.executable, "-c", _OPEN_AND_REPORT, str(clinic_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
