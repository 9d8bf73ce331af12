"""The time log: minutes a staff member spent on a patient, manual or from the timer.

Rules kept here (the counting rules live in domain.timelog):
- A person logs their own time (`Permission.LOG_TIME`); the entry's staff member is the actor.
- Stored rows are one local calendar day each: a span across midnight (or month end) is split
  with `domain.timelog.split_at_midnight`, the pieces share a `split_group`.
- A timer's rows keep their exact start and end (seconds); `minutes` is each row's whole minutes
  and a run under a minute is kept (0 min). The month adds the exact durations, then rounds down.
- Refused with a plain message: minutes that are not a whole number, zero or negative, more than
  24 hours, a date or time in the future, an end before the start, an unknown activity, a patient
  or episode that does not exist (or does not belong together).
- The treating clinician's time counts toward CoCM only when marked as care-manager work
  (`counts_as_care_management`; default True for care managers, False for clinicians);
  consultant time is logged but never counted (the domain decides; we just store who).
- Time billed as another service (psychotherapy, psychiatric evaluation, …) is kept and marked
  (`billed_elsewhere`), never counted.
- Corrections (workflow-and-rules.md): by the person whose time it is or the clinic lead, each
  with a reason kept in the history and the audit. `delete_time_entry` voids an entry logged in
  error (a soft delete: the row stays, shown struck through on demand, and counts nowhere);
  `update_time_entry` amends its minutes, day or activity (the old values stay in the history).
  Registry minutes, overlap days and billing follow from the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cocm_desktop.domain.activities import ACTIVITIES
from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.corrections import CorrectionAction
from cocm_desktop.domain.episode_months import Month
from cocm_desktop.domain.roles import Permission, Role
from cocm_desktop.domain.timelog import split_at_midnight
from cocm_desktop.store.models import Contact, Episode, Patient, TimeEntry, User

from ._clinical import VOIDED_PATIENT
from .common import NotFound, ValidationError, check, local_now, not_in_future, record
from .corrections import check_corrector, log_correction, reason_of
from .versions import expect_version

__all__ = [
    "ACTIVITIES",
    "MAX_MINUTES",
    "TimeEntryView",
    "activity_label",
    "add_manual_time",
    "delete_time_entry",
    "get_time_entry",
    "list_time",
    "mark_billed_elsewhere",
    "resolve_episode",
    "update_time_entry",
    "write_span",
]

MAX_MINUTES = 24 * 60


def activity_label(value: str) -> str:
    return ACTIVITIES.get(value, value)


@dataclass(frozen=True)
class TimeEntryView:
    id: int
    patient_id: int
    episode_id: int | None
    staff_id: int
    staff_name: str
    staff_role: str
    local_date: date
    started_at: datetime | None
    ended_at: datetime | None
    minutes: int
    activity: str
    activity_label: str
    source: str  # timer | manual | contact
    note: str | None
    billed_elsewhere: str | None
    counts_as_care_management: bool
    split_group: str | None
    deleted: bool  # voided: logged in error, counts nowhere
    delete_reason: str | None
    deleted_by_id: int | None = None
    deleted_at: datetime | None = None
    row_version: int = 1  # what an edit form passes back as `expected_version` (services.versions)


def _view(t: TimeEntry, staff: User) -> TimeEntryView:
    return TimeEntryView(
        t.id,
        t.patient_id,
        t.episode_id,
        t.staff_id,
        staff.display_name,
        staff.role,
        t.local_date,
        t.started_at,
        t.ended_at,
        t.minutes,
        t.activity,
        activity_label(t.activity),
        t.source,
        t.note,
        t.billed_elsewhere,
        bool(t.counts_as_care_management),
        t.split_group,
        t.deleted_at is not None,
        t.delete_reason,
        t.deleted_by_id,
        t.deleted_at,
        t.row_version,
    )


# ---- validation helpers (shared with services.timer) ---------------------------------------------


def check_activity(activity: str) -> str:
    if activity not in ACTIVITIES:
        known = ", ".join(ACTIVITIES.values())
        raise ValidationError(f"Activity: “{activity}” is not a known activity (choose one of: {known}).")
    return activity


def resolve_episode(session: Session, patient_id: int, episode_id: int | None, day: date) -> int | None:
    """Check the patient (and episode) exist and belong together; without an episode, use the
    patient's episode open on `day` (the latest enrollment), else None."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient does not exist.")
    if patient.voided_at is not None:
        raise ValidationError(VOIDED_PATIENT)
    if episode_id is not None:
        owner = session.scalar(select(Episode.patient_id).where(Episode.id == episode_id))
        if owner is None:
            raise NotFound("That episode of care does not exist.")
        if owner != patient_id:
            raise ValidationError("Episode: that episode of care belongs to another patient.")
        return episode_id
    return session.scalar(
        select(Episode.id)
        .where(
            Episode.patient_id == patient_id,
            Episode.enrolled_on <= day,
            (Episode.closed_on.is_(None)) | (Episode.closed_on >= day),
        )
        .order_by(Episode.enrolled_on.desc(), Episode.id.desc())
        .limit(1)
    )


