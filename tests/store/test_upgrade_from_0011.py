"""A clinic from before audit signatures (revision 0011: an HMAC chain under a key derived from
the database key, key slots without signing keys) upgrades at the first sign-in, verifies clean,
and from then on a clinical row changed in SQL is named — the baseline sealed the rows as found."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from cocm_desktop.store import audit, migrate
from cocm_desktop.store.database import Database
from cocm_desktop.store.engine import raw_connect
from cocm_desktop.store.keyslots import KeyFile, keyfile_path

REPO = Path(__file__).resolve().parents[2]
CANONICAL = ("seq", "at_utc", "user_id", "username", "action", "patient_id", "object_type", "object_id",
             "summary", "detail")


def _as_made_by_0011(path: Path) -> None:
    """Turn a current clinic into what revision 0011 wrote: schema downgraded, every audit record
    HMAC-chained under the key derived from the database key, the anchor on the last of them, and
    key slots without signing keys or remembered records."""
    with Database.open(path, "lead", "demo") as db:
        key = db.raw_key_for_backup()
        with db.engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "0011_billing_submissions")
            assert "sig" not in {c["name"] for c in inspect(conn).get_columns("audit_log")}
            chain_key = audit.derive_audit_key(key)
            prev = audit.GENESIS
            for row in conn.execute(text(f"SELECT {', '.join(CANONICAL)} FROM audit_log ORDER BY seq")).all():
                values = dict(zip(CANONICAL, row, strict=True))
                values["at_utc"] = datetime.fromisoformat(values["at_utc"]).isoformat(timespec="microseconds")
                values["detail"] = None if values["detail"] is None else json.loads(values["detail"])
                canonical = json.dumps([values[k] for k in CANONICAL], sort_keys=True, ensure_ascii=False,
                                       separators=(",", ":")).encode()
                prev = hmac.new(chain_key, prev.encode() + b"|" + canonical, hashlib.sha256).hexdigest()
                conn.execute(text("UPDATE audit_log SET hmac = :h WHERE seq = :s"), {"h": prev, "s": values["seq"]})
            conn.execute(text("UPDATE clinic_setting SET value = :v WHERE key = 'audit_head'"),
                         {"v": json.dumps({"seq": values["seq"], "hmac": prev})})
    kf = KeyFile.load(keyfile_path(path), path.name)
    for slot in kf.slots.values():
        slot.signing = None
        slot.seen = None
    kf.save(keyfile_path(path))


def _verify(path: Path) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COCM_PASSWORD="demo")
    proc = subprocess.run([sys.executable, "-m", "cocm_desktop", "audit", "verify", "--db", str(path),
                           "--user", "lead"], env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_a_clinic_from_0011_upgrades_at_first_sign_in_and_verifies_clean(
    demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COCM_DESKTOP_ACCOUNT_DIR", str(tmp_path / "account"))
    _as_made_by_0011(demo_path)
    with Database.open(demo_path, "cm1", "demo") as db:  # the first sign-in upgrades (after a backup)
        assert db.integrity_alarms == []
        with db.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
            actions = [a for (a,) in conn.execute(text("SELECT action FROM audit_log ORDER BY seq"))]
    assert audit.BASELINE in actions and "rows.baseline" in actions and audit.KEY_BIND in actions
    with Database.open(demo_path, "lead", "demo") as db:
        assert db.integrity_alarms == []
        assert db.full_check().ok
    code, out = _verify(demo_path)
    assert code == 0, out

    # from now on the rows are sealed: an edit in SQL by a care manager is named
    key = KeyFile.load(keyfile_path(demo_path), demo_path.name).unwrap("cm1", "demo")
    conn = raw_connect(demo_path, key)
    try:
        mid = conn.execute("SELECT min(id) FROM measure").fetchone()[0]
        conn.execute(f"UPDATE measure SET total = 0 WHERE id = {mid}")
        conn.commit()
    finally:
        conn.close()
    code, out = _verify(demo_path)
    assert code == 1 and f"measure row {mid} changed outside CoCM Desktop" in out, out
