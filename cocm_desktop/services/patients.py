"""Patients: add, correct details, find. Enrollment (the episode of care) is in enrollment.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import RESTORE, CorrectionAction
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Episode, Patient, PayerRuleSet

from ._clinical import OPEN_STATUS_VALUES, get_live_patient, get_patient, text
from ._text import refuse_hidden_characters
from .common import ValidationError, check, local_now, local_today, record
from .corrections import check_corrector, clinicians_of_patient, log_correction, reason_of
from .versions import expect_version

EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True)
class PatientSummary:
    id: int
    mrn: str
    family_name: str
    given_name: str
    display_name: str
    date_of_birth: date
    sex: str | None
    phone: str | None
    portal: bool
    preferred_contact: str | None
    payer_name: str | None
    payer_rule_set_id: int | None
    member_id: str | None
    last_seen_on: date | None
    open_episode_id: int | None
    created_by_id: int | None = None  # who added the patient (may amend the details)
    notes: str | None = None
    voided: bool = False  # entered twice and voided: counts nowhere
    void_reason: str | None = None
    voided_at: datetime | None = None
    row_version: int = 1  # what an edit form passes back as `expected_version` (services.versions)


# Fields a caller may set with add_patient / update_patient.
_EDITABLE = (
    "mrn", "family_name", "given_name", "date_of_birth", "sex", "phone", "portal", "preferred_contact",
    "payer_name", "payer_rule_set_id", "member_id", "last_seen_on", "notes",
)


def patient_summary(session: Session, p: Patient, episodes: list[Episode] | None = None) -> PatientSummary:
    """`episodes`: every episode of the patient, already read (the chart has them)."""
    if episodes is None:
        open_id = session.scalar(
            select(Episode.id).where(Episode.patient_id == p.id, Episode.status.in_(OPEN_STATUS_VALUES))
        )
    else:
        open_id = next((e.id for e in episodes if e.status in OPEN_STATUS_VALUES), None)
    return PatientSummary(
        id=p.id, mrn=p.mrn, family_name=p.family_name, given_name=p.given_name,
        display_name=p.display_name, date_of_birth=p.date_of_birth, sex=p.sex, phone=p.phone,
        portal=bool(p.portal), preferred_contact=p.preferred_contact, payer_name=p.payer_name,
        payer_rule_set_id=p.payer_rule_set_id, member_id=p.member_id, last_seen_on=p.last_seen_on,
        open_episode_id=open_id, created_by_id=p.created_by_id, notes=p.notes,
        voided=p.voided_at is not None, void_reason=p.void_reason, voided_at=p.voided_at,
        row_version=p.row_version,
    )


def _clean(session: Session, values: dict[str, object], today: date, patient_id: int | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in values.items():
        if key not in _EDITABLE:
            raise ValidationError(f"Unknown patient field {key!r}.")
        out[key] = value
    if "mrn" in out:
        mrn = text(out["mrn"], "MRN", required=True, max_len=32)  # type: ignore[arg-type]
        refuse_hidden_characters(mrn, "MRN")
        taken = session.scalar(select(Patient.id).where(Patient.mrn == mrn))
        if taken is not None and taken != patient_id:
            raise ValidationError("Another patient already has this MRN; check the number.")
        out["mrn"] = mrn
    for key, label in (("family_name", "Family name"), ("given_name", "Given name")):
        if key in out:
            out[key] = text(out[key], label, required=True, max_len=200)  # type: ignore[arg-type]
            refuse_hidden_characters(out[key], label)  # type: ignore[arg-type]
    if "date_of_birth" in out:
        dob = out["date_of_birth"]
        if not isinstance(dob, date):
            raise ValidationError("Date of birth is required.")
        if dob > today or dob < EARLIEST_BIRTH:
            raise ValidationError("Date of birth is not a plausible date; check it.")
    if out.get("last_seen_on") is not None and out["last_seen_on"] > today:  # type: ignore[operator]
        raise ValidationError("Last seen by the practice is dated in the future; check the date.")
    for key, label, n in (("sex", "Sex", 16), ("phone", "Phone", 40), ("preferred_contact", "Preferred contact", 120),
                          ("payer_name", "Payer", 120), ("member_id", "Member id", 64)):
        if key in out:
            out[key] = text(out[key], label, max_len=n)  # type: ignore[arg-type]
            refuse_hidden_characters(out[key], label)  # type: ignore[arg-type]
    if "notes" in out:
        out["notes"] = text(out["notes"], "Notes", max_len=4000)  # type: ignore[arg-type]
    if "portal" in out:
        out["portal"] = bool(out["portal"])
    if out.get("payer_rule_set_id") is not None and session.get(PayerRuleSet, out["payer_rule_set_id"]) is None:
        raise ValidationError("The payer rule set chosen does not exist.")
    return out


def add_patient(
    session: Session,
    actor: Actor,
    *,
    mrn: str,
    family_name: str,
    given_name: str,
    date_of_birth: date,
    sex: str | None = None,
    phone: str | None = None,
    portal: bool = False,
    preferred_contact: str | None = None,
    payer_name: str | None = None,
    payer_rule_set_id: int | None = None,
    member_id: str | None = None,
    last_seen_on: date | None = None,
    notes: str | None = None,
    today: date | None = None,
) -> PatientSummary:
    """Add a patient (MRN unique). `last_seen_on` = last visit with the practice (None = new patient)."""
    check(actor, Permission.ADD_PATIENT)
    values = _clean(session, dict(
        mrn=mrn, family_name=family_name, given_name=given_name, date_of_birth=date_of_birth, sex=sex,
        phone=phone, portal=portal, preferred_contact=preferred_contact, payer_name=payer_name,
        payer_rule_set_id=payer_rule_set_id, member_id=member_id, last_seen_on=last_seen_on, notes=notes,
    ), today or local_today(), None)
    patient = Patient(**values, created_by_id=actor.user_id)
    session.add(patient)
    session.flush()
    record(session, actor, "patient.create", patient_id=patient.id, object_type="patient",
           object_id=patient.id, summary="Patient added")
    return patient_summary(session, patient)


def update_patient(
    session: Session, actor: Actor, patient_id: int, *, reason: str, expected_version: int | None = None,
    today: date | None = None, now: datetime | None = None, **changes: object,
) -> PatientSummary:
    """Amend patient details, with a reason, by the person who added the patient or a treating
    clinician of theirs. The old values stay in the chart's history (the correction table, in the
    encrypted database); the audit lists which fields changed and why, not their values."""
    check(actor, Permission.EDIT_PATIENT)
    patient = get_live_patient(session, patient_id)
    check_corrector(actor, "patient", made_by=patient.created_by_id,
                    clinicians=clinicians_of_patient(session, patient.id))
    expect_version(session, actor, patient, expected_version)
    why = reason_of(reason, CorrectionAction.AMEND)
    values = _clean(session, changes, today or local_today(), patient_id)
    changed = sorted(k for k, v in values.items() if getattr(patient, k) != v)
    if not changed:
        raise ValidationError("Nothing to amend: the details are what is recorded already.")
    diff = {k: (getattr(patient, k), values[k]) for k in changed}
    for key in changed:
        setattr(patient, key, values[key])
    session.flush()
    log_correction(session, actor, patient_id=patient.id, object_type="patient", object_id=patient.id,
                   action=CorrectionAction.AMEND, reason=why, changes=diff, now=now or local_now(),
                   summary="Patient details amended: " + ", ".join(k.replace("_", " ") for k in changed))
    return patient_summary(session, patient)


def find_patients(session: Session, actor: Actor, query: str = "", *, limit: int = 50) -> list[PatientSummary]:
    """Patients whose name or MRN contains `query` (case-insensitive), by name. For pickers: a
    record voided as a duplicate is not offered."""
    check(actor, Permission.READ_REGISTRY)
    stmt = (select(Patient).where(Patient.voided_at.is_(None))
            .order_by(Patient.family_name, Patient.given_name, Patient.id).limit(limit))
    q = (query or "").strip().lower()
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(
            func.lower(Patient.family_name).like(like), func.lower(Patient.given_name).like(like),
            func.lower(Patient.mrn).like(like),
            func.lower(Patient.family_name + ", " + Patient.given_name).like(like),
        ))
    return [patient_summary(session, p) for p in session.scalars(stmt)]


# ---- a patient entered twice ---------------------------------------------------------------------


@dataclass(frozen=True)
class PatientVoided:
    id: int
    voided_entries: dict[str, int]  # kind → how many live entries were voided with the record


def duplicate_contents(session: Session, patient_id: int) -> dict[str, int]:
    """What a patient record holds that counts somewhere (live entries per kind), for the void's
    confirmation: it all goes with the record."""
    return {kind: len(rows) for kind, rows in _live_entries(session, patient_id).items() if rows}


def _live_entries(session: Session, patient_id: int) -> dict[str, list[object]]:
    return _entries(session, patient_id)


def _entries(session: Session, patient_id: int, *,
             voided_with: tuple[datetime | None, int | None, str] | None = None) -> dict[str, list[object]]:
    """The entries on a patient's record by kind: the live ones, or (`voided_with` = when, by whom,
    the note) exactly those voided with the record."""
    from cocm_desktop.store.models import (
        CarePlanVersion,
        Contact,
        Measure,
        Recommendation,
        Referral,
        RiskEvent,
        TimeEntry,
    )

    def which(at: Any, by: Any, why: Any) -> list[Any]:
        if voided_with is None:
            return [at.is_(None)]
        return [at == voided_with[0], by == voided_with[1], why == voided_with[2]]

    episodes = select(Episode.id).where(Episode.patient_id == patient_id)
    out: dict[str, list[object]] = {}
    for kind, model in (("measure", Measure), ("contact", Contact), ("referral", Referral),
                        ("risk_event", RiskEvent), ("care_plan_version", CarePlanVersion),
                        ("recommendation", Recommendation)):
        out[kind] = list(session.scalars(select(model).where(
            model.episode_id.in_(episodes), *which(model.voided_at, model.voided_by_id, model.void_reason))))
    out["time_entry"] = list(session.scalars(select(TimeEntry).where(
        TimeEntry.patient_id == patient_id,
        *which(TimeEntry.deleted_at, TimeEntry.deleted_by_id, TimeEntry.delete_reason))))
    return out


def void_patient(
    session: Session, actor: Actor, patient_id: int, *, reason: str, duplicate_of: int | None = None,
    expected_version: int | None = None, now: datetime | None = None,
) -> PatientVoided:
    """Void a patient record entered twice. Nothing is deleted: the record and everything on it
    stay (struck through, with the reason) and count nowhere — the registry, worklists, billing,
    quality and packets leave it at once, and no new care can be recorded on it. The entries on
    it are voided with it (record anything that belongs to the patient on the kept record).
    Refused while a risk event on it is open (safety follow-up first) or a timer runs on it."""
    from cocm_desktop.store.models import AgendaItem, CaseReviewSession, RunningTimer

    check(actor, Permission.EDIT_PATIENT)
    patient = get_live_patient(session, patient_id)
    check_corrector(actor, "patient", made_by=patient.created_by_id,
                    clinicians=clinicians_of_patient(session, patient.id))
    expect_version(session, actor, patient, expected_version)
    why = reason_of(reason, CorrectionAction.VOID)
    now = now or local_now()
    if duplicate_of is not None:
        if duplicate_of == patient.id:
            raise ValidationError("A record cannot be a duplicate of itself; choose the patient's other record.")
        get_live_patient(session, duplicate_of)
    entries = _live_entries(session, patient.id)
    if any(r.outcome is None for r in entries["risk_event"]):  # type: ignore[attr-defined]
        raise ValidationError("A risk event on this record is open: finish the safety follow-up and record its "
                              "outcome (on the patient's kept record if that is where care goes on) first.")
    if session.scalar(select(RunningTimer.id).where(RunningTimer.patient_id == patient.id)) is not None:
        raise ValidationError("A timer is running on this record; stop or discard it first.")
    note = _void_note(why)
    for kind, rows in entries.items():
        for row in rows:
            if kind == "time_entry":
                row.deleted_at, row.deleted_by_id, row.delete_reason = now, actor.user_id, note  # type: ignore[attr-defined]
            else:
                row.voided_at, row.voided_by_id, row.void_reason = now, actor.user_id, note  # type: ignore[attr-defined]
    # off the agendas of case reviews not yet held (held ones keep their record of what was discussed)
    for item in session.scalars(select(AgendaItem).join(CaseReviewSession, CaseReviewSession.id == AgendaItem.session_id)
                                .join(Episode, Episode.id == AgendaItem.episode_id)
                                .where(Episode.patient_id == patient.id, CaseReviewSession.held.is_(False),
                                       AgendaItem.removed.is_(False))):
        item.removed = True
    patient.voided_at, patient.voided_by_id, patient.void_reason = now, actor.user_id, why
    session.flush()
    counts = {k: len(v) for k, v in entries.items() if v}
    changes: dict[str, tuple[object, object]] = {"voided_entries": ({}, counts)}
    if duplicate_of is not None:
        changes["duplicate_of"] = (None, duplicate_of)
    log_correction(session, actor, patient_id=patient.id, object_type="patient", object_id=patient.id,
                   action=CorrectionAction.VOID, reason=why, changes=changes, now=now,
                   summary="Patient record voided (entered twice); " + (
                       ", ".join(f"{n} {k.replace('_', ' ')}{'s' if n != 1 else ''}" for k, n in counts.items())
                       or "no entries") + " voided with it")
    return PatientVoided(patient.id, counts)



def _void_note(why: str) -> str:
    """What the entries voided with a patient record say (void_patient): how restore finds them."""
    return f"Patient record voided (entered twice): {why}"[:300]


def voided_patients(session: Session, actor: Actor) -> list[PatientSummary]:
    """Patient records voided as entered twice, newest first: the way back to one voided in error."""
    check(actor, Permission.READ_CHART)
    rows = session.scalars(select(Patient).where(Patient.voided_at.is_not(None))
                           .order_by(Patient.voided_at.desc(), Patient.id.desc()))
    return [patient_summary(session, p) for p in rows]


@dataclass(frozen=True)
class PatientRestored:
    id: int
    restored_entries: dict[str, int]  # kind → how many entries voided with the record count again


def restore_patient(
    session: Session, actor: Actor, patient_id: int, *, reason: str, expected_version: int | None = None,
    now: datetime | None = None,
) -> PatientRestored:
    """Undo a patient record's void made in error: the record and exactly the entries voided with it
    count again (entries voided on their own before stay voided). Upcoming case-review agendas do
    not get the patient back by themselves. The void and the restore both stay in the history."""
    check(actor, Permission.EDIT_PATIENT)
    patient = get_patient(session, patient_id)
    if patient.voided_at is None:
        raise ValidationError("This patient record is not voided.")
    check_corrector(actor, "patient", made_by=patient.created_by_id,
                    clinicians=clinicians_of_patient(session, patient.id))
    expect_version(session, actor, patient, expected_version)
    why = reason_of(reason, RESTORE)
    now = now or local_now()
    note, at, by = _void_note(patient.void_reason or ""), patient.voided_at, patient.voided_by_id
    counts: dict[str, int] = {}
    for kind, rows in _entries(session, patient.id, voided_with=(at, by, note)).items():
        for row in rows:
            if kind == "time_entry":
                row.deleted_at = row.deleted_by_id = row.delete_reason = None  # type: ignore[attr-defined]
            else:
                row.voided_at = row.voided_by_id = row.void_reason = None  # type: ignore[attr-defined]
        if rows:
            counts[kind] = len(rows)
    was = patient.void_reason
    patient.voided_at = patient.voided_by_id = patient.void_reason = None
    session.flush()
    log_correction(session, actor, patient_id=patient.id, object_type="patient", object_id=patient.id,
                   action=CorrectionAction.AMEND, reason=why, now=now, audit_action="patient.restore",
                   changes={"voided": (True, False), "void_reason": (was, None), "restored_entries": ({}, counts)},
                   summary="Patient record restored (its void was made in error); " + (
                       ", ".join(f"{n} {k.replace('_', ' ')}{'s' if n != 1 else ''}" for k, n in counts.items())
                       or "no entries") + " count again")
    return PatientRestored(patient.id, counts)
