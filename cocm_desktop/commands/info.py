"""`cocm-desktop info --db PATH --user NAME`: unlock and describe the clinic database."""

from __future__ import annotations

import argparse

from sqlalchemy import func, select

from cocm_desktop.commands._auth import add_db_args, open_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="unlock a clinic database and show what it holds")
    add_db_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cocm_desktop.domain.roles import Role
    from cocm_desktop.services.common import clinic_name
    from cocm_desktop.store import migrate
    from cocm_desktop.store.clinic_db import describe_engine
    from cocm_desktop.store.models import Episode, Patient

    with open_from_args(args) as db:
        with db.session() as s:
            actor = db.actor
            assert actor is not None
            open_episodes = s.scalar(select(func.count()).select_from(Episode).where(Episode.status != "closed"))
            print(f"Clinic:          {clinic_name(s)}")
            print(f"Signed in as:    {actor.display_name} ({actor.username}), {Role(actor.role).label}")
            print(f"Patients:        {s.scalar(select(func.count()).select_from(Patient))}")
            print(f"Open episodes:   {open_episodes}")
            print(f"Schema version:  {migrate.current_revision(s.connection())}")
        print(f"Storage:         {describe_engine(db)}")
    return 0
