"""Clinical rows sealed in the signed audit log: a row changed in SQL without a record is named.

Every audit record whose transaction created, changed or deleted clinical rows carries, signed
with it (its `rows` field is part of its chain value), a digest of each of those rows as
committed: `{"contact": {"812": "<digest>"}, ...}`, null for a row deleted. The store does it in
one place, not each service: flush events and bulk ORM statements note which rows a transaction
touched, and `audit.append` seals them (read back from the database, so the digest is of what
was stored) into the record it writes; rows touched after a transaction's last record are sealed
by one more record at commit (`rows.seal`).

`audit verify` folds the records in order (the newest naming a row wins), recomputes the digest
of every row of every sealed table and names each row whose digest differs (changed), that no
record names (added) or that a record names but is gone (deleted) — table and row id only, no
values. Rows from before sealing began (a clinic upgraded from revision 0012) are sealed once by
a signed baseline (`rows.baseline`) at the first sign-in after the upgrade; only a baseline that
comes before every other sealed record counts, so a later "baseline" cannot launder an edit.

Derived tables (registry facts, overlap days), the audit log itself, clinic settings, running
timers and the user table (its roles and activity are covered by the signed grants) are not
sealed. The digest is SHA-256 (128 bits kept) over the row's non-null columns by name, so adding
a nullable column in a migration leaves every seal valid. A migration that fills a new column
with a non-null default on existing rows must list it in `ADDED_WITH_DEFAULT`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Select, Table, bindparam, event, func, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from .models import Base

SEAL = "rows.seal"  # rows touched after a transaction's last record
BASELINE = "rows.baseline"  # every row as found when sealing began (a clinic from before 0015)
_TOUCHED = "row_seals_touched"  # session.info: {table name: {pk, ...}}
_ABOVE = "row_seals_above"  # session.info: {table name: highest pk before a bulk insert without ids}
_NOT_SEALED = frozenset({
    "alembic_version", "audit_log", "clinic_setting", "user", "registry_facts", "time_overlap_day",
    "running_timer", "submission",
})
# {table: {column: default}}: columns a later migration added with a non-null default on existing
# rows. The value equal to the default is left out of the digest (seals made before still hold).
ADDED_WITH_DEFAULT: dict[str, dict[str, Any]] = {
    # migration 0016: every record edited in place starts at version 1 (models.Versioned)
    **{name: {"row_version": 1} for name in (
        "agenda_item", "billing_submission", "care_plan_version", "case_review_session", "consent",
        "contact", "diagnosis", "episode", "episode_status_change", "measure", "medication",
        "medication_proposal", "patient", "payer_rule_set", "recommendation", "referral", "risk_event",
        "time_entry",
    )},
}
_CHUNK = 500
_SHOWN_PER_TABLE = 5  # the alarm names this many rows per table and counts the rest


def sealed_tables() -> list[Table]:
    """Every clinical table: all mapped tables with a one-column key, except the ones above."""
    return [t for t in Base.metadata.sorted_tables
            if t.name not in _NOT_SEALED and len(t.primary_key.columns) == 1]


_SEALED_NAMES = frozenset(t.name for t in sealed_tables())


def install(factory: sessionmaker[Session]) -> None:
    """After store.access_grants: a grant written at commit seals what is pending first."""
    event.listen(factory, "after_flush", _note_flushed)
    event.listen(factory, "do_orm_execute", _note_bulk)
    event.listen(factory, "before_commit", _seal_leftovers)


def _seal_leftovers(session: Session) -> None:
    """Rows touched after the transaction's last record (or in one that wrote none) get a
    record of their own, signed like any other."""
    from . import audit

    signer = session.info.get(audit.SIGNER_INFO)
    if signer is None:
        return
    session.flush()
    if pending(session):
        audit.append(session, user_id=None, username=signer.name, action=SEAL,
                     summary="Clinical rows written without their own audit record")


# ---- digests --------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """What JSON cannot hold natively (json calls this only for those)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)  # Decimal and anything else: its exact text


_dumps = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain).encode


def digest(table: str, names: Sequence[str], values: Sequence[Any]) -> str:
    """The row's content: its non-null columns by name, as canonical JSON, SHA-256 (128 bits)."""
    content = {k: v for k, v in zip(names, values, strict=True) if v is not None}
    skip = ADDED_WITH_DEFAULT.get(table)
    if skip:
        content = {k: v for k, v in content.items() if not (k in skip and v == skip[k])}
    return hashlib.sha256(_dumps(content).encode()).hexdigest()[:32]


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _pk(table: Table) -> Any:
    return next(iter(table.primary_key.columns))


@functools.cache
def _by_keys(name: str) -> tuple[Select[Any], str]:
    """One statement per table, built once (a contact's save runs it on every write)."""
    table = _table(name)
    pk = _pk(table)
    return select(table).where(pk.in_(bindparam("keys", expanding=True))), pk.name


def _digests(session: Session, name: str, keys: Iterable[Any]) -> dict[str, str | None]:
    """Each key's digest as stored now (None: the row is not there — deleted)."""
    statement, pk_name = _by_keys(name)
    keys = sorted(set(keys))
    out: dict[str, str | None] = {str(k): None for k in keys}
    conn = session.connection()
    for i in range(0, len(keys), _CHUNK):
        result = conn.execute(statement, {"keys": keys[i:i + _CHUNK]})
        names = list(result.keys())
        at = names.index(pk_name)
        for row in result:
            out[str(row[at])] = digest(name, names, row)
    return out


# ---- noting what a transaction touched --------------------------------------------------------
def _touched(session: Session) -> dict[str, set[Any]]:
    return session.info.setdefault(_TOUCHED, {})


