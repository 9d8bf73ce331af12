"""Benchmark: each role's worklist and the billing adjustments on the 10,000-patient demo clinic.

    .venv/bin/python tests/benchmarks/bench_worklists.py [--db PATH] [--patients 10000] [--runs 5]

Builds the demo clinic when PATH does not exist (as run_benchmarks.py does), works on a copy,
then prints the median of `runs` (after a warm-up) for: every demo user's worklist; marking
October submitted (one full month computed and stored); the adjustments check with nothing
changed since (the audit log says no patient was touched) and after a late October entry (only
the touched patients recomputed), beside a whole-month recompute for comparison.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 16, 0)
USERS = ("doc1", "doc2", "cm1", "cm2", "psych", "lead")


def _median(fn, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    result = fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "cocm-bench-worklists" / "demo.db")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from cocm_desktop.store.keyslots import keyfile_path

    if not args.db.exists():
        args.db.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "cocm_desktop", "demo", "--db", str(args.db), "--patients",
                        str(args.patients), "--seed", "7", "--today", TODAY.isoformat()], check=True,
                       stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="cocm-bench-wl-") as tmp:
        db_path = Path(tmp) / "demo.db"
        shutil.copy2(args.db, db_path)
        shutil.copy2(keyfile_path(args.db), keyfile_path(db_path))
        run(db_path, args.runs)
    return 0


def run(db_path: Path, runs: int) -> None:
    from sqlalchemy import func, select

    from cocm_desktop.services.billing_month import compute_billing_month
    from cocm_desktop.services.billing_submissions import find_adjustments, mark_month_submitted
    from cocm_desktop.services.time_log import add_manual_time
    from cocm_desktop.services.worklists import worklist
    from cocm_desktop.store.database import Database
    from cocm_desktop.store.models import Episode

    for user in USERS:
        with Database.open(db_path, user, "demo") as db:
            assert db.actor is not None

            def one(db=db):  # type: ignore[no-untyped-def]
                with db.session() as s:
                    return worklist(s, db.actor, today=TODAY, now=NOW)

            secs, wl = _median(one, runs)
            counts = ", ".join(f"{k.value} {n}" for k, n in wl.counts.items())  # type: ignore[attr-defined]
            print(f"worklist {user:6s} {secs * 1000:7.0f} ms  ({wl.total} items: {counts})")  # type: ignore[attr-defined]

    with Database.open(db_path, "lead", "demo") as db:
        assert db.actor is not None
        with db.session() as s:
            open_episodes = s.scalar(select(func.count()).where(Episode.status != "closed"))
        print(f"clinic: {open_episodes} open episodes")
        t = time.perf_counter()
        with db.session() as s:
            sub = mark_month_submitted(s, db.actor, "2026-10", today=TODAY)
        print(f"mark 2026-10 submitted      {time.perf_counter() - t:7.2f} s  ({sub.patient_months} patient-months)")

        def check() -> list:  # type: ignore[type-arg]
            with db.session() as s:
                return find_adjustments(s, today=TODAY)

        secs, adj = _median(check, runs)
        print(f"adjustments, nothing changed {secs * 1000:6.0f} ms  ({len(adj)})")  # type: ignore[arg-type]
        with db.session() as s:
            row = next(r for r in compute_billing_month(s, "2026-10", today=TODAY).rows
                       if r.codes and r.codes[0][0] == "G2214")
    with Database.open(db_path, "cm1", "demo") as db:
        assert db.actor is not None
        with db.session() as s:
            add_manual_time(s, db.actor, patient_id=row.patient_id, activity="care_coordination", minutes=20,
                            local_date=date(2026, 10, 30), now=NOW)
    with Database.open(db_path, "lead", "demo") as db:
        assert db.actor is not None
        secs, adj = _median(check, runs)
        print(f"adjustments, one late entry  {secs * 1000:6.0f} ms  ({len(adj)}: "  # type: ignore[arg-type]
              f"{adj[0].codes_text if adj else '-'})")  # type: ignore[index]

        def whole() -> object:
            with db.session() as s:
                return compute_billing_month(s, "2026-10", today=TODAY)

        secs, _ = _median(whole, max(1, runs // 2))
        print(f"whole-month recompute (for comparison) {secs:5.2f} s")

        def lead_list():  # type: ignore[no-untyped-def]
            with db.session() as s:
                return worklist(s, db.actor, today=TODAY, now=NOW)

        secs, wl = _median(lead_list, runs)
        print(f"worklist lead with 1 adjustment {secs * 1000:5.0f} ms  ({wl.total} items)")  # type: ignore[attr-defined]


if __name__ == "__main__":
    raise SystemExit(main())
