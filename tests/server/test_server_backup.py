"""`backup --server`: pg_dump, encrypted with the clinic backup key, verified by a restore."""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path

import psycopg
import pytest

from cocm_desktop.cli import main
from cocm_desktop.store.errors import StoreError
from cocm_desktop.store.server_backup import decrypt_stream, encrypt_stream, restore_into
from cocm_desktop.store.server_profile import ServerProfile


def test_backup_is_encrypted_verified_and_restores(server_profile: ServerProfile, pg_cluster, pg_admin_password,
                                                   tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    profile_file = tmp_path / "clinic.json"
    server_profile.save(profile_file)
    out, key = tmp_path / "clinic.cocmbak", tmp_path / "backup.key"
    monkeypatch.setenv("COCM_ADMIN_PASSWORD", pg_admin_password)
    code = main(["backup", "--server", str(profile_file), "--user", "lead", "--admin", pg_cluster.admin_user,
                 "--key", str(key), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Verified by a restore" in err and "New clinic backup key" in err
    assert out.stat().st_mode & 0o777 == 0o600 and key.stat().st_mode & 0o777 == 0o600
    data = out.read_bytes()
    assert b"Test Clinic" not in data and b"audit_log" not in data  # nothing readable without the key
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp copy left

    restored = f"restored_{secrets.token_hex(4)}"
    try:
        restore_into(out, bytes.fromhex(key.read_text().strip()), pg_cluster.admin_dsn(), pg_admin_password, restored)
        with psycopg.connect(pg_cluster.admin_dsn(restored), password=pg_admin_password) as conn:
            assert conn.execute("SELECT value FROM clinic_setting WHERE key = 'clinic_name'").fetchone() == ("Test Clinic",)
            assert conn.execute("SELECT problem FROM cocm_audit_verify()").fetchone() == (None,)
    finally:
        with psycopg.connect(pg_cluster.admin_dsn(), password=pg_admin_password, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(restored)))

    code = main(["backup", "--server", str(profile_file), "--user", "lead", "--admin", pg_cluster.admin_user,
                 "--key", str(key), "--out", str(out)])
    assert code != 0 and "never overwrites" in capsys.readouterr().err


def test_a_changed_cut_or_wrongly_keyed_backup_is_refused() -> None:
    key = os.urandom(32)
    plain = os.urandom(3 * (1 << 20) + 17)
    sealed = io.BytesIO()
    encrypt_stream(io.BytesIO(plain), sealed, key)
    blob = sealed.getvalue()
    assert b"".join(decrypt_stream(io.BytesIO(blob), key)) == plain
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 1
    with pytest.raises(StoreError, match="changed"):
        b"".join(decrypt_stream(io.BytesIO(bytes(flipped)), key))
    cut_at = 12 + 4 + (1 << 20) + 16  # header, then exactly one whole (not last) chunk
    with pytest.raises(StoreError, match="cut short"):
        b"".join(decrypt_stream(io.BytesIO(blob[:cut_at]), key))
    with pytest.raises(StoreError):
        b"".join(decrypt_stream(io.BytesIO(blob), os.urandom(32)))
