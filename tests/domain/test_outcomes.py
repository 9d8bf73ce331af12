from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocm_desktop.domain.outcomes import (
    Measurement,
    Response,
    assess,
    change_from_baseline,
    classify_response,
    format_change,
    is_not_improving,
    is_remission,
    pick_baseline,
    remission_run_start,
    weeks_in_treatment,
)
from cocm_desktop.domain.policy import Policy

ENROLLED = date(2026, 9, 1)
TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("baseline", "latest", "change"),
    [(20, 10, Fraction(1, 2)), (20, 20, Fraction(0)), (10, 15, Fraction(-1, 2)), (0, 0, None), (0, 3, None),
     (None, 5, None), (12, None, None), (27, 0, Fraction(1))],
)
def test_change_from_baseline(baseline, latest, change):
    assert change_from_baseline(baseline, latest) == change


@pytest.mark.parametrize(
    ("baseline", "latest", "expected"),
    [
        (20, 10, Response.RESPONSE),  # exactly 50 %
        (20, 11, Response.PARTIAL),  # 45 %
        (10001, 5001, Response.PARTIAL),  # 49.995 %: exact arithmetic keeps it below 50
        (10001, 5000, Response.RESPONSE),  # 50.005 %
        (20, 15, Response.PARTIAL),  # exactly 25 %
        (20, 16, Response.NONE),  # 20 %
        (4, 3, Response.PARTIAL),  # 25 %
        (3, 2, Response.PARTIAL),  # 33.3 %
        (3, 1, Response.RESPONSE),  # 66.7 %
        (12, 13, Response.NONE),  # worse
        (0, 0, None),
        (None, 4, None),
    ],
)
def test_classify_response_boundaries(baseline, latest, expected):
    assert classify_response(baseline, latest) == expected


def test_classify_response_follows_policy():
    strict = Policy(response_percent=60, partial_response_percent=30)
    assert classify_response(20, 10, strict) is Response.PARTIAL
    assert classify_response(20, 8, strict) is Response.RESPONSE


@pytest.mark.parametrize(("latest", "remission"), [(0, True), (4, True), (5, False), (None, False)])
def test_remission_below_5(latest, remission):
    assert is_remission(latest) is remission


@pytest.mark.parametrize(
    ("days", "weeks"),
    [(0, 0), (6, 0), (7, 1), (69, 9), (70, 10), (71, 10), (-3, 0)],
)
def test_weeks_in_treatment_whole_weeks(days, weeks):
    assert weeks_in_treatment(ENROLLED, ENROLLED + timedelta(days=days)) == weeks


def test_weeks_in_treatment_accepts_datetimes():
    assert weeks_in_treatment(ENROLLED, datetime(2026, 9, 15, 23, 59)) == 2


@pytest.mark.parametrize(
    ("days", "baseline", "latest", "expected"),
    [
        (69, 20, 18, False),  # 9 weeks 6 days: too early
        (70, 20, 18, True),  # 10 weeks, no response
        (70, 20, 10, False),  # 10 weeks, response
        (70, 20, 11, True),  # 45 % is partial, still not improving
        (70, 6, 4, False),  # remission counts as at target
        (70, None, None, True),  # no documented response at all
        (70, 20, None, True),
    ],
)
def test_not_improving(days, baseline, latest, expected):
    assert is_not_improving(ENROLLED, ENROLLED + timedelta(days=days), baseline, latest) is expected


def _m(day_offset: int, total: int, instrument: str = "PHQ-9") -> Measurement:
    return Measurement(instrument, ENROLLED + timedelta(days=day_offset), total)


@pytest.mark.parametrize(
    ("measures", "expected_total"),
    [
        ([_m(-1, 22), _m(3, 18), _m(10, 15)], 18),  # pre-enrollment screening never counts
        ([_m(10, 15), _m(0, 19)], 19),  # earliest, not first in the list
        ([_m(14, 16)], 16),  # day 14 is inside the window
        ([_m(15, 16)], None),  # day 15 is not
        ([_m(-5, 20)], None),
        ([_m(2, 9, "GAD-7"), _m(5, 17)], 17),  # other scale skipped
        ([], None),
    ],
)
def test_pick_baseline(measures, expected_total):
    chosen = pick_baseline(ENROLLED, measures, instrument="PHQ-9")
    assert (chosen.total if chosen else None) == expected_total


def test_pick_baseline_same_day_uses_time_then_input_order():
    early = Measurement("PHQ-9", datetime(2026, 9, 2, 8, 0), 14)
    late = Measurement("PHQ-9", datetime(2026, 9, 2, 17, 0), 12)
    assert pick_baseline(ENROLLED, [late, early]) is early
    a, b = _m(1, 10), _m(1, 11)
    assert pick_baseline(ENROLLED, [a, b]) is a


def test_pick_baseline_window_from_policy():
    assert pick_baseline(ENROLLED, [_m(20, 15)], policy=Policy(baseline_window_days=21)).total == 15


def test_remission_run_start():
    ms = [_m(0, 18), _m(30, 4), _m(44, 6), _m(58, 3), _m(86, 2)]
    assert remission_run_start(ms) == ENROLLED + timedelta(days=58)
    assert remission_run_start(ms[:3]) is None
    assert remission_run_start([]) is None


@pytest.mark.parametrize(
    ("change", "text"),
    [(Fraction(52, 100), "\u221252 %"), (Fraction(4999, 10000), "\u221249 %"), (Fraction(-1, 3), "+33 %"),
     (Fraction(0), "0 %"), (None, "\u2014")],
)
def test_format_change_never_rounds_up_to_response(change, text):
    assert format_change(change) == text


def test_assess_bundles_everything():
    o = assess(ENROLLED, TODAY, 20, 9)
    assert (o.weeks, o.change, o.response, o.remission, o.not_improving) == (12, Fraction(11, 20), Response.RESPONSE,
                                                                            False, False)


@given(st.integers(1, 27), st.integers(0, 27))
def test_property_classification_matches_exact_percent(baseline, latest):
    pct = Fraction(baseline - latest, baseline) * 100
    got = classify_response(baseline, latest)
    if pct >= 50:
        assert got is Response.RESPONSE
    elif pct >= 25:
        assert got is Response.PARTIAL
    else:
        assert got is Response.NONE
