"""How headless commands unlock: --db PATH --user NAME, password from COCM_PASSWORD or a prompt."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path

from cocm_desktop.store.database import Database


def add_db_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, type=Path, help="path to the encrypted clinic database")
    parser.add_argument("--user", required=True, help="your username (password from COCM_PASSWORD or asked)")


def open_from_args(args: argparse.Namespace) -> Database:
    password = os.environ.get("COCM_PASSWORD")
    if password is None:
        password = getpass.getpass(f"Password for {args.user}: ")
    return Database.open(args.db, args.user, password)
