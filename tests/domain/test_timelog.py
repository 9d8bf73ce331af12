"""Time entries: midnight/month-end splitting, whose time counts, consent gating, overlap."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocm_desktop.domain.episode_months import Month
from cocm_desktop.domain.timelog import (
    ExclusionReason,
    TimeEntryIn,
    count_month,
    split_at_midnight,
)

NOV = Month(2026, 11)
CONSENT = date(2026, 11, 2)


def dt(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, second)


def timed(
    eid: int, start: datetime, end: datetime, *, staff: int = 1, role: str = "care_manager", **kw
) -> TimeEntryIn:
    return TimeEntryIn(eid, staff, role, 7, "follow_up", start=start, end=end, source="timer", **kw)


def manual(
    eid: int, day: date, minutes: int, *, staff: int = 1, role: str = "care_manager", **kw
) -> TimeEntryIn:
    return TimeEntryIn(eid, staff, role, 7, "outreach", local_date=day, minutes=minutes, **kw)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # plain, same day
        (dt(3, 10), dt(3, 10, 25), [(date(2026, 11, 3), 25)]),
        # seconds are never rounded up: 25 min 59 s logs 25
        (dt(3, 10), dt(3, 10, 25, 59), [(date(2026, 11, 3), 25)]),
        # across midnight
        (dt(3, 23, 50), dt(4, 0, 15), [(date(2026, 11, 3), 10), (date(2026, 11, 4), 15)]),
        # across month end: October gets its own minutes
        (dt(31, 23, 40, month=10), dt(1, 0, 25), [(date(2026, 10, 31), 20), (date(2026, 11, 1), 25)]),
        # across year end
        (
            datetime(2026, 12, 31, 23, 30),
            datetime(2027, 1, 1, 0, 30),
            [(date(2026, 12, 31), 30), (date(2027, 1, 1), 30)],
        ),
        # ends exactly at midnight: no empty piece on the next day
        (dt(3, 23, 30), dt(4, 0, 0), [(date(2026, 11, 3), 30)]),
        # over two midnights
        (
            dt(3, 23, 0),
            dt(5, 1, 0),
            [(date(2026, 11, 3), 60), (date(2026, 11, 4), 1440), (date(2026, 11, 5), 60)],
        ),
        # odd seconds: pieces sum to the whole entry's floor (19.5 + 20.2 min = 39)
        (dt(3, 23, 40, 30), dt(4, 0, 20, 10), [(date(2026, 11, 3), 19), (date(2026, 11, 4), 20)]),
        # zero length
        (dt(3, 10), dt(3, 10), [(date(2026, 11, 3), 0)]),
    ],
)
def test_split_at_midnight(start: datetime, end: datetime, expected: list) -> None:
    pieces = split_at_midnight(start, end)
    assert [(p.local_date, p.minutes) for p in pieces] == expected
    assert pieces[0].start == start and pieces[-1].end == end
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:], strict=False))


def test_split_with_given_minutes_shares_them_by_elapsed_time() -> None:
    # A paused timer: 60 min of clock span, 30 min logged.
    pieces = split_at_midnight(dt(3, 23, 30), dt(4, 0, 30), minutes=30)
    assert [p.minutes for p in pieces] == [15, 15]
    with pytest.raises(ValueError):
        split_at_midnight(dt(3, 23, 30), dt(4, 0, 30), minutes=61)
    with pytest.raises(ValueError):
        split_at_midnight(dt(4, 0, 30), dt(3, 23, 30))


@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)),
    seconds=st.integers(min_value=0, max_value=3 * 86400),
)
def test_split_pieces_always_sum_to_the_entry(start: datetime, seconds: int) -> None:
    end = start + timedelta(seconds=seconds)
    pieces = split_at_midnight(start, end)
    assert sum(p.minutes for p in pieces) == seconds // 60
    assert all(p.minutes >= 0 for p in pieces)
    assert all(p.start.date() == p.local_date for p in pieces)
    assert len({p.local_date for p in pieces}) == len(pieces)


def test_month_end_timer_counts_in_each_month() -> None:
    entry = timed(1, dt(31, 23, 40, month=10), dt(1, 0, 25))
    oct_count = count_month([entry], Month(2026, 10), date(2026, 10, 1))
    nov_count = count_month([entry], NOV, date(2026, 10, 1))
    assert (oct_count.counted_minutes, nov_count.counted_minutes) == (20, 25)
    assert nov_count.lines[0].local_date == date(2026, 11, 1)
    assert nov_count.lines[0].start == dt(1, 0, 0)


@pytest.mark.parametrize(
    ("day", "counted", "reason"),
    [
        (date(2026, 11, 1), 0, ExclusionReason.BEFORE_CONSENT),  # the day before consent
        (date(2026, 11, 2), 30, None),  # consent day itself counts
        (date(2026, 11, 3), 30, None),
    ],
)
def test_consent_gating(day: date, counted: int, reason: ExclusionReason | None) -> None:
    result = count_month([manual(1, day, 30)], NOV, CONSENT)
    assert result.counted_minutes == counted
    assert [e.reason for e in result.exclusions] == ([reason] if reason else [])
    if reason:
        assert "2026-11-02" in result.exclusions[0].text


def test_timer_across_consent_midnight_counts_only_from_consent_day() -> None:
    result = count_month([timed(1, dt(1, 23, 45), dt(2, 0, 20))], NOV, CONSENT)
    assert result.counted_minutes == 20
    assert result.excluded_by_reason() == {ExclusionReason.BEFORE_CONSENT: 15}
    assert result.first_counted_date == CONSENT


def test_time_before_enrollment_or_without_an_episode_is_excluded_with_its_reason() -> None:
    """After consent but before the enrollment date (or on no episode's day): logged, excluded,
    and not the month's first counted minute."""
    entries = [
        manual(1, date(2026, 11, 5), 20, episode_id=None),  # no episode covers the day
        manual(2, date(2026, 11, 6), 15, episode_id=9),  # its episode starts on the 10th
        manual(3, date(2026, 11, 12), 25, episode_id=9),
    ]
    result = count_month(entries, NOV, CONSENT, enrolled={9: date(2026, 11, 10)})
    assert (result.logged_minutes, result.counted_minutes) == (60, 25)
    assert result.excluded_by_reason() == {ExclusionReason.BEFORE_ENROLLMENT: 35}
    assert result.first_counted_date == date(2026, 11, 12)
    assert "2026-11-10" in result.exclusions[1].text and "No episode" in result.exclusions[0].text
    # without enrollment dates the old contract holds (callers that check episodes elsewhere)
    assert count_month(entries, NOV, CONSENT).counted_minutes == 60


def test_no_consent_excludes_everything() -> None:
    result = count_month([manual(1, date(2026, 11, 5), 40)], NOV, None)
    assert result.counted_minutes == 0
    assert result.excluded_by_reason() == {ExclusionReason.NO_CONSENT: 40}


@pytest.mark.parametrize(
    ("role", "kw", "counted", "reason"),
    [
        ("care_manager", {}, 25, None),
        ("care_manager", {"counts_as_care_management": False}, 25, None),  # CM work is CM work
        ("psychiatrist", {}, 0, ExclusionReason.CONSULTANT),
        ("consultant", {"counts_as_care_management": True}, 0, ExclusionReason.CONSULTANT),
        ("clinician", {}, 0, ExclusionReason.NOT_CARE_MANAGEMENT),
        ("clinician", {"counts_as_care_management": True}, 25, None),
        (
            "clinician",
            {"counts_as_care_management": True, "billed_elsewhere": True},
            0,
            ExclusionReason.BILLED_ELSEWHERE,
        ),
        ("care_manager", {"billed_elsewhere": "psychotherapy 90834"}, 0, ExclusionReason.BILLED_ELSEWHERE),
        ("clinic_lead", {}, 0, ExclusionReason.ROLE_NOT_COUNTED),
    ],
)
def test_whose_time_counts(role: str, kw: dict, counted: int, reason: ExclusionReason | None) -> None:
    result = count_month([manual(1, date(2026, 11, 5), 25, role=role, **kw)], NOV, CONSENT)
    assert result.logged_minutes == 25
    assert result.counted_minutes == counted
    assert [(e.reason, e.minutes) for e in result.exclusions] == ([(reason, 25)] if reason else [])


def test_billed_elsewhere_text_names_the_service() -> None:
    entry = manual(1, date(2026, 11, 5), 25, billed_elsewhere="psychotherapy 90834")
    (exclusion,) = count_month([entry], NOV, CONSENT).exclusions
    assert "psychotherapy 90834" in exclusion.text


def test_consultant_time_is_logged_but_not_counted_beside_care_manager_time() -> None:
    entries = [
        manual(1, date(2026, 11, 5), 30),
        timed(2, dt(5, 10), dt(5, 10, 20), staff=9, role="psychiatrist"),
    ]
    result = count_month(entries, NOV, CONSENT)
    assert (result.logged_minutes, result.counted_minutes, result.excluded_minutes) == (50, 30, 20)
    assert {line.entry_id: line.counted_minutes for line in result.lines} == {1: 30, 2: 0}


def test_overlap_keeps_the_earlier_entry_and_reports_the_rest() -> None:
    entries = [
        timed(2, dt(5, 10, 20), dt(5, 10, 50)),  # later, listed first on purpose
        timed(1, dt(5, 10, 0), dt(5, 10, 30)),
    ]
    result = count_month(entries, NOV, CONSENT)
    by_entry = {line.entry_id: line.counted_minutes for line in result.lines}
    assert by_entry == {1: 30, 2: 20}
    (exclusion,) = result.exclusions
    assert (exclusion.entry_id, exclusion.minutes, exclusion.reason) == (2, 10, ExclusionReason.OVERLAP)
    assert "entry 1" in exclusion.text
    assert result.counted_minutes == 50  # 10:00–10:50 counted once


def test_overlap_contained_entry_is_fully_excluded() -> None:
    entries = [timed(1, dt(5, 9), dt(5, 11)), timed(2, dt(5, 9, 30), dt(5, 10))]
    result = count_month(entries, NOV, CONSENT)
    assert result.counted_minutes == 120
    assert result.excluded_by_reason() == {ExclusionReason.OVERLAP: 30}


def test_overlap_with_two_earlier_entries_counts_their_union_once() -> None:
    entries = [
        timed(1, dt(5, 10, 0), dt(5, 10, 30)),
        timed(2, dt(5, 10, 10), dt(5, 10, 20)),  # inside 1
        timed(3, dt(5, 10, 15), dt(5, 10, 45)),  # overlaps 1 (and 2) for 15 min
    ]
    result = count_month(entries, NOV, CONSENT)
    assert {line.entry_id: line.counted_minutes for line in result.lines} == {1: 30, 2: 0, 3: 15}
    assert result.counted_minutes == 45


def test_same_start_keeps_the_lower_entry_id() -> None:
    entries = [timed(8, dt(5, 10), dt(5, 10, 30)), timed(3, dt(5, 10), dt(5, 10, 20))]
    result = count_month(entries, NOV, CONSENT)
    assert {line.entry_id: line.counted_minutes for line in result.lines} == {3: 20, 8: 10}


def test_different_people_may_overlap() -> None:
    entries = [timed(1, dt(5, 10), dt(5, 10, 30), staff=1), timed(2, dt(5, 10), dt(5, 10, 30), staff=2)]
    assert count_month(entries, NOV, CONSENT).counted_minutes == 60


def test_touching_entries_do_not_overlap() -> None:
    entries = [timed(1, dt(5, 10), dt(5, 10, 30)), timed(2, dt(5, 10, 30), dt(5, 11))]
    result = count_month(entries, NOV, CONSENT)
    assert (result.counted_minutes, result.exclusions) == (60, ())


def test_overlap_with_time_billed_elsewhere_still_excludes() -> None:
    # 10:00–10:50 psychotherapy billed elsewhere; a CM-work entry 10:30–11:00 by the same clinician
    # only counts its 10 minutes after the psychotherapy ended.
    entries = [
        timed(1, dt(5, 10), dt(5, 10, 50), role="clinician", billed_elsewhere="psychotherapy"),
        timed(2, dt(5, 10, 30), dt(5, 11), role="clinician", counts_as_care_management=True),
    ]
    result = count_month(entries, NOV, CONSENT)
    assert result.counted_minutes == 10
    assert result.excluded_by_reason() == {ExclusionReason.BILLED_ELSEWHERE: 50, ExclusionReason.OVERLAP: 20}


def test_overlap_with_another_patients_earlier_entry() -> None:
    other = TimeEntryIn(50, 1, "care_manager", 99, "follow_up", start=dt(5, 10), end=dt(5, 10, 30))
    mine = timed(2, dt(5, 10, 20), dt(5, 10, 40))
    result = count_month([mine], NOV, CONSENT, other_patient_entries=[other])
    assert result.counted_minutes == 10
    assert result.excluded_by_reason() == {ExclusionReason.OVERLAP: 10}
    assert result.logged_minutes == 20  # the other patient's minutes are never in this count


def test_manual_entries_are_not_overlap_checked() -> None:
    entries = [timed(1, dt(5, 10), dt(5, 10, 30)), manual(2, date(2026, 11, 5), 30)]
    assert count_month(entries, NOV, CONSENT).counted_minutes == 60


def test_overlap_across_midnight_is_reported_on_the_right_day() -> None:
    entries = [timed(1, dt(5, 23, 30), dt(6, 0, 30)), timed(2, dt(6, 0, 0), dt(6, 0, 40))]
    result = count_month(entries, NOV, CONSENT)
    (exclusion,) = result.exclusions
    assert (exclusion.local_date, exclusion.minutes) == (date(2026, 11, 6), 30)
    assert result.counted_minutes == 70


def test_entries_outside_the_month_are_ignored() -> None:
    entries = [
        manual(1, date(2026, 10, 31), 30),
        manual(2, date(2026, 12, 1), 30),
        manual(3, date(2026, 11, 30), 5),
    ]
    result = count_month(entries, NOV, date(2026, 10, 1))
    assert (result.logged_minutes, result.counted_minutes) == (5, 5)


def test_cumulative_month_total_and_per_episode() -> None:
    entries = [
        manual(1, date(2026, 11, 3), 12, episode_id=4),
        manual(2, date(2026, 11, 10), 10, episode_id=4),
        manual(3, date(2026, 11, 20), 9, episode_id=5),
    ]
    result = count_month(entries, NOV, CONSENT)
    assert result.counted_minutes == 31
    assert result.counted_by_episode() == {4: 22, 5: 9}
    assert [line.local_date.day for line in result.lines] == [3, 10, 20]
    assert result.patient_id == 7


def test_empty_month() -> None:
    result = count_month([], date(2026, 11, 15), CONSENT)
    assert (result.month, result.patient_id, result.counted_minutes, result.first_counted_date) == (
        NOV,
        None,
        0,
        None,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": dt(5, 10)}, "both start and end"),
        ({"local_date": date(2026, 11, 5)}, "local_date and minutes"),
        ({"start": dt(5, 10), "end": dt(5, 9)}, "ends before"),
        ({"start": dt(5, 10), "end": dt(5, 10, 30), "minutes": 31}, "longer than"),
        ({"local_date": date(2026, 11, 5), "minutes": -1}, "≥ 0"),
        ({"start": dt(5, 10), "end": dt(5, 11), "local_date": date(2026, 11, 4)}, "differs"),
    ],
)
def test_entry_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimeEntryIn(1, 1, "care_manager", 7, "x", **kwargs)


