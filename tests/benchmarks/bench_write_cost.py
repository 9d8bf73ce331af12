"""Benchmark: what signing and sealing cost on the everyday paths (issue 18 asks ≤ 10 %).

    .venv/bin/python tests/benchmarks/bench_write_cost.py [--patients 1000] [--runs 21] [--db PATH]

Builds a demo clinic (or reuses PATH), then prints the median of `runs` (after a warm-up), with
CPU time beside wall time, for: sign-in (key slot + open + the sign-in's checks, as cm1 and as
the clinic lead), open + close, saving a contact with its minutes, saving a PHQ-9, reading the
registry, and the full `audit verify` walk (every signature and every clinical row). Run it on
two checkouts (PYTHONPATH) to compare before and after a change.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from cocm_desktop.demo import generate_demo
from cocm_desktop.services.contacts import record_contact
from cocm_desktop.services.measures import record_measure
from cocm_desktop.services.registry import build_registry
from cocm_desktop.store.audit import verify_chain
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import Episode

TODAY = date(2026, 11, 24)
PASSWORD = "demo"


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of `runs` calls after one warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.db or Path(tmp.name) / "bench.db"
    if not path.exists():
        t = time.perf_counter()
        generate_demo(path, patients=args.patients, seed=7, today=TODAY)
        print(f"demo clinic of {args.patients} patients built in {time.perf_counter() - t:.1f} s")

    figures: list[tuple[str, float, float]] = []

    def sign_in(user: str) -> Callable[[], object]:
        def run() -> None:
            Database.open(path, user, PASSWORD).close()
        return run

    figures.append(("sign-in + close, cm1", *timed(sign_in("cm1"), args.runs)))
    figures.append(("sign-in + close, lead", *timed(sign_in("lead"), args.runs)))

    with Database.open(path, "cm1", PASSWORD) as db:
        cm = db.actor
        assert cm is not None
        with db.session() as s:
            episodes = list(s.scalars(select(Episode.id).where(Episode.care_manager_id == cm.user_id,
                                                                Episode.status == "active").limit(200)))
        clock = iter(range(10**6))

        def contact() -> None:
            n = next(clock)
            at = datetime(2026, 11, 24, 8) - timedelta(minutes=7 * n)
            with db.session() as s:
                record_contact(s, cm, episodes[n % len(episodes)], contact_at=at, mode="phone",
                               kind="follow_up", next_step="Call again", next_step_on=date(2026, 12, 8),
                               minutes=5, now=datetime(2026, 11, 24, 9))

        def measure() -> None:
            n = next(clock)
            at = datetime(2026, 11, 24, 8) - timedelta(minutes=7 * n)
            with db.session() as s:
                record_measure(s, cm, episodes[n % len(episodes)], "PHQ-9", [1, 1, 1, 1, 1, 1, 1, 1, 0],
                               taken_at=at, now=datetime(2026, 11, 24, 9))

        figures.append(("save a contact (with its minutes)", *timed(contact, args.runs)))
        figures.append(("save a PHQ-9", *timed(measure, args.runs)))

    with Database.open(path, "lead", PASSWORD) as db:
        lead = db.actor

        def registry() -> None:
            with db.session() as s:
                build_registry(s, lead, today=TODAY)

        def verify() -> None:
            with db.session() as s:
                verify_chain(s)
                s.rollback()

        figures.append(("registry rows (warm)", *timed(registry, args.runs)))
        figures.append(("audit verify, whole walk", *timed(verify, max(3, args.runs // 5))))

    width = max(len(name) for name, _w, _c in figures)
    print(f"{'figure':<{width}}  {'wall ms':>9}  {'cpu ms':>9}")
    for name, wall, cpu in figures:
        print(f"{name:<{width}}  {wall:9.2f}  {cpu:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
