"""The registry's row assembly puts every stored fact into the right `EpisodeFacts` field.

`services.registry` builds 10,000 `EpisodeFacts` per read positionally, through the slots (the
frozen __init__ costs twice as much); a swapped pair of same-typed fields (two dates, say) would
still give plausible rows and wrong flags. Each fact gets a value no other fact has, and each
field is checked by name.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date, timedelta

from cocm_desktop.domain.flags import EpisodeFacts
from cocm_desktop.domain.policy import DEFAULT_POLICY
from cocm_desktop.services.registry import _assemble, _new_facts
from cocm_desktop.services.registry_facts import FACT_COLUMNS
from cocm_desktop.store.reads.registry_reads import FactsDecoder, RegistryEpisode

TODAY = date(2026, 11, 24)
ENROLLED = date(2026, 8, 3)


def _day(n: int) -> date:
    return ENROLLED + timedelta(days=n)


STORED = {  # every fact with a value of its own (dates as the cache stores them: ISO text)
    "patient_id": 2,
    "remission_below": DEFAULT_POLICY.remission_below,
    "phq9_last": 11, "phq9_last_on": _day(100), "phq9_prev": 12, "phq9_prev_on": _day(90),
    "phq9_first": 19, "phq9_first_on": _day(3),
    "gad7_last": 6, "gad7_last_on": _day(99), "gad7_prev": 7, "gad7_prev_on": _day(89),
    "gad7_first": 15, "gad7_first_on": _day(4),
    "phq9_item9": 1, "remission_since": _day(95),
    "has_contacts": 1, "last_contact_on": _day(101), "failed_attempts": 3,
    "open_question_since": _day(80), "first_contact_on": _day(1), "last_zero_lag_on": _day(102),
    "lags": json.dumps([[_day(103).isoformat(), 4]]),
    "awaiting_approval_since": _day(70), "approved_not_told_since": _day(71), "open_loops": 2,
    "reviewed_days": json.dumps([_day(60).isoformat(), _day(74).isoformat()]),
    "referral_since": _day(50), "risk_since": _day(40), "has_consent": 1, "has_care_plan": 0,
    "billing_month": "2026-11-01", "minutes": 42, "next_code": "99493", "minutes_needed": 18,
    "billing_label": "subsequent",
}
EPISODE = RegistryEpisode(  # the episode columns the registry selects before the facts
    1, 2, "Rivera", "Ana", "MRN1", 5, "Casey Morgan", 6, "Dr. Okafor", "cocm", "active",
    ENROLLED, "PHQ-9", "Call back", _day(110), None, None,
)


def test_every_stored_fact_reaches_its_field() -> None:
    assert set(STORED) == set(FACT_COLUMNS)
    stored = [
        v.isoformat() if isinstance(v, date) else v for v in (STORED[name] for name in FACT_COLUMNS)
    ]
    row, extras = _assemble(EPISODE, FactsDecoder()(stored), TODAY, DEFAULT_POLICY)
    f = row.facts
    assert {fl.name: getattr(f, fl.name) for fl in fields(EpisodeFacts)} == {
        "enrolled_on": ENROLLED,
        "status": "active",
        "program": "cocm",
        "primary_scale": "PHQ-9",
        "baseline_total": 19,
        "baseline_on": _day(3),
        "latest_total": 11,
        "latest_on": _day(100),
        "previous_total": 12,
        "previous_on": _day(90),
        "remission_since": _day(95),
        "last_phq9_item9": 1,
        "last_phq9_on": _day(100),
        "open_risk_since": _day(40),
        "last_contact_on": _day(101),
        "failed_attempts_since_contact": 3,
        "next_action_on": _day(110),
        "last_case_review_on": _day(74),
        "awaiting_approval_since": _day(70),
        "approved_not_told_since": _day(71),
        "has_consent": True,
        "has_care_plan": False,
        "max_registry_lag_days": 4,
        "lagged_contact_on": _day(103),
        "oldest_unconfirmed_referral_on": _day(50),
    }
    assert (row.gad7_baseline, row.gad7_last, row.minutes_this_month) == (15, 6, 42)
    assert (extras.open_question_since, extras.open_loops) == (_day(80), 2)


def test_the_fast_constructor_makes_the_same_facts() -> None:
    values = [object() for _ in fields(EpisodeFacts)]
    assert _new_facts(*values) == EpisodeFacts(*values)
