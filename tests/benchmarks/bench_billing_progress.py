"""Benchmark: billing_progress for a 10,000-patient demo clinic (the registry's minutes column).

    .venv/bin/python tests/benchmarks/bench_billing_progress.py [--patients 10000] [--db PATH]

Generates the demo clinic once (cached at --db), then times billing_progress for all open
episodes of the current month (warm, best of 5) and the month-end billing computation.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select

from cocm_desktop.demo import generate_demo
from cocm_desktop.services.billing_month import compute_billing_month
from cocm_desktop.services.billing_progress import billing_progress
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Episode, TimeEntry

TODAY = date(2026, 11, 24)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/cocm-bench-10k/demo.db"))
    args = ap.parse_args()
    if not args.db.exists():
        args.db.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        generate_demo(args.db, patients=args.patients, seed=7, today=TODAY)
        print(f"generated {args.patients} patients in {time.perf_counter() - t:.1f} s")
    with Database.open(args.db, "lead", "demo") as db, db.session() as s:
        ids = list(s.scalars(select(Episode.id).where(Episode.closed_on.is_(None))))
        n_entries = len(
            list(s.scalars(select(TimeEntry.id).where(TimeEntry.local_date >= date(2026, 11, 1))))
        )
        print(f"{len(ids)} open episodes, {n_entries} time entries this month")
        for label, arg in (
            ("episode_ids=all open", ids),
            ("episode_ids=None", None),
            ("one episode", ids[:1]),
        ):
            runs = []
            for _ in range(5):
                t = time.perf_counter()
                result = billing_progress(s, TODAY, arg)
                runs.append((time.perf_counter() - t) * 1000)
            print(
                f"billing_progress({label}): {len(result)} rows, best {min(runs):.0f} ms, "
                f"median {statistics.median(runs):.0f} ms"
            )
        t = time.perf_counter()
        bm = compute_billing_month(s, date(2026, 10, 1), today=TODAY)
        print(
            f"compute_billing_month(2026-10): {len(bm.rows)} patient-months in {time.perf_counter() - t:.1f} s"
        )


if __name__ == "__main__":
    main()
