"""One workstation's random day of work on a server clinic, run as its own process.

    python team_day.py PROFILE_JSON LOGIN SEED ACTIONS START_AT

Signs in as LOGIN (password "demo"), waits until the wall clock reaches START_AT (so every
workstation starts at once, after its imports), then does ACTIONS random actions of that role on
the clinic's open episodes, each in its own unit of work as the app does: contacts with minutes,
PHQ-9s, timed time entries (often overlapping on the same staff day), corrections of its own
contacts and time entries (the clinic lead corrects anyone's time), and registry reads that fill
the facts cache. Prints one JSON line: {"actions": n, "errors": [plain messages], "cached_seen": the most cached
registry rows one of its reads left}.

Used by tests/server/test_concurrent_exactness.py; the derived tables are checked afterwards.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

DAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 20, 0)
REASON = "Entered wrongly"


def _at(rng: random.Random) -> datetime:
    """A random minute of the working day (8:00–16:00), so timed entries overlap often."""
    return datetime.combine(DAY, clock(8)) + timedelta(minutes=rng.randrange(0, 8 * 60))


def main(profile_json: str, login: str, seed: int, actions: int, start_at: float) -> dict[str, object]:
    from sqlalchemy import func, select

    from cocm_desktop.domain.roles import PermissionDenied
    from cocm_desktop.services import contacts, measures, registry, time_log
    from cocm_desktop.services.common import ValidationError
    from cocm_desktop.store.errors import StoreError
    from cocm_desktop.store.models import Episode, RegistryFacts
    from cocm_desktop.store.server_database import ServerDatabase
    from cocm_desktop.store.server_profile import ServerProfile

    rng = random.Random(seed)
    db = ServerDatabase.open(ServerProfile.load(Path(profile_json)), login, "demo")
    actor = db.actor
    assert actor is not None
    with db.session() as s:
        episodes = list(s.execute(select(Episode.id, Episode.patient_id).where(Episode.status != "closed")).all())
    my_contacts: list[int] = []
    my_entries: list[int] = []
    role = str(actor.role)
    writes_clinical = role in ("care_manager", "clinician")
    logs_time = role != "clinic_lead"

    def contact() -> None:
        eid, _pid = rng.choice(episodes)
        with db.session() as s:
            r = contacts.record_contact(
                s, actor, eid, contact_at=_at(rng), mode="phone", kind="follow_up",
                next_step="Call again", next_step_on=DAY + timedelta(days=7),
                minutes=rng.randrange(5, 40), now=NOW)
        my_contacts.append(r.id)

    def phq9() -> None:
        eid, _pid = rng.choice(episodes)
        with db.session() as s:
            measures.record_measure(s, actor, eid, "PHQ-9", [rng.randrange(0, 4) for _ in range(8)] + [0],
                                    taken_at=_at(rng), now=NOW)

    def timed() -> None:
        eid, pid = rng.choice(episodes)
        start = _at(rng)
        with db.session() as s:
            views = time_log.add_manual_time(
                s, actor, patient_id=pid, episode_id=eid, activity="care_coordination",
                started_at=start, ended_at=start + timedelta(minutes=rng.randrange(10, 60)), now=NOW)
        my_entries.extend(v.id for v in views)

    def correct() -> None:
        with db.session() as s:
            if role == "clinic_lead":  # the lead corrects anyone's time on the day
                # (a contact's own minutes are its recorder's to correct)
                entries = [v.id for v in time_log.list_time(s, actor, month=DAY)
                           if v.deleted_at is None and v.source != "contact"]
                if not entries:
                    return
                entry = rng.choice(entries)
            elif my_contacts and rng.random() < 0.5:
                contacts.amend_contact(s, actor, rng.choice(my_contacts), reason=REASON,
                                       minutes=rng.randrange(5, 40), now=NOW)
                return
            elif my_entries:
                entry = rng.choice(my_entries)
            else:
                return
            if rng.random() < 0.2:
                time_log.delete_time_entry(s, actor, entry, REASON, now=NOW)
            else:
                time_log.update_time_entry(s, actor, entry, reason=REASON, minutes=rng.randrange(5, 60), now=NOW)

    cached_seen = 0

    def read_registry() -> None:
        nonlocal cached_seen
        with db.session() as s:
            registry.collect(s, today=DAY)
            cached_seen = max(cached_seen, s.scalar(select(func.count()).select_from(RegistryFacts)) or 0)

    menu = [read_registry, correct]
    if writes_clinical:
        menu += [contact, contact, phq9]
    if logs_time:
        menu += [timed, timed]
    time.sleep(max(0.0, start_at - time.time()))
    errors: list[str] = []
    done = 0
    for i in range(actions):
        action = read_registry if i >= actions - 2 else rng.choice(menu)  # ends reading, as others write
        try:
            action()
        except (ValidationError, PermissionDenied, StoreError) as exc:
            # A refusal that says why (an entry another workstation voided meanwhile) is the app
            # working; the test decides which messages are acceptable.
            errors.append(f"{action.__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a crash the app would show: the test fails on it
            errors.append(f"{action.__name__}: CRASH {type(exc).__name__}: {str(exc).splitlines()[0]}")
        done += 1
    db.close()
    return {"actions": done, "errors": errors, "cached_seen": cached_seen}


if __name__ == "__main__":
    profile, who, seed_, n, start = sys.argv[1:6]
    print(json.dumps(main(profile, who, int(seed_), int(n), float(start))))
