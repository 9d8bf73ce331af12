"""`cocm-desktop restore`: replace the clinic database with a checked backup."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "restore",
        help="replace the database with a backup (checked first; the old file is kept)",
        description="The backup is opened with your password and fully checked before anything is "
        "touched; the current database is kept as NAME.replaced-<time>. Clinic lead only; close the app first.",
    )
    parser.add_argument("--db", required=True, type=Path, help="the clinic database to replace")
    parser.add_argument("--from", dest="source", required=True, type=Path, metavar="FILE", help="the backup")
    parser.add_argument("--user", required=True, help="your username (password from COCM_PASSWORD or asked)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cocm_desktop.store.backup import restore

    password = os.environ.get("COCM_PASSWORD")
    if password is None:
        password = getpass.getpass(f"Password for {args.user}: ")
    result = restore(args.db, args.source, args.user, password)
    kept = f" The previous database is kept as {result.replaced.name}." if result.replaced else ""
    print(f"Restored {result.path.name} from {args.source.name}.{kept}", file=sys.stderr)
    return 0
