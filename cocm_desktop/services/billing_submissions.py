"""Submitted billing months and the adjustments found after them (billing.md, "After the packet").

The clinic lead marks a month submitted when its packet goes to the billing office: the month is
computed by `compute_billing_month` (the packet's own rules, unchanged) and each patient-month's
codes, status and counted minutes are kept as a snapshot. Later, whenever the month computed
afresh differs from the newest acknowledged state of a patient-month (the snapshot line, or the
last acknowledgement's "after"), it is an adjustment — listed in the lead's worklist and in
`report billing` — until the lead acknowledges it (appended, audited).

Finding adjustments does not recompute the whole clinic: only the patients that a write since the
submission could have changed (read from the audit log, where every write names its patient) are
recomputed, plus the patients whose entries share a staff day with a changed time entry (one
person's overlapping entries for two patients count once). A write that changes the rules for
everyone (payer rule sets, a staff member's role) recomputes the whole month.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.episode_months import Month
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import (
    AuditRecord,
    BillingAdjustmentAck,
    BillingSubmission,
    BillingSubmissionLine,
    Patient,
    TimeEntry,
    User,
)
from cocm_desktop.store.models.base import utcnow

from .billing_month import compute_billing_month
from .billing_month import parse_month as _month
from .billing_month_model import PatientMonth
from .common import ValidationError, check, local_today, record
from .errors import EditConflict

# Audited actions that cannot change a month's codes or counted minutes: reads, and clinical
# writes the packet only turns into warnings (contacts, measures, care plans, case review). A
# correction (void, amend, update) is never listed here, so it is always looked at.
_NO_BILLING_EFFECT = (
    "chart.", "report.", "registry.", "timer.", "case_review.", "recommendation.", "risk.",
    "referral.", "medication.", "diagnosis.", "billing.", "care_plan.",
)
_NO_BILLING_EFFECT_EXACT = frozenset({"contact.create", "measure.create", "episode.next_action"})
# Writes that change how every patient's month is counted or coded.
_CLINIC_WIDE = ("payer_rules.", "user.role_change")
# Time added (not corrected): it can only change its own month and the later ones.
_TIME_ADDED = frozenset({"time.add", "time.create"})
_WHY_LINES = 4  # the newest writes shown per adjustment


@dataclass(frozen=True)
class Submission:
    id: int
    month: Month
    submitted_at: datetime  # UTC
    submitted_by: str
    patient_months: int
    note: str | None


@dataclass(frozen=True)
class Adjustment:
    """A submitted patient-month whose codes, status or counted minutes changed since."""

    month: Month
    submission_id: int
    patient_id: int
    patient_name: str
    mrn: str
    codes_before: tuple[tuple[str, int], ...]
    status_before: str
    minutes_before: int
    codes_after: tuple[tuple[str, int], ...]
    status_after: str
    minutes_after: int
    changes: tuple[str, ...]  # "cm1 on 2026-11-03: 20 min follow-up on 2026-10-28 (manual) — reason"

    @property
    def codes_text(self) -> str:
        return f"{codes_text(self.codes_before, self.status_before)} → {codes_text(self.codes_after, self.status_after)}"

    @property
    def minutes_text(self) -> str:
        return f"{self.minutes_before} → {self.minutes_after} min"


def _after(a: Adjustment) -> tuple[object, ...]:
    """What an acknowledgement records as told to the billing office."""
    return _norm(a.codes_after), a.status_after, a.minutes_after


def codes_text(codes: Iterable[Iterable[object]], status: str) -> str:
    """ "99493 ×1, 99494 ×1", "none", "99492 ×1 (held: blocked)"."""
    text = ", ".join(f"{c} ×{u}" for c, u in codes) or "none"
    if status == "blocked" and text != "none":
        text += " (held: blocked)"
    elif status == "absent":
        text = "not on the packet"
    return text


# ---- marking a month submitted ------------------------------------------------------------------


def mark_month_submitted(
    session: Session,
    actor: Actor,
    month: Month | date | str,
    *,
    note: str | None = None,
    today: date | None = None,
) -> Submission:
    """Snapshot the month's packet as submitted to the billing office. Clinic lead only; once per
    month; only a month that has ended."""
    check(actor, Permission.RUN_BILLING_REPORT)
    m = _month(month)
    today = today or local_today()
    if m >= Month.of(today):
        raise ValidationError(f"Month: {m} has not ended yet; a month is submitted after its last day.")
    done = _submission(session, m)
    if done is not None:
        who = session.get(User, done.submitted_by_id)
        raise ValidationError(
            f"{m} was already marked submitted on {done.submitted_at:%Y-%m-%d} by "
            f"{who.display_name if who else 'someone'}; later changes are listed as adjustments."
        )
    packet = compute_billing_month(session, m, generated_by=actor.display_name, today=today)
    sub = BillingSubmission(month=str(m), submitted_by_id=actor.user_id, audit_seq=0,
                            note=(note or "").strip() or None)
    session.add(sub)
    session.flush()
    if packet.rows:  # one executemany: a 10k clinic has ~8,000 patient-months
        session.execute(BillingSubmissionLine.__table__.insert(), [
            {"submission_id": sub.id, "patient_id": r.patient_id, "episode_id": r.episode_id,
             "practitioner_id": r.practitioner_id, "counted_minutes": r.counted_minutes,
             "logged_minutes": r.logged_minutes, "codes": [list(c) for c in r.codes], "status": r.status}
            for r in packet.rows
        ])
    record(session, actor, "billing.submit", object_type="billing_submission", object_id=sub.id,
           summary=f"Billing month {m} marked submitted: {len(packet.rows)} patient-months, "
           + (", ".join(f"{c} ×{u}" for c, u in packet.totals) or "no billable codes"),
           detail={"month": str(m), "totals": dict(packet.totals)})
    # Writes after this record are the ones that can make an adjustment.
    sub.audit_seq = int(session.scalar(select(func.max(AuditRecord.seq))) or 0)
    return Submission(sub.id, m, sub.submitted_at, actor.display_name, len(packet.rows), sub.note)


def _submission(session: Session, month: Month) -> BillingSubmission | None:
    return session.scalars(select(BillingSubmission).where(BillingSubmission.month == str(month))).first()


def submission_for(session: Session, actor: Actor, month: Month | date | str) -> Submission | None:
    """The month's submission, if it was marked submitted."""
    check(actor, Permission.RUN_BILLING_REPORT)
    sub = _submission(session, _month(month))
    if sub is None:
        return None
    who = session.get(User, sub.submitted_by_id)
    count = session.scalar(select(func.count()).where(BillingSubmissionLine.submission_id == sub.id)) or 0
    return Submission(sub.id, Month.parse(sub.month), sub.submitted_at, who.display_name if who else "?",
                      int(count), sub.note)


