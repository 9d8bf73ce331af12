"""No lost edits on billing adjustments (issue 17 item 3): the clinic lead acknowledges the figures
they read. A change to the submitted month after they opened the adjustment is refused plainly
(with the new figures), nothing is acknowledged, and acknowledging the new figures goes through.
Both engines."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from cocm_desktop.services.billing_submissions import (
    acknowledge_adjustment,
    billing_adjustments,
    mark_month_submitted,
)
from cocm_desktop.services.common import EditConflict
from cocm_desktop.services.time_log import add_manual_time
from cocm_desktop.store.models import BillingAdjustmentAck

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 16, 0)
OCT = "2026-10"


def test_acknowledging_figures_that_changed_since_they_were_shown_is_refused(clinic, actors, build) -> None:  # type: ignore[no-untyped-def]
    pid = build.patient()
    ep = build.episode(pid, enrolled_on=date(2026, 9, 1), consent_on=date(2026, 9, 1))
    build.raw_entry(pid, ep, "cm1", date(2026, 10, 6), 40)
    lead = actors["lead"]
    with clinic.session() as s:
        mark_month_submitted(s, lead, OCT, today=TODAY)

    def late(minutes: int, day: int) -> None:  # cm1 logs October time in November
        with clinic.session() as s:
            add_manual_time(s, actors["cm1"], patient_id=pid, activity="care_coordination", minutes=minutes,
                            local_date=date(2026, 10, day), episode_id=ep, note="Call with pharmacy", now=NOW)

    def shown():  # type: ignore[no-untyped-def]
        with clinic.session() as s:
            (adj,) = billing_adjustments(s, lead, month=OCT, today=TODAY)
            return adj

    late(20, 28)
    seen = shown()  # the lead opens the adjustment: 40 → 60 minutes
    assert (seen.minutes_before, seen.minutes_after) == (40, 60)
    late(25, 30)  # meanwhile another late call
    with pytest.raises(EditConflict) as caught, clinic.session() as s:
        acknowledge_adjustment(s, lead, OCT, pid, shown=seen, today=TODAY)
    message = str(caught.value)
    assert message.startswith(f"This patient's {OCT} billing changed again after you opened it")
    assert "40 → 85 min" in message and "Nothing was acknowledged" in message
    with clinic.session() as s:
        assert s.scalar(select(func.count()).select_from(BillingAdjustmentAck)) == 0

    again = shown()  # re-read: the new figures, acknowledged as shown
    with clinic.session() as s:
        acknowledge_adjustment(s, lead, OCT, pid, shown=again, today=TODAY)
    with clinic.session() as s:
        ack = s.scalars(select(BillingAdjustmentAck)).one()
        assert (ack.minutes_before, ack.minutes_after) == (40, 85)
        assert billing_adjustments(s, lead, month=OCT, today=TODAY) == []
