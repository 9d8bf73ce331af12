"""Patients: add, correct details, find. Enrollment (the episode of care) is in enrollment.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import CorrectionAction
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import Episode, Patient, PayerRuleSet

from ._clinical import OPEN_STATUS_VALUES, get_patient, text
from ._text import refuse_hidden_characters
from .common import ValidationError, check, local_now, local_today, record
from .corrections import check_corrector, clinicians_of_patient, log_correction, reason_of

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


# Fields a caller may set with add_patient / update_patient.
_EDITABLE = (
    "mrn", "family_name", "given_name", "date_of_birth", "sex", "phone", "portal", "preferred_contact",
    "payer_name", "payer_rule_set_id", "member_id", "last_seen_on", "notes",
)


def _summary(session: Session, p: Patient) -> PatientSummary:
    open_id = session.scalar(
        select(Episode.id).where(Episode.patient_id == p.id, Episode.status.in_(OPEN_STATUS_VALUES))
    )
    return PatientSummary(
        id=p.id, mrn=p.mrn, family_name=p.family_name, given_name=p.given_name,
        display_name=p.display_name, date_of_birth=p.date_of_birth, sex=p.sex, phone=p.phone,
        portal=bool(p.portal), preferred_contact=p.preferred_contact, payer_name=p.payer_name,
        payer_rule_set_id=p.payer_rule_set_id, member_id=p.member_id, last_seen_on=p.last_seen_on,
        open_episode_id=open_id, created_by_id=p.created_by_id, notes=p.notes,
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
    return _summary(session, patient)


def update_patient(
    session: Session, actor: Actor, patient_id: int, *, reason: str, today: date | None = None,
    now: datetime | None = None, **changes: object,
) -> PatientSummary:
    """Amend patient details, with a reason, by the person who added the patient or a treating
    clinician of theirs. The old values stay in the chart's history (the correction table, in the
    encrypted database); the audit lists which fields changed and why, not their values."""
    check(actor, Permission.EDIT_PATIENT)
    patient = get_patient(session, patient_id)
    check_corrector(actor, "patient", made_by=patient.created_by_id,
                    clinicians=clinicians_of_patient(session, patient.id))
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
    return _summary(session, patient)


def find_patients(session: Session, actor: Actor, query: str = "", *, limit: int = 50) -> list[PatientSummary]:
    """Patients whose name or MRN contains `query` (case-insensitive), by name. For pickers."""
    check(actor, Permission.READ_REGISTRY)
    stmt = select(Patient).order_by(Patient.family_name, Patient.given_name, Patient.id).limit(limit)
    q = (query or "").strip().lower()
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(
            func.lower(Patient.family_name).like(like), func.lower(Patient.given_name).like(like),
            func.lower(Patient.mrn).like(like),
            func.lower(Patient.family_name + ", " + Patient.given_name).like(like),
        ))
    return [_summary(session, p) for p in session.scalars(stmt)]