def _default_counts(actor: Actor, counts: bool | None) -> bool:
    if counts is not None:
        return bool(counts)
    return actor.role == Role.CARE_MANAGER


def _minutes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("Minutes: give a whole number of minutes.")
    if value < 0:
        raise ValidationError(f"Minutes: {value} is negative; give the minutes spent.")
    if value == 0:
        raise ValidationError("Minutes: 0 minutes is nothing to log.")
    if value > MAX_MINUTES:
        raise ValidationError(f"Minutes: {value} min is more than 24 hours; split it into separate days.")
    return value


def _billed(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > 120:
        raise ValidationError("Billed elsewhere: name the service in at most 120 characters.")
    return value or None


def write_span(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    episode_id: int | None,
    segments: Sequence[tuple[datetime, datetime]],
    activity: str,
    source: str,
    note: str | None = None,
    billed_elsewhere: str | None = None,
    counts_as_care_management: bool | None = None,
) -> list[TimeEntryView]:
    """Store running time (one or more segments of one timer run or one manual span), one row per
    segment per local day (split with domain.timelog.split_at_midnight), sharing a split_group.
    A timer's pieces keep their exact clock span (seconds) and log its whole minutes; a piece under
    a minute is stored too (0 min): the month adds exact durations before rounding down
    (domain.timelog). A manual span's pieces under a minute are not stored. Validated by the
    callers; not audited here."""
    group = str(uuid.uuid4())
    staff = session.get(User, actor.user_id)
    if staff is None:
        raise NotFound("Your user account was not found.")
    counts = _default_counts(actor, counts_as_care_management)
    rows: list[TimeEntry] = []
    episodes: dict[date, int | None] = {}
    for start, end in segments:
        for piece in split_at_midnight(start, end):
            minutes = piece.minutes
            if source == "timer":
                if piece.end <= piece.start:
                    continue
                minutes = (piece.end - piece.start) // timedelta(minutes=1)  # its own span's minutes
            elif minutes <= 0:
                continue
            if piece.local_date not in episodes:
                episodes[piece.local_date] = resolve_episode(
                    session, patient_id, episode_id, piece.local_date
                )
            row = TimeEntry(
                patient_id=patient_id,
                episode_id=episodes[piece.local_date],
                staff_id=actor.user_id,
                local_date=piece.local_date,
                started_at=piece.start,
                ended_at=piece.end,
                minutes=minutes,
                activity=activity,
                source=source,
                note=note,
                billed_elsewhere=billed_elsewhere,
                counts_as_care_management=counts,
                split_group=group,
                created_by_id=actor.user_id,
            )
            session.add(row)
            rows.append(row)
    if len(rows) == 1:
        rows[0].split_group = None  # nothing was split
    session.flush()
    return [_view(r, staff) for r in rows]


def add_manual_time(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    activity: str,
    minutes: int | None = None,
    local_date: date | None = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    episode_id: int | None = None,
    note: str | None = None,
    billed_elsewhere: str | None = None,
    counts_as_care_management: bool | None = None,
    now: datetime | None = None,
) -> list[TimeEntryView]:
    """Log your own time by hand: either `local_date` + `minutes`, or `started_at` + `ended_at`
    (optionally with fewer `minutes` than the span, e.g. an interrupted call). A span across
    midnight becomes one entry per day. Returns the stored entries."""
    check(actor, Permission.LOG_TIME)
    now = now or local_now()
    check_activity(activity)
    billed = _billed(billed_elsewhere)
    if (started_at is None) != (ended_at is None):
        raise ValidationError("Time: give both the start and the end time, or just the minutes and the date.")
    staff = session.get(User, actor.user_id)
    if staff is None:
        raise NotFound("Your user account was not found.")
    if started_at is not None and ended_at is not None:
        if ended_at <= started_at:
            raise ValidationError("End time: it must be after the start time.")
        not_in_future(ended_at, "The end time", now)
        span = ended_at - started_at
        if span > timedelta(minutes=MAX_MINUTES):
            raise ValidationError("Time: more than 24 hours between start and end; check the dates.")
        if local_date is not None and local_date != started_at.date():
            raise ValidationError("Date: it differs from the start time's date.")
        span_minutes = span // timedelta(minutes=1)
        if minutes is not None:
            _minutes(minutes)
            if minutes > span_minutes:
                raise ValidationError(
                    f"Minutes: {minutes} min is more than the {span_minutes} min between start and end."
                )
        elif span_minutes == 0:
            raise ValidationError("Time: less than a minute between start and end; nothing to log.")
        resolve_episode(session, patient_id, episode_id, started_at.date())
        if minutes is None or minutes == span_minutes:
            views = write_span(
                session,
                actor,
                patient_id=patient_id,
                episode_id=episode_id,
                segments=[(started_at, ended_at)],
                activity=activity,
                source="manual",
                note=note,
                billed_elsewhere=billed,
                counts_as_care_management=counts_as_care_management,
            )
        else:
            views = _write_partial_span(
                session,
                actor,
                staff,
                patient_id,
                episode_id,
                started_at,
                ended_at,
                minutes,
                activity,
                note,
                billed,
                counts_as_care_management,
            )
    else:
        if local_date is None:
            raise ValidationError("Date: give the day the time was spent.")
        if isinstance(local_date, datetime):
            local_date = local_date.date()
        not_in_future(local_date, "The date", now)
        minutes = _minutes(minutes)
        eid = resolve_episode(session, patient_id, episode_id, local_date)
        row = TimeEntry(
            patient_id=patient_id,
            episode_id=eid,
            staff_id=actor.user_id,
            local_date=local_date,
            minutes=minutes,
            activity=activity,
            source="manual",
            note=note,
            billed_elsewhere=billed,
            counts_as_care_management=_default_counts(actor, counts_as_care_management),
            created_by_id=actor.user_id,
        )
        session.add(row)
        session.flush()
        views = [_view(row, staff)]
    total = sum(v.minutes for v in views)
    for v in views:
        record(
            session,
            actor,
            "time.add",
            patient_id=patient_id,
            object_type="time_entry",
            object_id=v.id,
            summary=f"{v.minutes} min {v.activity_label} on {v.local_date.isoformat()} (manual)",
            detail={"split_group": v.split_group, "total_minutes": total} if v.split_group else None,
        )
    return views


def _write_partial_span(
    session,
    actor,
    staff,
    patient_id,
    episode_id,
    start,
    end,
    minutes,
    activity,  # type: ignore[no-untyped-def]
    note,
    billed,
    counts,
) -> list[TimeEntryView]:
    """A manual span with fewer minutes than its clock span: minutes shared out per day."""
    group = str(uuid.uuid4())
    pieces = [p for p in split_at_midnight(start, end, minutes) if p.minutes > 0]
    rows = []
    for p in pieces:
        row = TimeEntry(
            patient_id=patient_id,
            episode_id=resolve_episode(session, patient_id, episode_id, p.local_date),
            staff_id=actor.user_id,
            local_date=p.local_date,
            started_at=p.start,
            ended_at=p.end,
            minutes=p.minutes,
            activity=activity,
            source="manual",
            note=note,
            billed_elsewhere=billed,
            counts_as_care_management=_default_counts(actor, counts),
            split_group=group if len(pieces) > 1 else None,
            created_by_id=actor.user_id,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return [_view(r, staff) for r in rows]


def get_time_entry(session: Session, actor: Actor, entry_id: int) -> TimeEntryView:
    check(actor, Permission.READ_CHART)
    row = session.get(TimeEntry, entry_id)
    if row is None:
        raise NotFound("That time entry does not exist.")
    staff = session.get(User, row.staff_id)
    assert staff is not None
    return _view(row, staff)


def list_time(
    session: Session,
    actor: Actor,
    *,
    patient_id: int | None = None,
    month: date | Month | None = None,
    staff_id: int | None = None,
    include_deleted: bool = False,
) -> list[TimeEntryView]:
    """Time entries, oldest first, filtered by patient, month (any date in it) and/or staff."""
    check(actor, Permission.READ_CHART)
    q = select(TimeEntry, User).join(User, User.id == TimeEntry.staff_id)
    if patient_id is not None:
        q = q.where(TimeEntry.patient_id == patient_id)
    if staff_id is not None:
        q = q.where(TimeEntry.staff_id == staff_id)
    if month is not None:
        m = Month.of(month)
        q = q.where(TimeEntry.local_date >= m.first_day, TimeEntry.local_date <= m.last_day)
    if not include_deleted:
        q = q.where(TimeEntry.deleted_at.is_(None))
    q = q.order_by(TimeEntry.local_date, TimeEntry.started_at, TimeEntry.id)
    return [_view(t, u) for t, u in session.execute(q)]


def _own_entry(session: Session, actor: Actor, entry_id: int, expected_version: int | None = None) -> TimeEntry:
    check(actor, Permission.LOG_TIME)
    row = session.get(TimeEntry, entry_id)
    if row is None or row.deleted_at is not None:
        raise NotFound("That time entry does not exist (or was deleted).")
    if row.staff_id != actor.user_id:
        raise ValidationError("Only the person who logged this time can change or delete it.")
    expect_version(session, actor, row, expected_version)
    return row


def _correctable_entry(session: Session, actor: Actor, entry_id: int, expected_version: int | None = None) -> TimeEntry:
    row = session.get(TimeEntry, entry_id)
    if row is None:
        raise NotFound("That time entry does not exist.")
    check_corrector(actor, "time_entry", made_by=row.staff_id)
    expect_version(session, actor, row, expected_version)
    if row.deleted_at is not None:
        raise ValidationError("This time entry was already voided (logged in error); it counts nowhere.")
    return row


def delete_time_entry(
    session: Session,
    actor: Actor,
    entry_id: int,
    reason: str,
    *,
    whole_run: bool = False,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Void a time entry logged in error, with a reason (by the person whose time it is or the
    clinic lead). The row stays, kept for the history, and is no longer counted anywhere.
    `whole_run`: also the other day-pieces of the same timer run. Returns the voided ids."""
    row = _correctable_entry(session, actor, entry_id, expected_version)
    why = reason_of(reason, CorrectionAction.VOID)
    rows = [row]
    if whole_run and row.split_group:
        rows = list(
            session.scalars(
                select(TimeEntry).where(
                    TimeEntry.split_group == row.split_group, TimeEntry.deleted_at.is_(None)
                )
            )
        )
    stamp = now or local_now()
    for r in rows:
        r.deleted_at = stamp
        r.deleted_by_id = actor.user_id
        r.delete_reason = why
    session.flush()
    for r in rows:
        log_correction(
            session, actor, patient_id=r.patient_id, object_type="time_entry", object_id=r.id,
            action=CorrectionAction.VOID, reason=why, changes=None, now=stamp, audit_action="time.void",
            summary=f"{r.minutes} min on {r.local_date.isoformat()} voided (logged in error)",
        )
    return [r.id for r in rows]


def update_time_entry(
    session: Session,
    actor: Actor,
    entry_id: int,
    *,
    reason: str,
    minutes: int | None = None,
    local_date: date | None = None,
    activity: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> TimeEntryView:
    """Amend a time entry's minutes, day or activity, with a reason (by the person whose time it
    is or the clinic lead); the old values stay in the history.

    A timed entry whose clock span was its minutes keeps starting when it started and now ends
    `minutes` later (so an overlap it no longer has stops counting); one with fewer minutes than
    its span keeps its span. Moving the day moves the clock times with it, and the entry to the
    patient's episode open that day when its own episode does not cover it. A contact's minutes
    follow the amended minutes of the time entry it made."""
    row = _correctable_entry(session, actor, entry_id, expected_version)
    why = reason_of(reason, CorrectionAction.AMEND)
    now = now or local_now()
    before = {"minutes": row.minutes, "local_date": row.local_date, "activity": row.activity,
              "started_at": row.started_at, "ended_at": row.ended_at, "episode_id": row.episode_id}
    new_day = row.local_date
    if local_date is not None:
        new_day = local_date.date() if isinstance(local_date, datetime) else local_date
        not_in_future(new_day, "The date", now)
    new_minutes = row.minutes if minutes is None else _minutes(minutes)
    new_activity = row.activity if activity is None else check_activity(activity)
    start, end = row.started_at, row.ended_at
    if start is not None and end is not None:
        span = (end - start) // timedelta(minutes=1)
        shift = new_day - row.local_date
        start = start + shift
        if span == row.minutes:  # its clock span was its minutes: the end follows them
            end = start + timedelta(minutes=new_minutes)
            if end.date() != new_day and end != datetime.combine(new_day + timedelta(days=1), datetime.min.time()):
                raise ValidationError(
                    f"Minutes: {new_minutes} min from {start:%H:%M} runs past midnight; "
                    "log the time after midnight on the next day."
                )
        else:
            end = end + shift
            if new_minutes > span:
                raise ValidationError(
                    f"Minutes: {new_minutes} min is more than the {span} min between start and end."
                )
        not_in_future(end, "The end time", now)
    episode_id = row.episode_id
    if new_day != row.local_date:
        covers = episode_id is not None and session.scalar(select(Episode.id).where(
            Episode.id == episode_id, Episode.enrolled_on <= new_day,
            (Episode.closed_on.is_(None)) | (Episode.closed_on >= new_day)))
        if not covers:
            episode_id = resolve_episode(session, row.patient_id, None, new_day)
    after = {"minutes": new_minutes, "local_date": new_day, "activity": new_activity,
             "started_at": start, "ended_at": end, "episode_id": episode_id}
    changes = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    if not changes:
        raise ValidationError("Nothing to amend: the minutes, day and activity are what is recorded already.")
    row.minutes, row.local_date, row.activity = new_minutes, new_day, new_activity
    row.started_at, row.ended_at, row.episode_id = start, end, episode_id
    if "minutes" in changes and row.contact_id is not None:
        contact = session.get(Contact, row.contact_id)
        if contact is not None and contact.minutes != new_minutes:
            changes["contact_minutes"] = (contact.minutes, new_minutes)
            contact.minutes = new_minutes
    session.flush()
    shown = {"minutes": "minutes", "local_date": "day", "activity": "activity"}
    what = ", ".join(f"{label} {_shown(before[k])} \u2192 {_shown(after[k])}"
                     for k, label in shown.items() if k in changes)
    log_correction(session, actor, patient_id=row.patient_id, object_type="time_entry", object_id=row.id,
                   action=CorrectionAction.AMEND, reason=why, changes=changes, now=now, audit_action="time.amend",
                   summary=f"Time entry amended: {what}")
    staff = session.get(User, row.staff_id)
    assert staff is not None
    return _view(row, staff)


def _shown(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return activity_label(value) if isinstance(value, str) else str(value)


def mark_billed_elsewhere(
    session: Session, actor: Actor, entry_id: int, service: str | None, *, expected_version: int | None = None,
) -> TimeEntryView:
    """Mark your entry as billed under another service (e.g. "psychotherapy 90834"), or clear it
    with None. Marked time is kept but never counted toward CoCM minutes."""
    row = _own_entry(session, actor, entry_id, expected_version)
    row.billed_elsewhere = _billed(service)
    session.flush()
    record(
        session,
        actor,
        "time.billed_elsewhere",
        patient_id=row.patient_id,
        object_type="time_entry",
        object_id=row.id,
        summary=f"Billed elsewhere: {row.billed_elsewhere or 'cleared'}",
    )
    staff = session.get(User, row.staff_id)
    assert staff is not None
    return _view(row, staff)
