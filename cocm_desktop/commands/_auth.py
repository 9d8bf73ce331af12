"""How headless commands unlock: --db PATH --user NAME, password from COCM_PASSWORD or a prompt.

A password the person must change first (chosen by the clinic lead, or below today's rules) is
changed right here at an interactive terminal (asked twice); a scripted run (COCM_PASSWORD set,
or no terminal) is refused with the `users passwd` command to run instead.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from pathlib import Path

from cocm_desktop.services.clinic import Clinic, open_clinic

NEW_PASSWORD_TRIES = 3


def add_db_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, type=Path, help="path to the encrypted clinic database")
    parser.add_argument("--user", required=True, help="your username (password from COCM_PASSWORD or asked)")


def password_from_env_or_prompt(username: str, prompt: str = "Password") -> str:
    password = os.environ.get("COCM_PASSWORD")
    if password is None:
        password = getpass.getpass(f"{prompt} for {username}: ")
    return password


def open_from_args(args: argparse.Namespace) -> Clinic:
    password = password_from_env_or_prompt(args.user)
    db = open_clinic(args.db, args.user, password)
    try:
        _change_password_if_due(db, args, password)
    except BaseException:
        db.close()
        raise
    return db


def _interactive() -> bool:
    return os.environ.get("COCM_PASSWORD") is None and sys.stdin.isatty()


def passwd_command(args: argparse.Namespace) -> str:
    return f"cocm-desktop users passwd --db {shlex.quote(str(args.db))} --user {shlex.quote(args.user)}"


def _change_password_if_due(db: Clinic, args: argparse.Namespace, password: str) -> None:
    from cocm_desktop.services.common import ValidationError
    from cocm_desktop.services.users import change_own_password, password_change_due

    reason = password_change_due(db, password)
    if reason is None:
        return
    if not _interactive():
        raise ValidationError(
            f"{reason} Run `{passwd_command(args)}` (the new password from COCM_NEW_PASSWORD or asked), "
            "then run this command again.")
    print(reason, file=sys.stderr)
    for _ in range(NEW_PASSWORD_TRIES):
        new = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != new:
            print("The two passwords differ; type them again.", file=sys.stderr)
            continue
        try:
            change_own_password(db, db.actor, current_password=password, new_password=new)
        except ValidationError as exc:
            print(exc, file=sys.stderr)
            continue
        print("Password changed.", file=sys.stderr)
        return
    raise ValidationError("The password was not changed, so nothing else was done.")
