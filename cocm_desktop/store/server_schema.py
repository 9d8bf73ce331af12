"""The clinic server's schema beyond the tables: group roles, grants, row rules, the audit chain.

The same Alembic migrations make the tables on both engines; this module adds what only a server
has, from the server's admin connection (`server init`, and again after every upgrade):

- a group role per app role (`cocm_care_manager`, …) inside `cocm_staff`; each staff member is a
  login role (their username) in their group. Grants mirror domain.roles: a care manager who
  connects with psql can do no more than the app lets her.
- nobody but the owner may UPDATE, DELETE or TRUNCATE `audit_log`; an INSERT is completed by a
  trigger that runs as the owner: it numbers the record, names the connected role as its writer
  and extends the chain with an HMAC key kept in a table no staff role can read.
- writing a row of `"user"` (clinic leads only) creates, re-groups or disables that person's login
  role in the same transaction, so the user table and the server's roles cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text

from cocm_desktop.domain.roles import Role

STAFF = "cocm_staff"
GROUPS: dict[str, str] = {role.value: f"cocm_{role.value}" for role in Role}

_CM, _CL = GROUPS["care_manager"], GROUPS["clinician"]
_PSY, _LEAD = GROUPS["psychiatrist"], GROUPS["clinic_lead"]
_CARE = (_CM, _CL)
_LOGGERS = (_CM, _CL, _PSY)
_EVERYONE = (_CM, _CL, _PSY, _LEAD)

# table -> {privilege: groups}. SELECT is granted to every staff member on every table listed.
# No clinical table has DELETE for anyone: entries are voided or amended, never removed.
TABLE_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "alembic_version": {},
    "audit_log": {"INSERT": _EVERYONE},
    "clinic_setting": {"INSERT": (_LEAD,), "UPDATE": (_LEAD,)},
    "user": {"INSERT": (_LEAD,), "UPDATE": (_LEAD,)},
    "payer_rule_set": {"INSERT": (_LEAD,), "UPDATE": (_LEAD,)},
    "patient": {"INSERT": _CARE, "UPDATE": _CARE},
    "episode": {"INSERT": _CARE, "UPDATE": _CARE},
    "episode_status_change": {"INSERT": _CARE, "UPDATE": _CARE},
    # Enrollment's diagnosis list is edited in place before the episode is under way.
    "diagnosis": {"INSERT": _CARE, "UPDATE": _CARE, "DELETE": _CARE},
    "consent": {"INSERT": _CARE, "UPDATE": _CARE},
    "medication": {"INSERT": _CARE, "UPDATE": _CARE},
    # The change an approved recommendation proposes; applied by the clinician or when told.
    "medication_proposal": {"INSERT": _CARE, "UPDATE": _CARE},
    "care_plan_version": {"INSERT": _CARE, "UPDATE": _CARE},
    "referral": {"INSERT": _CARE, "UPDATE": _CARE},
    "risk_event": {"INSERT": _CARE, "UPDATE": _CARE},
    "measure": {"INSERT": _CARE, "UPDATE": _CARE},
    # The clinic lead corrects time entries, and a contact's minutes follow its time entry.
    "contact": {"INSERT": _CARE, "UPDATE": (*_CARE, _LEAD)},
    "correction": {"INSERT": _EVERYONE},
    # A consultant's own time is logged but never counts as CoCM time (row rule below); the clinic
    # lead corrects entries.
    "time_entry": {"INSERT": _LOGGERS, "UPDATE": (*_LOGGERS, _LEAD)},
    "running_timer": {"INSERT": _LOGGERS, "UPDATE": _LOGGERS, "DELETE": _LOGGERS},
    # Idempotency keys of saved forms: written with the save, never changed.
    "submission": {"INSERT": _EVERYONE},
    "case_review_session": {"INSERT": (_CM, _PSY), "UPDATE": (_CM, _PSY)},
    "agenda_item": {"INSERT": (_CM, _PSY), "UPDATE": (_CM, _PSY), "DELETE": (_CM, _PSY)},
    # Recorded by the consultant, decided by the clinician, told to the patient by either carer.
    "recommendation": {"INSERT": (_PSY,), "UPDATE": (_PSY, _CL, _CM)},
    "billing_submission": {"INSERT": (_LEAD,), "UPDATE": (_LEAD,)},
    "billing_submission_line": {"INSERT": (_LEAD,), "UPDATE": (_LEAD,)},
    "billing_adjustment_ack": {"INSERT": (_LEAD,), "UPDATE": (_LEAD,)},
    # Derived tables: whoever changes what they are derived from refreshes them in the same
    # transaction.
    "registry_facts": {"INSERT": _EVERYONE, "UPDATE": _EVERYONE, "DELETE": _EVERYONE},
    "time_overlap_day": {"INSERT": _EVERYONE, "UPDATE": _EVERYONE, "DELETE": _EVERYONE},
}

# Columns of "user" a person changes about themselves (a password they chose), with the record's
# version (models.Versioned: every UPDATE raises it).
USER_SELF_COLUMNS = ("password_must_change", "row_version")

# Column grants where a role changes one fact of another role's record: the consultant, by
# discussing a patient, answers the care manager's question for them.
COLUMN_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "contact": {"question_answered": (_PSY,), "row_version": (_PSY,)},  # the version moves with it
}

SERVER_ONLY_TABLES = ("cocm_server_secret", "cocm_audit_head")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_group_roles(conn: Connection) -> None:
    """The group roles (NOLOGIN), each inside cocm_staff. Idempotent; cluster-wide."""
    for group in (STAFF, *GROUPS.values()):
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": group}).first()
        if exists is None:
            conn.execute(text(f"CREATE ROLE {_ident(group)} NOLOGIN"))
    for group in GROUPS.values():
        conn.execute(text(f"GRANT {_ident(STAFF)} TO {_ident(group)}"))


def apply_grants(conn: Connection, dbname: str, tables: Iterable[str]) -> None:
    """Revoke everything from PUBLIC, then grant exactly TABLE_GRANTS. Idempotent.

    Raises ValueError for a table the map does not mention: a new table must be placed in the
    permission map on purpose, never left writable (or unreadable) by accident.
    """
    tables = sorted(tables)
    unknown = [t for t in tables if t not in TABLE_GRANTS and t not in SERVER_ONLY_TABLES]
    if unknown:
        raise ValueError(f"tables without server grants: {', '.join(unknown)}")
    conn.execute(text(f"REVOKE ALL ON DATABASE {_ident(dbname)} FROM PUBLIC"))
    conn.execute(text(f"GRANT CONNECT ON DATABASE {_ident(dbname)} TO {_ident(STAFF)}"))
    conn.execute(text("REVOKE ALL ON SCHEMA public FROM PUBLIC"))
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {_ident(STAFF)}"))
    groups = ", ".join(_ident(g) for g in (STAFF, *GROUPS.values()))
    for table in tables:
        conn.execute(text(f"REVOKE ALL ON TABLE {_ident(table)} FROM PUBLIC, {groups}"))
        if table in SERVER_ONLY_TABLES:
            continue
        conn.execute(text(f"GRANT SELECT ON TABLE {_ident(table)} TO {_ident(STAFF)}"))
        for privilege, holders in TABLE_GRANTS[table].items():
            for group in holders:
                conn.execute(text(f"GRANT {privilege} ON TABLE {_ident(table)} TO {_ident(group)}"))
    for table, columns in COLUMN_GRANTS.items():
        for column, holders in columns.items():
            for group in holders:
                conn.execute(text(f"GRANT UPDATE ({_ident(column)}) ON TABLE {_ident(table)} TO {_ident(group)}"))
    cols = ", ".join(_ident(c) for c in USER_SELF_COLUMNS)
    conn.execute(text(f'GRANT UPDATE ({cols}) ON TABLE "user" TO {_ident(STAFF)}'))
    conn.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, {groups}"))
    conn.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {_ident(STAFF)}"))
    _row_rules(conn)


def _row_rules(conn: Connection) -> None:
    """Row-level rules where a table grant is too coarse."""
    conn.execute(text("ALTER TABLE time_entry ENABLE ROW LEVEL SECURITY"))
    conn.execute(text("ALTER TABLE time_entry FORCE ROW LEVEL SECURITY"))
    for name in ("time_read", "time_carer", "time_consultant"):
        conn.execute(text(f"DROP POLICY IF EXISTS {name} ON time_entry"))
    conn.execute(text(f"CREATE POLICY time_read ON time_entry FOR SELECT TO {_ident(STAFF)} USING (true)"))
    carers = ", ".join(_ident(g) for g in (_CM, _CL, _LEAD))
    conn.execute(text(f"CREATE POLICY time_carer ON time_entry FOR ALL TO {carers} USING (true) WITH CHECK (true)"))
    # A consultant logs only their own time, and it never counts as care-management minutes.
    conn.execute(text(
        f"CREATE POLICY time_consultant ON time_entry FOR ALL TO {_ident(_PSY)} "
        "USING (staff_id = cocm_current_user_id()) "
        "WITH CHECK (staff_id = cocm_current_user_id() AND NOT counts_as_care_management)"
    ))


FUNCTIONS_SQL = r"""
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE IF NOT EXISTS cocm_server_secret (
    id integer PRIMARY KEY CHECK (id = 1),
    audit_key bytea NOT NULL
);
INSERT INTO cocm_server_secret (id, audit_key) VALUES (1, gen_random_bytes(32))
    ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS cocm_audit_head (
    id integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL,
    chain text NOT NULL
);
-- A clinic moved from a workstation file keeps its history as written there (its records' chain
-- values are the file's); the server seals that stretch with its own key at the import.
ALTER TABLE cocm_audit_head ADD COLUMN IF NOT EXISTS imported_through bigint NOT NULL DEFAULT 0;
ALTER TABLE cocm_audit_head ADD COLUMN IF NOT EXISTS imported_seal text;
INSERT INTO cocm_audit_head (id, seq, chain)
    SELECT 1, COALESCE(max(seq), 0),
           COALESCE((SELECT hmac FROM audit_log ORDER BY seq DESC LIMIT 1), repeat('0', 64))
    FROM audit_log
    ON CONFLICT (id) DO NOTHING;

CREATE OR REPLACE FUNCTION cocm_current_user_id() RETURNS integer
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT id FROM "user" WHERE username = session_user AND active
$$;

CREATE OR REPLACE FUNCTION cocm_audit_canonical(r audit_log) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$
    SELECT jsonb_build_array(r.seq, to_char(r.at_utc, 'YYYY-MM-DD"T"HH24:MI:SS.US'), r.user_id,
                             r.username, r.action, r.patient_id, r.object_type, r.object_id,
                             r.summary, r.detail::jsonb, r.signer)::text
$$;

CREATE OR REPLACE FUNCTION cocm_audit_link(prev text, r audit_log) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT encode(hmac(convert_to(prev || '|' || cocm_audit_canonical(r), 'UTF8'),
                       (SELECT audit_key FROM cocm_server_secret WHERE id = 1), 'sha256'), 'hex')
$$;

-- Runs as the owner: numbers the record, names its writer and extends the chain. The head row
-- lock serialises writers, so two workstations never take the same number or link.
CREATE OR REPLACE FUNCTION cocm_audit_append() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    head record;
BEGIN
    SELECT seq, chain INTO head FROM cocm_audit_head WHERE id = 1 FOR UPDATE;
    NEW.seq := head.seq + 1;
    NEW.signer := session_user;
    NEW.sig := NULL;
    NEW.hmac := cocm_audit_link(head.chain, NEW);
    UPDATE cocm_audit_head SET seq = NEW.seq, chain = NEW.hmac WHERE id = 1;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS cocm_audit_append ON audit_log;
CREATE TRIGGER cocm_audit_append BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION cocm_audit_append();

-- Every writer takes the audit head first (store.server_write_order): one lock order, no deadlocks.
CREATE OR REPLACE FUNCTION cocm_write_lock() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM 1 FROM cocm_audit_head WHERE id = 1 FOR UPDATE;
END $$;

-- A registry read that wants to fill the cache takes the same place in the queue, or skips
-- caching when a writer holds it (never waits: a read holding patients' shared locks must not
-- then queue behind a writer that waits for those locks).
CREATE OR REPLACE FUNCTION cocm_write_try_lock() RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM 1 FROM cocm_audit_head WHERE id = 1 FOR UPDATE NOWAIT;
    RETURN true;
EXCEPTION WHEN lock_not_available THEN
    RETURN false;
END $$;

-- The whole chain checked where the key is: the first broken record, or none.
CREATE OR REPLACE FUNCTION cocm_audit_verify(OUT records bigint, OUT first_bad bigint, OUT problem text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r audit_log;
    prev text := repeat('0', 64);
    link text;
    expected bigint := 1;
    head record;
BEGIN
    records := 0;
    SELECT seq, chain, imported_through, imported_seal INTO head FROM cocm_audit_head WHERE id = 1;
    FOR r IN SELECT * FROM audit_log ORDER BY seq LOOP
        IF r.seq <> expected THEN
            first_bad := expected;
            problem := format('record %s is missing (next is %s)', expected, r.seq);
            RETURN;
        END IF;
        link := cocm_audit_link(prev, r);
        IF r.seq <= head.imported_through THEN
            prev := link;
            IF r.seq = head.imported_through AND link IS DISTINCT FROM head.imported_seal THEN
                first_bad := r.seq;
                problem := 'a record from before the move to the server was changed after the move';
                RETURN;
            END IF;
        ELSIF r.hmac IS DISTINCT FROM link THEN
            first_bad := r.seq;
            problem := 'its content or position was changed after it was written';
            RETURN;
        ELSE
            prev := r.hmac;
        END IF;
        expected := expected + 1;
        records := records + 1;
    END LOOP;
    IF head.seq > records THEN
        first_bad := records + 1;
        problem := format('the log ends early: records %s to %s were deleted', records + 1, head.seq);
    ELSIF head.seq <> records OR head.chain IS DISTINCT FROM prev THEN
        first_bad := records;
        problem := 'the last record does not match the log''s anchored end';
    END IF;
END $$;

-- After an import (triggers off, records as the file wrote them): seal them and move the head.
CREATE OR REPLACE FUNCTION cocm_audit_seal_import() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r audit_log;
    prev text := repeat('0', 64);
    n bigint := 0;
BEGIN
    IF (SELECT seq FROM cocm_audit_head WHERE id = 1) > 0 THEN
        RAISE EXCEPTION 'the server already has audit records of its own';
    END IF;
    FOR r IN SELECT * FROM audit_log ORDER BY seq LOOP
        prev := cocm_audit_link(prev, r);
        n := r.seq;
    END LOOP;
    UPDATE cocm_audit_head SET seq = n, chain = prev, imported_through = n, imported_seal = prev WHERE id = 1;
    RETURN n;
END $$;

-- A login role per staff member, kept in step with "user" (which only clinic leads may write).
CREATE OR REPLACE FUNCTION cocm_sync_login() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    grp text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.username IS DISTINCT FROM OLD.username THEN
        RAISE EXCEPTION 'a username cannot be changed' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.role NOT IN ('care_manager', 'clinician', 'psychiatrist', 'clinic_lead') THEN
        RAISE EXCEPTION 'unknown role' USING ERRCODE = 'check_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = NEW.username) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', NEW.username);
    ELSIF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = NEW.username
                  AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls)) THEN
        RAISE EXCEPTION 'a staff login cannot share a name with a server administrator role'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOREACH grp IN ARRAY ARRAY['cocm_care_manager', 'cocm_clinician', 'cocm_psychiatrist', 'cocm_clinic_lead'] LOOP
        IF grp <> 'cocm_' || NEW.role THEN
            EXECUTE format('REVOKE %I FROM %I', grp, NEW.username);
        END IF;
    END LOOP;
    IF NEW.active THEN
        EXECUTE format('GRANT %I TO %I', 'cocm_' || NEW.role, NEW.username);
    ELSE
        EXECUTE format('REVOKE %I FROM %I', 'cocm_' || NEW.role, NEW.username);
        EXECUTE format('ALTER ROLE %I NOLOGIN', NEW.username);
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS cocm_sync_login ON "user";
CREATE TRIGGER cocm_sync_login AFTER INSERT OR UPDATE OF username, role, active ON "user"
    FOR EACH ROW EXECUTE FUNCTION cocm_sync_login();