# ---- finding adjustments --------------------------------------------------------------------------


def billing_adjustments(
    session: Session, actor: Actor, *, month: Month | date | str | None = None, today: date | None = None
) -> list[Adjustment]:
    """Unacknowledged adjustments of every submitted month (or of `month`), by month then patient."""
    check(actor, Permission.RUN_BILLING_REPORT)
    return find_adjustments(session, month=month, today=today)


def find_adjustments(
    session: Session, *, month: Month | date | str | None = None, today: date | None = None,
    patient_id: int | None = None,
) -> list[Adjustment]:
    """`billing_adjustments` without the permission check (the lead's worklist already checked)."""
    q = select(BillingSubmission).order_by(BillingSubmission.month)
    if month is not None:
        q = q.where(BillingSubmission.month == str(_month(month)))
    subs = list(session.scalars(q))
    if not subs:
        return []
    session.flush()
    writes = _writes_since(session, min(s.audit_seq for s in subs))
    out: list[Adjustment] = []
    for sub in subs:
        m = Month.parse(sub.month)
        mine = [w for w in writes if w.seq > sub.audit_seq]
        touched = _touched(session, m, mine)
        if touched is not None and patient_id is not None:
            touched &= {patient_id}
        elif patient_id is not None:
            touched = {patient_id}
        if touched is not None and not touched:
            continue
        out.extend(_compare(session, sub, m, touched, mine, today))
    return out


@dataclass(frozen=True)
class _Write:
    seq: int
    at_utc: datetime
    username: str
    action: str
    patient_id: int | None
    object_type: str | None
    object_id: int | None
    summary: str | None
    reason: str | None


