"""`server import`: a workstation clinic moves to the server, checked, the file untouched."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select

from cocm_desktop.cli import main
from cocm_desktop.store import audit
from cocm_desktop.store.errors import StoreError
from cocm_desktop.store.keyslots import keyfile_path
from cocm_desktop.store.models import Base, Patient
from cocm_desktop.store.server_database import ServerDatabase
from cocm_desktop.store.server_profile import ServerProfile


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def pg_cluster(pg_bin, pg_dir_factory, pg_admin_password):  # type: ignore[no-untyped-def]
    """A server of its own: login roles are server-wide, and an import disables the logins of the
    clinic's people until the lead sets their passwords (the session server shares cm1 & co.)."""
    from cocm_desktop.store.pg_cluster import PgCluster

    cluster = PgCluster.init(pg_dir_factory() / "import", admin_password=pg_admin_password, durable=False,
                             bin_dir=pg_bin)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def import_target(pg_cluster, pg_admin_password):  # type: ignore[no-untyped-def]
    name = f"moved_{secrets.token_hex(5)}"
    yield name
    with psycopg.connect(pg_cluster.admin_dsn(), password=pg_admin_password, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name)))


def test_a_demo_clinic_moves_with_every_row_and_its_audit_chain(
        demo_path: Path, pg_cluster, pg_admin_password, import_target, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.store.database import Database

    with Database.open(demo_path, "lead", "demo") as src, src.session() as s:
        expected = {t.name: s.execute(select(func.count()).select_from(t)).scalar() for t in Base.metadata.sorted_tables}
        patients = s.scalar(select(func.count()).select_from(Patient))
    before = (_digest(demo_path), _digest(keyfile_path(demo_path)))
    profile_file = tmp_path / "clinic.json"
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    monkeypatch.setenv("COCM_ADMIN_PASSWORD", pg_admin_password)
    code = main(["server", "import", "--from", str(demo_path), "--user", "lead",
                 "--admin-dsn", pg_cluster.admin_dsn(), "--dbname", import_target, "--profile", str(profile_file)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "counts checked" in out.out and "chain verified on the server" in out.out
    assert "cm1" in out.out  # named: they need a password from the lead
    assert (_digest(demo_path), _digest(keyfile_path(demo_path))) == before  # the file is untouched

    profile = ServerProfile.load(profile_file)
    with ServerDatabase.open(profile, "lead", "demo") as lead, lead.session() as s:
        for table in Base.metadata.sorted_tables:
            got = s.execute(select(func.count()).select_from(table)).scalar()
            if table.name == "audit_log":
                assert got == expected[table.name] + 2  # the import and this sign-in
            elif table.name == "clinic_setting":
                assert got <= expected[table.name]  # the file's audit anchor stays behind
            else:
                assert got == expected[table.name], table.name
        assert s.scalar(select(func.count()).select_from(Patient)) == patients
        assert audit.verify_chain(s).ok
    with pytest.raises(StoreError, match="may not sign in to the clinic server|Wrong username"):  # no login yet
        ServerDatabase.open(profile, "cm1", "demo")
    from cocm_desktop.services.users import reset_password

    with ServerDatabase.open(profile, "lead", "demo") as lead:
        reset_password(lead, lead.actor, "cm1", new_password="a fresh start for cm1")
    with ServerDatabase.open(profile, "cm1", "a fresh start for cm1") as cm1:
        assert cm1.actor is not None and cm1.actor.role == "care_manager"


def test_a_changed_record_from_before_the_move_is_found(
        demo_path: Path, pg_cluster, pg_admin_password, import_target, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.store.server_import import import_clinic

    import_clinic(demo_path, "lead", "demo", admin_dsn=pg_cluster.admin_dsn(), admin_password=pg_admin_password,
                  dbname=import_target)
    with psycopg.connect(pg_cluster.admin_dsn(import_target), password=pg_admin_password, autocommit=True) as admin:
        admin.execute("UPDATE audit_log SET summary = 'rewritten' WHERE seq = 3")
    profile = ServerProfile(host=pg_cluster.host, port=pg_cluster.port, dbname=import_target,
                            ca_cert=pg_cluster.ca_cert_path)
    with ServerDatabase.open(profile, "lead", "demo") as lead, lead.session() as s:
        report = audit.verify_chain(s)
    assert not report.ok and "before the move" in report.describe()


def test_a_second_import_into_a_clinic_is_refused(
        demo_path: Path, pg_cluster, pg_admin_password, import_target) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.store.server_import import import_clinic

    import_clinic(demo_path, "lead", "demo", admin_dsn=pg_cluster.admin_dsn(), admin_password=pg_admin_password,
                  dbname=import_target)
    with pytest.raises(StoreError, match="already holds a clinic"):
        import_clinic(demo_path, "lead", "demo", admin_dsn=pg_cluster.admin_dsn(),
                      admin_password=pg_admin_password, dbname=import_target)
