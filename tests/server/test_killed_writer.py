"""A workstation killed in the middle of a save leaves nothing of it, and nothing wrong behind.

A writer process (tests/server/killed_writer.py) starts a unit of work — a contact with minutes and
a timed entry, flushed, so it holds the writers' queue and has written rows, audit records, registry
invalidations and overlap days — while six other workstations do a day of work
(tests/server/team_day.py). It is SIGKILLed before its commit. The server rolls its transaction
back when the connection drops; the others, queued behind it, carry on. Afterwards nothing of the
killed save exists, every cached registry row equals a fresh computation, the overlap days equal a
fresh pass and the audit chain verifies.
"""

from __future__ import annotations

import os
import select as io_select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select

from cocm_desktop.store.models import Contact
from cocm_desktop.store.pg_cluster import PgCluster
from cocm_desktop.store.server_database import ServerDatabase
from cocm_desktop.store.server_profile import ServerProfile

from .test_concurrent_exactness import ACCEPTED, LOGINS, enrol, exactness_findings, run_team

KILLED = Path(__file__).with_name("killed_writer.py")
NEXT_STEP = "Unfinished save"  # killed_writer.NEXT_STEP
def _waiting(admin: psycopg.Connection) -> int:
    """Backends of the clinic's staff waiting for a lock right now."""
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'").fetchone()
    return int(row[0]) if row else 0


def test_a_writer_killed_before_its_commit_leaves_no_trace_and_derived_tables_exact(
    server_profile: ServerProfile, pg_cluster: PgCluster, pg_admin_password: str, tmp_path: Path
) -> None:
    enrol(server_profile, 6)
    profile_json = tmp_path / "victim.json"
    server_profile.save(profile_json)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # The doomed save first; the team's day starts once it holds the writers' queue (run_team: 6 s
    # after it is called), so their first saves queue behind it.
    victim = subprocess.Popen([sys.executable, str(KILLED), str(profile_json), "cm1", repr(time.time())],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    team: dict[str, Any] = {}

    def work() -> None:
        try:
            team["reports"] = run_team(server_profile, tmp_path, actions=25, seed=7)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            team["error"] = exc

    working = threading.Thread(target=work)
    try:
        assert victim.stdout is not None
        ready, _, _ = io_select.select([victim.stdout], [], [], 90)
        assert ready, "the writer never started its save"
        assert victim.stdout.readline().strip() == "HOLDING", victim.stderr.read() if victim.stderr else ""
        working.start()
        with psycopg.connect(pg_cluster.admin_dsn(server_profile.dbname), password=pg_admin_password,
                             autocommit=True) as watcher:
            deadline = time.monotonic() + 60
            while _waiting(watcher) == 0 and time.monotonic() < deadline:  # others queue behind it
                time.sleep(0.05)
            queued = _waiting(watcher)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(30)
            working.join(600)
            # The server noticed the dead connection: nothing of it is left holding anything.
            left = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND state LIKE 'idle in transaction%'").fetchone()
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert queued > 0  # the kill came while other workstations waited for it
    assert left == (0,)
    assert not working.is_alive() and "error" not in team, team.get("error")
    reports = team["reports"]
    assert sum(r["actions"] for r in reports) == 25 * len(LOGINS)
    unexpected = sorted({e for r in reports for e in r["errors"] if not any(a in e for a in ACCEPTED)})

    with ServerDatabase.open(server_profile, "lead", "demo") as lead, lead.session() as s:
        unfinished = s.scalar(select(func.count()).select_from(Contact).where(Contact.next_step == NEXT_STEP))
    found = {
        "errors": unexpected,
        "killed save's contact": [unfinished] if unfinished else [],
        **exactness_findings(server_profile),
    }
    assert found == {k: [] for k in found}
