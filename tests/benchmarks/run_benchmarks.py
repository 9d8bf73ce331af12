"""Benchmark CoCM Desktop at clinic-network scale, beside the plain-SQLite floor.

    .venv/bin/python tests/benchmarks/run_benchmarks.py [--patients 10000] [--runs 5] [--keep DIR]

Builds a synthetic clinic with the demo generator (12 months of history), then prints a table of
figures, each the median of several runs, with the target for this 2-core machine, and the
machine it ran on. The floor answers the same registry question with hand-written SQL through
the standard library's sqlite3 on an unencrypted copy (made with sqlcipher_export in a temp
directory, in a separate process, deleted afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
TODAY = date(2026, 11, 24)
MONTH = date(2026, 10, 1)  # a complete month for the billing figures
PASSWORD = "demo"


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    target: float | None
    note: str = ""

    def cells(self) -> list[str]:
        if self.value is None:
            return [self.name, "n/a", self.unit, _fmt(self.target), "", self.note]
        ok = "" if self.target is None else ("ok" if self.value <= self.target else "MISSED")
        return [self.name, _fmt(self.value), self.unit, _fmt(self.target), ok, self.note]


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 1) -> tuple[float, object]:
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def build_clinic(path: Path, patients: int) -> float:
    """In a child process, so the peak-memory figure is the app's, not the generator's."""
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cocm_desktop", "demo", "--db", str(path), "--patients", str(patients),
         "--seed", "7", "--today", TODAY.isoformat()],
        check=True, stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t


def floor_registry(db, runs: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Export to plaintext in a temp dir, time the hand-written query in another process."""
    from cocm_desktop.store.engine import raw_connect

    with tempfile.TemporaryDirectory(prefix="cocm-floor-") as tmp:
        plain = Path(tmp) / "plain.db"
        conn = raw_connect(db.path, db.raw_key_for_backup())
        try:
            conn.execute(f"ATTACH DATABASE '{plain}' AS plaintext KEY ''")
            conn.execute("SELECT sqlcipher_export('plaintext')")
            conn.execute("DETACH DATABASE plaintext")
        finally:
            conn.close()
        out = subprocess.run(
            [sys.executable, str(HERE / "floor_registry.py"), str(plain), MONTH.replace(month=11).isoformat(),
             TODAY.isoformat(), str(runs + 1)],
            check=True, capture_output=True, text=True,
        ).stdout
    data = json.loads(out)
    return statistics.median(data["times"][1:]) * 1000, int(data["rows"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="reuse/keep the generated clinic in this folder")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from cocm_desktop.store.database import Database

    tmp = tempfile.TemporaryDirectory(prefix="cocm-bench-")
    folder = args.keep or Path(tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / f"bench-{args.patients}.db"
    figures: list[Figure] = []
    if not db_path.exists():
        took = build_clinic(db_path, args.patients)
        figures.append(Figure("build demo clinic (once)", took, "s", 60.0, f"{args.patients} patients"))

    unlock_ms, db = median_ms(lambda: Database.open(db_path, "cm1", PASSWORD), args.runs)
    figures.append(Figure("unlock (key slot + open)", unlock_ms, "ms", 500))
    db.close()
    db = Database.open(db_path, "lead", PASSWORD)
    actor = db.actor

    from cocm_desktop.services.registry import build_registry

    def registry() -> list:  # type: ignore[type-arg]
        with db.session() as s:
            return build_registry(s, actor, today=TODAY)

    reg_ms, rows = median_ms(registry, args.runs)
    floor_ms, floor_rows = floor_registry(db, args.runs)
    figures.append(Figure("registry rows, all open episodes", reg_ms, "ms", 300, f"{len(rows)} rows"))
    figures.append(Figure("  floor: plain sqlite3, hand-written SQL", floor_ms, "ms", None, f"{floor_rows} rows"))
    figures.append(Figure("  ratio ours / floor", reg_ms / floor_ms, "×", 3.0))

    for extra in _optional_figures(db, actor, rows, args.runs):
        figures.append(extra)

    db.close()
    size = db_path.stat().st_size / 1024 / 1024
    figures.append(Figure("database file size", size, "MiB", None))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures.append(Figure("peak memory (this process)", peak, "MB", 400))

    print(f"\nCoCM Desktop benchmarks — {args.patients} patients, 12 months, median of {args.runs} runs")
    print(f"Machine: {machine()}\n")
    header = ["figure", "value", "unit", "target", "", "note"]
    table = [header] + [f.cells() for f in figures]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        print("  ".join(c.ljust(widths[j]) if j in (0, 2, 5) else c.rjust(widths[j]) for j, c in enumerate(r)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    missed = [f.name for f in figures if f.value is not None and f.target is not None and f.value > f.target]
    print(f"\n{'All targets met.' if not missed else 'Missed: ' + ', '.join(missed)}")
    tmp.cleanup()
    return 0


def _optional_figures(db, actor, rows, runs: int) -> list[Figure]:  # type: ignore[no-untyped-def]
    """Figures for the parts built on top of the registry (chart, billing, packet, GUI)."""
    return []


if __name__ == "__main__":
    sys.exit(main())
