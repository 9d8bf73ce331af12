"""Benchmark: a 40-patient case-review packet (data + PDF with charts) should take under 3 s.

Run: .venv/bin/python tests/benchmarks/bench_case_review_packet.py [--patients 150] [--agenda 40]
Builds a demo clinic in a temp folder (fixed seed, today 2026-11-24), assembles the packet of the
next session and renders it; the agenda is cut to --agenda patients. Prints the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from cocm_desktop.demo import generate_demo
from cocm_desktop.reports.case_review_packet import build_case_review_packet
from cocm_desktop.services.case_review_packet import packet_data
from cocm_desktop.store.database import Database

TODAY = date(2026, 11, 24)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=150)
    ap.add_argument("--agenda", type=int, default=40)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        generate_demo(path, patients=args.patients, seed=11, today=TODAY)
        print(f"demo clinic: {args.patients} patients in {time.perf_counter() - t0:.1f} s")
        data_s, render_s, total_s = [], [], []
        with Database.open(path, "cm1", "demo") as db:
            for _ in range(args.runs):
                t1 = time.perf_counter()
                with db.session() as s:
                    packet = packet_data(s, db.actor, today=TODAY)
                t2 = time.perf_counter()
                full = len(packet.patients)
                packet = dataclasses.replace(packet, patients=packet.patients[: args.agenda])
                pdf = build_case_review_packet(packet)
                t3 = time.perf_counter()
                data_s.append(t2 - t1)
                render_s.append(t3 - t2)
                total_s.append(t3 - t1)
        print(f"agenda: {full} patients automatically, packet printed for {len(packet.patients)}")
        print(f"pdf: {len(pdf) / 1024:.0f} KiB, {pdf.count(b'/Type /Page') - pdf.count(b'/Type /Pages')} pages")
        print(f"data assembly (all {full} agenda patients + caseload): median {statistics.median(data_s):.2f} s")
        print(f"render ({len(packet.patients)} patients, charts): median {statistics.median(render_s):.2f} s")
        verdict = "OK" if statistics.median(total_s) < 3 else "SLOW"
        print(f"total: median {statistics.median(total_s):.2f} s, best {min(total_s):.2f} s  [{verdict}, target < 3 s]")


if __name__ == "__main__":
    main()