def _note_flushed(session: Session, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__table__", None)
        if table is None or table.name not in _SEALED_NAMES:
            continue
        if obj in session.dirty and not session.is_modified(obj, include_collections=False):
            continue
        key = getattr(obj, _pk(table).key, None)
        if key is not None:
            _touched(session).setdefault(table.name, set()).add(key)


def _note_bulk(state: ORMExecuteState) -> None:
    """Bulk ORM statements (the demo generator's inserts, `update(Model).where(...)`): their
    rows are noted before they run (by id, or above the table's highest id when ids are not
    given)."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    table = getattr(mapper.class_, "__table__", None) if mapper is not None else None
    if table is None or table.name not in _SEALED_NAMES:
        return
    pk = _pk(table)
    session = state.session
    if state.is_insert:
        params = state.parameters
        rows = params if isinstance(params, list) else [params or {}]
        if all(pk.key in row for row in rows):
            _touched(session).setdefault(table.name, set()).update(row[pk.key] for row in rows)
        else:
            above = session.info.setdefault(_ABOVE, {})
            if table.name not in above:
                above[table.name] = session.connection().execute(select(func.max(pk))).scalar() or 0
        return
    params = state.parameters
    if isinstance(params, list) and params and all(pk.key in row for row in params):
        # bulk UPDATE by primary key (a list of rows, each with its id)
        _touched(session).setdefault(table.name, set()).update(row[pk.key] for row in params)
        return
    query = select(pk)
    where = state.statement.whereclause  # type: ignore[attr-defined]
    if where is not None:
        query = query.where(where)
    _touched(session).setdefault(table.name, set()).update(session.connection().execute(query).scalars())


def take_pending(session: Session) -> str | None:
    """The `rows` text for a record about to be appended: digests of every row the transaction
    touched since the last record (then forgotten), or None when it touched none."""
    touched: dict[str, set[Any]] = session.info.pop(_TOUCHED, {})
    above: dict[str, Any] = session.info.pop(_ABOVE, {})
    if not touched and not above:
        return None
    conn = session.connection()
    for name, highest in above.items():
        pk = _pk(_table(name))
        touched.setdefault(name, set()).update(conn.execute(select(pk).where(pk > highest)).scalars())
    sealed = {name: _digests(session, name, keys) for name, keys in sorted(touched.items()) if keys}
    return encode(sealed) if sealed else None


def pending(session: Session) -> bool:
    return bool(session.info.get(_TOUCHED) or session.info.get(_ABOVE))


def forget_pending(session: Session) -> None:
    session.info.pop(_TOUCHED, None)
    session.info.pop(_ABOVE, None)


def encode(sealed: dict[str, dict[str, str | None]]) -> str:
    return json.dumps(sealed, sort_keys=True, separators=(",", ":"))


def baseline(session: Session) -> str:
    """Every row of every sealed table as it is now (the first sign-in after the upgrade)."""
    sealed: dict[str, dict[str, str | None]] = {}
    for table in sealed_tables():
        rows = dict(_scan(session, table))
        if rows:
            sealed[table.name] = dict(rows)  # type: ignore[arg-type]
    return encode(sealed)


def _scan(session: Session, table: Table) -> Iterator[tuple[str, str]]:
    pk = _pk(table)
    result = session.connection().execution_options(yield_per=5000).execute(select(table).order_by(pk))
    names = list(result.keys())
    at = names.index(pk.name)
    for row in result:
        yield str(row[at]), digest(table.name, names, row)


# ---- checking --------------------------------------------------------------------------------
@dataclass
class SealFold:
    """The newest signed digest of every sealed row, folded from the log in order."""

    expected: dict[str, dict[str, str | None]] = field(default_factory=dict)
    started: bool = False  # some record sealed rows: from then on every row must be sealed

    def take(self, action: str, rows: str | None) -> str | None:
        """Fold one checked record's `rows`; a problem (a sentence) or None."""
        if rows is None:
            return None
        if action == BASELINE and self.started:
            return "a second baseline of the clinical rows (only one before any sealed change counts)"
        try:
            sealed = json.loads(rows)
        except ValueError:
            return "its row digests are unreadable"
        if not isinstance(sealed, dict):
            return "its row digests are unreadable"
        self.started = True
        for name, digests in sealed.items():
            if isinstance(digests, dict):
                self.expected.setdefault(str(name), {}).update(digests)
        return None

    def problems(self, session: Session) -> list[str]:
        """Every sealed row compared with the database now (nothing to compare before sealing
        began). Table and row id only: never a value."""
        if not self.started:
            return []
        out = []
        for table in sealed_tables():
            want = dict(self.expected.get(table.name, {}))
            changed, added = [], []
            for key, have in _scan(session, table):
                expected = want.pop(key, "absent")
                if expected == "absent" or expected is None:
                    added.append(key)
                elif expected != have:
                    changed.append(key)
            deleted = [k for k, v in want.items() if v is not None]
            for what, keys in (("changed", changed), ("added", added), ("deleted", deleted)):
                if keys:
                    out.append(_sentence(table.name, what, keys))
        return out


def _sentence(table: str, what: str, keys: list[str]) -> str:
    keys = sorted(keys, key=lambda k: (len(k), k))
    shown = ", ".join(keys[:_SHOWN_PER_TABLE])
    more = f" and {len(keys) - _SHOWN_PER_TABLE} more" if len(keys) > _SHOWN_PER_TABLE else ""
    rows = "row" if len(keys) == 1 else "rows"
    return f"{table} {rows} {shown}{more} {what} outside CoCM Desktop (no audit record matches)"
