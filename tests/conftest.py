"""Shared fixtures: real encrypted databases in temp folders, Qt offscreen.

A template clinic (a demo clinic: the six demo logins, password "demo") is created once per test session and
copied for each test: Argon2id makes every slot cost ~0.1 s, so copying keeps the suite fast
while every test still opens a real SQLCipher file with a real key.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cocm_desktop.domain.actor import Actor  # noqa: E402
from cocm_desktop.store.database import Database  # noqa: E402
from cocm_desktop.store.keyslots import keyfile_path  # noqa: E402

if TYPE_CHECKING:
    from cocm_desktop.store.pg_cluster import PgCluster

PASSWORD = "demo"


def copy_db(src: Path, dest_dir: Path, name: str = "clinic.db") -> Path:
    dest = dest_dir / name
    shutil.copy2(src, dest)
    shutil.copy2(keyfile_path(src), keyfile_path(dest))
    return dest


@pytest.fixture(scope="session")
def template_clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty clinic with one user per role; copied, never opened for writing directly.

    A demo clinic (the demo generator's first step): its logins keep the password "demo", which
    the password rules refuse in a real clinic. Tests of those rules add their own users.
    """
    from cocm_desktop.demo import create_demo_clinic

    path = tmp_path_factory.mktemp("template") / "clinic.db"
    create_demo_clinic(path, clinic_name="Test Clinic", password=PASSWORD).close()
    return path


@pytest.fixture
def clinic_path(template_clinic: Path, tmp_path: Path) -> Path:
    return copy_db(template_clinic, tmp_path)


@pytest.fixture
def clinic(clinic_path: Path) -> Iterator[Database]:
    """A fresh encrypted clinic database, unlocked by the clinic lead."""
    db = Database.open(clinic_path, "lead", PASSWORD)
    yield db
    db.close()


@pytest.fixture
def actors(clinic: Database) -> dict[str, Actor]:
    """Actor per username (lead, cm1, cm2, psych, doc1, doc2) for calling services."""
    from sqlalchemy import select

    from cocm_desktop.store.models import User

    with clinic.session() as s:
        return {
            u.username: Actor(u.id, u.username, u.display_name, u.role)
            for u in s.scalars(select(User))
        }


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo clinic (60 patients, fixed seed and date), generated once per session."""
    from datetime import date

    from cocm_desktop.demo import generate_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    generate_demo(path, patients=60, seed=7, today=date(2026, 11, 24))
    return path


@pytest.fixture
def demo_path(demo_template: Path, tmp_path: Path) -> Path:
    return copy_db(demo_template, tmp_path, "demo.db")


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 022, the usual default: a file written without care comes out -rw-r--r--."""
    old = os.umask(0o022)
    yield
    os.umask(old)


# ---- PostgreSQL: one private cluster per test session --------------------------------------------
# initdb + pg_ctl from the system's programs into a temp folder, a free loopback port, TLS with a CA
# made for the session; stopped and removed at the end even when tests fail. Skipped only when
# PostgreSQL is not installed and COCM_REQUIRE_PG is unset (CI sets it, so there it fails instead).


@pytest.fixture(scope="session")
def pg_bin() -> Path:
    """The folder of the system's PostgreSQL ≥ 15 programs."""
    from cocm_desktop.store.pg_cluster import PgNotInstalled, find_pg_bin

    try:
        return find_pg_bin()
    except PgNotInstalled as exc:
        if os.environ.get("COCM_REQUIRE_PG"):
            pytest.fail(f"{exc} (COCM_REQUIRE_PG is set, so the server tests may not be skipped)", pytrace=False)
        pytest.skip(f"{exc} Set COCM_REQUIRE_PG=1 to make this a failure.")


@pytest.fixture(scope="session")
def pg_dir_factory() -> Iterator[Callable[[], Path]]:
    """New empty temp folders for clusters; any cluster left running in one is stopped at the end.

    Not pytest's tmp_path: its folders are closed to other users (0700), and as root the server
    runs as the `postgres` account, which must pass through to the cluster.
    """
    import tempfile

    from cocm_desktop.store.pg_cluster import PgCluster, PgClusterError

    made: list[Path] = []

    def make() -> Path:
        folder = Path(tempfile.mkdtemp(prefix="cocm-pg-"))
        folder.chmod(0o711)
        made.append(folder)
        return folder

    yield make
    for folder in made:
        for state in folder.rglob("cluster.json"):
            with contextlib.suppress(PgClusterError, OSError):
                PgCluster.open(state.parent).stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_admin_password() -> str:
    """The session cluster's admin (superuser) password: new each session, never written down."""
    import secrets

    return secrets.token_urlsafe(18)


@pytest.fixture(scope="session")
def pg_cluster(pg_bin: Path, pg_dir_factory: Callable[[], Path], pg_admin_password: str) -> Iterator[PgCluster]:
    """A running private PostgreSQL for the whole session (fsync off: tests need no crash safety)."""
    from cocm_desktop.store.pg_cluster import PgCluster

    cluster = PgCluster.init(pg_dir_factory() / "server", admin_password=pg_admin_password,
                             durable=False, bin_dir=pg_bin)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_database(pg_cluster: PgCluster, pg_admin_password: str) -> Iterator[str]:
    """The name of a new empty database on the session cluster, dropped after the test."""
    import secrets

    import psycopg
    from psycopg import sql

    name = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(pg_cluster.admin_dsn(), password=pg_admin_password, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(pg_cluster.admin_dsn(), password=pg_admin_password, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
