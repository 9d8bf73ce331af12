"""A team at work on one clinic server: N care-manager workstations, a clinician and a consultant.

    .venv/bin/python tests/benchmarks/team_load.py --workstations 20 --seconds 60 [--patients 500]

Starts a private PostgreSQL with the demo clinic in a temporary folder (as `server demo` does;
stopped and removed at the end), adds one care-manager login per workstation, then runs at once,
each in its own process signed in as its own login:
- N care managers, each an action every --think seconds on average: the registry, a chart opened,
  a contact with minutes, a PHQ-9, the timer started or stopped, a correction of one of their own
  contacts' minutes;
- one consultant recording recommendations, one clinician approving them.
Every action's latency is recorded, and every write with the values it wrote and when. Afterwards
it prints p50/p95 per action, checks the derived tables against a fresh computation (registry
facts, overlap days) and the server's audit chain, and counts lost writes: a write a worker saved
that the database does not hold, or holds with other values than the worker last saved. Its last
line is

    N workstations, A actions, E errors, L lost writes, p95 save X ms, p95 remote refresh Y ms

"Remote refresh" is a save on one workstation reaching another through LISTEN/NOTIFY: from the
save's commit until the app's own listener (services.live, on a connection of its own in this
process) has the event; a save whose event never arrives counts as infinitely late (_RefreshProbe).
Saves run through store.unit_of_work.run (a unit of work the server rolled back to break a
deadlock runs again; the count is printed). A breakdown per action shows where the time went: the
wait for the audit head (the writers' queue), the derived tables' advisory locks, other SQL, the
rest, and how long the action held the head.
Targets at N = 20 (issue 17): E = 0, L = 0, p95 save ≤ 150 ms, p95 remote refresh ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

PASSWORD = "Team-load-2026!"  # the benchmark's own logins (the demo's are "demo")
SAVES = frozenset({"contact", "phq9", "timer_start", "timer_stop", "correction", "recommend", "approve"})


# ---- one workstation (its own process) ----------------------------------------------------------

def _workstation(profile_path: str, login: str, password: str, kind: str, seconds: float, think: float,
                 start_at: float, seed: int, out: str) -> None:
    """Play `kind` ("care_manager", "consultant", "clinician") until the time is up; write the
    latencies, errors and writes as JSON to `out`."""
    from sqlalchemy import event, select
    from sqlalchemy.orm import Session

    from cocm_desktop.services import case_review, chart, contacts, measures, registry, timer
    from cocm_desktop.services.clinic import open_server_clinic
    from cocm_desktop.store import unit_of_work
    from cocm_desktop.store.models import Episode, Recommendation
    from cocm_desktop.store.server_profile import ServerProfile

    rng = random.Random(seed)
    db = open_server_clinic(ServerProfile.load(Path(profile_path)), login, password)
    actor = db.actor
    assert actor is not None
    origin = getattr(db, "origin", None)
    with db.session() as s:
        episodes = list(s.execute(select(Episode.id, Episode.patient_id).where(Episode.status == "active")).all())
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    writes: list[dict[str, Any]] = []
    saves: list[dict[str, Any]] = []  # each save's time window and patient, for the remote refresh probe
    my_contacts: dict[int, int] = {}  # contact id → the minutes last saved
    timer_patient = 0
    timing = False

    # Where an action's time goes: waiting for the audit head (every writer's queue), other SQL
    # round trips, and the rest (Python, commit). Summed per action from the driver's cursor.
    sql_ms = {"head": 0.0, "locks": 0.0, "sql": 0.0, "got_head": 0.0}
    # action → [total, head wait, advisory locks, other SQL, head held (from getting it to the end)]
    breakdown: dict[str, list[list[float]]] = defaultdict(list)

    @event.listens_for(db.engine, "before_cursor_execute")
    def _sql_start(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["team_load_t0"] = time.perf_counter()

    @event.listens_for(db.engine, "after_cursor_execute")
    def _sql_end(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        end = time.perf_counter()
        took = (end - conn.info.pop("team_load_t0", end)) * 1000
        head = "cocm_write_lock()" in statement
        # the derived tables' advisory locks a writer takes at commit (store.write_locks)
        lock = "pg_advisory_xact_lock" in statement
        sql_ms["head" if head else "locks" if lock else "sql"] += took
        if head:
            sql_ms["got_head"] = end

    def save(work: Callable[[Session], Any], patient_id: int | None) -> Any:
        """One save as the app runs it (store.unit_of_work), its window noted for the probe."""
        t0 = time.time()
        result = unit_of_work.run(db, work)
        saves.append({"origin": origin, "patient": patient_id, "t0": t0, "t1": time.time()})
        return result

    def now() -> datetime:
        return datetime.now().replace(microsecond=0)

    def do_registry() -> None:
        with db.session() as s:
            registry.build_registry(s, actor)

    def do_chart() -> None:
        eid, _ = rng.choice(episodes)
        with db.session() as s:
            chart.open_chart(s, actor, episode_id=eid)

    def do_contact() -> None:
        eid, pid = rng.choice(episodes)
        minutes = rng.randrange(5, 40)
        r = save(lambda s: contacts.record_contact(
            s, actor, eid, contact_at=now(), mode="phone", kind="follow_up", next_step="Call again",
            next_step_on=now().date() + timedelta(days=7), minutes=minutes), pid)
        my_contacts[r.id] = minutes
        writes.append({"kind": "contact", "id": r.id, "minutes": minutes, "at": time.time()})

    def do_phq9() -> None:
        eid, pid = rng.choice(episodes)
        items = [rng.randrange(0, 4) for _ in range(8)] + [0]
        r = save(lambda s: measures.record_measure(s, actor, eid, "PHQ-9", items), pid)
        writes.append({"kind": "phq9", "id": r.id, "total": sum(items), "at": time.time()})

    def do_timer() -> str:
        nonlocal timing, timer_patient
        if not timing:
            eid, pid = rng.choice(episodes)
            save(lambda s: timer.start_timer(s, actor, patient_id=pid, episode_id=eid,
                                             activity="care_coordination"), pid)
            timing, timer_patient = True, pid
            return "timer_start"
        result = save(lambda s: timer.stop_timer(s, actor), timer_patient)
        timing = False
        for e in result.entries:
            writes.append({"kind": "time", "id": e.id, "minutes": e.minutes, "at": time.time()})
        return "timer_stop"

    def do_correction() -> str | None:
        if not my_contacts:
            return ""  # nothing of theirs to correct yet: no action
        cid = rng.choice(sorted(my_contacts))
        minutes = my_contacts[cid] + rng.choice((-3, -2, -1, 1, 2, 3))
        minutes = minutes if minutes > 0 else minutes + 6
        read_at = time.time()
        save(lambda s: contacts.amend_contact(s, actor, cid, reason="Minutes entered wrongly", minutes=minutes),
             None)
        my_contacts[cid] = minutes
        writes.append({"kind": "contact", "id": cid, "minutes": minutes, "at": time.time(), "read_at": read_at})
        return "correction"

    def do_recommend() -> None:
        eid, pid = rng.choice(episodes)
        text = f"Weekly behavioural activation ({login} {rng.randrange(10**6)})"
        r = save(lambda s: case_review.record_recommendation(s, actor, eid, kind="psychotherapy", text=text), pid)
        writes.append({"kind": "recommendation", "id": r.id, "text": text, "at": time.time()})

    def do_approve() -> str | None:
        def approve_first(s: Session) -> int | None:
            rec = s.scalar(select(Recommendation.id).where(
                Recommendation.state == "recommended", Recommendation.voided_at.is_(None),
                Recommendation.text.like("Weekly behavioural activation%")).order_by(Recommendation.id).limit(1))
            if rec is not None:
                case_review.decide_recommendation(s, actor, rec, "approved")
            return rec

        rec = save(approve_first, None)
        if rec is None:
            saves.pop()  # nothing awaiting approval: no action, no save
            return ""
        writes.append({"kind": "approval", "id": rec, "state": "approved", "at": time.time()})
        return "approve"

    mixes: dict[str, list[tuple[str, Callable[[], Any], int]]] = {
        "care_manager": [("registry", do_registry, 25), ("chart", do_chart, 20), ("contact", do_contact, 15),
                         ("phq9", do_phq9, 10), ("timer", do_timer, 20), ("correction", do_correction, 10)],
        "consultant": [("registry", do_registry, 30), ("chart", do_chart, 30), ("recommend", do_recommend, 40)],
        "clinician": [("registry", do_registry, 30), ("chart", do_chart, 20), ("approve", do_approve, 50)],
    }
    mix = mixes[kind]
    names, fns, weights = zip(*mix, strict=True)
    time.sleep(max(0.0, start_at - time.time()))
    deadline = start_at + seconds
    while time.time() < deadline:
        i = rng.choices(range(len(names)), weights=weights)[0]
        sql_ms.update(head=0.0, locks=0.0, sql=0.0, got_head=0.0)
        t0 = time.perf_counter()
        try:
            label = fns[i]()
            label = names[i] if label is None else label
        except Exception as exc:  # noqa: BLE001 - every failure is counted, in one plain line
            errors.append(f"{names[i]}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        else:
            if label:
                end = time.perf_counter()
                took = (end - t0) * 1000
                latencies[label].append(took)
                held = (end - sql_ms["got_head"]) * 1000 if sql_ms["got_head"] else 0.0
                breakdown[label].append([took, sql_ms["head"], sql_ms["locks"], sql_ms["sql"], held])
        time.sleep(rng.uniform(0, 2 * think))
    if timing:  # leave no timer running: its time is a write like any other
        try:
            do_timer()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"timer: {type(exc).__name__}")
    db.close()
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"login": login, "latencies": latencies, "errors": errors, "writes": writes, "saves": saves,
                   "breakdown": breakdown, "retries": getattr(db, "retries", 0)}, f)
    os.replace(tmp, out)


# ---- after the run -------------------------------------------------------------------------------

def _lost_writes(db: Any, writes: list[dict[str, Any]]) -> list[str]:
    """Writes the database does not hold as their worker last saved them."""
    from sqlalchemy import select

    from cocm_desktop.store.models import Contact, Measure, Recommendation, TimeEntry

    last: dict[tuple[str, int], dict[str, Any]] = {}
    for w in sorted(writes, key=lambda w: w["at"]):
        last[(w["kind"], w["id"])] = w
    lost: list[str] = []
    with db.session() as s:
        for (kind, rid), w in sorted(last.items()):
            if kind == "contact":
                row = s.get(Contact, rid)
                ok = row is not None and row.voided_at is None and row.minutes == w["minutes"]
            elif kind == "phq9":
                row = s.get(Measure, rid)
                ok = row is not None and row.total == w["total"]
            elif kind == "time":
                row = s.get(TimeEntry, rid)
                ok = row is not None and row.deleted_at is None and row.minutes == w["minutes"]
            elif kind == "recommendation":
                row = s.get(Recommendation, rid)
                ok = row is not None and row.text == w["text"]
            else:  # approval
                state = s.scalar(select(Recommendation.state).where(Recommendation.id == rid))
                ok = state == w["state"]
            if not ok:
                lost.append(f"{kind} {rid}")
    return lost


def _exactness(db: Any) -> list[str]:
    """Differences between the derived tables and a fresh computation, and audit chain findings."""
    from cocm_desktop.services import registry_facts
    from cocm_desktop.services.common import load_policy
    from cocm_desktop.store import overlap_days

    with db.session() as s:
        stale = registry_facts.cache_differences(s, load_policy(s))
        missing, extra = overlap_days.differences(s.connection())
    found = [f"{len(stale)} stale registry rows"] if stale else []
    if missing or extra:
        found.append(f"{len(missing)} overlap days missing, {len(extra)} extra")
    return found + list(db.full_check().findings())


class _RefreshProbe:
    """A second workstation's live refresh, as the app runs it: services.live.listen on a
    connection of its own (signed in as the lead, in this process), noting when each ChangeEvent
    arrives. Afterwards every save a worker made is matched to the event it caused (same writing
    instance, the event's time inside the save's window, the save's patient among the event's):
    the remote refresh of a save is the moment the listener had the event minus the event's time,
    which the writer stamps just before its COMMIT (one clock: every process runs on this machine),
    so it includes the commit itself. A save no event was heard for counts as never refreshed."""

    def __init__(self, db: Any) -> None:
        from cocm_desktop.services import live

        self.heard: list[tuple[float, float, str | None, frozenset[int], bool]] = []
        self.gaps = 0
        self._lock = threading.Lock()
        self._live = live.listen(db, self._on_event)
        if self._live is None or not self._live.wait_connected(10):
            raise RuntimeError("the live refresh listener did not connect")

    def _on_event(self, change: Any) -> None:
        arrived = time.time()
        with self._lock:
            if change.many and change.origin is None:  # a gap: the listener lost the server a while
                self.gaps += 1
                return
            self.heard.append((arrived, change.at.timestamp(), change.origin, change.patient_ids, change.many))

    def close(self) -> None:
        if self._live is not None:
            self._live.close()

    def delays(self, saves: list[dict[str, Any]], slack: float = 0.002) -> tuple[list[float], int]:
        """(ms from each heard save's commit to the listener, saves never heard)."""
        by_origin: dict[str | None, list[tuple[float, float, frozenset[int], bool]]] = defaultdict(list)
        for arrived, at, origin, patients, many in self.heard:
            by_origin[origin].append((at, arrived, patients, many))
        for events in by_origin.values():
            events.sort()
        delays: list[float] = []
        unheard = 0
        for w in saves:
            match = next((arrived - at for at, arrived, patients, many in by_origin.get(w["origin"], ())
                          if w["t0"] - slack <= at <= w["t1"] + slack
                          and (w["patient"] is None or many or w["patient"] in patients)), None)
            if match is None:
                unheard += 1
            else:
                delays.append(match * 1000)
        return delays, unheard


def _print_breakdown(reports: list[dict[str, Any]]) -> None:
    """Per action, where the time went: the audit head wait (the writers' queue), the derived
    tables' advisory locks at commit, other SQL, the rest (Python, commit round trip), and how long
    it held the head (everyone else's wait).
    Means over all, and over its slowest 5 %."""
    rows: dict[str, list[list[float]]] = defaultdict(list)
    for r in reports:
        for action, values in r["breakdown"].items():
            rows[action] += values
    cols = f"{'head':>6} {'locks':>6} {'sql':>6} {'rest':>6} {'held':>6}"
    print(f"{'action':<12} {'mean ms':>7} {cols} | slowest 5 %: {'mean':>6} {cols}")
    for action in sorted(rows):
        v = sorted(rows[action])
        tail = v[int(len(v) * 0.95):] or v[-1:]

        def means(part: list[list[float]]) -> str:
            total, head, locks, sql, held = (statistics.fmean(x[i] for x in part) for i in range(5))
            rest = total - head - locks - sql
            return f"{total:>6.1f} {head:>6.1f} {locks:>6.1f} {sql:>6.1f} {rest:>6.1f} {held:>6.1f}"

        print(f"{action:<12} {means(v)} |              {means(tail)}")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workstations", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--patients", type=int, default=500)
    ap.add_argument("--think", type=float, default=1.0, help="mean seconds between one person's actions")
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()

    from cocm_desktop.services.clinic import open_server_clinic
    from cocm_desktop.services.server_setup import start_demo_server, stop_demo_server
    from cocm_desktop.services.users import add_staff_user
    from cocm_desktop.store.server_profile import ServerProfile

    folder = Path(tempfile.mkdtemp(prefix="team-load-"))
    folder.chmod(0o711)  # the `postgres` account (when run as root) passes through; nobody lists it
    try:
        t0 = time.perf_counter()
        server = start_demo_server(folder / "server", patients=args.patients, port=None, seed=args.seed)
        print(f"server with {args.patients} patients ready in {time.perf_counter() - t0:.0f} s "
              f"({os.cpu_count()} cores, shared)")
        profile = ServerProfile.load(server.profile_path)
        lead = open_server_clinic(profile, "lead", "demo")
        assert lead.actor is not None
        cms = [f"cmload{i:02d}" for i in range(1, args.workstations + 1)]
        for name in cms:
            add_staff_user(lead, lead.actor, username=name, display_name=f"Care Manager {name[-2:]}",
                           role="care_manager", password=PASSWORD)
        players = [(name, PASSWORD, "care_manager") for name in cms]
        players += [("psych", "demo", "consultant"), ("doc1", "demo", "clinician")]
        probe = _RefreshProbe(lead)
        ctx = multiprocessing.get_context("spawn")
        start_at = time.time() + 5 + 0.4 * len(players)  # after every process's imports and sign-in
        outs = [str(folder / f"w{i}.json") for i in range(len(players))]
        procs = [ctx.Process(target=_workstation, args=(str(server.profile_path), login, pw, kind, args.seconds,
                                                         args.think, start_at, args.seed * 1000 + i, outs[i]))
                 for i, (login, pw, kind) in enumerate(players)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(args.seconds + 600)
        time.sleep(1.0)  # the last saves' events on their way
        probe.close()
        reports = [json.loads(Path(o).read_text(encoding="utf-8")) for o in outs if Path(o).exists()]
        refresh, unheard = probe.delays([w for r in reports for w in r["saves"]])
        errors = [e for r in reports for e in r["errors"]]
        errors += [f"workstation {players[i][0]} did not finish" for i, o in enumerate(outs) if not Path(o).exists()]
        by_action: dict[str, list[float]] = defaultdict(list)
        for r in reports:
            for action, values in r["latencies"].items():
                by_action[action] += values
        actions = sum(len(v) for v in by_action.values()) + len(errors)
        print(f"{'action':<12} {'n':>6} {'p50 ms':>8} {'p95 ms':>8}")
        for action in sorted(by_action):
            v = by_action[action]
            print(f"{action:<12} {len(v):>6} {statistics.median(v):>8.1f} {_pct(v, 0.95):>8.1f}")
        saves = [x for a, v in by_action.items() if a in SAVES for x in v]
        _print_breakdown(reports)
        retries = sum(r["retries"] for r in reports)
        print(f"units of work run again after a deadlock or serialization rollback: {retries}")
        for e in sorted(set(errors))[:20]:
            print(f"error: {e}")
        lost = _lost_writes(lead, [w for r in reports for w in r["writes"]])
        for item in lost[:20]:
            print(f"lost write: {item}")
        found = _exactness(lead)
        print("derived tables and audit chain: " + ("exact" if not found else "; ".join(found)))
        lead.close()
        errors += found
        saved = len(refresh) + unheard
        print(f"remote refresh: {len(refresh)} of {saved} saves heard by another workstation's listener"
              f" ({unheard} never, {probe.gaps} listening gaps); p50 {_pct(refresh, 0.5):.0f} ms,"
              f" max {max(refresh, default=float('nan')):.0f} ms")
        refresh += [float("inf")] * unheard  # never refreshed: as late as can be
        errors += [f"{unheard} saves never reached another workstation"] if unheard else []
        refresh_text = f"{_pct(refresh, 0.95):.0f}" if refresh else "n/a"
        print(f"{args.workstations} workstations, {actions} actions, {len(errors)} errors, {len(lost)} lost writes, "
              f"p95 save {_pct(saves, 0.95):.0f} ms, p95 remote refresh {refresh_text} ms")
        return 0 if not errors and not lost else 1
    finally:
        if (folder / "server").exists():
            stop_demo_server(folder / "server")
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
