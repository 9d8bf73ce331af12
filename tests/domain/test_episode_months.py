"""Initial vs subsequent billing months, the 6-month gap, and months with both programs' time."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocm_desktop.domain.billing import medicare_codes
from cocm_desktop.domain.episode_months import (
    Episode,
    EpisodeMinutes,
    Month,
    label_month,
    label_months,
)

COCM = Episode(1, "cocm", date(2026, 1, 10))


def mins(episode_id: int, *months: tuple[int, int, int]) -> list[EpisodeMinutes]:
    return [EpisodeMinutes(Month(y, m), episode_id, n) for y, m, n in months]


def kinds(labels) -> list[tuple[str, str, int | None]]:
    return [(str(label.month), label.kind, label.episode_month) for label in labels]


@pytest.mark.parametrize(
    ("a", "b", "diff"),
    [
        (Month(2026, 11), Month(2026, 9), 2),
        (Month(2027, 1), Month(2026, 12), 1),
        (Month(2026, 3), Month(2026, 3), 0),
    ],
)
def test_month_arithmetic(a: Month, b: Month, diff: int) -> None:
    assert a - b == diff
    assert b + diff == a


def test_month_helpers() -> None:
    assert Month(2026, 2).last_day == date(2026, 2, 28)
    assert Month(2028, 2).last_day == date(2028, 2, 29)
    assert Month(2026, 12).last_day == date(2026, 12, 31)
    assert Month.of(date(2026, 11, 30)) == Month.parse("2026-11") == Month(2026, 11)
    assert str(Month(2026, 1)) == "2026-01"
    assert Month(2026, 12) + 1 == Month(2027, 1)
    assert Month(2026, 1) + -1 == Month(2025, 12)
    with pytest.raises(ValueError):
        Month(2026, 13)
    with pytest.raises(ValueError):
        Month.parse("November")


def test_first_service_month_is_initial_then_subsequent() -> None:
    labels = label_months([COCM], mins(1, (2026, 1, 40), (2026, 2, 35), (2026, 3, 10)))
    assert kinds(labels) == [
        ("2026-01", "initial", 1),
        ("2026-02", "subsequent", 2),
        ("2026-03", "subsequent", 3),
    ]
    assert labels[0].billing_episode_start == Month(2026, 1)


def test_initial_month_is_the_first_with_time_not_the_enrollment_month() -> None:
    late = Episode(1, "cocm", date(2026, 1, 30))
    labels = label_months([late], mins(1, (2026, 2, 20), (2026, 3, 40)))
    assert kinds(labels) == [("2026-02", "initial", 1), ("2026-03", "subsequent", 2)]


def test_month_numbers_count_calendar_months_through_short_gaps() -> None:
    labels = label_months([COCM], mins(1, (2026, 1, 40), (2026, 4, 40)))
    assert kinds(labels) == [("2026-01", "initial", 1), ("2026-04", "subsequent", 4)]


@pytest.mark.parametrize(
    ("next_month", "kind"),
    [
        # last service in January; 5 empty months (Feb–Jun) then July → still the same episode
        (Month(2026, 7), "subsequent"),
        # 6 empty months (Feb–Jul) then August → a new episode, 99492 again
        (Month(2026, 8), "initial"),
        (Month(2027, 3), "initial"),
    ],
)
def test_six_month_gap_starts_a_new_episode(next_month: Month, kind: str) -> None:
    minutes = [*mins(1, (2026, 1, 40)), EpisodeMinutes(next_month, 1, 40)]
    labels = label_months([COCM], minutes)
    assert labels[-1].kind == kind
    expected = [("99492", 1)] if kind == "initial" else [("99493", 1)]
    assert medicare_codes(labels[-1].program, labels[-1].initial, labels[-1].minutes) == expected


def test_new_episode_numbers_restart() -> None:
    labels = label_months([COCM], mins(1, (2026, 1, 40), (2026, 8, 40), (2026, 9, 40)))
    assert kinds(labels) == [
        ("2026-01", "initial", 1),
        ("2026-08", "initial", 1),
        ("2026-09", "subsequent", 2),
    ]
    assert labels[-1].billing_episode_start == Month(2026, 8)


def test_bhi_months_are_never_cocm_and_do_not_bridge_a_gap() -> None:
    bhi = Episode(2, "bhi", date(2026, 2, 1))
    cocm_again = Episode(3, "cocm", date(2026, 8, 1))
    first = Episode(1, "cocm", date(2026, 1, 1), closed_on=date(2026, 1, 31), close_reason="disengaged")
    minutes = [
        *mins(1, (2026, 1, 40)),
        *mins(2, (2026, 2, 25), (2026, 3, 25), (2026, 4, 25), (2026, 5, 25), (2026, 6, 25), (2026, 7, 25)),
        *mins(3, (2026, 8, 40)),
    ]
    labels = label_months([first, bhi, cocm_again], minutes)
    assert [label.kind for label in labels] == ["initial", *["bhi"] * 6, "initial"]
    assert all(label.episode_month is None for label in labels if label.program == "bhi")
    assert medicare_codes("bhi", labels[1].initial, labels[1].minutes) == [("99484", 1)]


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("completed", "initial"),  # goals met ends the billing episode
        ("transferred", "initial"),  # referred to specialty care
        ("disengaged", "subsequent"),  # back within 6 months: same billing episode
        ("declined", "subsequent"),
    ],
)
def test_re_enrollment_after_closure(reason: str, kind: str) -> None:
    first = Episode(1, "cocm", date(2026, 1, 5), closed_on=date(2026, 3, 20), close_reason=reason)
    second = Episode(2, "cocm", date(2026, 5, 2))
    labels = label_months([first, second], [*mins(1, (2026, 1, 40), (2026, 3, 40)), *mins(2, (2026, 5, 40))])
    assert labels[-1].kind == kind
    assert labels[-1].episode_id == 2


def test_month_with_both_programs_is_decided_by_the_episode_open_at_month_end() -> None:
    bhi = Episode(1, "bhi", date(2026, 1, 5), closed_on=date(2026, 3, 10), close_reason="completed")
    cocm = Episode(2, "cocm", date(2026, 3, 12))
    labels = label_months([bhi, cocm], [*mins(1, (2026, 2, 25), (2026, 3, 15)), *mins(2, (2026, 3, 30))])
    march = labels[-1]
    assert (march.program, march.minutes, march.set_aside_minutes, march.kind) == ("cocm", 30, 15, "initial")
    assert march.conflict is not None
    assert "never billed in the same month" in march.conflict and "15 min of bhi set aside" in march.conflict
    assert labels[0].conflict is None
    # Only CoCM codes for March; 99484 never in the same month.
    assert medicare_codes(march.program, march.initial, march.minutes) == [("G2214", 1)]


def test_same_program_episodes_in_one_month_add_up() -> None:
    first = Episode(1, "cocm", date(2026, 1, 5), closed_on=date(2026, 2, 10), close_reason="disengaged")
    second = Episode(2, "cocm", date(2026, 2, 20))
    labels = label_months([first, second], [*mins(1, (2026, 1, 40), (2026, 2, 20)), *mins(2, (2026, 2, 15))])
    feb = labels[-1]
    assert (feb.episode_id, feb.minutes, feb.set_aside_minutes, feb.conflict) == (2, 35, 0, None)
    assert feb.kind == "subsequent"


def test_months_without_time_are_not_labelled() -> None:
    labels = label_months([COCM], mins(1, (2026, 1, 0), (2026, 2, 20)))
    assert kinds(labels) == [("2026-02", "initial", 1)]


def test_unknown_episode_and_negative_minutes_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown episode"):
        label_months([COCM], mins(9, (2026, 1, 20)))
    with pytest.raises(ValueError, match="negative"):
        label_months([COCM], mins(1, (2026, 1, -5)))
    with pytest.raises(ValueError, match="unknown program"):
        Episode(1, "ccm", date(2026, 1, 1))


@pytest.mark.parametrize(
    ("history", "month", "expected"),
    [
        ([], Month(2026, 1), ("initial", 1)),  # nothing logged yet: this month would be initial
        ([(2026, 1, 40)], Month(2026, 2), ("subsequent", 2)),  # no time yet this month
        ([(2026, 1, 40), (2026, 2, 10)], Month(2026, 2), ("subsequent", 2)),
        ([(2026, 1, 40)], Month(2026, 8), ("initial", 1)),  # after a 6-month gap
        ([(2026, 1, 40), (2026, 9, 40)], Month(2026, 2), ("subsequent", 2)),  # later months don't matter
    ],
)
def test_label_month_for_the_registry(history: list, month: Month, expected: tuple) -> None:
    label = label_month([COCM], mins(1, *history), month)
    assert label is not None
    assert (label.kind, label.episode_month) == expected


def test_label_month_without_time_or_open_episode_is_none() -> None:
    closed = Episode(1, "cocm", date(2026, 1, 5), closed_on=date(2026, 2, 1), close_reason="completed")
    assert label_month([closed], mins(1, (2026, 1, 40)), Month(2026, 4)) is None
    assert label_month([closed], [], Month(2025, 12)) is None


@given(
    months=st.lists(
        st.tuples(st.integers(min_value=0, max_value=47), st.integers(min_value=1, max_value=120)),
        max_size=20,
        unique_by=lambda t: t[0],
    ),
)
def test_label_properties(months: list[tuple[int, int]]) -> None:
    start = Month(2026, 1)
    minutes = [EpisodeMinutes(start + offset, 1, n) for offset, n in months]
    labels = label_months([COCM], minutes)
    assert [label.month for label in labels] == sorted(start + o for o, _ in months)
    for prev, label in zip([None, *labels], labels, strict=False):
        gap = None if prev is None else label.month - prev.month - 1
        assert label.initial == (gap is None or gap >= 6)
        assert label.episode_month == (
            1 if label.initial else prev.episode_month + (label.month - prev.month)
        )
        # label_month agrees with the full labelling
        again = label_month([COCM], minutes, label.month)
        assert again == label
