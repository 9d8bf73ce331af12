"""label_one_episode (the billing month's shortcut for a patient with one episode) labels every month
exactly as domain.episode_months.label_month does."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import NamedTuple

import pytest

from cocm_desktop.domain.episode_months import Episode, EpisodeMinutes, Month, label_month
from cocm_desktop.services.billing_history import label_one_episode


class Ep(NamedTuple):
    id: int
    program: str
    enrolled_on: date
    closed_on: date | None
    close_reason: str | None


def both(ep: Ep, months: list[Month], month: Month, minutes: int):  # type: ignore[no-untyped-def]
    spans = [Episode(ep.id, ep.program, ep.enrolled_on, ep.closed_on, ep.close_reason)]
    rows = [EpisodeMinutes(m, ep.id, 1) for m in months]
    if minutes:
        rows.append(EpisodeMinutes(month, ep.id, minutes))
    return label_one_episode(ep, months, month, minutes), label_month(spans, rows, month)


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        # (earlier months with counted time, as offsets from the billed month) → (initial?, episode month)
        ((), (True, 1)),
        ((-1,), (False, 2)),
        ((-6,), (False, 7)),  # five empty months between: the billing episode goes on
        ((-7,), (True, 1)),  # six empty months: a new billing episode
        ((-9, -8, -1), (False, 2)),  # the billing episode began after the gap
        ((-14, -7, -6, -2), (False, 8)),
    ],
)
def test_gap_rule_examples(history, expected) -> None:  # type: ignore[no-untyped-def]
    month = Month(2026, 10)
    ep = Ep(7, "cocm", date(2025, 1, 5), None, None)
    fast, exact = both(ep, [month + k for k in history], month, 40)
    assert fast == exact
    assert (fast.initial, fast.episode_month) == expected


def test_random_single_episode_histories_match_label_month() -> None:
    rng = random.Random(11)
    month = Month(2026, 10)
    seen = set()
    for _ in range(3000):
        enrolled = date(2025, 1, 1) + timedelta(days=rng.randint(0, 700))
        closed = None
        if rng.random() < 0.3:
            closed = enrolled + timedelta(days=rng.randint(0, 400))
        ep = Ep(
            rng.randint(1, 50),
            rng.choice(["cocm", "cocm", "bhi"]),
            enrolled,
            closed,
            rng.choice([None, "completed", "disengaged", "transferred"]) if closed else None,
        )
        months = sorted({month + -rng.randint(1, 20) for _ in range(rng.randint(0, 8))})
        minutes = rng.choice([0, 0, 5, 40, 90])
        fast, exact = both(ep, months, month, minutes)
        assert fast == exact, (ep, months, minutes)
        seen.add(
            None if fast is None else (fast.kind, fast.episode_month is not None and fast.episode_month > 1)
        )
    assert {None, ("bhi", False), ("initial", False), ("subsequent", True)} <= seen


def test_unknown_program_and_negative_minutes_are_refused_like_label_month() -> None:
    month = Month(2026, 10)
    with pytest.raises(ValueError):
        label_one_episode(Ep(1, "pcbh", date(2026, 1, 1), None, None), [], month, 10)
    with pytest.raises(ValueError):
        label_one_episode(Ep(1, "cocm", date(2026, 1, 1), None, None), [], month, -1)
