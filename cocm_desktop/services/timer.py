"""The crash-proof timer: a database row (RunningTimer) from the moment it starts.

One timer per staff member. The GUI calls `heartbeat` about every 30 s; if the app dies, the row
stays, and on the next start (`current_timer` shows it with `stale=True`) the user chooses one of
`RecoveryChoice`: stop at the last heartbeat, stop now, or discard. Pause/resume keep the
running segments in the row, so paused time is never logged and a timer paused to work on
someone else does not overlap that work. Stopping writes time entries through
services.time_log.write_span: one per running segment per local day (split at midnight and so
at month end), sharing a split_group.

One timer per person across workstations: the row names the computer it runs on (its host name,
never PHI) and `running_timer.staff_id` is unique, so two computers starting one at the same
moment cannot both succeed: the loser gets TimerAlreadyRunning saying where and since when, and
the person may stop it or take it over here (`adopt_timer`). A workstation whose timer was
taken over sees it in `heartbeat` (`TimerState.workstation` is another computer's).

Times are the clinic's local wall-clock (naive) datetimes; every function takes `now` for tests.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cocm_desktop.domain.actor import Actor
from cocm_desktop.domain.roles import Permission
from cocm_desktop.store.models import RunningTimer

from .common import NotFound, ValidationError, check, local_now, record
from .time_log import MAX_MINUTES, TimeEntryView, activity_label, check_activity, resolve_episode, write_span

__all__ = [
    "HEARTBEAT_SECONDS",
    "STALE_AFTER",
    "RecoveryChoice",
    "StopResult",
    "TimerAlreadyRunning",
    "TimerState",
    "adopt_timer",
    "current_timer",
    "discard_timer",
    "heartbeat",
    "pause_timer",
    "recover_timer",
    "resume_timer",
    "start_timer",
    "stop_timer",
    "this_workstation",
]

HEARTBEAT_SECONDS = 30
# A timer whose heartbeat is older than this was left behind by a crash (or a closed laptop).
STALE_AFTER = timedelta(seconds=HEARTBEAT_SECONDS * 4)
_MAX_RUN = timedelta(minutes=MAX_MINUTES)


class RecoveryChoice(StrEnum):
    STOP_AT_HEARTBEAT = "stop_at_heartbeat"
    STOP_NOW = "stop_now"
    DISCARD = "discard"


@dataclass(frozen=True)
class TimerState:
    id: int
    staff_id: int
    patient_id: int
    episode_id: int | None
    activity: str
    activity_label: str
    note: str | None
    started_at: datetime
    heartbeat_at: datetime
    paused: bool
    running_seconds: int  # running (not paused) time up to `as_of`
    as_of: datetime
    stale: bool  # heartbeat older than STALE_AFTER at `as_of`: offer recovery
    seconds_at_heartbeat: int  # what "stop at the last heartbeat" would log
    workstation: str | None = None  # the computer it runs on (None: started before 0017)

    def runs_elsewhere(self, workstation: str | None = None) -> bool:
        """Started or taken over on another computer than `workstation` (default: this one)."""
        return self.workstation is not None and self.workstation != (workstation or this_workstation())


def this_workstation() -> str:
    """This computer's name as the timer row keeps it (a host name: never PHI)."""
    return (socket.gethostname() or "this computer").strip()[:64] or "this computer"


@dataclass(frozen=True)
class StopResult:
    entries: tuple[TimeEntryView, ...]
    minutes: int
    discarded: bool
    message: str  # plain words for the status bar, e.g. "42 min logged (2 days)."


class TimerAlreadyRunning(ValidationError):
    """start_timer refused: this person already has a timer (maybe left by a crash, maybe on
    another computer). `.timer` is it; the message says where and since when (no patient: the
    GUI adds the name for the person it belongs to)."""

    def __init__(self, timer: TimerState, workstation: str | None = None) -> None:
        self.timer = timer
        here = workstation or this_workstation()
        where = ""
        if timer.workstation and timer.workstation != here:
            where = f" on the computer “{timer.workstation}”"
        what = "left running" if timer.stale else "running"
        super().__init__(
            f"You already have a timer {what}{where} since {timer.started_at:%Y-%m-%d %H:%M}; "
            "stop it or take it over here first."
        )


def _segments(row: RunningTimer) -> list[tuple[datetime, datetime | None]]:
    return row.segment_times


def _store_segments(row: RunningTimer, segs: list[tuple[datetime, datetime | None]]) -> None:
    row.segment_times = segs


def _closed_at(
    segs: list[tuple[datetime, datetime | None]], until: datetime
) -> list[tuple[datetime, datetime]]:
    """Running segments clipped to end no later than `until`; open segments end at `until`."""
    out = []
    for start, end in segs:
        stop = until if end is None else min(end, until)
        if stop > start:
            out.append((start, stop))
    return out


def _seconds(segs: list[tuple[datetime, datetime]]) -> int:
    return int(sum((e - s).total_seconds() for s, e in segs))