def test_count_month_is_per_patient() -> None:
    other = TimeEntryIn(2, 1, "care_manager", 8, "x", local_date=date(2026, 11, 5), minutes=5)
    with pytest.raises(ValueError, match="per patient"):
        count_month([manual(1, date(2026, 11, 5), 5), other], NOV, CONSENT)


# --- properties -------------------------------------------------------------------------------

_entry = st.builds(
    lambda eid, staff, role, day, hour, minute, length, flags, manual_entry: (
        TimeEntryIn(
            eid,
            staff,
            role,
            7,
            "follow_up",
            local_date=date(2026, 11, day),
            minutes=length,
            billed_elsewhere=flags[0],
            counts_as_care_management=flags[1],
        )
        if manual_entry
        else TimeEntryIn(
            eid,
            staff,
            role,
            7,
            "follow_up",
            start=datetime(2026, 11, day, hour, minute) - timedelta(days=1),
            end=datetime(2026, 11, day, hour, minute)
            - timedelta(days=1)
            + timedelta(minutes=length, seconds=eid % 60),
            billed_elsewhere=flags[0],
            counts_as_care_management=flags[1],
        )
    ),
    eid=st.integers(min_value=0, max_value=10_000),
    staff=st.integers(min_value=1, max_value=3),
    role=st.sampled_from(["care_manager", "clinician", "psychiatrist"]),
    day=st.integers(min_value=1, max_value=30),
    hour=st.integers(min_value=0, max_value=23),
    minute=st.integers(min_value=0, max_value=59),
    length=st.integers(min_value=0, max_value=180),
    flags=st.tuples(st.booleans(), st.booleans()),
    manual_entry=st.booleans(),
)


