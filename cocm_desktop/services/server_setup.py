"""Setting up a clinic server: what `cocm-desktop server …` and `backup --server` do.

The commands reach the store only through here (services.clinic opens a server clinic).
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from cocm_desktop.store.pg_cluster import STATE_FILE, PgCluster
from cocm_desktop.store.server_backup import ServerBackupResult, load_or_create_key, make_server_backup
from cocm_desktop.store.server_database import clinic_exists, init_clinic
from cocm_desktop.store.server_import import ImportResult, import_clinic
from cocm_desktop.store.server_profile import ServerProfile

from .common import ValidationError

__all__ = [
    "DEMO_DBNAME",
    "DemoServer",
    "ImportResult",
    "ServerBackupResult",
    "back_up_server",
    "clinic_exists",
    "import_clinic",
    "init_clinic",
    "profile_from_admin_dsn",
    "start_demo_server",
    "stop_demo_server",
]

DEMO_DBNAME = "cocm_demo"


def profile_from_admin_dsn(dsn: str, dbname: str) -> ServerProfile:
    """The workstations' profile for `dbname` on the server the admin DSN names; the DSN must
    check TLS against the clinic CA (verify-full)."""
    import psycopg

    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise ValidationError("--admin-dsn is not a PostgreSQL connection string.") from None
    if info.get("sslmode") != "verify-full" or not info.get("sslrootcert"):
        raise ValidationError(
            "--admin-dsn must use TLS checked against the clinic CA: add "
            "?sslmode=verify-full&sslrootcert=/path/to/clinic-ca.crt")
    return ServerProfile(host=str(info.get("host") or "localhost"), port=int(info.get("port") or 5432),
                         dbname=dbname, ca_cert=Path(str(info["sslrootcert"])).absolute())


@dataclass(frozen=True)
class DemoServer:
    profile: ServerProfile
    profile_path: Path
    created: bool  # False: an existing demo server was started again


def start_demo_server(folder: Path, *, patients: int, port: int | None, seed: int) -> DemoServer:
    """A private PostgreSQL in `folder` with the demo clinic (made on the first call; started
    again on later ones). A failed first set-up leaves `folder` as it was."""
    from cocm_desktop.demo.server_demo import create_server_demo

    if patients < 0:
        raise ValidationError("--patients cannot be negative.")
    folder = folder.absolute()
    profile_path = folder / "profile.json"
    if (folder / STATE_FILE).exists():
        cluster = PgCluster.open(folder)
        if not cluster.is_running():
            cluster.start()
        return DemoServer(ServerProfile.load(profile_path), profile_path, created=False)
    admin_password = secrets.token_urlsafe(24)  # needed only for the set-up; not kept anywhere
    existed = folder.exists()
    cluster = PgCluster.init(folder, admin_password=admin_password, port=port)
    try:
        cluster.start()
        profile = ServerProfile(host=cluster.host, port=cluster.port, dbname=DEMO_DBNAME,
                                ca_cert=cluster.ca_cert_path, name="Demo clinic server")
        create_server_demo(cluster.admin_dsn(), admin_password, profile, patients=patients, seed=seed)
        profile.save(profile_path)
    except BaseException:
        with contextlib.suppress(Exception):
            cluster.stop()
        _empty(folder, remove=not existed)
        raise
    return DemoServer(profile, profile_path, created=True)


def stop_demo_server(folder: Path) -> bool:
    """Stop the server `start_demo_server` made in `folder`; False when it was not running."""
    cluster = PgCluster.open(folder)
    if not cluster.is_running():
        return False
    cluster.stop()
    return True


def _empty(folder: Path, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def back_up_server(profile_path: Path, admin: str, admin_password: str, key_path: Path,
                   out: Path) -> tuple[ServerBackupResult, bool]:
    """pg_dump as the server's admin, encrypted with the clinic backup key (made when missing:
    the bool says so), verified by a restore into a scratch database."""
    profile = ServerProfile.load(profile_path)
    key, made = load_or_create_key(key_path)
    admin_dsn = ServerProfile(host=profile.host, port=profile.port, dbname="postgres",
                              ca_cert=profile.ca_cert).dsn(admin)
    return make_server_backup(admin_dsn, admin_password, profile.dbname, out, key), made
