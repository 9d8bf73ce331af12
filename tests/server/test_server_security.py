"""The clinic server refuses, by itself, what the app forbids: staff connect with plain psycopg as
their own login role (password "demo") and try. Plus TLS only, and the server's audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
from psycopg import errors

from cocm_desktop.services import users
from cocm_desktop.store import audit
from cocm_desktop.store.errors import StoreError, WrongCredentials
from cocm_desktop.store.pg_cluster import issue_server_cert, new_ca
from cocm_desktop.store.server_database import ServerDatabase
from cocm_desktop.store.server_engine import ServerUnreachable
from cocm_desktop.store.server_profile import ServerProfile

PASSWORD = "demo"


@pytest.fixture
def as_user(server_profile: ServerProfile) -> Iterator:  # type: ignore[type-arg]
    """psycopg connections as a staff member's own login role over verify-full TLS."""
    opened: list[psycopg.Connection] = []

    def connect(username: str, password: str = PASSWORD) -> psycopg.Connection:
        conn = psycopg.connect(**server_profile.connect_args(username, password), autocommit=True)  # type: ignore[arg-type]
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def _refused(conn: psycopg.Connection, sql: str, params: tuple = ()) -> None:  # type: ignore[type-arg]
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(sql, params)


@pytest.mark.parametrize("who", ["cm1", "doc1", "psych", "lead"])
def test_nobody_can_change_or_delete_audit_records(as_user, who: str) -> None:  # type: ignore[no-untyped-def]
    conn = as_user(who)
    before = conn.execute("SELECT count(*), max(seq) FROM audit_log").fetchone()
    assert before[0] > 0  # every role reads the log (the lead's report, the chart's history)
    _refused(conn, "DELETE FROM audit_log WHERE seq = %s", (before[1],))
    _refused(conn, "UPDATE audit_log SET summary = 'nothing happened' WHERE seq = 1")
    _refused(conn, "TRUNCATE audit_log")
    _refused(conn, "SELECT audit_key FROM cocm_server_secret")
    _refused(conn, "UPDATE cocm_audit_head SET seq = 1")
    assert conn.execute("SELECT count(*), max(seq) FROM audit_log").fetchone() == before


def test_a_care_manager_cannot_raise_her_own_role_or_touch_users_or_policy(as_user) -> None:  # type: ignore[no-untyped-def]
    conn = as_user("cm1")
    _refused(conn, "UPDATE \"user\" SET role = 'clinic_lead' WHERE username = 'cm1'")
    _refused(conn, "INSERT INTO \"user\" (username, display_name, role, active, created_at, password_must_change) "
                   "VALUES ('mallory', 'Mallory', 'clinic_lead', true, now(), false)")
    _refused(conn, "UPDATE clinic_setting SET value = '\"x\"' WHERE key = 'clinic_name'")
    _refused(conn, "INSERT INTO clinic_setting (key, value, updated_at) VALUES ('policy', '{}', now())")
    with pytest.raises(errors.InsufficientPrivilege):  # not even through the password function
        conn.execute("SELECT cocm_set_password('lead', %s)",
                     ("SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy",))
    with pytest.raises(psycopg.Error):  # and not by granting herself the lead's group
        conn.execute("GRANT cocm_clinic_lead TO cm1")
    assert conn.execute("SELECT role FROM \"user\" WHERE username = 'cm1'").fetchone() == ("care_manager",)
    assert conn.execute("SELECT pg_has_role('cm1', 'cocm_clinic_lead', 'MEMBER')").fetchone() == (False,)


def test_a_consultant_cannot_log_cocm_time_or_write_a_chart(as_user, clinic_with_patient) -> None:  # type: ignore[no-untyped-def]
    patient_id, episode_id = clinic_with_patient
    conn = as_user("psych")
    psych_id = conn.execute("SELECT id FROM \"user\" WHERE username = 'psych'").fetchone()[0]
    cm_id = conn.execute("SELECT id FROM \"user\" WHERE username = 'cm1'").fetchone()[0]
    insert = ("INSERT INTO time_entry (patient_id, episode_id, staff_id, local_date, minutes, activity, source, "
              "counts_as_care_management, created_at, created_by_id) "
              "VALUES (%s, %s, %s, %s, 30, 'phone_contact', 'manual', %s, now(), %s)")
    with pytest.raises(errors.InsufficientPrivilege):  # CoCM minutes: refused by the row rule
        conn.execute(insert, (patient_id, episode_id, psych_id, date(2026, 11, 20), True, psych_id))
    with pytest.raises(errors.InsufficientPrivilege):  # as if a care manager had logged them
        conn.execute(insert, (patient_id, episode_id, cm_id, date(2026, 11, 20), False, psych_id))
    conn.execute(insert, (patient_id, episode_id, psych_id, date(2026, 11, 20), False, psych_id))  # own, not counted
    _refused(conn, "INSERT INTO measure (episode_id, instrument, items, total, band, taken_at, entered_by_id, "
                   "entered_at) VALUES (%s, 'PHQ-9', '[0,0,0,0,0,0,0,0,0]', 0, 'minimal', now(), %s, now())",
             (episode_id, psych_id))
    _refused(conn, "UPDATE patient SET family_name = 'X' WHERE id = %s", (patient_id,))
    _refused(conn, "DELETE FROM contact")