def _state(row: RunningTimer, now: datetime) -> TimerState:
    segs = _segments(row)
    return TimerState(
        id=row.id,
        staff_id=row.staff_id,
        patient_id=row.patient_id,
        episode_id=row.episode_id,
        activity=row.activity,
        activity_label=activity_label(row.activity),
        note=row.note,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        paused=row.paused_at is not None,
        running_seconds=_seconds(_closed_at(segs, max(now, row.heartbeat_at))),
        as_of=now,
        stale=now - row.heartbeat_at > STALE_AFTER,
        seconds_at_heartbeat=_seconds(_closed_at(segs, row.heartbeat_at)),
        workstation=row.workstation,
    )


def _mine(session: Session, actor: Actor) -> RunningTimer | None:
    return session.scalar(select(RunningTimer).where(RunningTimer.staff_id == actor.user_id))


def _require_mine(session: Session, actor: Actor) -> RunningTimer:
    row = _mine(session, actor)
    if row is None:
        raise NotFound("You have no timer running.")
    return row


def current_timer(session: Session, actor: Actor, *, now: datetime | None = None) -> TimerState | None:
    """Your timer, if any. At app start, a timer with `stale=True` was left by a crash: offer
    `recover_timer` with the three choices."""
    row = _mine(session, actor)
    return None if row is None else _state(row, now or local_now())


def start_timer(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    activity: str,
    episode_id: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
    workstation: str | None = None,
) -> TimerState:
    """Start timing work on a patient on this computer (`workstation`: its name, default the
    host name). Raises TimerAlreadyRunning (with `.timer`, saying where) if you have one —
    also when another computer starts one at the same moment (the database's unique staff_id
    decides who wins, on both engines)."""
    check(actor, Permission.LOG_TIME)
    now = now or local_now()
    workstation = (workstation or this_workstation())[:64]
    existing = _mine(session, actor)
    if existing is not None:
        raise TimerAlreadyRunning(_state(existing, now), workstation)
    check_activity(activity)
    resolve_episode(session, patient_id, episode_id, now.date())
    row = RunningTimer(
        staff_id=actor.user_id,
        patient_id=patient_id,
        episode_id=episode_id,
        activity=activity,
        note=note,
        started_at=now,
        heartbeat_at=now,
        paused_at=None,
        paused_seconds=0,
        workstation=workstation,
    )
    _store_segments(row, [(now, None)])
    try:
        # A savepoint: when another computer's insert wins the unique staff_id (the server waits
        # for its commit, then refuses ours), this transaction lives on to read the winner.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        winner = _mine(session, actor)
        if winner is None:  # the refusal was about something else
            raise
        raise TimerAlreadyRunning(_state(winner, now), workstation) from None
    record(
        session,
        actor,
        "timer.start",
        patient_id=patient_id,
        object_type="running_timer",
        object_id=row.id,
        summary=f"Timer started: {activity_label(activity)}",
    )
    return _state(row, now)


def heartbeat(session: Session, actor: Actor, *, now: datetime | None = None,
              workstation: str | None = None) -> TimerState | None:
    """Proof of life every ~30 s from `workstation` (default this computer). Returns the timer
    (None if there is none). A timer taken over by another computer is returned unchanged: its
    `workstation` tells this one to stop showing it. Not audited."""
    row = _mine(session, actor)
    if row is None:
        return None
    now = now or local_now()
    workstation = (workstation or this_workstation())[:64]
    if row.workstation is not None and row.workstation != workstation:
        return _state(row, now)
    if now > row.heartbeat_at:
        row.heartbeat_at = now
    session.flush()
    return _state(row, now)


def adopt_timer(session: Session, actor: Actor, *, now: datetime | None = None,
                workstation: str | None = None) -> TimerState:
    """Take over your timer running on another computer: it keeps its start and its time, and
    from now on runs here (the other computer's heartbeat sees it moved). Audited."""
    check(actor, Permission.LOG_TIME)
    row = _require_mine(session, actor)
    now = max(now or local_now(), row.heartbeat_at)
    workstation = (workstation or this_workstation())[:64]
    previous = row.workstation
    row.workstation = workstation
    row.heartbeat_at = now
    session.flush()
    if previous != workstation:
        record(session, actor, "timer.adopt", patient_id=row.patient_id, object_type="running_timer",
               object_id=row.id, summary="Timer taken over on another computer",
               detail={"from": previous, "to": workstation})
    return _state(row, now)


def pause_timer(session: Session, actor: Actor, *, now: datetime | None = None) -> TimerState:
    row = _require_mine(session, actor)
    now = max(now or local_now(), row.heartbeat_at)
    if row.paused_at is not None:
        return _state(row, now)
    segs = _segments(row)
    if segs and segs[-1][1] is None:
        segs[-1] = (segs[-1][0], now)
    _store_segments(row, segs)
    row.paused_at = now
    row.heartbeat_at = now
    session.flush()
    return _state(row, now)


