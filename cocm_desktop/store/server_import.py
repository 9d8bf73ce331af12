"""Move a workstation clinic (the encrypted file) to the clinic server, checked end to end.

The file is only read. Its audit chain is verified first (a broken log is not moved); every table
is copied with its ids in one transaction; then the row counts are compared table by table and
the server seals the imported history with its own key and verifies the whole chain. Anything
that does not match rolls the whole import back: the server is left as it was.

People: every active user becomes a login role in their group. Only the clinic lead who runs the
import keeps a password (theirs); the others sign in once the lead has set them a new one
(`users reset-password --server …`), which they must change at first sign-in. Key-file settings
that mean nothing on the server (the old audit key, the file's anchor) are not copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection

from . import audit, scram
from .bulk import after_bulk_insert
from .database import AUDIT_KEY_SETTING
from .errors import StoreError
from .models import Base, ClinicSetting, User
from .server_database import prepare_database

_NOT_COPIED_SETTINGS = (AUDIT_KEY_SETTING, audit.HEAD_SETTING)
_BATCH = 5000


@dataclass(frozen=True)
class ImportResult:
    tables: dict[str, int]  # rows copied per table
    audit_records: int
    need_password: list[str]  # usernames that sign in once the lead sets them a password


def import_clinic(
    file_path: Path, username: str, password: str, *, admin_dsn: str, admin_password: str | None, dbname: str,
) -> ImportResult:
    from .backup import check_clinic_file, reading_session
    from .keyslots import normalize_username

    key, verification = check_clinic_file(Path(file_path), username, password)  # writes nothing
    if not verification.ok:
        raise StoreError(f"The clinic file did not pass its checks, so it was not moved: {verification.describe()}")
    lead = normalize_username(username)
    engine = prepare_database(admin_dsn, admin_password, dbname)
    try:
        with engine.begin() as target, reading_session(Path(file_path), key) as (_src_engine, s):
            if target.execute(select(func.count()).select_from(User)).scalar():
                raise StoreError(f"The server already holds a clinic in “{dbname}”; nothing was moved.")
            lead_id = s.scalar(select(User.id).where(User.username == lead))
            counts = _copy_tables(s.connection(), target)
            others = _logins(target, lead, password)
            sealed = target.execute(text("SELECT cocm_audit_seal_import()")).scalar()
            records, first_bad, problem = target.execute(
                text("SELECT records, first_bad, problem FROM cocm_audit_verify()")).one()
            if problem is not None or records != sealed:
                raise StoreError(f"The moved audit log did not verify on the server (record {first_bad}: "
                                 f"{problem}); nothing was moved.")
            target.execute(insert(audit.AuditRecord.__table__).values(
                seq=0, hmac="", username=lead, user_id=lead_id, action="clinic.import",
                at_utc=audit.utcnow(), summary=f"Clinic moved from a workstation file ({sealed} audit records)",
                detail={"tables": counts}))
    finally:
        engine.dispose()
    return ImportResult(tables=counts, audit_records=int(sealed), need_password=others)


def _copy_tables(src: Connection, dst: Connection) -> dict[str, int]:
    """Every table with its ids, parents first; triggers and foreign-key checks paused for the
    copy (the audit trigger would renumber the file's records)."""
    dst.exec_driver_sql("SET LOCAL session_replication_role = replica")
    counts: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        rows_query = select(table)
        if table.name == ClinicSetting.__tablename__:
            rows_query = rows_query.where(table.c.key.not_in(_NOT_COPIED_SETTINGS))
        copied = 0
        result = src.execute(rows_query.execution_options(yield_per=_BATCH))
        for batch in result.mappings().partitions(_BATCH):
            dst.execute(insert(table), [dict(row) for row in batch])
            copied += len(batch)
        counts[table.name] = copied
        there = dst.execute(select(func.count()).select_from(table)).scalar()
        if there != copied:
            raise StoreError(f"Table {table.name}: {copied} rows read but {there} on the server; nothing was moved.")
    dst.exec_driver_sql("SET LOCAL session_replication_role = DEFAULT")

    with_ids = [t.name for t in Base.metadata.sorted_tables if "id" in t.c and t.c.id.primary_key]
    after_bulk_insert(dst, with_ids)
    return counts


def _logins(dst: Connection, lead: str, password: str) -> list[str]:
    """Login roles for the people (the trigger runs on an update of `active`); the lead's
    password is theirs; the others wait for one set by the lead."""
    dst.execute(update(User).values(active=User.active))
    dst.execute(text("SELECT cocm_set_password(:who, :v)"), {"who": lead, "v": scram.verifier(password)})
    others = list(dst.execute(select(User.username).where(User.active.is_(True), User.username != lead)
                              .order_by(User.username)).scalars())
    dst.execute(update(User).where(User.username.in_(others)).values(password_must_change=True))
    for name in others:  # a login left from an earlier clinic on this server must not open this one
        dst.exec_driver_sql(f'ALTER ROLE "{name.replace(chr(34), chr(34) * 2)}" NOLOGIN')
    return others
