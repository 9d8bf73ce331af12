"""The month-end computation's fast paths against its reference run (`exact=True`: count_month for
every patient-month, this one and every earlier one, label_month for every patient, every score to
pick_baseline): same packet, field for field. Plus the cases each fast path has to get right."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from cocm_desktop.services.billing_month import compute_billing_month
from cocm_desktop.store.database import Database

NOW = datetime(2026, 11, 24, 17, 0)
TODAY = NOW.date()


def both(db: Database, month: date):  # type: ignore[no-untyped-def]
    with db.session() as s:
        fast = compute_billing_month(s, month, now=NOW, today=TODAY)
        exact = compute_billing_month(s, month, now=NOW, today=TODAY, exact=True)
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


def test_random_clinic_fast_equals_reference_field_for_field(clinic, build) -> None:  # type: ignore[no-untyped-def]
    """A year of messy time, scores and reviews: every fast path (the month's row-by-row tally, the
    grouped history with its overlap recount, the one-episode labels, the "not improving" scores
    read once) against the reference (`exact=True`: count_month for every patient-month, label_month
    for every patient, every score to pick_baseline), field for field, in several months.

    Covered on purpose: 6-month gaps, re-enrollment (closed episodes, two episodes in one month, two
    enrolled the same day), program conflicts, consent mid-month or missing, entries without an
    episode, billed elsewhere, clinician time with and without care-manager work, consultant time,
    zero minutes, paused timers, overlap within and across patients, and in the last month entries
    across midnight and zero-length spans."""
    rng = random.Random(20261124)
    staff = ["cm1", "cm1", "cm2", "cm2", "doc1", "psych"]
    episodes: dict[int, list[int]] = {}
    for k in range(24):
        pid = build.patient(family=f"R{k}")
        enrolled = date(2025, 11, 1) + timedelta(days=rng.randint(0, 300))
        consent = None if rng.random() < 0.1 else enrolled + timedelta(days=rng.choice([0, 0, 3, 12, 45]))
        mine = []
        shape = rng.random()
        if shape < 0.25:  # an earlier, closed episode
            closed = enrolled - timedelta(days=rng.randint(1, 200))
            mine.append(
                build.episode(
                    pid,
                    enrolled_on=closed - timedelta(days=rng.randint(10, 90)),
                    closed_on=closed,
                    close_reason=rng.choice(["completed", "disengaged", "transferred"]),
                    status="closed",
                    program=rng.choice(["cocm", "bhi"]),
                    consent_on=closed - timedelta(days=60),
                )
            )
        elif shape < 0.35:  # a second episode open the same month (same day half the time)
            mine.append(
                build.episode(
                    pid,
                    enrolled_on=enrolled if rng.random() < 0.5 else enrolled + timedelta(days=9),
                    program="bhi",
                    consent_on=consent,
                )
            )
        mine.append(
            build.episode(
                pid,
                enrolled_on=enrolled,
                program="bhi" if rng.random() < 0.15 else "cocm",
                consent_on=consent,
                care_plan=rng.random() < 0.8,
            )
        )
        episodes[pid] = mine
        for eid in mine:
            taken = datetime.combine(enrolled, datetime.min.time()) + timedelta(
                days=rng.randint(-5, 10), hours=10
            )
            for _ in range(rng.randint(0, 4)):
                build.contact(eid, taken, phq9=[rng.randint(0, 3) for _ in range(9)])
                taken += timedelta(days=rng.randint(10, 60))
            for _ in range(rng.randint(0, 2)):
                build.review(eid, enrolled + timedelta(days=rng.randint(0, 330)), reviewed=rng.random() < 0.9)
    pids = list(episodes)
    for _ in range(700):
        pid = rng.choice(pids)
        who = rng.choice(staff)
        # a quiet half-year for some: 6-month gaps start new billing episodes
        day = date(2025, 11, 1) + timedelta(days=rng.randint(0, 387))
        if day > TODAY or (pid % 4 == 0 and date(2026, 2, 1) <= day < date(2026, 8, 15)):
            continue
        # entries without an episode for a third of the patients: the others take the day-list path
        eid = None if pid % 3 == 0 and rng.random() < 0.3 else rng.choice(episodes[pid])
        minutes = rng.choice([0, 5, 10, 20, 30, 45, 60])
        kw = {
            "billed_elsewhere": "psychotherapy" if rng.random() < 0.08 else None,
            "counts_as_cm": rng.random() < 0.5 if who == "doc1" else True,
            "deleted": rng.random() < 0.05,
        }
        if rng.random() < 0.65:
            start = at(day, 9, 5 * rng.randint(0, 30))
            span = max(minutes, rng.choice([minutes, minutes, minutes + 7]))  # sometimes a paused timer
            build.raw_entry(
                pid, eid, who, day, minutes, start=start, end=start + timedelta(minutes=span), **kw
            )
        else:
            build.raw_entry(pid, eid, who, day, minutes, **kw)
    # the last month: spans across midnight (not split, as no service would store them) and zero-length
    for _ in range(12):
        pid, who = rng.choice(pids), rng.choice(["cm1", "cm2"])
        day = date(2026, 11, rng.randint(1, 20))
        start = at(day, 23, rng.choice([0, 30, 50]))
        span = rng.choice([0, 40, 90])
        build.raw_entry(
            pid,
            rng.choice(episodes[pid]),
            who,
            day,
            span // 2,
            start=start,
            end=start + timedelta(minutes=span),
        )
    build.raw_entry(
        pids[0],
        episodes[pids[0]][-1],
        "cm1",
        date(2026, 10, 31),
        45,
        start=at(date(2026, 10, 31), 23, 20),
        end=at(date(2026, 11, 1), 0, 5),
    )

    found = {"overlap": 0, "gap": 0, "conflict": 0, "not_improving": 0}
    for m in (date(2026, 3, 1), date(2026, 6, 1), date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)):
        fast, exact = both(clinic, m)
        assert fast == exact, m
        for r in fast.rows:
            found["overlap"] += any(e.reason == "overlap" for e in r.excluded)
            found["conflict"] += r.conflict is not None
            found["gap"] += r.kind == "initial" and r.patient_id % 4 == 0
            found["not_improving"] += any("Not improving" in c.reason for c in r.checks)
    assert all(found.values()), found


# An entry that never counts, alone in a patient's May: (staff, minutes, keyword arguments).
NEVER_COUNTS = {
    "deleted": ("cm1", 40, {"deleted": True}),
    "zero minutes": ("cm1", 0, {}),
    "billed elsewhere": ("cm1", 40, {"billed_elsewhere": "psychotherapy"}),
    "consultant": ("psych", 40, {}),
    "clinician, not care-manager work": ("doc1", 40, {"counts_as_cm": False}),
    "no episode, before enrollment": ("cm1", 40, {"episode": None}),
}


@pytest.mark.parametrize("kind", list(NEVER_COUNTS))
def test_a_month_with_only_time_that_never_counts_is_no_service_month(clinic, build, kind) -> None:  # type: ignore[no-untyped-def]
    """May has only an entry that never counts, September and October have counted time: October
    is the second month of a billing episode that began in September (were May counted, it would
    be the sixth). One patient with one episode: the day-list path, not the grouped one."""
    staff, minutes, shared = NEVER_COUNTS[kind]
    kw = dict(shared)  # popped below: the table itself stays as written for the next run
    pid = build.patient()
    enrolled = date(2026, 5, 20)
    eid = build.episode(pid, enrolled_on=enrolled, consent_on=date(2026, 5, 1))
    may = date(2026, 5, 12) if "episode" in kw else date(2026, 5, 25)
    build.raw_entry(pid, kw.pop("episode", eid), staff, may, minutes, **kw)
    build.raw_entry(pid, eid, "cm1", date(2026, 9, 8), 20)
    build.raw_entry(pid, eid, "cm1", date(2026, 10, 8), 45)
    fast, exact = both(clinic, date(2026, 10, 1))
    assert fast == exact
    (row,) = [r for r in fast.rows if r.patient_id == pid]
    assert (row.kind, row.episode_month, row.codes) == ("subsequent", 2, (("99493", 1),))


@pytest.mark.parametrize(("september_day", "expected"), [(8, ("subsequent", 2)), (7, ("initial", 1))])
def test_time_on_the_consent_day_counts_the_day_before_does_not(
    clinic, build, september_day, expected
) -> None:  # type: ignore[no-untyped-def]
    """Consent on 8 September; September's only time on the 8th makes it a service month (October
    is then the second month), on the 7th it does not (October begins the billing episode)."""
    pid = build.patient()
    eid = build.episode(pid, enrolled_on=date(2026, 9, 1), consent_on=date(2026, 9, 8))
    build.raw_entry(pid, eid, "cm1", date(2026, 9, september_day), 20)
    build.raw_entry(pid, eid, "cm1", date(2026, 10, 8), 45)
    fast, exact = both(clinic, date(2026, 10, 1))
    assert fast == exact
    (row,) = [r for r in fast.rows if r.patient_id == pid]
    assert (row.kind, row.episode_month) == expected


def test_time_before_the_enrollment_month_is_not_covered_by_an_early_consent(clinic, build) -> None:  # type: ignore[no-untyped-def]
    """Consent signed on 1 March, enrolled on 20 April: March's time is outside the episode, so
    the billing episode begins in September (October is its second month, not its eighth)."""
    pid = build.patient()
    eid = build.episode(pid, enrolled_on=date(2026, 4, 20), consent_on=date(2026, 3, 1))
    for day, minutes in [(date(2026, 3, 15), 30), (date(2026, 9, 8), 20), (date(2026, 10, 8), 45)]:
        build.raw_entry(pid, eid, "cm1", day, minutes)
    fast, exact = both(clinic, date(2026, 10, 1))
    assert fast == exact
    (row,) = [r for r in fast.rows if r.patient_id == pid]
    assert (row.kind, row.episode_month) == ("subsequent", 2)


# (days after enrollment, PHQ-9 total) in entry order → not improving at day 200?
SCORES = [
    ([(14, 20), (70, 9)], False),  # baseline on the window's last day; response
    ([(15, 20), (70, 9)], True),  # first score after the window: no baseline
    ([(-3, 20), (70, 9)], True),  # a screening score before enrollment is no baseline
    # several scores on one day (each entered an hour earlier in the day than the one before):
    # as in the registry, the latest is the newest by time and the baseline the earliest by time
    ([(0, 20), (70, 18), (70, 9)], True),  # latest 18 (11:00, after 9 at 10:00): no response
    ([(0, 20), (0, 10), (70, 9)], True),  # baseline 10 (11:00, before 20 at 12:00): no response
    ([(0, 10), (0, 20), (70, 9)], False),  # baseline 20 (11:00): 9 is a response
    ([(0, 20), (70, 4)], False),  # remission
]


def test_not_improving_reads_the_same_from_window_scores_as_from_all(clinic, build) -> None:  # type: ignore[no-untyped-def]
    """The month reads each episode's primary-scale scores once and gives pick_baseline only those
    in the baseline window: the same answer as giving it every score, at the window's edges, with
    screening scores before enrollment and several scores on one day."""
    from cocm_desktop.services.billing_month_facts import not_improving
    from cocm_desktop.services.common import load_policy
    from cocm_desktop.store.models import Episode

    rng = random.Random(5)
    pid = build.patient()
    enrolled = date(2026, 1, 5)
    start = datetime.combine(enrolled, datetime.min.time())
    cases = [(scores, expected) for scores, expected in SCORES]
    for _ in range(30):
        offsets = rng.sample([-3, 0, 0, 1, 13, 14, 15, 30, 70, 71, 71, 120], rng.randint(1, 6))
        cases.append(([(d, rng.choice([0, 4, 9, 18, 27])) for d in offsets], None))
    eids = []
    for scores, _ in cases:
        eid = build.episode(pid, enrolled_on=enrolled)
        eids.append(eid)
        for k, (offset, total) in enumerate(scores):
            items = [total // 9 + (1 if i < total % 9 else 0) for i in range(9)]
            build.contact(eid, start + timedelta(days=offset, hours=12 - k), phq9=items)
    with clinic.session() as s:
        conn = s.connection()
        eps = list(s.scalars(select(Episode).where(Episode.id.in_(eids))))
        policy = load_policy(s)
        fast = not_improving(conn, eps, enrolled + timedelta(days=200), policy)
        exact = not_improving(conn, eps, enrolled + timedelta(days=200), policy, exact=True)
    assert fast == exact
    assert [fast[eid] for eid in eids[: len(SCORES)]] == [expected for _, expected in SCORES]
    # the registry shows the same baseline and latest score the month's check decides from
    from cocm_desktop.domain.outcomes import is_not_improving
    from cocm_desktop.services.registry import collect

    as_of = enrolled + timedelta(days=200)
    with clinic.session() as s:
        rows = {r.episode_id: r for r, _ in collect(s, today=as_of, episode_ids=eids, cached=False)}
    shown = {
        eid: is_not_improving(enrolled, as_of, rows[eid].phq9_baseline, rows[eid].phq9_last, policy)
        for eid in eids
    }
    assert shown == fast