def resume_timer(session: Session, actor: Actor, *, now: datetime | None = None) -> TimerState:
    row = _require_mine(session, actor)
    now = max(now or local_now(), row.heartbeat_at)
    if row.paused_at is None:
        return _state(row, now)
    row.paused_seconds = (row.paused_seconds or 0) + int((now - row.paused_at).total_seconds())
    segs = _segments(row)
    segs.append((now, None))
    _store_segments(row, segs)
    row.paused_at = None
    row.heartbeat_at = now
    session.flush()
    return _state(row, now)


def _finish(
    session: Session,
    actor: Actor,
    row: RunningTimer,
    until: datetime,
    how: str,
    note: str | None,
    billed_elsewhere: str | None,
    counts_as_care_management: bool | None,
) -> StopResult:
    segs = _closed_at(_segments(row), until)
    running = timedelta(seconds=_seconds(segs))
    if running > _MAX_RUN:
        raise ValidationError(
            f"The timer has run for more than 24 hours ({running // timedelta(hours=1)} h); "
            "stop it at the last heartbeat, enter the time by hand, or discard it."
        )
    patient_id, timer_id = row.patient_id, row.id
    text = row.note if note is None else note
    entries = write_span(
        session,
        actor,
        patient_id=patient_id,
        episode_id=row.episode_id,
        segments=segs,
        activity=row.activity,
        source="timer",
        note=text,
        billed_elsewhere=billed_elsewhere,
        counts_as_care_management=counts_as_care_management,
    )
    session.delete(row)
    session.flush()
    minutes = sum(e.minutes for e in entries)
    days = len({e.local_date for e in entries})
    seconds = _seconds(segs)
    exact = f"{seconds // 60} min {seconds % 60} s"
    if not entries:
        message = "The timer did not run: nothing logged."
    elif seconds < 60:
        message = (f"{seconds} s logged: under a minute, kept exactly; the month adds exact times "
                   "before rounding down to whole minutes.")
    else:
        message = f"{exact} logged" + (f" ({days} days)." if days > 1 else ".")
    record(
        session,
        actor,
        f"timer.{how}",
        patient_id=patient_id,
        object_type="running_timer",
        object_id=timer_id,
        summary=f"Timer stopped ({how.replace('_', ' ')}): {minutes} min",
        detail={"entries": [e.id for e in entries]},
    )
    for e in entries:
        record(
            session,
            actor,
            "time.add",
            patient_id=patient_id,
            object_type="time_entry",
            object_id=e.id,
            summary=f"{e.minutes} min {e.activity_label} on {e.local_date.isoformat()} (timer)",
        )
    return StopResult(tuple(entries), minutes, False, message)


def stop_timer(
    session: Session,
    actor: Actor,
    *,
    now: datetime | None = None,
    note: str | None = None,
    billed_elsewhere: str | None = None,
    counts_as_care_management: bool | None = None,
) -> StopResult:
    """Stop and log: one entry per running segment per local day (midnight/month-end splits)."""
    check(actor, Permission.LOG_TIME)
    row = _require_mine(session, actor)
    now = max(now or local_now(), row.heartbeat_at)
    return _finish(session, actor, row, now, "stop", note, billed_elsewhere, counts_as_care_management)


def discard_timer(session: Session, actor: Actor, *, now: datetime | None = None) -> StopResult:
    """Throw the running timer away: nothing is logged (audited)."""
    check(actor, Permission.LOG_TIME)
    row = _require_mine(session, actor)
    secs = _seconds(_closed_at(_segments(row), max(now or local_now(), row.heartbeat_at)))
    patient_id, timer_id = row.patient_id, row.id
    session.delete(row)
    session.flush()
    record(
        session,
        actor,
        "timer.discard",
        patient_id=patient_id,
        object_type="running_timer",
        object_id=timer_id,
        summary=f"Timer discarded ({secs // 60} min not logged)",
    )
    return StopResult((), 0, True, "Timer discarded; nothing logged.")


def recover_timer(
    session: Session, actor: Actor, choice: RecoveryChoice | str, *, now: datetime | None = None
) -> StopResult:
    """After a crash: stop at the last heartbeat, stop now, or discard."""
    check(actor, Permission.LOG_TIME)
    try:
        choice = RecoveryChoice(choice)
    except ValueError:
        raise ValidationError(
            f"Recovery: “{choice}” is not one of stop at last heartbeat, stop now, discard."
        ) from None
    row = _require_mine(session, actor)
    if choice is RecoveryChoice.DISCARD:
        return discard_timer(session, actor, now=now)
    if choice is RecoveryChoice.STOP_AT_HEARTBEAT:
        return _finish(session, actor, row, row.heartbeat_at, "recover_at_heartbeat", None, None, None)
    until = max(now or local_now(), row.heartbeat_at)
    return _finish(session, actor, row, until, "recover_now", None, None, None)
