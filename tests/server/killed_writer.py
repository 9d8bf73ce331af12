"""A workstation that dies in the middle of a save: run as its own process, then SIGKILLed.

    python killed_writer.py PROFILE_JSON LOGIN START_AT

Signs in as LOGIN (password "demo"), waits until the wall clock reaches START_AT, then starts one
unit of work as the app would — a contact with minutes on the first open episode and a timed entry
overlapping the working day — and flushes it (so it holds the writers' queue, the audit head, and
has written rows, audit records, registry invalidations and overlap days). It prints "HOLDING" and
then waits for ever without committing, until the test kills it.

Used by tests/server/test_killed_writer.py.
"""

from __future__ import annotations

import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

DAY = date(2026, 11, 24)
NEXT_STEP = "Unfinished save"  # how the test recognises anything of this unit of work


def main(profile_json: str, login: str, start_at: float) -> None:
    from sqlalchemy import select

    from cocm_desktop.services import contacts, time_log
    from cocm_desktop.store.models import Episode
    from cocm_desktop.store.server_database import ServerDatabase
    from cocm_desktop.store.server_profile import ServerProfile

    db = ServerDatabase.open(ServerProfile.load(Path(profile_json)), login, "demo")
    actor = db.actor
    assert actor is not None
    time.sleep(max(0.0, start_at - time.time()))
    with db.session() as s:
        eid, pid = s.execute(select(Episode.id, Episode.patient_id).where(Episode.status != "closed")
                             .order_by(Episode.id).limit(1)).one()
        contacts.record_contact(s, actor, eid, contact_at=datetime(2026, 11, 24, 9), mode="phone",
                                kind="follow_up", next_step=NEXT_STEP, next_step_on=DAY + timedelta(days=7),
                                minutes=33, now=datetime(2026, 11, 24, 20))
        start = datetime(2026, 11, 24, 10)
        time_log.add_manual_time(s, actor, patient_id=pid, episode_id=eid, activity="care_coordination",
                                 started_at=start, ended_at=start + timedelta(minutes=50),
                                 now=datetime(2026, 11, 24, 20))
        s.flush()
        print("HOLDING", flush=True)
        time.sleep(3600)  # killed here, before the commit


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