def test_no_clinical_row_can_be_deleted_even_by_a_care_manager(as_user, clinic_with_patient) -> None:  # type: ignore[no-untyped-def]
    patient_id, _episode = clinic_with_patient
    conn = as_user("cm1")
    for table in ("patient", "episode", "measure", "contact", "time_entry", "care_plan_version"):
        _refused(conn, f"DELETE FROM {table}")
    assert conn.execute("SELECT count(*) FROM patient WHERE id = %s", (patient_id,)).fetchone() == (1,)


def test_plaintext_and_a_wrong_ca_are_refused_with_a_plain_message(server_profile: ServerProfile, tmp_path) -> None:  # type: ignore[no-untyped-def]
    args = server_profile.connect_args("cm1", PASSWORD)
    with pytest.raises(psycopg.OperationalError, match="no encryption|pg_hba"):
        psycopg.connect(**{**args, "sslmode": "disable"})  # type: ignore[arg-type]
    other_ca = new_ca("Some other clinic")
    issue_server_cert(other_ca)
    wrong = tmp_path / "other-ca.crt"
    wrong.write_bytes(other_ca.cert_pem)
    impostor = ServerProfile(host=server_profile.host, port=server_profile.port,
                             dbname=server_profile.dbname, ca_cert=wrong)
    with pytest.raises(ServerUnreachable) as err:
        ServerDatabase.open(impostor, "cm1", PASSWORD)
    assert "did not prove it is the clinic's server" in str(err.value)
    assert PASSWORD not in str(err.value)


def test_wrong_password_and_no_server_are_plain_sentences(server_profile: ServerProfile) -> None:
    with pytest.raises(WrongCredentials):
        ServerDatabase.open(server_profile, "cm1", "not the password")
    with pytest.raises(WrongCredentials):
        ServerDatabase.open(server_profile, "nobody", PASSWORD)
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = ServerProfile(host=server_profile.host, port=port, dbname=server_profile.dbname,
                         ca_cert=server_profile.ca_cert)
    with pytest.raises(ServerUnreachable, match="does not answer"):
        ServerDatabase.open(gone, "cm1", PASSWORD)


def test_adding_a_user_creates_their_login_and_removing_disables_it(server_profile: ServerProfile, as_user) -> None:  # type: ignore[no-untyped-def]
    lead = ServerDatabase.open(server_profile, "lead", PASSWORD)
    try:
        assert lead.actor is not None
        users.add_staff_user(lead, lead.actor, username="sam", display_name="Sam Rivera", role="care_manager",
                             password="a long new password")
        with ServerDatabase.open(server_profile, "sam", "a long new password") as sam:
            assert sam.actor is not None and sam.actor.role == "care_manager"
        conn = as_user("sam", "a long new password")
        assert conn.execute("SELECT pg_has_role('sam', 'cocm_care_manager', 'MEMBER')").fetchone() == (True,)
        conn.close()
        users.deactivate_user(lead, lead.actor, "sam", reason="left the clinic")
        with pytest.raises(StoreError, match="may not sign in to the clinic server|Wrong username or password"):
            ServerDatabase.open(server_profile, "sam", "a long new password")
        with lead.session() as s:  # history keeps the person
            from sqlalchemy import select

            from cocm_desktop.store.models import AuditRecord, User

            row = s.scalar(select(User).where(User.username == "sam"))
            assert row is not None and row.active is False
            actions = set(s.scalars(select(AuditRecord.action).where(AuditRecord.object_id == row.id)))
            assert {"user.create", "user.deactivate"} <= actions
    finally:
        lead.close()


