"""`cocm-desktop`: the GUI by default; headless subcommands for scripting.

Every error a user can cause ends as one plain sentence on stderr and a non-zero exit code,
never a traceback (and never PHI: store and service messages carry none).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cocm_desktop import __version__
from cocm_desktop.commands import command_modules, load

EXIT_USAGE, EXIT_REFUSED, EXIT_STORE, EXIT_INTERNAL = 2, 3, 4, 70


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cocm-desktop",
        description="CoCM Desktop: collaborative care management for a primary-care clinic.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="open the demo clinic (created in your data folder when missing)")
    parser.add_argument("--db", help="open this clinic database in the app")
    parser.add_argument("--server", metavar="PROFILE",
                        help="open the clinic server named by this connection profile in the app")
    parser.add_argument("--self-check", action="store_true",
                        help="check the installation (encryption, migrations, PDF, Qt) and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        load(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from cocm_desktop.commands._stdout import stdout_may_close
    from cocm_desktop.domain.roles import PermissionDenied
    from cocm_desktop.reports.output import OutputError
    from cocm_desktop.services.common import NotFound, ValidationError
    from cocm_desktop.services.errors import StoreError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    _remove_leftovers_beside(args.db)
    try:
        if args.command:
            with stdout_may_close():
                return int(args.func(args) or 0)
            return 0  # the reader closed standard output early (`| head`): nothing went wrong
        if args.self_check:
            from cocm_desktop.selfcheck import run_self_check

            return run_self_check()
        from cocm_desktop.gui.app import run_gui

        return run_gui(demo=args.demo, db_path=args.server or args.db)
    except PermissionDenied as exc:
        print(f"Not allowed: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (ValidationError, NotFound) as exc:
        print(f"Refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except StoreError as exc:
        print(f"{exc.title}: {exc}", file=sys.stderr)
        return EXIT_STORE
    except OutputError as exc:
        print(f"Not saved: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130


def _remove_leftovers_beside(db: str | os.PathLike[str] | None) -> None:
    """At every start with a known database: delete temp copies that killed saves left in its folder."""
    if db:
        from cocm_desktop.reports.output import remove_leftovers

        remove_leftovers(Path(db).parent)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
