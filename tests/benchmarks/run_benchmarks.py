"""Benchmark CoCM Desktop at clinic-network scale, beside the plain-SQLite floor.

    .venv/bin/python tests/benchmarks/run_benchmarks.py [--patients 10000] [--runs 5] [--keep DIR]

Builds a synthetic clinic with the demo generator (12 months of history; in a child process) or
reuses DIR/bench-N.db, then prints a table of figures, each the median of --runs runs (after one
warm-up), with the target for this 2-core machine, the machine and its load average:
- unlock: key slot (argon2id) + open;
- cold start: a child process starts the GUI offscreen on the clinic (sign-in dialog skipped),
  measured from before the process starts to the main window showing the registry rows; in the
  same child, one more character typed in the registry search (proxy filter + repaint) and the
  GUI's peak memory (gui_cold_start.py);
- registry rows for all open episodes (wall and CPU), and the floor: the same question in
  hand-written SQL with the standard library's sqlite3 on an unencrypted copy (made with
  sqlcipher_export in a temp directory, timed in a separate process, deleted afterwards;
  floor_registry.py says what it covers);
- opening one patient chart; the month-end billing computation (October, complete) and its PDF;
  the case-review packet (data + PDF) of one realistic session (a care manager's next session of
  median size) and of the largest next session;
- database file size and this process's peak memory.
--skip gui|chart|billing|packet leaves a section out while iterating on another. The run writes
audit records (chart opens) into the clinic file; nothing else.
"""

from __future__ import annotations

