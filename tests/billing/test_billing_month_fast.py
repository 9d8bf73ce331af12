"""The month-end computation's fast history (one grouped query) against the exact history
(`count_month` for every earlier patient-month): same packet, field for field."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from cocm_desktop.services.billing_month import compute_billing_month
from cocm_desktop.store.database import Database

NOW = datetime(2026, 11, 24, 17, 0)
TODAY = NOW.date()


def both(db: Database, month: date):  # type: ignore[no-untyped-def]
    with db.session() as s:
        fast = compute_billing_month(s, month, now=NOW, today=TODAY)
        exact = compute_billing_month(s, month, now=NOW, today=TODAY, exact_history=True)
    return fast, exact


def test_demo_clinic_fast_equals_exact_every_month(demo_path) -> None:  # type: ignore[no-untyped-def]
    with Database.open(demo_path, "lead", "demo") as db:
        kinds = set()
        for m in range(5, 12):
            fast, exact = both(db, date(2026, m, 1))
            assert fast.rows, m
            assert fast == exact, m
            kinds |= {(r.kind, r.episode_month) for r in fast.rows}
    # the demo history exercises initial and several subsequent months
    assert ("initial", 1) in kinds and any(k == "subsequent" and (n or 0) >= 3 for k, n in kinds)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute)


def test_overlapped_history_month_is_recounted(clinic, build) -> None:  # type: ignore[no-untyped-def]
    """August time of patient A lies wholly inside B's earlier-starting entry by the same care
    manager, so August has no counted minutes for A: September is A's initial month. Without the
    recount it would be a subsequent month."""
    a, b = build.patient(family="Alpha"), build.patient(family="Beta")
    ea, eb = build.episode(a, enrolled_on=date(2026, 8, 1)), build.episode(b, enrolled_on=date(2026, 8, 1))
    aug = date(2026, 8, 12)
    build.raw_entry(b, eb, "cm1", aug, 60, start=at(aug, 9), end=at(aug, 10))
    build.raw_entry(a, ea, "cm1", aug, 20, start=at(aug, 9, 20), end=at(aug, 9, 40))
    sep = date(2026, 9, 3)
    build.raw_entry(a, ea, "cm1", sep, 40)
    build.raw_entry(b, eb, "cm1", sep, 40)
    fast, exact = both(clinic, date(2026, 9, 1))
    assert fast == exact
    rows = {r.patient_id: r for r in fast.rows}
    assert (rows[a].kind, rows[a].codes) == ("initial", (("99492", 1),))
    assert (rows[b].kind, rows[b].episode_month, rows[b].codes) == ("subsequent", 2, (("99493", 1),))


def test_random_histories_fast_equals_exact(clinic, build) -> None:  # type: ignore[no-untyped-def]
    """Messy random history: two programs, closed and re-opened episodes, late consent, entries
    without an episode, billed elsewhere, clinician time with and without care-manager work,
    consultant time, zero minutes and overlapping timed entries across patients."""
    rng = random.Random(8)
    staff = ["cm1", "cm1", "cm2", "doc1", "psych"]
    patients: dict[int, list[int]] = {}
    for k in range(14):
        pid = build.patient(family=f"P{k}")
        enrolled = date(2026, rng.randint(1, 6), rng.choice([1, 10, 20]))
        program = "bhi" if rng.random() < 0.2 else "cocm"
        if rng.random() < 0.3:  # an earlier, closed episode
            closed = enrolled - timedelta(days=rng.randint(20, 60))
            first = build.episode(
                pid,
                enrolled_on=closed - timedelta(days=40),
                closed_on=closed,
                close_reason=rng.choice(["completed", "disengaged", "transferred"]),
                status="closed",
            )
            patients.setdefault(pid, []).append(first)
        consent = None if rng.random() < 0.1 else enrolled + timedelta(days=rng.choice([0, 0, 5, 40]))
        patients.setdefault(pid, []).append(
            build.episode(pid, enrolled_on=enrolled, program=program, consent_on=consent)
        )
    pids = list(patients)
    for _ in range(260):
        pid = rng.choice(pids)
        who = rng.choice(staff)
        day = date(2026, rng.randint(1, 11), rng.randint(1, 28))
        if day > TODAY:
            continue
        eid = None if rng.random() < 0.15 else rng.choice(patients[pid])
        minutes = rng.choice([0, 5, 10, 20, 30, 45])
        kw = {
            "billed_elsewhere": "psychotherapy" if rng.random() < 0.1 else None,
            "counts_as_cm": rng.random() < 0.5 if who == "doc1" else True,
        }
        if rng.random() < 0.6:
            start = at(day, 9, 10 * rng.randint(0, 12))
            span = max(minutes, rng.choice([minutes, minutes + 10]))
            build.raw_entry(
                pid, eid, who, day, minutes, start=start, end=start + timedelta(minutes=span), **kw
            )
        else:
            build.raw_entry(pid, eid, who, day, minutes, **kw)
    overlaps = 0
    for m in range(2, 12):
        fast, exact = both(clinic, date(2026, m, 1))
        assert fast == exact, m
        overlaps += sum(1 for r in fast.rows for e in r.excluded if e.reason == "overlap")
    assert overlaps > 0  # the data has overlapping entries the recount must handle
