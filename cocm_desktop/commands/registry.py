"""`cocm-desktop registry`: the registry as CSV (header row; stdout unless --csv FILE)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cocm_desktop.commands._auth import add_db_args, open_from_args
from cocm_desktop.commands._stdout import stdout_may_close


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "registry", help="write the registry (open episodes, columns and flags) as CSV",
        description="Write one CSV row per open episode with every registry column and flag.",
    )
    add_db_args(parser)
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument("--flagged", action="store_true", help="only rows with at least one flag")
    parser.add_argument("--care-manager", metavar="NAME", help="only this care manager's patients "
                        "(username or display name)")
    parser.add_argument("--status", action="append", choices=("enrolled", "active", "relapse_prevention"),
                        help="only this status (repeatable)")
    parser.add_argument("--search", metavar="TEXT", help="free-text filter (name, MRN, staff, next action)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cocm_desktop.reports.output import private_file
    from cocm_desktop.services.registry import resolve_staff
    from cocm_desktop.services.registry_csv import write_registry_csv

    db = open_from_args(args)
    try:
        with db.session() as s:
            cm_id = resolve_staff(s, args.care_manager).id if args.care_manager else None
            filters = dict(care_manager_id=cm_id, flagged_only=args.flagged, status=args.status,
                           text=args.search)
            if args.csv is None:
                # A reader that stops early (`| head`) ends the output quietly; the export stays audited.
                with stdout_may_close():
                    write_registry_csv(s, db.actor, sys.stdout, **filters)
            else:
                # Streamed to a temp name and renamed when complete: a killed run never leaves a
                # partial registry under the real name (nor wipes the previous export).
                with private_file(args.csv, text=True) as fh:
                    n = write_registry_csv(s, db.actor, fh, **filters)
                print(f"{n} rows written to {args.csv}", file=sys.stderr)
    finally:
        db.close()
    return 0
