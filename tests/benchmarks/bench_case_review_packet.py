"""Benchmark: the case-review packet of one session (data + PDF with charts) should take under 3 s.

Run: .venv/bin/python tests/benchmarks/bench_case_review_packet.py [--patients 1500] [--runs 3]
Builds a demo clinic in a temp folder (fixed seed, today 2026-11-24): a network with a weekly
session per care manager. Times the packet of one realistic session (a care manager's next
session of median size) and of the largest next session, and prints the figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import Integer, func, select

from cocm_desktop.demo import generate_demo
from cocm_desktop.reports.case_review_packet import build_case_review_packet
from cocm_desktop.services.case_review_packet import packet_data
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AgendaItem, CaseReviewSession

TODAY = date(2026, 11, 24)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=1500)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        generate_demo(path, patients=args.patients, seed=11, today=TODAY)
        print(f"demo clinic: {args.patients} patients in {time.perf_counter() - t0:.1f} s")
        with Database.open(path, "cm1", "demo") as db:
            with db.session() as s:
                sized = sorted(
                    (n - int(nr or 0), int(nr or 0), sid) for sid, n, nr in s.execute(
                        select(CaseReviewSession.id, func.count(AgendaItem.id),
                               func.sum(AgendaItem.not_reached.cast(Integer)))
                        .join(AgendaItem, AgendaItem.session_id == CaseReviewSession.id)
                        .where(CaseReviewSession.session_on >= TODAY, AgendaItem.removed.is_(False))
                        .group_by(CaseReviewSession.id)))
            print(f"next sessions: {len(sized)} (one per care manager), agendas {sized[0][0]}–{sized[-1][0]} "
                  f"patients, {sum(r[1] for r in sized)} not reached in all")
            for label, (on, nr, sid) in (("one session", sized[len(sized) // 2]), ("largest", sized[-1])):
                data_s, render_s, total_s = [], [], []
                for _ in range(args.runs):
                    t1 = time.perf_counter()
                    with db.session() as s:
                        packet = packet_data(s, db.actor, session_id=sid, today=TODAY)
                        s.rollback()  # printing audits the packet; leave the clinic as it was
                    t2 = time.perf_counter()
                    pdf = build_case_review_packet(packet)
                    t3 = time.perf_counter()
                    data_s.append(t2 - t1)
                    render_s.append(t3 - t2)
                    total_s.append(t3 - t1)
                pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
                verdict = "OK" if statistics.median(total_s) < 3 else "SLOW"
                print(f"{label}: {on} patients, {nr} not reached, {pages} pages, {len(pdf) / 1024:.0f} KiB; "
                      f"data {statistics.median(data_s):.2f} s, render {statistics.median(render_s):.2f} s, "
                      f"total median {statistics.median(total_s):.2f} s, best {min(total_s):.2f} s "
                      f"[{verdict}, target < 3 s]")


if __name__ == "__main__":
    main()
