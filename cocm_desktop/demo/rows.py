"""The generator's bookkeeping: rows buffered per table for one bulk insert, and clock times that
never overlap for one staff member on one day."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any


@dataclass
class Rows:
    """Accumulates plain dicts per table with explicit ids (no RETURNING round trips)."""

    tables: dict[Any, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    ids: dict[Any, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, model: Any, **values: Any) -> int:
        self.ids[model] += 1
        values.setdefault("id", self.ids[model])
        self.tables[model].append(values)
        return values["id"]


class Scheduler:
    """Hands out non-overlapping clock times per staff member per day (overlap is a billing rule)."""

    def __init__(self) -> None:
        self._next: dict[tuple[int, date], datetime] = {}

    def slot(self, staff_id: int, day: date, minutes: int, rng: random.Random) -> datetime:
        start = self._next.get((staff_id, day)) or datetime.combine(day, time(8, 30)) + timedelta(
            minutes=rng.randrange(0, 90, 5)
        )
        self._next[(staff_id, day)] = start + timedelta(minutes=minutes + rng.choice((5, 10, 15)))
        return start
