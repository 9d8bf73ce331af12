"""Schema versions through Alembic: baseline on create, upgrade on open, refuse a newer file.

Alembic takes ~0.1 s to import, so it loads only when a schema has to change or be looked up:
opening a file already at the head revision costs one directory listing and one SELECT, no
Alembic. Creating a database, upgrading an older one and refusing a newer one go through
Alembic as before.

The head is read from the file names: every migration is `versions/<revision id>.py` with a
numbered id (`0007_what`), so the newest file is the head. tests/store/test_migrate_head.py
holds every migration to that convention and compares with Alembic's own head.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSIONS_DIR = MIGRATIONS_DIR / "versions"

VERSION_TABLE = "alembic_version"  # Alembic's default; env.py does not change it


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The schema this version of the app writes: the newest `versions/NNNN_*.py` (no Alembic import)."""
    names = [p.stem for p in VERSIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py")]
    if not names:  # a broken install: let Alembic say what is wrong
        return script_head_revision()
    return max(names)


def script_head_revision() -> str:
    """Alembic's head from the migration scripts themselves (imports Alembic)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    """The revision stamped in the database; None when it was never stamped (not ours, or empty).

    Reads the version table directly, as Alembic's MigrationContext does; a table with several
    rows (branches, never made by this app) is left to Alembic, which refuses it.
    """
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()
    return rows[0] if rows else None


def upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def autogenerate(message: str, rev_id: str) -> None:
    """Developer tool: write a migration for model changes (run on an empty temp database).

    `python -c "from cocm_desktop.store.migrate import autogenerate; autogenerate('add x', '0002_add_x')"`
    Keep the numbered rev_id: the newest file name is the head (see head_revision).
    """
    import secrets
    import tempfile

    from alembic import command

    from .engine import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(Path(tmp) / "schema.db", secrets.token_bytes(32))
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
            command.revision(alembic_config(conn), message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
