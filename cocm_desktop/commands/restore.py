"""`cocm-desktop restore`: replace the clinic database with a checked backup.

People removed since the backup was made stay removed (the restored copy is re-keyed without
them); the output names them, and anyone added since (to be added again).
"""

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
        "touched; the current database is kept as NAME.replaced-<time>. Whoever was removed since the "
        "backup was made stays removed. Clinic lead only; close the app first.",
    )
    parser.add_argument("--db", required=True, type=Path, help="the clinic database to replace")
    parser.add_argument("--from", dest="source", required=True, type=Path, metavar="FILE", help="the backup")
    parser.add_argument("--user", required=True, help="your username (password from COCM_PASSWORD or asked)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cocm_desktop.services.backups import AUDIT_ADVICE, describe_access, restore_backup

    password = os.environ.get("COCM_PASSWORD")
    if password is None:
        password = getpass.getpass(f"Password for {args.user}: ")
    result = restore_backup(args.db, args.source, args.user, password)
    kept = f" The previous database is kept as {result.replaced.name}." if result.replaced else ""
    print(f"Restored {result.path.name} from {args.source.name}.{kept}", file=sys.stderr)
    for line in describe_access(result.access, done=True):
        print(line, file=sys.stderr)
    if result.verification.audit_broken_at is not None:
        print(f"WARNING: the backup's audit log was altered at record {result.verification.audit_broken_at}. "
              + AUDIT_ADVICE, file=sys.stderr)
    return 0
