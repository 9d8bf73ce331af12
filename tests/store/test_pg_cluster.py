"""The private PostgreSQL cluster: real servers from the system's programs, real TLS, real psycopg.

What the clinic server's users rely on: only a verified TLS connection with a password gets in (a
plaintext connection or one that trusts another CA is refused by the server), data outlives a
restart, nothing secret is written beside the cluster, and a later process can stop it.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from cocm_desktop.store.pg_cluster import (
    ADMIN_USER,
    HOST,
    ClusterDirError,
    PgCluster,
    PgNotInstalled,
    PortBusy,
    StartFailed,
    find_pg_bin,
    new_ca,
)

ROOT = Path(__file__).resolve().parents[2]
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _conninfo(cluster: PgCluster, **params: str) -> str:
    base = {"host": cluster.host, "port": str(cluster.port), "dbname": "postgres", "user": ADMIN_USER,
            "sslmode": "verify-full", "sslrootcert": str(cluster.ca_cert_path), "connect_timeout": "10"}
    return " ".join(f"{k}='{v}'" for k, v in (base | params).items())


def test_admin_connects_over_verified_tls(pg_cluster: PgCluster, pg_admin_password: str) -> None:
    with psycopg.connect(pg_cluster.admin_dsn(), password=pg_admin_password) as conn:
        user, ssl, tls_version, version_num, encryption = conn.execute(
            "SELECT current_user, s.ssl, s.version, current_setting('server_version_num')::int,"
            " current_setting('password_encryption')"
            " FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()"
        ).fetchone()
    assert (user, ssl, encryption) == (ADMIN_USER, True, "scram-sha-256")
    assert tls_version in ("TLSv1.2", "TLSv1.3")
    assert version_num >= 150000
    dsn = pg_cluster.dsn(dbname="clinic")
    assert dsn == (f"postgresql://{HOST}:{pg_cluster.port}/clinic"
                   f"?sslmode=verify-full&sslrootcert={pg_cluster.ca_cert_path}")


def test_plaintext_connection_is_refused(pg_cluster: PgCluster, pg_admin_password: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(_conninfo(pg_cluster, sslmode="disable"), password=pg_admin_password)


def test_connection_trusting_another_ca_is_refused(
    pg_cluster: PgCluster, pg_admin_password: str, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_bytes(new_ca().cert_pem)
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(_conninfo(pg_cluster, sslrootcert=str(other_ca)), password=pg_admin_password)


def test_wrong_password_is_refused(pg_cluster: PgCluster) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg_cluster.admin_dsn(), password="not-the-password")


def test_server_accepts_only_tls_with_scram(pg_cluster: PgCluster, pg_admin_password: str) -> None:
    """The rules the running server loaded, not just the file we wrote."""
    with psycopg.connect(pg_cluster.admin_dsn(), password=pg_admin_password) as conn:
        rules = conn.execute(
            "SELECT type, user_name, auth_method, error FROM pg_hba_file_rules ORDER BY line_number"
        ).fetchall()
    assert rules, "pg_hba.conf has no rules"
    assert {r[0] for r in rules} <= {"local", "hostssl"}
    assert {r[2] for r in rules} == {"scram-sha-256"}
    assert all(r[3] is None for r in rules)
    assert all(r[1] == [ADMIN_USER] for r in rules if r[0] == "local")


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes and accounts")
def test_keys_are_private_and_the_server_is_not_root(pg_cluster: PgCluster) -> None:
    data_owner = pg_cluster.data_dir.stat().st_uid
    server_key = (pg_cluster.data_dir / "server.key").stat()
    assert stat.S_IMODE(server_key.st_mode) == 0o600 and server_key.st_uid == data_owner
    assert stat.S_IMODE((pg_cluster.directory / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((pg_cluster.directory / "cluster.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(pg_cluster.data_dir.stat().st_mode) == 0o700
    pid = int((pg_cluster.data_dir / "postmaster.pid").read_text().split()[0])
    if Path(f"/proc/{pid}/status").exists():
        uid_line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                        if line.startswith("Uid:"))
        assert int(uid_line.split()[1]) == data_owner
    if AS_ROOT:
        assert data_owner != 0


def test_data_survives_restart_and_another_process_stops_it(
    pg_bin: Path, pg_dir_factory: Callable[[], Path]
) -> None:
    password = "a-long-admin-passphrase-7"
    # A space and a quote: the settings file and the dsn must carry the folder intact.
    folder = pg_dir_factory() / "clinic's server"
    cluster = PgCluster.init(folder, admin_password=password, durable=False, bin_dir=pg_bin)
    cluster.start()
    assert cluster.is_running()
    with psycopg.connect(cluster.admin_dsn(), password=password) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (42)")

    cluster.stop()
    assert not cluster.is_running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(cluster.admin_dsn(), password=password, connect_timeout=5)

    # A later process knows the cluster from its folder alone.
    again = PgCluster.open(folder)
    assert (again.port, again.ca_cert_path) == (cluster.port, cluster.ca_cert_path)
    again.start()
    with psycopg.connect(again.admin_dsn(), password=password) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(42,)]
    if again.socket_dir:  # the admin's own way in on this machine, beside TLS
        with psycopg.connect(host=str(again.socket_dir), port=again.port, dbname="postgres",
                             user=ADMIN_USER, password=password) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (ADMIN_USER,)

    state_text = (folder / "cluster.json").read_text()
    assert password not in state_text and "pass" not in state_text.lower()
    assert json.loads(state_text)["port"] == cluster.port

    subprocess.run(
        [sys.executable, "-c",
         "import sys; from cocm_desktop.store.pg_cluster import PgCluster; PgCluster.open(sys.argv[1]).stop()",
         str(folder)],
        check=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert not cluster.is_running()


def test_port_taken_while_stopped_is_named(pg_bin: Path, pg_dir_factory: Callable[[], Path]) -> None:
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        cluster = PgCluster.init(pg_dir_factory() / "s", admin_password="pw", port=port,
                                 durable=False, bin_dir=pg_bin)
        with pytest.raises(PortBusy, match=f"Port {port} on {HOST} is already in use"):
            cluster.start()
        assert not cluster.is_running()
    cluster.start()  # the port is free again
    try:
        assert cluster.is_running()
    finally:
        cluster.stop()


def test_failed_start_shows_the_log_without_secrets(pg_bin: Path, pg_dir_factory: Callable[[], Path]) -> None:
    password = "the-admin-secret-99"
    cluster = PgCluster.init(pg_dir_factory() / "s", admin_password=password, durable=False, bin_dir=pg_bin)
    conf = cluster.data_dir / "postgresql.conf"
    with conf.open("a") as f:
        f.write("shared_buffers = 'plenty'\n")
    with pytest.raises(StartFailed) as failed:
        cluster.start()
    message = str(failed.value)
    assert "did not start" in message and "shared_buffers" in message
    assert password not in message and "\n" not in message
    assert not cluster.is_running()


def test_init_refuses_a_folder_in_use(pg_bin: Path, pg_dir_factory: Callable[[], Path]) -> None:
    busy = pg_dir_factory()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(ClusterDirError, match="is not empty"):
        PgCluster.init(busy, admin_password="pw", durable=False, bin_dir=pg_bin)
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    with pytest.raises(ClusterDirError, match="holds no CoCM Desktop server"):
        PgCluster.open(busy)

    made = PgCluster.init(busy / "srv", admin_password="pw", durable=False, bin_dir=pg_bin)
    with pytest.raises(ClusterDirError, match="already holds a CoCM Desktop server"):
        PgCluster.init(made.directory, admin_password="pw", durable=False, bin_dir=pg_bin)
    assert PgCluster.open(made.directory).port == made.port


@pytest.mark.skipif(not AS_ROOT, reason="as root the server runs as another account")
def test_as_root_a_folder_the_server_account_cannot_reach_is_named(pg_bin: Path, tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(ClusterDirError, match="cannot reach"):
        PgCluster.init(closed / "srv", admin_password="pw", durable=False, bin_dir=pg_bin)
    assert not (closed / "srv").exists()  # a failed init leaves nothing behind


@pytest.mark.skipif(os.name == "nt", reason="shell-script stand-ins for old programs")
def test_missing_or_old_postgresql_names_the_package(
    pg_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "13" / "bin"
    old.mkdir(parents=True)
    for name in ("pg_ctl", "initdb", "postgres"):
        program = old / name
        program.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) 13.9'\n")
        program.chmod(0o755)

    with pytest.raises(PgNotInstalled, match=r"apt install postgresql\) or PostgreSQL for Windows"):
        find_pg_bin(path="", roots=[tmp_path / "nothing-here" / "bin"])
    with pytest.raises(PgNotInstalled):
        find_pg_bin(path=str(old), roots=[tmp_path / "*" / "bin"])  # 13 is too old, on PATH or not
    assert find_pg_bin(path=str(old), roots=[tmp_path / "*" / "bin", pg_bin]) == pg_bin

    monkeypatch.setenv("COCM_PG_BIN", str(old))
    with pytest.raises(PgNotInstalled, match="COCM_PG_BIN"):
        find_pg_bin()
