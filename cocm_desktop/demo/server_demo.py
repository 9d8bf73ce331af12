"""The demo clinic on a clinic server: the same staff, logins and history as the file demo."""

from __future__ import annotations

from datetime import date

from cocm_desktop.demo.generate import DEMO_CLINIC_NAME, DemoSummary, add_demo_staff, fill_demo
from cocm_desktop.demo.staff import DEMO_PASSWORD
from cocm_desktop.services.registry import warm_cache
from cocm_desktop.store.server_database import ServerDatabase, init_clinic
from cocm_desktop.store.server_profile import ServerProfile


def create_server_demo(
    admin_dsn: str,
    admin_password: str | None,
    profile: ServerProfile,
    *,
    patients: int = 0,
    seed: int = 7,
    today: date | None = None,
    months: int = 12,
    clinic_name: str = DEMO_CLINIC_NAME,
    password: str = DEMO_PASSWORD,
) -> DemoSummary | None:
    """Make the demo clinic in `profile.dbname` (created when missing; refused when it already
    holds a clinic). The demo logins become login roles with `password`."""
    made = init_clinic(admin_dsn, admin_password, dbname=profile.dbname, clinic_name=clinic_name,
                       lead_username="lead", lead_display_name="Lee Adams", lead_password=password)
    if not made:
        from cocm_desktop.store.errors import StoreError

        raise StoreError(f"The clinic server already holds a clinic in “{profile.dbname}”; nothing was changed.")
    with ServerDatabase.open(profile, "lead", password) as db:
        add_demo_staff(db, password)  # the lead adds the staff, as in the app
    if not patients:
        return None
    # A year of invented history is bulk set-up: written by the server's administrator.
    with ServerDatabase.for_setup(admin_dsn, admin_password, profile, "lead") as db:
        summary = fill_demo(db, patients=patients, seed=seed, today=today or date.today(), months=months)
    # Bulk set-up leaves the registry's facts cache cold: fill it now, in short rounds, so the first
    # whole-clinic registry reads are as fast as every later one.
    with ServerDatabase.open(profile, "lead", password) as db:
        warm_cache(db, today=today)
    return summary