@settings(max_examples=200)
@given(
    entries=st.lists(_entry, max_size=12, unique_by=lambda e: e.entry_id),
    consent_day=st.one_of(st.none(), st.integers(min_value=1, max_value=30)),
)
def test_counted_plus_excluded_equals_logged(entries: list[TimeEntryIn], consent_day: int | None) -> None:
    consent = date(2026, 11, consent_day) if consent_day else None
    result = count_month(entries, NOV, consent)
    assert result.counted_minutes + result.excluded_minutes == result.logged_minutes
    assert all(e.minutes > 0 for e in result.exclusions)
    assert all(0 <= line.counted_minutes <= line.logged_minutes for line in result.lines)
    for line in result.lines:
        assert NOV.contains(line.local_date)
        if line.counted_minutes:
            assert consent is not None and line.local_date >= consent
            assert line.staff_role != "psychiatrist"


@settings(max_examples=200)
@given(entries=st.lists(_entry, max_size=10, unique_by=lambda e: e.entry_id))
def test_months_partition_the_logged_time(entries: list[TimeEntryIn]) -> None:
    months = [Month(2026, 10), NOV, Month(2026, 12)]
    total = sum(count_month(entries, m, date(2026, 1, 1)).logged_minutes for m in months)
    assert total == sum(e.logged_minutes() for e in entries)


