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

from cocm_desktop.services.clinic import Clinic, open_clinic, open_server_clinic

NEW_PASSWORD_TRIES = 3


def add_db_args(parser: argparse.ArgumentParser, *, server: bool = True) -> None:
    """--db PATH (the encrypted file) or, where the command works on both, --server PROFILE."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", type=Path, help="path to the encrypted clinic database")
    if server:
        where.add_argument("--server", type=Path, metavar="PROFILE",
                           help="the clinic server's connection profile (instead of --db)")
    parser.add_argument("--user", required=True, help="your username (password from COCM_PASSWORD or asked)")


def secret_from_env_or_prompt(env: str, prompt: str, *, twice: bool = False) -> str:
    """A secret from the environment variable `env`, else asked (twice when `twice`)."""
    from cocm_desktop.services.common import ValidationError

    value = os.environ.get(env)
    if value is not None:
        return value
    value = getpass.getpass(f"{prompt}: ")
    if twice and getpass.getpass("Again: ") != value:
        raise ValidationError("The two passwords differ; nothing was changed.")
    return value


def password_from_env_or_prompt(username: str, prompt: str = "Password") -> str:
    password = os.environ.get("COCM_PASSWORD")
    if password is None:
        password = getpass.getpass(f"{prompt} for {username}: ")
    return password


def sign_in(args: argparse.Namespace, password: str) -> Clinic:
    """Sign in to the clinic named by --db or --server (no password-change step)."""
    if getattr(args, "server", None) is not None:
        return open_server_clinic(args.server, args.user, password)
    return open_clinic(args.db, args.user, password)


def open_from_args(args: argparse.Namespace) -> Clinic:
    password = password_from_env_or_prompt(args.user)
    db = sign_in(args, password)
    try:
        _change_password_if_due(db, args, password)
    except BaseException:
        db.close()
        raise
    return db


def _interactive() -> bool:
    return os.environ.get("COCM_PASSWORD") is None and sys.stdin.isatty()


def passwd_command(args: argparse.Namespace) -> str:
    where = (f"--server {shlex.quote(str(args.server))}" if getattr(args, "server", None) is not None
             else f"--db {shlex.quote(str(args.db))}")
    return f"cocm-desktop users passwd {where} --user {shlex.quote(args.user)}"


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