import argparse
import gc
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
        result = None  # the previous run's result is freed outside the timing
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
        [
            sys.executable,
            "-m",
            "cocm_desktop",
            "demo",
            "--db",
            str(path),
            "--patients",
            str(patients),
            "--seed",
            "7",
            "--today",
            TODAY.isoformat(),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t


def floor_registry(db, runs: int) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
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
            [
                sys.executable,
                str(HERE / "floor_registry.py"),
                str(plain),
                MONTH.replace(month=11).isoformat(),
                TODAY.isoformat(),
                str(runs + 1),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    data = json.loads(out)
    return (
        statistics.median(data["times"][1:]) * 1000,
        statistics.median(data["cached_times"][1:]) * 1000,
        int(data["rows"]),
    )


def gui_child(db_path: Path, runs: int) -> dict:  # type: ignore[type-arg]
    """Cold start to the main window with registry rows, then filter keystrokes (own process)."""
    times: list[float] = []
    result: dict = {}  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory(prefix="cocm-gui-") as home:
        env = {
            **os.environ,
            "COCM_PASSWORD": PASSWORD,
            "QT_QPA_PLATFORM": "offscreen",
            "XDG_CONFIG_HOME": home,
            "HOME": home,
        }  # QSettings of a fresh user, not yours
        for n in range(max(1, min(runs, 3))):
            t0 = time.monotonic()
            out = subprocess.run(
                [
                    sys.executable,
                    str(HERE / "gui_cold_start.py"),
                    str(db_path),
                    "cm1",
                    repr(t0),
                    str(runs if n == 0 else 1),
                ],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout
            data = json.loads(out.strip().splitlines()[-1])
            times.append(data["rows_painted"])
            if n == 0:
                result = data
    result["cold_start_median"] = statistics.median(times)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="reuse/keep the generated clinic in this folder")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=SECTIONS,
        help="leave out a section (repeatable) while iterating on another one",
    )
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
        figures.append(Figure("build demo clinic (once)", took, "s", None, f"{args.patients} patients"))
    skip = set(args.skip)
    runs = args.runs

    def unlock_once() -> float:  # timed to the open database; closed outside the timing
        t = time.perf_counter()
        opened = Database.open(db_path, "cm1", PASSWORD)
        took = (time.perf_counter() - t) * 1000
        opened.close()
        return took

    unlock_ms = statistics.median([unlock_once() for _ in range(runs + 1)][1:])
    figures.append(Figure("unlock (key slot + open)", unlock_ms, "ms", 500))
    gc.collect()  # nothing of one section is left for the next one's timings to collect

    if "gui" not in skip:
        g = gui_child(db_path, runs)
        figures.append(
            Figure(
                "cold start → main window with registry rows",
                g["cold_start_median"],
                "s",
                2.0,
                f"{g['rows']} rows; shown {g['window_shown']:.2f} s, imports {g['interpreter_and_imports']:.2f} s",
            )
        )
        f = g["filter"]
        figures.append(
            Figure(
                "filter: one more character in registry search",
                f["median_ms"],
                "ms",
                30,
                f"max {f['max_ms']:.0f} ms; {f['shown_after_2_chars']} rows match 2 chars",
            )
        )
        figures.append(Figure("peak memory (GUI process, rows loaded)", g["peak_rss_mb"], "MB", 400))

    db = Database.open(db_path, "lead", PASSWORD)
    actor = db.actor

    from cocm_desktop.services.registry import build_registry

    def registry() -> list:  # type: ignore[type-arg]
        with db.session() as s:
            return build_registry(s, actor, today=TODAY)

    gc.collect()
    reg_ms, rows = median_ms(registry, runs)
    reg_cpu = cpu_ms(registry)
    floor_ms, cached_floor_ms, floor_rows = floor_registry(db, runs)
    figures.append(
        Figure(
            "registry rows, all open episodes", reg_ms, "ms", 300, f"{len(rows)} rows; {reg_cpu:.0f} ms CPU"
        )
    )
    figures.append(
        Figure(
            "  floor: plain sqlite3, same rows from the facts cache",
            cached_floor_ms,
            "ms",
            None,
            f"{floor_rows} rows; no flags, no row objects",
        )
    )
    figures.append(Figure("  ratio ours / that floor", reg_ms / cached_floor_ms, "×", 3.0))
    figures.append(
        Figure(
            "  floor: the question from the raw tables", floor_ms, "ms", None, "what a cold cache costs plain"
        )
    )
    figures.append(Figure("  ratio ours / raw-table floor", reg_ms / floor_ms, "×", None))

    if "chart" not in skip:
        gc.collect()
        figures.append(chart_figure(db, actor, rows, runs))
    if "billing" not in skip:
        gc.collect()
        figures.extend(billing_figures(db, actor, runs))
    if "packet" not in skip:
        gc.collect()
        figures.extend(packet_figures(db_path, runs))

    db.close()
    size = db_path.stat().st_size / 1024 / 1024
    figures.append(Figure("database file size", size, "MiB", None, f"{args.patients} patients, 12 months"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures.append(Figure("peak memory (this process: all of the above)", peak, "MB", 400))

    print(f"\nCoCM Desktop benchmarks — {args.patients} patients, 12 months, median of {runs} runs")
    print(f"Machine: {machine()}")
    print(f"Load average when done: {', '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    header = ["figure", "value", "unit", "target", "", "note"]
    table = [header] + [f.cells() for f in figures]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        print(
            "  ".join(c.ljust(widths[j]) if j in (0, 2, 5) else c.rjust(widths[j]) for j, c in enumerate(r))
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))
    missed = [f.name for f in figures if f.value is not None and f.target is not None and f.value > f.target]
    print(f"\n{'All targets met.' if not missed else 'Missed: ' + ', '.join(missed)}")
    tmp.cleanup()
    return 0


SECTIONS = ("gui", "chart", "billing", "packet")


def cpu_ms(fn: Callable[[], object]) -> float:
    """CPU time of one call: on a shared machine wall time also measures waiting for a core."""
    t = time.process_time()
    fn()
    return (time.process_time() - t) * 1000


def chart_figure(db, actor, rows, runs: int) -> Figure:  # type: ignore[no-untyped-def]
    """Opening one patient's chart (audited read model), for patients spread over the registry."""
    from cocm_desktop.services.chart import open_chart

    picks = [rows[i].patient_id for i in range(0, len(rows), max(1, len(rows) // 7))][:7]
    times = []
    for pid in picks:
        ms, _ = median_ms(
            lambda pid=pid: _in_session(db, lambda s: open_chart(s, actor, patient_id=pid, today=TODAY)),
            max(1, runs // 2),
        )
        times.append(ms)
    return Figure(
        "open one patient chart", statistics.median(times), "ms", 150, f"median over {len(picks)} patients"
    )


def _in_session(db, fn):  # type: ignore[no-untyped-def]
    with db.session() as s:
        return fn(s)


def billing_figures(db, actor, runs: int) -> list[Figure]:  # type: ignore[no-untyped-def]
    from cocm_desktop.reports.billing_packet import render_pdf
    from cocm_desktop.services.billing_month import compute_billing_month

    def compute():  # type: ignore[no-untyped-def]
        return _in_session(
            db, lambda s: compute_billing_month(s, MONTH, today=TODAY, generated_by="Benchmark")
        )

    ms, bm = median_ms(compute, runs)
    cpu = cpu_ms(compute)
    pdf_ms, pdf = median_ms(lambda: render_pdf(bm), 1, warmup=0)  # one run: it takes a while
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    return [
        Figure(
            "billing month computation (Oct)",
            ms / 1000,
            "s",
            1.0,
            f"{len(bm.rows)} patient-months; {cpu / 1000:.2f} s CPU",
        ),
        Figure(
            "billing month PDF", pdf_ms / 1000, "s", 5.0, f"{pages} pages, {len(pdf) / 1024 / 1024:.1f} MiB"
        ),
    ]


def packet_figures(db_path: Path, runs: int) -> list[Figure]:
    """The case-review packet (data + PDF) of one care manager's next session as the clinic
    prepared it: one of median size (what a consultant prints every week) and the largest.

    Each run is rolled back (printing audits the packet), so the clinic file is left as it was.
    """
    from sqlalchemy import Integer, func, select

    from cocm_desktop.reports.case_review_packet import build_case_review_packet
    from cocm_desktop.services.case_review_packet import packet_data
    from cocm_desktop.store.database import Database
    from cocm_desktop.store.models import AgendaItem, CaseReviewSession

    with Database.open(db_path, "cm1", PASSWORD) as db:
        with db.session() as s:
            upcoming = s.execute(
                select(CaseReviewSession.id, func.count(AgendaItem.id),
                       func.sum(AgendaItem.not_reached.cast(Integer)))
                .join(AgendaItem, AgendaItem.session_id == CaseReviewSession.id)
                .where(CaseReviewSession.session_on >= TODAY, AgendaItem.removed.is_(False))
                .group_by(CaseReviewSession.id)).all()
            sessions = s.scalar(select(func.count()).select_from(CaseReviewSession)
                                .where(CaseReviewSession.session_on >= TODAY))
        # (id, on the agenda, not reached), by agenda size
        sized = sorted(((sid, n - int(nr or 0), int(nr or 0)) for sid, n, nr in upcoming), key=lambda r: (r[1], r[0]))
        typical, largest = sized[len(sized) // 2], sized[-1]

        def packet(sid: int) -> bytes:
            with db.session() as s:
                p = packet_data(s, db.actor, session_id=sid, today=TODAY)
                s.rollback()
            return build_case_review_packet(p)

        out = []
        for label, (sid, on, nr) in (("one session", typical), ("largest session", largest)):
            ms, pdf = median_ms(lambda sid=sid: packet(sid), max(1, min(runs, 3)))
            pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
            out.append(Figure(f"case-review packet, {label}: {on} patients (data + PDF)", ms / 1000, "s", 3.0,
                              f"{pages} pages; {nr} not reached; {sessions} next sessions, "
                              f"agendas {sized[0][1]}–{largest[1]} patients"))
    return out


if __name__ == "__main__":
    sys.exit(main())
