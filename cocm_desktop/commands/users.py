"""`cocm-desktop users list|add|remove|reset-password|passwd`: staff accounts and their key slots.

New passwords come from COCM_NEW_PASSWORD or are asked twice; never from the command line.
A password set here by the clinic lead (add, reset-password) must be changed by its owner at the
next sign-in; `passwd` is how, also while every other command refuses them until they do.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from cocm_desktop.commands._auth import add_db_args, open_from_args, password_from_env_or_prompt, sign_in


def _new_password(prompt: str) -> str:
    from cocm_desktop.services.common import ValidationError

    pw = os.environ.get("COCM_NEW_PASSWORD")
    if pw is not None:
        return pw
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass("Again: ") != first:
        raise ValidationError("The two passwords differ; nothing was changed.")
    return first


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("users", help="list, add, remove users; reset or change passwords")
    sub = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="everyone who can sign in (--all: removed users too)")
    add_db_args(p)
    p.add_argument("--all", action="store_true")
    p.set_defaults(func=run_list)
    p = sub.add_parser("add", help="add a user (clinic lead)")
    add_db_args(p)
    p.add_argument("username")
    p.add_argument("--name", required=True, help="full name")
    p.add_argument(
        "--role", required=True, choices=("care_manager", "clinician", "psychiatrist", "clinic_lead")
    )
    p.add_argument("--credentials", help='e.g. "LCSW", "MD"')
    p.set_defaults(func=run_add)
    p = sub.add_parser("remove", help="remove a user: their key slot goes and the database is re-keyed")
    add_db_args(p)
    p.add_argument("username")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=run_remove)
    p = sub.add_parser("reset-password", help="set a new password for someone (clinic lead)")
    add_db_args(p)
    p.add_argument("username")
    p.set_defaults(func=run_reset)
    p = sub.add_parser("passwd", help="change your own password")
    add_db_args(p)
    p.set_defaults(func=run_passwd)
    p = sub.add_parser("recovery-code", help="print a new recovery code; the old one stops working (clinic lead)")
    add_db_args(p, server=False)  # a clinic on the server has no recovery code
    p.set_defaults(func=run_recovery_code)


def run_list(args: argparse.Namespace) -> int:
    from cocm_desktop.services.users import list_staff

    db = open_from_args(args)
    try:
        for u in list_staff(db, include_inactive=args.all):
            print(f"{u.username}\t{u.role}\t{u.display_name}\t{'active' if u.active else 'removed'}")
    finally:
        db.close()
    return 0


def run_add(args: argparse.Namespace) -> int:
    from cocm_desktop.services.users import add_staff_user

    db = open_from_args(args)
    try:
        user = add_staff_user(
            db,
            db.actor,
            username=args.username,
            display_name=args.name,
            role=args.role,
            password=_new_password(f"Password for {args.username}"),
            credentials=args.credentials,
        )
    finally:
        db.close()
    print(f"Added {user.username} ({user.role}); they choose their own password at their first sign-in.",
          file=sys.stderr)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from cocm_desktop.services.users import deactivate_user

    db = open_from_args(args)
    try:
        deactivate_user(db, db.actor, args.username, reason=args.reason)
    finally:
        db.close()
    print(f"Removed {args.username}; the database was re-keyed.", file=sys.stderr)
    return 0


def run_reset(args: argparse.Namespace) -> int:
    from cocm_desktop.services.users import reset_password

    db = open_from_args(args)
    try:
        reset_password(
            db, db.actor, args.username, new_password=_new_password(f"New password for {args.username}")
        )
    finally:
        db.close()
    later = "" if args.username.strip().lower() == args.user.strip().lower() else \
        "; they choose a new one at their next sign-in"
    print(f"Password of {args.username} reset{later}.", file=sys.stderr)
    return 0


def run_passwd(args: argparse.Namespace) -> int:
    from cocm_desktop.services.users import change_own_password

    # sign_in, not open_from_args: this is the way out when a password change is due.
    current = password_from_env_or_prompt(args.user, "Current password")
    db = sign_in(args, current)
    try:
        change_own_password(
            db, db.actor, current_password=current, new_password=_new_password("New password")
        )
    finally:
        db.close()
    print("Password changed.", file=sys.stderr)
    return 0


def run_recovery_code(args: argparse.Namespace) -> int:
    from cocm_desktop.services.users import replace_recovery_code

    db = open_from_args(args)
    try:
        code = replace_recovery_code(db, db.actor)
    finally:
        db.close()
    print(code)
    print("This is the clinic's new recovery code; the old one no longer works. Print it and keep it "
          "in a safe: anyone holding it can open the database.", file=sys.stderr)
    return 0