-- A password arrives as a SCRAM-SHA-256 verifier (never in clear). A clinic lead sets anyone's
-- (new user, reset); a person sets their own.
CREATE OR REPLACE FUNCTION cocm_set_password(who text, verifier text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF verifier !~ '^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' THEN
        RAISE EXCEPTION 'not a SCRAM-SHA-256 verifier' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM "user" WHERE username = who AND active) THEN
        RAISE EXCEPTION 'no such active user' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF who <> session_user AND NOT pg_has_role(session_user, 'cocm_clinic_lead', 'MEMBER') THEN
        RAISE EXCEPTION 'only a clinic lead sets another person''s password'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', who, verifier);
END $$;

CREATE OR REPLACE FUNCTION cocm_disable_login(who text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(session_user, 'cocm_clinic_lead', 'MEMBER') THEN
        RAISE EXCEPTION 'only a clinic lead removes a person' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT 1 FROM "user" WHERE username = who AND active) THEN
        RAISE EXCEPTION 'the person is still active' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('ALTER ROLE %I NOLOGIN', who);
END $$;

REVOKE ALL ON FUNCTION cocm_audit_verify() FROM PUBLIC;
REVOKE ALL ON FUNCTION cocm_set_password(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION cocm_disable_login(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION cocm_audit_link(text, audit_log) FROM PUBLIC;
REVOKE ALL ON FUNCTION cocm_audit_seal_import() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cocm_audit_verify() TO cocm_clinic_lead;
GRANT EXECUTE ON FUNCTION cocm_set_password(text, text) TO cocm_staff;
GRANT EXECUTE ON FUNCTION cocm_disable_login(text) TO cocm_clinic_lead;
GRANT EXECUTE ON FUNCTION cocm_current_user_id() TO cocm_staff;
REVOKE ALL ON FUNCTION cocm_write_lock() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cocm_write_lock() TO cocm_staff;
REVOKE ALL ON FUNCTION cocm_write_try_lock() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cocm_write_try_lock() TO cocm_staff;
"""


def install_server_objects(conn: Connection, dbname: str) -> None:
    """Everything above, on a database whose tables are at the head revision. Idempotent."""
    from sqlalchemy import inspect

    ensure_group_roles(conn)
    # The driver's own execute without parameters: the SQL's % signs are format() codes.
    conn.connection.driver_connection.execute(FUNCTIONS_SQL)  # type: ignore[union-attr]
    tables = inspect(conn).get_table_names()
    apply_grants(conn, dbname, tables)