def test_the_server_writes_and_checks_the_audit_chain(server_profile: ServerProfile, pg_cluster, pg_admin_password) -> None:  # type: ignore[no-untyped-def]
    with ServerDatabase.open(server_profile, "cm1", PASSWORD) as cm:
        with cm.session() as s:
            rec = audit.append(s, user_id=cm.actor.user_id if cm.actor else None, username="lead",
                               action="chart.open", summary="claims to be the lead")
        assert rec.signer == "cm1"  # the server names who was connected, whatever the app says
    with ServerDatabase.open(server_profile, "lead", PASSWORD) as lead:
        with lead.session() as s:
            report = audit.verify_chain(s)
        assert report.ok, report.describe()
        # The server's administrator edits a record behind the app's back: verify names it.
        with psycopg.connect(pg_cluster.admin_dsn(server_profile.dbname), password=pg_admin_password,
                             autocommit=True) as admin:
            admin.execute("UPDATE audit_log SET summary = 'nothing to see' WHERE seq = %s", (rec.seq,))
        with lead.session() as s:
            report = audit.verify_chain(s)
        assert not report.ok and report.first_bad_seq == rec.seq
        assert "changed after it was written" in report.describe()


class _Team:
    """One ServerDatabase per demo login, each signed in as that person: `session()` opens one
    on the connection of whoever acts next (the Builder names the actor per call)."""

    def __init__(self, profile: ServerProfile) -> None:
        self.dbs = {u: ServerDatabase.open(profile, u, PASSWORD) for u in ("lead", "cm1", "doc1", "psych")}
        self.who = "lead"

    def session(self):  # type: ignore[no-untyped-def]
        return self.dbs[self.who].session()

    def close(self) -> None:
        for db in self.dbs.values():
            db.close()


def test_a_day_of_work_as_each_role_on_their_own_connection(server_profile: ServerProfile, service_builders) -> None:  # type: ignore[no-untyped-def]
    """The grants let each role do its whole job through the app's services, and the audit log
    names each writer as the server saw them."""
    from sqlalchemy import select

    from cocm_desktop.services import billing_submissions, case_review, measures, time_log
    from cocm_desktop.services.policy import update_policy
    from cocm_desktop.store.models import AuditRecord

    Builder, TODAY = service_builders.Builder, service_builders.TODAY

    team = _Team(server_profile)
    try:
        actors = {u: db.actor for u, db in team.dbs.items()}
        b = Builder(team, actors)  # type: ignore[arg-type]

        def as_(who: str) -> Builder:
            team.who = who
            return b

        pid = as_("cm1").patient(by="cm1")
        ep = as_("doc1").episode(date(2026, 10, 1), by="doc1", baseline=18, patient_id=pid)
        m = as_("cm1").measure(ep, date(2026, 11, 2), 15)
        as_("cm1").contact(ep, date(2026, 11, 3), minutes=25, question="Raise the dose?")
        as_("cm1").care_plan(ep)
        as_("cm1").call(time_log.add_manual_time, "cm1", patient_id=pid, activity="care_coordination",
                        minutes=10, local_date=date(2026, 11, 4))
        rs = as_("cm1").call(case_review.create_review_session, "cm1", session_on=TODAY,
                             consultant_id=actors["psych"].user_id, today=TODAY)
        rec = as_("psych").call(case_review.record_recommendation, "psych", ep, kind="medication_change",
                                text="Increase", drug="sertraline", dose="100 mg",
                                agenda_item_id=rs.agenda[0].id)
        as_("psych").call(time_log.add_manual_time, "psych", patient_id=pid, activity="case_review",
                          minutes=15, local_date=date(2026, 11, 20))
        as_("doc1").call(case_review.decide_recommendation, "doc1", rec.id, "approved")
        as_("cm1").call(case_review.tell_patient, "cm1", rec.id, how="phone")
        as_("cm1").call(case_review.close_recommendation, "cm1", rec.id)
        as_("cm1").call(measures.void_measure, "cm1", m.id, reason="Entered on the wrong patient's chart")
        as_("lead").call(update_policy, "lead", {"case_review_session_minutes": 45})
        as_("lead").call(billing_submissions.mark_month_submitted, "lead", "2026-11")
        with team.dbs["lead"].session() as s:
            writers = set(s.scalars(select(AuditRecord.signer)))
            report = audit.verify_chain(s)
        assert {"cm1", "doc1", "psych", "lead"} <= writers
        assert report.ok, report.describe()
    finally:
        team.close()
