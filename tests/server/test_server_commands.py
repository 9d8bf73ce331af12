"""The headless commands on the clinic server: `server demo/stop`, `--server PROFILE` wherever
`--db PATH` is taken, and plain sentences when something is wrong."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from cocm_desktop.cli import main
from cocm_desktop.store.server_profile import ServerProfile


@pytest.fixture
def profile_file(server_profile: ServerProfile, tmp_path: Path) -> Path:
    path = tmp_path / "clinic.json"
    server_profile.save(path)
    return path


def test_server_demo_prints_profile_and_dsn_and_stops(pg_bin, pg_dir_factory, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = pg_dir_factory() / "team"
    assert main(["server", "demo", "--dir", str(folder), "--patients", "4"]) == 0
    out = capsys.readouterr().out
    profile_line = re.search(r"^profile: (.+)$", out, re.M)
    dsn_line = re.search(r"^dsn: (postgresql://\S+:\d+/\S+\?sslmode=verify-full&sslrootcert=\S+)$", out, re.M)
    assert profile_line and dsn_line, out
    profile = ServerProfile.load(profile_line.group(1))
    assert "password" not in Path(profile_line.group(1)).read_text()
    # The demo logins connect to the dsn with psycopg as themselves, password "demo".
    with psycopg.connect(dsn_line.group(1), user="cm1", password="demo") as conn:
        assert conn.execute("SELECT count(*) FROM patient").fetchone() == (4,)
        assert conn.execute("SELECT current_user").fetchone() == ("cm1",)
    assert main(["server", "stop", "--dir", str(folder)]) == 0
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn_line.group(1), user="cm1", password="demo", connect_timeout=3)
    assert main(["server", "demo", "--dir", str(folder)]) == 0  # a second run starts it again
    assert profile_line.group(1) in capsys.readouterr().out
    with psycopg.connect(profile.dsn("doc1"), password="demo") as conn:
        assert conn.execute("SELECT count(*) FROM patient").fetchone() == (4,)
    assert main(["server", "stop", "--dir", str(folder)]) == 0


def test_info_registry_and_audit_verify_take_server(profile_file: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    assert main(["info", "--server", str(profile_file), "--user", "doc1"]) == 0
    out = capsys.readouterr().out
    assert "Test Clinic" in out and "PostgreSQL" in out and "TLS" in out
    assert main(["audit", "verify", "--server", str(profile_file), "--user", "lead"]) == 0
    assert "intact" in capsys.readouterr().out
    assert main(["registry", "--server", str(profile_file), "--user", "cm1"]) == 0
    code = main(["audit", "verify", "--server", str(profile_file), "--user", "cm1"])
    assert code == 3 and "cannot view the audit report" in capsys.readouterr().err


def test_wrong_password_missing_profile_and_stopped_server_are_one_sentence(
        profile_file: Path, server_profile: ServerProfile, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COCM_PASSWORD", "wrong password")
    assert main(["info", "--server", str(profile_file), "--user", "cm1"]) == 4
    err = capsys.readouterr().err
    assert "Wrong username or password" in err and "Traceback" not in err
    monkeypatch.setenv("COCM_PASSWORD", "demo")
    assert main(["info", "--server", str(tmp_path / "nope.json"), "--user", "cm1"]) == 4
    assert "no connection profile" in capsys.readouterr().err
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = tmp_path / "gone.json"
    ServerProfile(host="127.0.0.1", port=port, dbname=server_profile.dbname, ca_cert=server_profile.ca_cert).save(gone)
    assert main(["info", "--server", str(gone), "--user", "cm1"]) == 4
    err = capsys.readouterr().err
    assert "does not answer" in err and err.count("\n") == 1
