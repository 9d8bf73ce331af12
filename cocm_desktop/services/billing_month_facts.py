"""What the required-element checks of a billing month need, for every episode at once.

Care plans on file, contacts and PHQ-9/GAD-7 scores in the month, case reviews, and (only for the
episodes whose case-review check depends on it) the primary-scale scores that decide "not
improving". Each is one Core statement over the whole clinic, answered from an index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cocm_desktop.domain.episode_months import Month
from cocm_desktop.domain.outcomes import Measurement, is_not_improving, pick_baseline
from cocm_desktop.store.reads import billing_reads

__all__ = ["Facts", "month_facts", "not_improving"]


@dataclass
class Facts:
    care_plan: set[int] = field(default_factory=set)
    contacts: dict[int, int] = field(default_factory=dict)
    scales: dict[int, int] = field(default_factory=dict)
    reviews: dict[int, tuple[date, ...]] = field(default_factory=dict)  # sorted, per episode


def month_facts(conn, month: Month) -> Facts:  # type: ignore[no-untyped-def]
    """Set-based: what the required-element checks need, for all episodes at once."""
    f = Facts()
    start = datetime.combine(month.first_day, datetime.min.time())
    end = datetime.combine((month + 1).first_day, datetime.min.time())
    f.care_plan = billing_reads.episodes_with_care_plan(conn)
    f.contacts = billing_reads.contacts_per_episode(conn, start, end)
    f.scales = billing_reads.scales_per_episode(conn, start, end)
    f.reviews = billing_reads.reviewed_days_by_episode(conn)
    return f


def not_improving(conn, episodes: Iterable, as_of: date, policy, *, exact: bool = False) -> dict[int, bool]:  # type: ignore[no-untyped-def]
    """{episode id: not improving as of `as_of`} (`domain.outcomes.is_not_improving`) from the
    episode's primary-scale scores up to that day: the baseline by `pick_baseline`, the latest the
    newest score (by time taken, then entry order), as the registry takes them.

    One pass over the scores in the episode index's order (episode, time taken), read from
    that index alone. `pick_baseline` is given the scores dated in the baseline window (on or
    after enrollment, `policy.baseline_window_days` at most), the only ones it can pick;
    `exact=True` gives it every score (the reference).
    """
    by_id = {e.id: e for e in episodes}
    window = timedelta(days=policy.baseline_window_days)
    # the baseline window as moments: on or after enrollment, `window` days at most
    limits = {
        eid: (datetime.combine(e.enrolled_on, datetime.min.time()),
              datetime.combine(e.enrolled_on + window, datetime.max.time()))
        for eid, e in by_id.items()
    }
    kept: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
    latest: dict[int, tuple[datetime, int, int]] = {}
    # scores taken at the same moment are told apart by their id here
    for eid, taken_at, total, mid in billing_reads.primary_scale_scores(
        conn, datetime.combine(as_of, datetime.max.time())
    ):
        limit = limits.get(eid)
        if limit is None:
            continue
        score = (taken_at, mid, total)
        best = latest.get(eid)
        if best is None or score > best:
            latest[eid] = score
        if exact or limit[0] <= taken_at <= limit[1]:
            kept[eid].append(score)

    out: dict[int, bool] = {}
    for eid, e in by_id.items():
        candidates = [Measurement(e.primary_scale, at, total) for at, _, total in sorted(kept.get(eid, ()))]
        baseline = pick_baseline(e.enrolled_on, candidates, policy=policy)
        out[eid] = is_not_improving(
            e.enrolled_on,
            as_of,
            baseline.total if baseline else None,
            latest[eid][2] if eid in latest else None,
            policy,
        )
    return out