def _writes_since(session: Session, seq: int) -> list[_Write]:
    """Audited writes after `seq` that may change a billing month (one range read of the log)."""
    rows = session.execute(
        select(AuditRecord.seq, AuditRecord.at_utc, AuditRecord.username, AuditRecord.action,
               AuditRecord.patient_id, AuditRecord.object_type, AuditRecord.object_id,
               AuditRecord.summary, AuditRecord.detail)
        .where(AuditRecord.seq > seq).order_by(AuditRecord.seq)
    )
    out = []
    for s, at, user, action, pid, otype, oid, summary, detail in rows:
        if action in _NO_BILLING_EFFECT_EXACT or action.startswith(_NO_BILLING_EFFECT):
            continue
        if pid is None and not action.startswith(_CLINIC_WIDE):
            continue
        reason = detail.get("reason") if isinstance(detail, dict) else None
        out.append(_Write(s, at, user, action, pid, otype, oid, summary, str(reason) if reason else None))
    return out


def _touched(session: Session, month: Month, writes: list[_Write]) -> set[int] | None:
    """Patients whose `month` a write may have changed; None = every patient (clinic-wide write)."""
    if any(w.action.startswith(_CLINIC_WIDE) for w in writes):
        return None
    entry_ids = {w.object_id for w in writes if w.object_type == "time_entry" and w.object_id is not None}
    entries = {
        r.id: r for r in session.execute(
            select(TimeEntry.id, TimeEntry.local_date, TimeEntry.staff_id).where(TimeEntry.id.in_(entry_ids))
        )
    } if entry_ids else {}
    last = month.last_day
    patients: set[int] = set()
    staff_days: set[tuple[int, date]] = set()
    for w in writes:
        entry = entries.get(w.object_id) if w.object_type == "time_entry" else None  # type: ignore[arg-type]
        if entry is not None:
            if w.action in _TIME_ADDED and entry.local_date > last:
                continue  # time added in a later month cannot change this one
            if month.contains(entry.local_date):
                staff_days.add((entry.staff_id, entry.local_date))
        assert w.patient_id is not None
        patients.add(w.patient_id)
    if staff_days:  # overlap partners: the same person's entries that day for other patients
        staff = {s for s, _ in staff_days}
        for pid, sid, day in session.execute(
            select(TimeEntry.patient_id, TimeEntry.staff_id, TimeEntry.local_date).where(
                TimeEntry.staff_id.in_(staff), TimeEntry.local_date >= month.first_day,
                TimeEntry.local_date <= last)
        ):
            if (sid, day) in staff_days:
                patients.add(pid)
    return patients


_State = tuple[tuple[tuple[str, int], ...], str, int]  # codes, status, counted minutes


def _norm(codes: Iterable[Iterable[object]]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((str(c), int(u)) for c, u in codes))  # type: ignore[call-overload]


def _baseline(session: Session, sub: BillingSubmission, patients: set[int] | None) -> dict[int, _State]:
    """The newest acknowledged state per patient-month: the snapshot, then each acknowledgement."""
    lines = select(BillingSubmissionLine.patient_id, BillingSubmissionLine.codes, BillingSubmissionLine.status,
                   BillingSubmissionLine.counted_minutes).where(BillingSubmissionLine.submission_id == sub.id)
    acks = select(BillingAdjustmentAck.patient_id, BillingAdjustmentAck.codes_after,
                  BillingAdjustmentAck.status_after, BillingAdjustmentAck.minutes_after) \
        .where(BillingAdjustmentAck.submission_id == sub.id).order_by(BillingAdjustmentAck.id)
    if patients is not None:
        lines = lines.where(BillingSubmissionLine.patient_id.in_(patients))
        acks = acks.where(BillingAdjustmentAck.patient_id.in_(patients))
    state: dict[int, _State] = {pid: (_norm(codes), status, minutes)
                                for pid, codes, status, minutes in session.execute(lines)}
    for pid, codes, status, minutes in session.execute(acks):
        state[pid] = (_norm(codes), status, minutes)
    return state


_ABSENT: _State = ((), "absent", 0)