@settings(max_examples=200)
@given(entries=st.lists(_entry, max_size=10, unique_by=lambda e: e.entry_id))
def test_one_person_never_counts_more_than_the_clock(entries: list[TimeEntryIn]) -> None:
    cm_timed = [
        TimeEntryIn(e.entry_id, 1, "care_manager", 7, "x", start=e.start, end=e.end)
        for e in entries
        if e.start is not None
    ]
    result = count_month(cm_timed, NOV, date(2026, 1, 1))
    # Minutes counted on one day cannot exceed the wall-clock minutes of the union of spans that day.
    for day in {line.local_date for line in result.lines}:
        lo, hi = (
            datetime.combine(day, datetime.min.time()),
            datetime.combine(day + timedelta(days=1), datetime.min.time()),
        )
        spans = sorted((max(e.start, lo), min(e.end, hi)) for e in cm_timed if e.start < hi and e.end > lo)
        union, reach = timedelta(), lo
        for a, b in spans:
            a = max(a, reach)
            if b > a:
                union += b - a
                reach = b
        counted = sum(line.counted_minutes for line in result.lines if line.local_date == day)
        assert counted <= union // timedelta(minutes=1) + len(spans)  # per-piece floor shares


def test_a_month_adds_timer_seconds_before_rounding_down() -> None:
    """billing.md: the timer keeps its exact duration; the month adds exact durations and rounds
    the total down. 3 × 10 min 40 s + 40 s = 32 min 40 s → 32 min (whole minutes per run: 30)."""
    runs = [timed(n, dt(10 + n, 9), dt(10 + n, 9, 10, 40)) for n in range(3)]
    runs.append(timed(9, dt(14, 9), dt(14, 9, 0, 40)))
    result = count_month(runs, NOV, CONSENT)
    assert (result.logged_minutes, result.counted_minutes, result.excluded_minutes) == (32, 32, 0)
    assert [line.logged_seconds for line in result.lines] == [640, 640, 640, 40]
    # a manual entry of whole minutes keeps exactly its minutes beside them
    both = count_month([*runs, manual(20, date(2026, 11, 20), 15)], NOV, CONSENT)
    assert both.counted_minutes == 47 and both.lines[-1].counted_minutes == 15


def test_excluded_timer_seconds_add_up_with_a_reason() -> None:
    """Before consent 40 s + 40 s, after it 30 s: logged ⌊110 s⌋ = 1 min, counted 0, excluded 1
    (before consent); counted + excluded = logged."""
    runs = [timed(1, dt(1, 9), dt(1, 9, 0, 40)), timed(2, dt(1, 10), dt(1, 10, 0, 40)),
            timed(3, dt(3, 9), dt(3, 9, 0, 30))]
    result = count_month(runs, NOV, CONSENT)
    assert (result.logged_minutes, result.counted_minutes) == (1, 0)
    assert result.excluded_by_reason() == {ExclusionReason.BEFORE_CONSENT: 1}
