"""`cocm-desktop backup`: an encrypted, verified copy of the clinic database and its key file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cocm_desktop.commands._auth import add_db_args, open_from_args


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "backup",
        help="make an encrypted, verified backup (works while the app is open)",
        description="Writes FILE and FILE.keys (keep them together). The copy is checked "
        "(integrity, encryption, audit chain) before it is kept. Clinic lead only.",
    )
    add_db_args(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="the backup file to create")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cocm_desktop.store.backup import make_backup

    db = open_from_args(args)
    try:
        result = make_backup(db, args.out)
    finally:
        db.close()
    print(
        f"Backup written: {result.path} and {result.keys_path.name} ({result.size_bytes // 1024} KiB). "
        f"{result.verification.describe()}",
        file=sys.stderr,
    )
    return 0