def _state(row: PatientMonth | None) -> _State:
    if row is None:
        return _ABSENT
    return (_norm(row.codes), row.status, row.counted_minutes)


def _current(session: Session, month: Month, patients: set[int] | None, today: date | None) -> dict[int, PatientMonth]:
    packet = compute_billing_month(session, month, today=today, only_patients=patients)
    return {r.patient_id: r for r in packet.rows}


def _compare(session: Session, sub: BillingSubmission, month: Month, touched: set[int] | None,
             writes: list[_Write], today: date | None) -> list[Adjustment]:
    before = _baseline(session, sub, touched)
    now_rows = _current(session, month, touched, today)
    changed = [pid for pid in sorted(set(before) | set(now_rows))
               if before.get(pid, _ABSENT) != _state(now_rows.get(pid))]
    if not changed:
        return []
    names = {pid: (f"{fam}, {giv}", mrn) for pid, fam, giv, mrn in session.execute(
        select(Patient.id, Patient.family_name, Patient.given_name, Patient.mrn).where(Patient.id.in_(changed)))}
    why: dict[int, list[str]] = defaultdict(list)
    for w in writes:
        if w.patient_id in names:
            line = f"{w.username} on {w.at_utc:%Y-%m-%d}: {w.summary or w.action}"
            why[w.patient_id].append(line + (f" — {w.reason}" if w.reason else ""))
    out = []
    for pid in changed:
        b, a = before.get(pid, _ABSENT), _state(now_rows.get(pid))
        name, mrn = names.get(pid, ("?", ""))
        out.append(Adjustment(month, sub.id, pid, name, mrn, b[0], b[1], b[2], a[0], a[1], a[2],
                              tuple(why[pid][-_WHY_LINES:])))
    out.sort(key=lambda a: (a.patient_name.lower(), a.mrn))
    return out


# ---- acknowledging ------------------------------------------------------------------------------


def acknowledge_adjustment(
    session: Session, actor: Actor, month: Month | date | str, patient_id: int, *,
    note: str | None = None, shown: Adjustment | None = None, today: date | None = None,
) -> Adjustment:
    """The lead has passed the change on to the billing office: the current state becomes the one
    later changes are compared with. Clinic lead only; audited.

    `shown`: the adjustment as the lead read it. The acknowledgement appends a row (nothing is
    edited in place, so there is no row version): what must not slip through is a change made
    after the lead read the figures — acknowledging would record figures the billing office was
    never told and that change would never be listed. So it is refused (EditConflict) when the
    month's codes, status or counted minutes are no longer the ones shown."""
    check(actor, Permission.RUN_BILLING_REPORT)
    m = _month(month)
    sub = _submission(session, m)
    if sub is None:
        raise ValidationError(f"{m} was not marked submitted; there is nothing to acknowledge.")
    found = [a for a in find_adjustments(session, month=m, today=today, patient_id=patient_id)]
    if not found:
        raise ValidationError(f"This patient's {m} has no billing adjustment to acknowledge.")
    adj = found[0]
    if shown is not None and _after(shown) != _after(adj):
        newest = f" ({adj.changes[-1]})" if adj.changes and len(adj.changes[-1]) <= 160 else ""
        raise EditConflict(
            f"This patient's {m} billing changed again after you opened it{newest}: now {adj.codes_text}, "
            f"{adj.minutes_text}. Nothing was acknowledged; review the new figures and acknowledge again.")
    session.add(BillingAdjustmentAck(
        submission_id=sub.id, patient_id=patient_id, codes_before=[list(c) for c in adj.codes_before],
        status_before=adj.status_before, minutes_before=adj.minutes_before,
        codes_after=[list(c) for c in adj.codes_after], status_after=adj.status_after,
        minutes_after=adj.minutes_after, acknowledged_at=utcnow(), acknowledged_by_id=actor.user_id,
        note=(note or "").strip() or None,
    ))
    record(session, actor, "billing.adjustment_ack", patient_id=patient_id, object_type="billing_submission",
           object_id=sub.id, summary=f"Billing adjustment {m} acknowledged: {adj.codes_text}, {adj.minutes_text}",
           detail={"month": str(m), "note": (note or "").strip() or None})
    return adj
