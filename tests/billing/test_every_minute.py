"""Every logged minute is counted or excluded with a reason (billing.md, "every minute accounted
for"): time before the enrollment date, and the first counted minute the initiating-visit check
uses."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from cocm_desktop.services.billing_month import billing_month
from cocm_desktop.services.billing_progress import billing_progress
from cocm_desktop.services.time_log import add_manual_time

NOW = datetime(2026, 11, 24, 17, 0)
TODAY = NOW.date()
NOV = date(2026, 11, 1)


def _log(clinic, actor, pid, day, minutes, **kw):  # type: ignore[no-untyped-def]
    with clinic.session() as s:
        return add_manual_time(s, actor, patient_id=pid, activity="follow_up_contact", local_date=day,
                               minutes=minutes, now=NOW, **kw)


def _row(clinic, actors, pid, *, exact=False):  # type: ignore[no-untyped-def]
    from cocm_desktop.services.billing_month import compute_billing_month

    with clinic.session() as s:
        if exact:
            bm = compute_billing_month(s, NOV, now=NOW, today=TODAY, exact=True)
        else:
            bm = billing_month(s, actors["lead"], NOV, now=NOW, today=TODAY)
    (row,) = [r for r in bm.rows if r.patient_id == pid]
    return row


def test_minutes_after_consent_before_enrollment_are_excluded_with_a_reason(clinic, actors, build) -> None:
    pid = build.patient()
    eid = build.episode(pid, enrolled_on=date(2026, 11, 10), consent_on=date(2026, 11, 3))
    _log(clinic, actors["cm1"], pid, date(2026, 11, 5), 20)  # after consent, before enrollment
    _log(clinic, actors["cm1"], pid, date(2026, 11, 12), 20)
    for exact in (False, True):
        row = _row(clinic, actors, pid, exact=exact)
        assert (row.logged_minutes, row.counted_minutes) == (40, 20)
        assert {e.reason: e.minutes for e in row.excluded} == {"before_enrollment": 20}
        assert row.counted_minutes + row.excluded_minutes == row.logged_minutes
        assert sum(line.logged_minutes for line in row.time_log) == row.logged_minutes
        (early,) = [line for line in row.time_log if line.local_date == date(2026, 11, 5)]
        assert early.counted_minutes == 0 and early.excluded_reason == "Before the enrollment date"
    with clinic.session() as s:
        assert billing_progress(s, NOV, [eid])[eid].minutes == 20


def test_pre_enrollment_minutes_do_not_move_the_first_counted_minute(clinic, actors, build) -> None:
    """The initiating visit on the enrollment day comes before every counted minute: the check
    passes although time was logged (and excluded) days earlier."""
    pid = build.patient()
    build.episode(pid, enrolled_on=date(2026, 11, 10), consent_on=date(2026, 11, 3),
                  initiating_visit_required=True, initiating_visit_on=date(2026, 11, 10))
    _log(clinic, actors["cm1"], pid, date(2026, 11, 5), 20)
    _log(clinic, actors["cm1"], pid, date(2026, 11, 12), 40)
    for exact in (False, True):
        row = _row(clinic, actors, pid, exact=exact)
        visit = next(c for c in row.checks if c.name == "initiating_visit")
        assert visit.status != "block", visit.reason
        assert row.codes == (("99492", 1),) and not row.blocked


# ---- counted + excluded = logged = appendix, for every row of every month ------------------------


def _assert_every_minute_accounted(bm) -> int:  # type: ignore[no-untyped-def]
    """Every row: counted + excluded = logged = the appendix's total; each line's excluded share
    carries a reason. Returns the minutes logged in the month."""
    logged = 0
    for row in bm.rows:
        appendix = sum(line.logged_minutes for line in row.time_log)
        where = f"{bm.month} {row.mrn}"
        assert row.counted_minutes + row.excluded_minutes == row.logged_minutes == appendix, (
            where, row.counted_minutes, row.excluded, row.logged_minutes, appendix)
        assert all(e.minutes > 0 and e.label for e in row.excluded), where
        for line in row.time_log:
            assert 0 <= line.counted_minutes <= line.logged_minutes, where
            if line.counted_minutes < line.logged_minutes:
                assert line.excluded_reason, (where, line)
        logged += row.logged_minutes
    return logged


def _months(first: date, last: date) -> list[date]:
    out, d = [], first.replace(day=1)
    while d <= last:
        out.append(d)
        d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return out


def test_every_minute_accounted_for_on_the_demo_clinic(demo_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from cocm_desktop.services.billing_month import compute_billing_month
    from cocm_desktop.store.database import Database
    from cocm_desktop.store.models import TimeEntry

    today = date(2026, 11, 24)
    db = Database.open(demo_path, "lead", "demo")
    try:
        with db.session() as s:
            first, last, total = s.execute(
                select(func.min(TimeEntry.local_date), func.max(TimeEntry.local_date), func.sum(TimeEntry.minutes))
                .where(TimeEntry.deleted_at.is_(None))
            ).one()
            logged = 0
            for month in _months(first, min(last, today)):
                for exact in (False, True):
                    bm = compute_billing_month(s, month, now=NOW, today=today, exact=exact)
                    n = _assert_every_minute_accounted(bm)
                logged += n
    finally:
        db.close()
    assert logged == total  # no month loses an entry either


def _random_clinic(build, actors, rng) -> None:  # type: ignore[no-untyped-def]
    """Patients with one or two episodes (CoCM or BHI, re-enrolled, closed), consent before, on or
    after enrollment or missing, and time by every role: manual minutes and clock spans that
    overlap, cross midnight, fall before consent or enrollment, billed elsewhere, voided; timer runs
    of minutes and seconds (the month adds exact durations before rounding down)."""
    staff = ["cm1", "cm2", "doc1", "doc2", "psych", "lead"]
    for n in range(14):
        pid = build.patient(family=f"Rand{n}")
        enrolled = date(2026, 6, 1) + timedelta(days=rng.randrange(0, 120))
        consent = rng.choice([enrolled, enrolled - timedelta(days=rng.randrange(1, 20)),
                              enrolled + timedelta(days=rng.randrange(1, 20)), None])
        closed = rng.choice([None, None, enrolled + timedelta(days=rng.randrange(20, 90))])
        program = rng.choice(["cocm", "cocm", "bhi"])
        eids = [build.episode(pid, enrolled_on=enrolled, consent_on=consent, program=program,
                              closed_on=closed, close_reason="completed" if closed else None,
                              status="closed" if closed else "active")]
        if closed and rng.random() < 0.6:
            again = closed + timedelta(days=rng.randrange(1, 40))
            eids.append(build.episode(pid, enrolled_on=again, consent_on=again,
                                      program=rng.choice(["cocm", "bhi"])))
        for _ in range(rng.randrange(4, 16)):
            who = rng.choice(staff)
            day = enrolled + timedelta(days=rng.randrange(-25, 150))
            if day > TODAY:
                continue
            episode = rng.choice([None, None, *eids])
            minutes = rng.randrange(1, 70)
            kw = dict(activity="follow_up", billed_elsewhere="psychotherapy 90834" if rng.random() < 0.1 else None,
                      counts_as_cm=rng.random() < 0.7, deleted=rng.random() < 0.05)
            if rng.random() < 0.5:
                start = datetime.combine(day, datetime.min.time()) + timedelta(
                    minutes=rng.choice([rng.randrange(8 * 60, 17 * 60), 23 * 60 + 40]))
                end = start + timedelta(minutes=minutes)
                if end.date() != start.date():  # one row per local day, as the service stores it
                    midnight = datetime.combine(end.date(), datetime.min.time())
                    first_part = (midnight - start) // timedelta(minutes=1)
                    build.raw_entry(pid, episode, who, start.date(), first_part, start=start, end=midnight, **kw)
                    if end > midnight and minutes - first_part > 0:
                        build.raw_entry(pid, episode, who, end.date(), minutes - first_part,
                                        start=midnight, end=end, **kw)
                    continue
                if rng.random() < 0.4:  # a timer run: exact seconds, minutes rounded down
                    end += timedelta(seconds=rng.randrange(0, 60))
                    start += timedelta(seconds=rng.randrange(0, 60))
                    if end.date() != start.date() or end <= start:
                        continue
                    build.raw_entry(pid, episode, who, day, (end - start) // timedelta(minutes=1),
                                    start=start, end=end, source="timer", **kw)
                    continue
                build.raw_entry(pid, episode, who, day, minutes, start=start, end=end, **kw)
            else:
                build.raw_entry(pid, episode, who, day, minutes, **kw)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_minute_accounted_for_on_random_clinics(clinic, actors, build, seed) -> None:  # type: ignore[no-untyped-def]
    import random

    from sqlalchemy import func, select

    from cocm_desktop.services.billing_month import compute_billing_month
    from cocm_desktop.store.models import TimeEntry

    _random_clinic(build, actors, random.Random(seed))
    with clinic.session() as s:
        live = TimeEntry.deleted_at.is_(None)
        total = s.scalar(select(func.sum(TimeEntry.minutes)).where(live))
        spans = s.execute(select(TimeEntry.started_at, TimeEntry.ended_at, TimeEntry.minutes)
                          .where(live, TimeEntry.source == "timer")).all()
        seconds = sum((e - b) // timedelta(seconds=1) - m * 60 for b, e, m in spans)
        logged = 0
        for month in _months(date(2026, 5, 1), TODAY):
            fast = compute_billing_month(s, month, now=NOW, today=TODAY)
            exact = compute_billing_month(s, month, now=NOW, today=TODAY, exact=True)
            logged += _assert_every_minute_accounted(fast)
            _assert_every_minute_accounted(exact)
            assert [(r.patient_id, r.counted_minutes, r.excluded, r.codes) for r in fast.rows] == [
                (r.patient_id, r.counted_minutes, r.excluded, r.codes) for r in exact.rows]
    # every stored minute is on a row; a timer's seconds add whole minutes, never more than they make
    assert total <= logged <= total + seconds // 60
