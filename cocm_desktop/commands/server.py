"""`cocm-desktop server …`: set up and try the clinic server (PostgreSQL).

- `server init`: the clinic's IT person, once, from the server's admin connection: tables, group
  roles, grants, the audit chain, the first clinic lead; writes a connection profile.
- `server import --from clinic.db`: move a workstation clinic to the server (checked, file untouched).
- `server profile`: write a workstation's connection profile (host, port, database, CA).
- `server demo --dir DIR`: a private PostgreSQL in DIR with the demo clinic (try a team on one
  machine); `server stop --dir DIR` stops it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cocm_desktop.commands._auth import password_from_env_or_prompt, secret_from_env_or_prompt


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("server", help="set up, try or stop a clinic server (PostgreSQL)")
    sub = parser.add_subparsers(dest="server_command", metavar="ACTION", required=True)

    init = sub.add_parser(
        "init", help="make (or upgrade) the clinic database on a PostgreSQL server",
        description="Run once by the clinic's IT person with the server's admin connection. Creates the "
        "clinic database, its tables, a group role per app role with grants that mirror the app's "
        "permissions, the audit chain, and the first clinic lead. Run again after installing a newer "
        "CoCM Desktop to upgrade the server. Admin password from COCM_ADMIN_PASSWORD or asked; the "
        "lead's password from COCM_NEW_PASSWORD or asked twice.")
    init.add_argument("--admin-dsn", required=True, metavar="DSN",
                      help="the admin connection, e.g. postgresql://postgres@db.clinic.lan:5432/postgres"
                      "?sslmode=verify-full&sslrootcert=/path/clinic-ca.crt")
    init.add_argument("--dbname", default="cocm", help="the clinic database's name (default cocm)")
    init.add_argument("--clinic-name", help="the clinic's name (a new clinic)")
    init.add_argument("--lead", help="the first clinic lead's username (a new clinic)")
    init.add_argument("--lead-name", help="the first clinic lead's full name (a new clinic)")
    init.add_argument("--profile", type=Path, metavar="FILE",
                      help="write the workstations' connection profile here")
    init.set_defaults(func=run_init)

    imp = sub.add_parser(
        "import", help="move a workstation clinic (the encrypted file) to the clinic server",
        description="Copies every table of the clinic file into a new clinic database on the server, "
        "compares the row counts and verifies the audit chain there; the file is not changed. Run by a "
        "clinic lead (their password: COCM_PASSWORD or asked) with the server's admin connection "
        "(COCM_ADMIN_PASSWORD or asked).")
    imp.add_argument("--from", dest="source", required=True, type=Path, metavar="CLINIC.db")
    imp.add_argument("--user", required=True, help="your username (a clinic lead of that clinic)")
    imp.add_argument("--admin-dsn", required=True, metavar="DSN", help="as for `server init`")
    imp.add_argument("--dbname", default="cocm", help="the clinic database to create (default cocm)")
    imp.add_argument("--profile", type=Path, metavar="FILE", help="write the workstations' connection profile")
    imp.set_defaults(func=run_import)

    prof = sub.add_parser("profile", help="write a workstation's connection profile (never a password)")
    prof.add_argument("--host", required=True)
    prof.add_argument("--port", type=int, default=5432)
    prof.add_argument("--dbname", default="cocm")
    prof.add_argument("--ca", required=True, type=Path, help="the clinic CA certificate (PEM)")
    prof.add_argument("--out", required=True, type=Path, metavar="FILE")
    prof.set_defaults(func=run_profile)

    demo = sub.add_parser(
        "demo", help="start a private PostgreSQL with the demo clinic in DIR (try a team on one machine)",
        description="Initialises DIR (new or empty) with PostgreSQL from this computer's programs, TLS on "
        "with its own CA, loads the demo clinic (logins lead, cm1, cm2, doc1, doc2, psych; password "
        "'demo'), and prints the connection profile and DSN. Run again to start it after `server stop`.")
    demo.add_argument("--dir", required=True, type=Path)
    demo.add_argument("--patients", type=int, default=60, help="demo patients (default 60)")
    demo.add_argument("--port", type=int, default=None, help="TCP port on 127.0.0.1 (default: a free one)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=run_demo)

    stop = sub.add_parser("stop", help="stop the private PostgreSQL that `server demo` started in DIR")
    stop.add_argument("--dir", required=True, type=Path)
    stop.set_defaults(func=run_stop)


def run_init(args: argparse.Namespace) -> int:
    from cocm_desktop.services.common import ValidationError
    from cocm_desktop.services.passwords import check_new_password
    from cocm_desktop.services.server_setup import clinic_exists, init_clinic, profile_from_admin_dsn

    profile = profile_from_admin_dsn(args.admin_dsn, args.dbname)
    admin_password = secret_from_env_or_prompt("COCM_ADMIN_PASSWORD", "Server admin password")
    new = not clinic_exists(args.admin_dsn, admin_password, args.dbname)
    lead_password = ""
    if new:
        if not (args.clinic_name and args.lead and args.lead_name):
            raise ValidationError("A new clinic needs --clinic-name, --lead and --lead-name.")
        lead_password = secret_from_env_or_prompt("COCM_NEW_PASSWORD", f"Password for {args.lead}", twice=True)
        check_new_password(lead_password, username=args.lead, clinic_name=args.clinic_name)
    made = init_clinic(args.admin_dsn, admin_password, dbname=args.dbname, clinic_name=args.clinic_name or "",
                       lead_username=args.lead or "", lead_display_name=args.lead_name or "",
                       lead_password=lead_password)
    print(f"Clinic database {'created' if made else 'upgraded'}: {profile.label}")
    if args.profile:
        profile.save(args.profile)
        print(f"profile: {args.profile.absolute()}")
    return 0


def run_profile(args: argparse.Namespace) -> int:
    from cocm_desktop.services.clinic import ServerProfile
    from cocm_desktop.services.common import ValidationError

    profile = ServerProfile(host=args.host, port=args.port, dbname=args.dbname, ca_cert=args.ca.absolute())
    if not profile.ca_cert.is_file():
        raise ValidationError(f"There is no CA certificate at {profile.ca_cert}.")
    profile.save(args.out)
    print(f"profile: {args.out.absolute()}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from cocm_desktop.demo import DEMO_LOGINS, DEMO_PASSWORD
    from cocm_desktop.services.server_setup import start_demo_server

    print(f"Starting the demo clinic server in {args.dir} (a new one loads {args.patients} patients)…",
          file=sys.stderr)
    demo = start_demo_server(args.dir, patients=args.patients, port=args.port, seed=args.seed)
    profile = demo.profile
    print(f"Demo clinic server running on {profile.host}:{profile.port} (stop: cocm-desktop server stop "
          f"--dir {args.dir.absolute()})")
    print(f"Logins (password for all: {DEMO_PASSWORD!r}; demo data only): "
          + ", ".join(u for u, _n, _r, _c in DEMO_LOGINS))
    print(f"profile: {demo.profile_path}")
    print(f"dsn: {profile.dsn()}")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    from cocm_desktop.services.server_setup import stop_demo_server

    if stop_demo_server(args.dir):
        print(f"Stopped the clinic server in {args.dir}.")
    else:
        print(f"The clinic server in {args.dir} was not running.")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from cocm_desktop.services.server_setup import import_clinic, profile_from_admin_dsn

    profile = profile_from_admin_dsn(args.admin_dsn, args.dbname)
    password = password_from_env_or_prompt(args.user)
    admin_password = secret_from_env_or_prompt("COCM_ADMIN_PASSWORD", "Server admin password")
    result = import_clinic(args.source, args.user, password, admin_dsn=args.admin_dsn,
                           admin_password=admin_password, dbname=args.dbname)
    total = sum(result.tables.values())
    print(f"Clinic moved to {profile.label}: {total} rows in {len(result.tables)} tables, counts checked; "
          f"{result.audit_records} audit records, chain verified on the server. {args.source} is unchanged.")
    if result.need_password:
        print("These people sign in once you set them a password (cocm-desktop users reset-password "
              "--server PROFILE --user YOU NAME): " + ", ".join(result.need_password))
    if args.profile:
        profile.save(args.profile)
        print(f"profile: {args.profile.absolute()}")
    return 0
