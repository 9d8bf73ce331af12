"""`cocm-desktop backup`: an encrypted, verified copy of the clinic database and its key file.

`--out FILE`: the clinic lead's backup to a file of their choice. `--auto`: the automatic backup
for a scheduled task (any user): made in `backups/` beside the database when the newest is 24 h
old, 7 kept, copied to the clinic's second folder; exit 0 also when none was due.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cocm_desktop.commands._auth import add_db_args, open_from_args


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "backup",
        help="make an encrypted, verified backup (works while the app is open)",
        description="--out FILE writes FILE and FILE.keys (keep them together; clinic lead only). "
        "--auto makes the automatic backup in backups/ beside the database when the newest is 24 hours "
        "old (for a scheduled task; any user; exit 0 also when none is due). Every copy is checked "
        "(integrity, encryption, audit chain) before it is kept.",
    )
    add_db_args(parser)
    parser.add_argument("--admin", metavar="ROLE",
                        help="with --server: the server's admin role (password from COCM_ADMIN_PASSWORD or asked)")
    parser.add_argument("--key", type=Path, metavar="FILE",
                        help="with --server: the clinic backup key (made on first use; keep it apart from the backups)")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", type=Path, metavar="FILE", help="the backup file to create")
    what.add_argument("--auto", action="store_true", help="the automatic backup, when one is due")
    parser.add_argument("--wait", type=float, default=600.0, metavar="SECONDS",
                        help="with --auto: how long to wait for a backup another process is making (600)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.server is not None:
        return run_server(args)
    from cocm_desktop.services.backups import (
        audit_altered_message,
        describe_auto_run,
        make_backup,
        run_auto_backup,
    )

    db = open_from_args(args)
    try:
        if args.auto:
            lines = describe_auto_run(run_auto_backup(db, wait_seconds=max(0.0, args.wait)))
        else:
            result = make_backup(db, args.out)
            lines = [f"Backup written: {result.path} and {result.keys_path.name} "
                     f"({result.size_bytes // 1024} KiB). {result.verification.describe()}"]
            altered = audit_altered_message(result)
            if altered:
                lines.append("WARNING: " + altered)
    finally:
        db.close()
    for line in lines:
        print(line, file=sys.stderr)
    return 0


def run_server(args: argparse.Namespace) -> int:
    """The clinic server's backup: pg_dump as the server's admin, encrypted with the clinic
    backup key, verified by a restore into a scratch database."""
    from cocm_desktop.commands._auth import secret_from_env_or_prompt
    from cocm_desktop.services.common import ValidationError
    from cocm_desktop.services.server_setup import back_up_server

    if args.auto or args.out is None or args.admin is None or args.key is None:
        raise ValidationError("A server backup needs --out FILE, --admin ROLE and --key FILE "
                              "(scheduled backups: run it from the server's task scheduler).")
    admin_password = secret_from_env_or_prompt("COCM_ADMIN_PASSWORD", f"Password of the server's admin role {args.admin}")
    result, made = back_up_server(args.server, args.admin, admin_password, args.key, args.out)
    if made:
        print(f"New clinic backup key written to {args.key}: keep it apart from the backups; "
              "without it no backup can be restored.", file=sys.stderr)
    print(f"Server backup written: {result.path} ({result.bytes_written // 1024} KiB, encrypted). Verified by a "
          f"restore into a scratch database: {sum(result.tables.values())} rows in {len(result.tables)} tables "
          f"match, audit chain of {result.audit_records} records intact.", file=sys.stderr)
    return 0
