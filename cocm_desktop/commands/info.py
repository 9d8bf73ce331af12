"""`cocm-desktop info --db PATH --user NAME`: unlock and describe the clinic database."""

from __future__ import annotations

import argparse

from cocm_desktop.commands._auth import add_db_args, open_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="unlock a clinic database and show what it holds")
    add_db_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cocm_desktop.domain.roles import Role
    from cocm_desktop.services.clinic import clinic_info
    from cocm_desktop.services.common import clinic_name

    with open_from_args(args) as db, db.session() as s:
        actor = db.actor
        assert actor is not None
        info = clinic_info(s)
        print(f"Clinic:          {clinic_name(s)}")
        print(f"Signed in as:    {actor.display_name} ({actor.username}), {Role(actor.role).label}")
        print(f"Patients:        {info.patients}")
        print(f"Open episodes:   {info.open_episodes}")
        print(f"Schema version:  {info.schema_version}")
        print(f"Storage:         {info.storage}")
    return 0
