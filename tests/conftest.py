"""Shared fixtures: real encrypted databases in temp folders, Qt offscreen.

A template clinic (a demo clinic: the six demo logins, password "demo") is created once per test session and
copied for each test: Argon2id makes every slot cost ~0.1 s, so copying keeps the suite fast
while every test still opens a real SQLCipher file with a real key.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# What this computer account remembers of each clinic's audit log (store.account_memory) goes to
# a temp folder, never the tester's own user data folder; child processes inherit it. The process
# that made it removes it at exit.
if "COCM_DESKTOP_ACCOUNT_DIR" not in os.environ:
    os.environ["COCM_DESKTOP_ACCOUNT_DIR"] = tempfile.mkdtemp(prefix="cocm-account-memory-")
    atexit.register(shutil.rmtree, os.environ["COCM_DESKTOP_ACCOUNT_DIR"], ignore_errors=True)

from cocm_desktop.domain.actor import Actor  # noqa: E402
from cocm_desktop.store.database import Database  # noqa: E402
from cocm_desktop.store.keyslots import keyfile_path  # noqa: E402

if TYPE_CHECKING:
    from cocm_desktop.store.clinic_db import ClinicDatabase
    from cocm_desktop.store.pg_cluster import PgCluster
    from cocm_desktop.store.server_profile import ServerProfile

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


# ---- Both engines: the encrypted file and the clinic server ---------------------------------------
# Tests in these folders that take a `clinic` run twice: on the encrypted file and on a clinic
# database of the session's PostgreSQL, copied per test from a template made once (a demo clinic
# without patients: the six demo logins are login roles with password "demo"). A test that is about
# the file itself (key file, backups of the file) carries @pytest.mark.file_only.
BOTH_ENGINE_DIRS = ("services", "billing", "reports", "server")
SERVER_TEMPLATE = "cocm_template_clinic"
SERVER_TESTER = "cocm_tester"  # a test-only login in every group (see server_template)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_kind" not in metafunc.fixturenames:
        return
    folder = Path(str(metafunc.definition.path)).parent.name
    if folder not in BOTH_ENGINE_DIRS or metafunc.definition.get_closest_marker("file_only"):
        return
    if {"clinic_path", "demo_path"} & set(metafunc.definition.fixturenames):
        return  # the test works with the file itself
    metafunc.parametrize("engine_kind", ["file", "server"], indirect=True)


@pytest.fixture
def engine_kind(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "file")


@pytest.fixture(scope="session")
def server_template(pg_cluster: PgCluster, pg_admin_password: str) -> str:
    """A demo clinic without patients on the session server (the database copied for each test)."""
    from cocm_desktop.demo.server_demo import create_server_demo
    from cocm_desktop.store.server_profile import ServerProfile

    profile = ServerProfile(host=pg_cluster.host, port=pg_cluster.port, dbname=SERVER_TEMPLATE,
                            ca_cert=pg_cluster.ca_cert_path)
    create_server_demo(pg_cluster.admin_dsn(), pg_admin_password, profile, clinic_name="Test Clinic",
                       password=PASSWORD)
    import psycopg

    from cocm_desktop.store import scram

    # Service tests act as any demo user while signed in as the lead (the `actors` fixture); on the
    # server the connection's role must then hold every group's grants: a test-only login in all
    # four groups. The grants themselves are tested role by role in tests/server.
    with psycopg.connect(pg_cluster.admin_dsn(), password=pg_admin_password, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {SERVER_TESTER} LOGIN PASSWORD '{scram.verifier(PASSWORD)}' "
                     "IN ROLE cocm_care_manager, cocm_clinician, cocm_psychiatrist, cocm_clinic_lead")
    return SERVER_TEMPLATE


@pytest.fixture
def server_profile(pg_cluster: PgCluster, pg_admin_password: str, server_template: str) -> Iterator[ServerProfile]:
    """A fresh clinic database on the session server (a copy of the template), dropped afterwards."""
    import secrets

    import psycopg
    from psycopg import sql

    from cocm_desktop.store.server_profile import ServerProfile

    name = f"clinic_{secrets.token_hex(6)}"
    with psycopg.connect(pg_cluster.admin_dsn(), password=pg_admin_password, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(server_template)))
        # Database privileges are not copied from a template.
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO cocm_staff").format(sql.Identifier(name)))
    yield ServerProfile(host=pg_cluster.host, port=pg_cluster.port, dbname=name, ca_cert=pg_cluster.ca_cert_path)
    with psycopg.connect(pg_cluster.admin_dsn(), password=pg_admin_password, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def clinic(engine_kind: str, request: pytest.FixtureRequest) -> Iterator[ClinicDatabase]:
    """A fresh clinic, signed in as the clinic lead: the encrypted file, or (in the both-engine
    folders) also a clinic database on the session's PostgreSQL server."""
    if engine_kind == "server":
        from cocm_desktop.store.server_database import ServerDatabase

        server_db = ServerDatabase.open(request.getfixturevalue("server_profile"), "lead", PASSWORD)
        server_db._reconnect(SERVER_TESTER, PASSWORD)  # still the lead's actor; every group's grants
        db: ClinicDatabase = server_db
    else:
        db = Database.open(request.getfixturevalue("clinic_path"), "lead", PASSWORD)
    yield db
    db.close()
