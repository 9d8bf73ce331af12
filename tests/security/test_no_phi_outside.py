"""No PHI outside the encrypted file, and no unaudited write: a whole workflow through the services
with logging at DEBUG, reports built in memory, a backup made; then the captured logs, stdout/stderr,
the temp directory and every file written are searched for a sentinel patient name and MRN."""

from __future__ import annotations

import io
import logging
import os
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from cocm_desktop.domain.episode import TargetCondition
from cocm_desktop.services.common import ValidationError
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import AuditRecord, ClinicSetting, Patient

SENTINEL_NAME = "Quetzalwhistle"
SENTINEL_GIVEN = "Xiomarabelle"
SENTINEL_MRN = "MRN-SENT-77314"
NEEDLES = [
    s.encode(enc) for s in (SENTINEL_NAME, SENTINEL_GIVEN, SENTINEL_MRN) for enc in ("utf-8", "utf-16-le")
]
NOW = datetime(2026, 11, 24, 15, 0)
# Writes that are deliberately not audited: the timer's heartbeat and the audit log's own anchor.
UNAUDITED_OK = {"running_timer", "clinic_setting"}


class WriteWatcher:
    """Every committed unit of work that changed a table must also have added an audit record."""

    def __init__(self) -> None:
        self.violations: list[set[str]] = []
        self.units = 0

    def after_flush(self, session: Session, _ctx: object) -> None:
        touched = session.info.setdefault("touched", set())
        for obj in (*session.new, *session.dirty, *session.deleted):
            if isinstance(obj, AuditRecord) and obj.action == "rows.seal":
                continue  # the store's own seal of rows no service audited: not an audit of them
            touched.add(obj.__table__.name)

    def after_commit(self, session: Session) -> None:
        touched = session.info.pop("touched", set())
        if touched:
            self.units += 1
            if AuditRecord.__tablename__ not in touched and not touched <= UNAUDITED_OK:
                self.violations.append(touched)

    def after_rollback(self, session: Session) -> None:
        session.info.pop("touched", None)


