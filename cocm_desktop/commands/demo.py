"""`cocm-desktop demo --db PATH [--patients N] [--seed S]`: create an encrypted demo clinic."""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="create an encrypted demo clinic with synthetic patients",
                       description="Create an encrypted demo clinic. All patients are invented.")
    p.add_argument("--db", required=True, type=Path, help="where to create it (must not exist)")
    p.add_argument("--patients", type=int, default=60, help="number of patients (default 60)")
    p.add_argument("--seed", type=int, default=7, help="random seed: same seed, same clinic")
    p.add_argument("--today", type=date.fromisoformat, default=None,
                   help="pretend today is this date (YYYY-MM-DD); default: the real date")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cocm_desktop.demo import DEMO_LOGINS, DEMO_PASSWORD, generate_demo
    from cocm_desktop.services.common import ValidationError

    if args.patients < 1:
        raise ValidationError("--patients must be at least 1.")
    started = time.perf_counter()
    summary = generate_demo(args.db, patients=args.patients, seed=args.seed, today=args.today)
    took = time.perf_counter() - started
    print(f"Demo clinic created at {summary.path} in {took:.1f} s")
    print(f"  {summary.patients} patients, {summary.measures} measures, {summary.contacts} contacts, "
          f"{summary.time_entries} time entries")
    print(f"Logins (password for all: {DEMO_PASSWORD!r}; demo data only):")
    for username, name, role, _creds in DEMO_LOGINS:
        print(f"  {username:<6} {role:<13} {name}")
    return 0
