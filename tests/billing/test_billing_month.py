"""The billing engine through the service path: time logged with services.time_log, read back by
services.billing_month (the packet) and services.billing_progress (the registry)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cocm_desktop.domain.roles import PermissionDenied
from cocm_desktop.services.billing_month import billing_month, compute_billing_month
from cocm_desktop.services.billing_progress import billing_progress
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.time_log import (
    add_manual_time,
    delete_time_entry,
    list_time,
    mark_billed_elsewhere,
)
from cocm_desktop.store.models import AuditRecord, TimeEntry

NOW = datetime(2026, 11, 24, 17, 0)
TODAY = NOW.date()
NOV = date(2026, 11, 1)


def log(clinic, actor, pid, day, minutes, activity="follow_up_contact", **kw):  # type: ignore[no-untyped-def]
    with clinic.session() as s:
        return add_manual_time(
            s, actor, patient_id=pid, activity=activity, local_date=day, minutes=minutes, now=NOW, **kw
        )


def log_span(clinic, actor, pid, start, end, **kw):  # type: ignore[no-untyped-def]
    with clinic.session() as s:
        return add_manual_time(
            s,
            actor,
            patient_id=pid,
            activity="care_coordination",
            started_at=start,
            ended_at=end,
            now=NOW,
            **kw,
        )


def month_row(clinic, actors, pid, month=NOV):  # type: ignore[no-untyped-def]
    with clinic.session() as s:
        bm = billing_month(s, actors["lead"], month, now=NOW, today=TODAY)
    (row,) = [r for r in bm.rows if r.patient_id == pid]
    return row


def progress(clinic, eid, month=NOV):  # type: ignore[no-untyped-def]
    with clinic.session() as s:
        return billing_progress(s, month, [eid])[eid]


# Expected codes written from billing.md's table, not computed by the engine under test.
BOUNDARIES = [
    # (program, initial?, minutes, expected codes)
    ("cocm", True, 15, ()),
    ("cocm", True, 16, (("G2214", 1),)),
    ("cocm", True, 35, (("G2214", 1),)),
    ("cocm", True, 36, (("99492", 1),)),
    ("cocm", True, 85, (("99492", 1),)),
    ("cocm", True, 86, (("99492", 1), ("99494", 1))),
    ("cocm", True, 115, (("99492", 1), ("99494", 1))),
    ("cocm", True, 116, (("99492", 1), ("99494", 2))),
    ("cocm", False, 15, ()),
    ("cocm", False, 16, (("G2214", 1),)),
    ("cocm", False, 30, (("G2214", 1),)),
    ("cocm", False, 31, (("99493", 1),)),
    ("cocm", False, 75, (("99493", 1),)),
    ("cocm", False, 76, (("99493", 1), ("99494", 1))),
    ("cocm", False, 105, (("99493", 1), ("99494", 1))),
    ("cocm", False, 106, (("99493", 1), ("99494", 2))),
    ("bhi", False, 19, ()),
    ("bhi", False, 20, (("99484", 1),)),
]


@pytest.mark.parametrize(("program", "initial", "minutes", "expected"), BOUNDARIES)
def test_threshold_boundaries(clinic, actors, build, program, initial, minutes, expected) -> None:
    pid = build.patient()
    eid = build.episode(pid, program=program, enrolled_on=date(2026, 9, 1), consent_on=date(2026, 9, 1))
    if not initial:
        log(clinic, actors["cm1"], pid, date(2026, 10, 14), 40)  # October had CoCM services
    # minutes spread over two entries and two staff, as in real life
    first = minutes // 2
    log(clinic, actors["cm1"], pid, date(2026, 11, 3), first)
    log(clinic, actors["cm2"], pid, date(2026, 11, 17), minutes - first)

    row = month_row(clinic, actors, pid)
    assert row.counted_minutes == minutes
    assert row.codes == expected
    assert row.kind == ("bhi" if program == "bhi" else ("initial" if initial else "subsequent"))
    p = progress(clinic, eid)
    assert (p.minutes, p.codes, p.initial) == (minutes, expected, initial and program == "cocm")
    if p.next_code is not None:
        assert p.label.endswith(f"{p.minutes_needed} min to {p.next_code}")
    assert (p.next_code, p.minutes_needed) == (row.next_code, row.minutes_needed)


def test_progress_label_examples(clinic, actors, build) -> None:
    pid = build.patient()
    eid = build.episode(pid, enrolled_on=date(2026, 9, 1), consent_on=date(2026, 9, 1))
    log(clinic, actors["cm1"], pid, date(2026, 10, 14), 40)
    log(clinic, actors["cm1"], pid, date(2026, 11, 3), 19)
    assert progress(clinic, eid).label == "G2214 reached · 12 min to 99493"
    log(clinic, actors["cm1"], pid, date(2026, 11, 4), 60)
    p = progress(clinic, eid)
    assert (p.minutes, p.label) == (79, "99493 + 1×99494 reached · 27 min to 99494")


def test_consent_gating_consultant_and_billed_elsewhere(clinic, actors, build) -> None:
    pid = build.patient()
    eid = build.episode(pid, enrolled_on=date(2026, 11, 2), consent_on=date(2026, 11, 10))
    log(clinic, actors["cm1"], pid, date(2026, 11, 5), 20)  # before consent
    log(clinic, actors["cm1"], pid, date(2026, 11, 12), 25)
    log(clinic, actors["psych"], pid, date(2026, 11, 12), 30)  # consultant: never counted
    log(clinic, actors["doc1"], pid, date(2026, 11, 13), 15)  # clinician, not marked as CM work
    log(clinic, actors["doc1"], pid, date(2026, 11, 14), 12, counts_as_care_management=True)
    (billed,) = log(clinic, actors["cm2"], pid, date(2026, 11, 14), 40)
    with clinic.session() as s:
        mark_billed_elsewhere(s, actors["cm2"], billed.id, "psychotherapy 90834")

    row = month_row(clinic, actors, pid)
    assert row.logged_minutes == 20 + 25 + 30 + 15 + 12 + 40
    assert row.counted_minutes == 25 + 12
    assert {e.reason: e.minutes for e in row.excluded} == {
        "before_consent": 20,
        "consultant_time": 30,
        "clinician_not_care_management": 15,
        "billed_elsewhere": 40,
    }
    assert row.counted_minutes + row.excluded_minutes == row.logged_minutes
    assert row.codes == (("99492", 1),)
    assert row.consent_date == date(2026, 11, 10)
    assert progress(clinic, eid).minutes == 37
    # the appendix keeps every line, counted or not
    assert sum(line.logged_minutes for line in row.time_log) == row.logged_minutes
    assert sum(line.counted_minutes for line in row.time_log) == row.counted_minutes


def test_overlap_counts_once_across_patients(clinic, actors, build) -> None:
    a, b = build.patient(family="Alpha"), build.patient(family="Beta")
    ea, eb = build.episode(a), build.episode(b)
    cm = actors["cm1"]
    log_span(clinic, cm, a, datetime(2026, 11, 9, 10, 0), datetime(2026, 11, 9, 10, 30))
    log_span(clinic, cm, b, datetime(2026, 11, 9, 10, 15), datetime(2026, 11, 9, 10, 45))
    log(clinic, cm, b, date(2026, 11, 10), 20)
    ra, rb = month_row(clinic, actors, a), month_row(clinic, actors, b)
    assert (ra.counted_minutes, ra.excluded_minutes) == (30, 0)
    assert (rb.counted_minutes, {e.reason: e.minutes for e in rb.excluded}) == (35, {"overlap": 15})
    with clinic.session() as s:
        prog = billing_progress(s, NOV)
    assert (prog[ea].minutes, prog[eb].minutes) == (30, 35)


def test_new_episode_after_six_month_gap(clinic, actors, build) -> None:
    gap, short = build.patient(family="Gap"), build.patient(family="Short")
    eg = build.episode(gap, enrolled_on=date(2026, 3, 2))
    es = build.episode(short, enrolled_on=date(2026, 3, 2))
    log(clinic, actors["cm1"], gap, date(2026, 4, 20), 40)  # then May..Oct: 6 months without services
    log(clinic, actors["cm1"], short, date(2026, 5, 20), 40)  # then Jun..Oct: 5 months
    for pid in (gap, short):
        log(clinic, actors["cm1"], pid, date(2026, 11, 3), 40)
    rg, rs = month_row(clinic, actors, gap), month_row(clinic, actors, short)
    assert (rg.kind, rg.episode_month, rg.codes) == ("initial", 1, (("99492", 1),))
    assert (rs.kind, rs.episode_month, rs.codes) == ("subsequent", 7, (("99493", 1),))
    assert progress(clinic, eg).initial and not progress(clinic, es).initial


def test_never_cocm_and_99484_in_one_month(clinic, actors, build) -> None:
    pid = build.patient()
    bhi = build.episode(
        pid,
        program="bhi",
        enrolled_on=date(2026, 6, 1),
        consent_on=date(2026, 6, 1),
        status="closed",
        closed_on=date(2026, 11, 5),
        close_reason="transferred",
    )
    cocm = build.episode(pid, enrolled_on=date(2026, 11, 6), consent_on=date(2026, 11, 6))
    with clinic.session() as s:
        add_manual_time(
            s,
            actors["cm1"],
            patient_id=pid,
            episode_id=bhi,
            activity="follow_up_contact",
            local_date=date(2026, 11, 3),
            minutes=25,
            now=NOW,
        )
        add_manual_time(
            s,
            actors["cm1"],
            patient_id=pid,
            episode_id=cocm,
            activity="assessment",
            local_date=date(2026, 11, 9),
            minutes=40,
            now=NOW,
        )
    row = month_row(clinic, actors, pid)
    assert row.program == "cocm" and row.episode_id == cocm
    assert row.codes == (("99492", 1),)
    assert "99484" not in dict(row.codes)
    assert row.conflict and "never billed in the same month" in row.conflict
    assert {e.reason: e.minutes for e in row.excluded} == {"other_program": 25}


def test_blocked_row_keeps_codes_out_of_totals(clinic, actors, build) -> None:
    ok = build.patient(family="Okay")
    build.episode(ok)
    blocked = build.patient(family="Blocked", last_seen_on=None)
    build.episode(blocked, initiating_visit_required=True, initiating_visit_on=None, care_plan=False)
    for pid in (ok, blocked):
        log(clinic, actors["cm1"], pid, date(2026, 11, 3), 45)
    with clinic.session() as s:
        bm = billing_month(s, actors["lead"], "2026-11", now=NOW, today=TODAY)
    rb = next(r for r in bm.rows if r.patient_id == blocked)
    assert (
        rb.blocked and rb.status == "blocked" and rb.held_codes == (("99492", 1),) and rb.billed_codes == ()
    )
    assert any("Initiating visit" in reason for reason in rb.block_reasons)
    assert "No care plan on file." in rb.warnings
    assert dict(bm.totals) == {"99492": 1}  # only the unblocked patient
    assert dict(bm.held) == {"99492": 1}


def test_billing_month_is_lead_only_and_audited(clinic, actors, build) -> None:
    with pytest.raises(PermissionDenied), clinic.session() as s:
        billing_month(s, actors["cm1"], NOV, now=NOW, today=TODAY)
    with pytest.raises(ValidationError, match="YYYY-MM"), clinic.session() as s:
        billing_month(s, actors["lead"], "Nov 2026", now=NOW, today=TODAY)
    with pytest.raises(ValidationError, match="not started"), clinic.session() as s:
        billing_month(s, actors["lead"], date(2026, 12, 1), now=NOW, today=TODAY)
    with clinic.session() as s:
        billing_month(s, actors["lead"], NOV, now=NOW, today=TODAY)
        last = s.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc())).first()
    assert last is not None and last.action == "report.billing" and last.username == "lead"


BAD_INPUT = [
    (dict(local_date=date(2026, 11, 3), minutes=-5), "negative"),
    (dict(local_date=date(2026, 11, 3), minutes=0), "0 minutes"),
    (dict(local_date=date(2026, 11, 3), minutes=24 * 60 + 1), "more than 24 hours"),
    (dict(local_date=date(2026, 11, 25), minutes=10), "future"),
    (dict(local_date=date(2026, 11, 3), minutes=10, activity="lunch"), "not a known activity"),
    (dict(local_date=date(2026, 11, 3), minutes=12.5), "whole number"),
    (dict(started_at=datetime(2026, 11, 3, 10), ended_at=datetime(2026, 11, 3, 9)), "after the start"),
    (dict(started_at=datetime(2026, 11, 1, 10), ended_at=datetime(2026, 11, 2, 10, 1)), "more than 24 hours"),
    (dict(started_at=datetime(2026, 11, 24, 16), ended_at=datetime(2026, 11, 24, 18)), "future"),
    (
        dict(started_at=datetime(2026, 11, 3, 10), ended_at=datetime(2026, 11, 3, 10, 20), minutes=25),
        "more than the 20 min",
    ),
    (dict(started_at=datetime(2026, 11, 3, 10)), "both the start and the end"),
    (dict(minutes=10), "Date"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_INPUT)
def test_bad_time_input_is_refused_and_nothing_written(clinic, actors, build, kwargs, message) -> None:
    pid = build.patient()
    build.episode(pid)
    kwargs = {"activity": "outreach", **kwargs}
    with pytest.raises(ValidationError, match=message), clinic.session() as s:
        add_manual_time(s, actors["cm1"], patient_id=pid, now=NOW, **kwargs)
    with clinic.session() as s:
        assert s.scalar(select(func.count()).select_from(TimeEntry)) == 0


def test_manual_span_across_midnight_and_soft_delete(clinic, actors, build) -> None:
    pid = build.patient()
    eid = build.episode(pid)
    cm = actors["cm1"]
    views = log_span(clinic, cm, pid, datetime(2026, 10, 31, 23, 30), datetime(2026, 11, 1, 0, 40))
    assert [(v.local_date, v.minutes) for v in views] == [(date(2026, 10, 31), 30), (date(2026, 11, 1), 40)]
    assert views[0].split_group == views[1].split_group is not None
    with pytest.raises(ValidationError, match="Reason"), clinic.session() as s:
        delete_time_entry(s, cm, views[1].id, "  ")
    with pytest.raises(ValidationError, match="Only the person"), clinic.session() as s:
        delete_time_entry(s, actors["cm2"], views[1].id, "duplicate")
    with clinic.session() as s:
        deleted = delete_time_entry(s, cm, views[1].id, "Entered twice", whole_run=True, now=NOW)
    assert sorted(deleted) == sorted(v.id for v in views)
    with clinic.session() as s:
        assert list_time(s, cm, patient_id=pid) == []
        kept = list_time(s, cm, patient_id=pid, include_deleted=True)
        assert [k.delete_reason for k in kept] == ["Entered twice"] * 2
        actions = [a for (a,) in s.execute(select(AuditRecord.action).where(AuditRecord.patient_id == pid))]
    assert actions.count("time.void") == 2
    assert progress(clinic, eid).minutes == 0


def test_fast_progress_matches_the_exact_month_count(clinic, actors, build) -> None:
    """billing_progress's fast path and billing_month's count_month agree on messy random data."""
    rng = random.Random(4)
    staff = ["cm1", "cm2", "doc1", "psych"]
    episodes = {}
    for k in range(12):
        pid = build.patient(family=f"P{k}")
        consent = date(2026, 11, rng.choice([1, 1, 8, 15]))
        episodes[pid] = build.episode(pid, enrolled_on=date(2026, 10, 1), consent_on=consent)
    pids = list(episodes)
    for _ in range(70):
        pid, who = rng.choice(pids), rng.choice(staff)
        day = date(2026, 11, rng.randint(1, 6))
        kw = {}
        if rng.random() < 0.2:
            kw["billed_elsewhere"] = "psychotherapy"
        if who == "doc1" and rng.random() < 0.5:
            kw["counts_as_care_management"] = True
        if rng.random() < 0.5:
            start = datetime.combine(day, datetime.min.time()) + timedelta(
                hours=9, minutes=15 * rng.randint(0, 8)
            )
            with clinic.session() as s:
                add_manual_time(
                    s,
                    actors[who],
                    patient_id=pid,
                    activity="outreach",
                    started_at=start,
                    ended_at=start + timedelta(minutes=rng.randint(5, 50)),
                    now=NOW,
                    **kw,
                )
        else:
            log(clinic, actors[who], pid, day, rng.randint(1, 40), **kw)
    with clinic.session() as s:
        exact = {
            r.patient_id: r for r in compute_billing_month(s, NOV, now=NOW, today=TODAY, exact=True).rows
        }
        fast = billing_progress(s, NOV)
    overlaps = sum(1 for r in exact.values() for e in r.excluded if e.reason == "overlap")
    assert overlaps > 0  # the data exercises the overlap fallback too
    for pid, eid in episodes.items():
        assert fast[eid].minutes == exact[pid].counted_minutes, pid
        assert fast[eid].codes == exact[pid].codes