def _workflow(db: Database, actors, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cocm_desktop.reports.audit_report import build_audit_pdf
    from cocm_desktop.services.audit_report import audit_csv, audit_report
    from cocm_desktop.services.chart import open_chart
    from cocm_desktop.services.contacts import record_contact
    from cocm_desktop.services.enrollment import ConsentIn, enroll
    from cocm_desktop.services.measures import record_measure
    from cocm_desktop.services.patients import add_patient, find_patients, update_patient
    from cocm_desktop.services.time_log import add_manual_time
    from cocm_desktop.services.timer import start_timer, stop_timer
    from cocm_desktop.store.backup import make_backup

    cm, doc, lead = actors["cm1"], actors["doc1"], actors["lead"]
    with db.session() as s:
        pid = add_patient(
            s,
            cm,
            mrn=SENTINEL_MRN,
            family_name=SENTINEL_NAME,
            given_name=SENTINEL_GIVEN,
            date_of_birth=date(1979, 3, 3),
            phone="555-0100",
            notes=f"{SENTINEL_NAME} prefers calls",
            last_seen_on=date(2026, 10, 1),
            today=NOW.date(),
        ).id
    with pytest.raises(ValidationError) as err, db.session() as s:  # a refusal naming the duplicate
        add_patient(
            s,
            cm,
            mrn=SENTINEL_MRN,
            family_name=SENTINEL_NAME,
            given_name="Other",
            date_of_birth=date(1980, 1, 1),
            today=NOW.date(),
        )
    assert SENTINEL_MRN not in str(err.value) and SENTINEL_NAME not in str(err.value)
    logging.getLogger("cocm_desktop").info("refused: %s", err.value)  # what a GUI would log
    with db.session() as s:
        ep = enroll(
            s,
            doc,
            patient_id=pid,
            enrolled_on=date(2026, 11, 2),
            target_conditions=[TargetCondition("F32.1", "Major depressive disorder")],
            treating_clinician_id=doc.user_id,
            care_manager_id=cm.user_id,
            urgent_risk_ruled_out=True,
            risk_ruled_out_by_id=doc.user_id,
            consent=ConsentIn(True, True, True, True, date(2026, 11, 2)),
            baseline_items=[2, 2, 2, 2, 2, 2, 2, 2, 0],
            baseline_taken_at=datetime(2026, 11, 2, 10),
            now=NOW,
        ).episode_id
    with db.session() as s:
        record_measure(
            s, cm, ep, "PHQ-9", [1, 1, 2, 1, 1, 1, 1, 1, 0], taken_at=datetime(2026, 11, 16, 10), now=NOW
        )
    with db.session() as s:
        record_contact(
            s,
            cm,
            ep,
            contact_at=datetime(2026, 11, 16, 10, 30),
            mode="phone",
            kind="follow_up",
            next_step=f"Call {SENTINEL_NAME} again",
            next_step_on=date(2026, 11, 30),
            summary=f"{SENTINEL_GIVEN} sleeping better",
            minutes=12,
            now=NOW,
        )
    with db.session() as s:
        add_manual_time(
            s,
            cm,
            patient_id=pid,
            activity="care_coordination",
            minutes=9,
            local_date=date(2026, 11, 17),
            note=f"Called pharmacy for {SENTINEL_NAME}",
            now=NOW,
        )
    with db.session() as s:
        start_timer(s, cm, patient_id=pid, activity="outreach", now=datetime(2026, 11, 24, 14, 0))
    with db.session() as s:
        stop_timer(s, cm, now=datetime(2026, 11, 24, 14, 20))
    with db.session() as s:
        update_patient(s, cm, pid, phone="555-0199", reason="New number", today=NOW.date(), now=NOW)
    with db.session() as s:
        assert find_patients(s, doc, SENTINEL_NAME[:6])
        open_chart(s, doc, patient_id=pid, today=NOW.date())
    with db.session() as s:
        report = audit_report(s, lead, patient_mrn=SENTINEL_MRN, output="pdf")
    assert build_audit_pdf(report).startswith(b"%PDF") and SENTINEL_MRN.encode() in audit_csv(report)
    db.actor = lead
    make_backup(db, tmp_path / "backup.db")  # encrypted: must not show the sentinel either


def test_no_phi_in_logs_temp_files_or_anything_written(
    clinic: Database, actors, tmp_path: Path, capfd
) -> None:  # type: ignore[no-untyped-def]
    started = time.time() - 1
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    sa_root = logging.getLogger("sqlalchemy")  # as a logging config file turning "everything" on would
    sa_old = sa_root.level
    sa_root.setLevel(logging.DEBUG)
    watcher = WriteWatcher()
    listeners = [
        (Session, "after_flush", watcher.after_flush),
        (Session, "after_commit", watcher.after_commit),
        (Session, "after_rollback", watcher.after_rollback),
    ]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        _workflow(clinic, actors, tmp_path)
        clinic.close()
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)
        root.removeHandler(handler)
        root.setLevel(old_level)
        sa_root.setLevel(sa_old)
    logged = log.getvalue()
    out, err = capfd.readouterr()
    for needle in (SENTINEL_NAME, SENTINEL_GIVEN, SENTINEL_MRN):
        assert needle not in logged, "PHI in the log output"
        assert needle not in out and needle not in err, "PHI on stdout/stderr"
    # Every file written anywhere in the temp directory during the test (our database folder included).
    scanned = 0
    for folder, _dirs, files in os.walk(tempfile.gettempdir()):
        for name in files:
            path = Path(folder) / name
            try:
                st = path.stat()
                if st.st_mtime < started or st.st_size > 64 * 1024 * 1024:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            scanned += 1
            for needle in NEEDLES:
                assert needle not in data, f"PHI in clear in {path}"
    assert scanned >= 4  # at least the database, its key file, the backup and its key file
    assert watcher.units >= 10
    assert watcher.violations == [], f"writes without an audit record: {watcher.violations}"


def test_the_watcher_would_notice_an_unaudited_write(clinic: Database) -> None:
    """The check above can fail: a write with no audit record is reported."""
    watcher = WriteWatcher()
    event.listen(Session, "after_flush", watcher.after_flush)
    event.listen(Session, "after_commit", watcher.after_commit)
    try:
        with clinic.session() as s:
            s.add(ClinicSetting(key="x", value=1))
            s.add(Patient(mrn="U-1", family_name="U", given_name="U", date_of_birth=date(1990, 1, 1)))
    finally:
        event.remove(Session, "after_flush", watcher.after_flush)
        event.remove(Session, "after_commit", watcher.after_commit)
    assert watcher.violations == [{"clinic_setting", "patient"}]
