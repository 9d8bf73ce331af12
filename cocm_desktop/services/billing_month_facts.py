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

from sqlalchemy import func, select

from cocm_desktop.domain.episode_months import Month
from cocm_desktop.domain.outcomes import Measurement, is_not_improving, pick_baseline
from cocm_desktop.store.models import (
    AgendaItem,
    CarePlanVersion,
    CaseReviewSession,
    Contact,
    Episode,
    Measure,
)

from ._sql import raw
from .billing_history import _moment, day_reader, plain_rows

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
    f.care_plan = {eid for (eid,) in plain_rows(conn, select(CarePlanVersion.episode_id).where(CarePlanVersion.voided_at.is_(None)).distinct())}
    f.contacts = dict(
        plain_rows(  # type: ignore[arg-type]
            conn,
            select(Contact.episode_id, func.count())
            .where(Contact.contact_at >= start, Contact.contact_at < end, Contact.voided_at.is_(None))
            .group_by(Contact.episode_id),
        )
    )
    f.scales = dict(
        plain_rows(  # type: ignore[arg-type]
            conn,
            select(Measure.episode_id, func.count())
            .where(Measure.taken_at >= start, Measure.taken_at < end, Measure.voided_at.is_(None))
            .group_by(Measure.episode_id),
        )
    )
    day = day_reader()
    reviews: dict[int, list[date]] = defaultdict(list)
    for eid, on in plain_rows(
        conn,
        select(AgendaItem.episode_id, raw(CaseReviewSession.session_on))
        .join(CaseReviewSession, CaseReviewSession.id == AgendaItem.session_id)
        .where(AgendaItem.reviewed.is_(True), AgendaItem.removed.is_(False)),
    ):
        reviews[eid].append(day(on))  # type: ignore[arg-type]
    f.reviews = {eid: tuple(sorted(days)) for eid, days in reviews.items()}
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
    # days as ISO text ("YYYY-MM-DD" compares as the dates do), parsed only for the few kept
    limits = {
        eid: (e.enrolled_on.isoformat(), (e.enrolled_on + window).isoformat()) for eid, e in by_id.items()
    }
    kept: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    latest: dict[int, tuple[str, int, int]] = {}
    as_of_end = datetime.combine(as_of, datetime.max.time())
    # in the index's order (episode, time taken), so SQLite reads it without sorting; scores
    # taken at the same moment are told apart by their id here
    for eid, taken_at, total, mid in plain_rows(
        conn,
        select(Measure.episode_id, raw(Measure.taken_at), Measure.total, Measure.id)
        .join(Episode, Episode.id == Measure.episode_id)
        .where(Measure.instrument == Episode.primary_scale, Measure.taken_at <= as_of_end, Measure.voided_at.is_(None))
        .order_by(Measure.episode_id, Measure.taken_at),
    ):
        limit = limits.get(eid)
        if limit is None:
            continue
        score = (taken_at, mid, total)
        best = latest.get(eid)
        if best is None or score > best:
            latest[eid] = score
        if exact or limit[0] <= taken_at[:10] <= limit[1]:
            kept[eid].append(score)

    out: dict[int, bool] = {}
    for eid, e in by_id.items():
        candidates = [Measurement(e.primary_scale, _moment(at), total) for at, _, total in sorted(kept.get(eid, ()))]
        baseline = pick_baseline(e.enrolled_on, candidates, policy=policy)
        out[eid] = is_not_improving(
            e.enrolled_on,
            as_of,
            baseline.total if baseline else None,
            latest[eid][2] if eid in latest else None,
            policy,
        )
    return out
