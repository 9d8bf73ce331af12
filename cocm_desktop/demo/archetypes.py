"""The kinds of patient in the demo clinic and how their scores move.

Every patient follows an archetype (responder, partial, non-responder, relapse, safety event,
disengaged, transferred, stepped down, completed, new); `trajectory` is the score an archetype
has in a given week, `items_for_total` the questionnaire answers that add up to it.
"""

from __future__ import annotations

import random

# (archetype, weight)
ARCHETYPES = [
    ("responder", 22), ("partial", 14), ("non_responder", 14), ("relapse", 6), ("safety", 6),
    ("disengaged", 8), ("transferred", 6), ("stepped_down", 8), ("completed", 8), ("new", 8),
]


def archetype_order() -> list[str]:
    """Archetypes spread evenly by weight, so even a 20-patient clinic gets every kind."""
    return [k for _pos, k in sorted(((i + 0.5) / w, k) for k, w in ARCHETYPES for i in range(w))]


def items_for_total(rng: random.Random, n_items: int, total: int, item9: int = 0) -> list[int]:
    """Item answers that add up to `total` (each 0–3); PHQ-9 item 9 set explicitly."""
    items = [0] * n_items
    free = list(range(n_items - 1)) if n_items == 9 else list(range(n_items))
    if n_items == 9:
        items[8] = item9
        total = max(total, item9)
    remaining = min(total - items[8] if n_items == 9 else total, 3 * len(free))
    while remaining > 0:
        i = rng.choice(free)
        if items[i] < 3:
            items[i] += 1
            remaining -= 1
    return items


def trajectory(kind: str, baseline: int, week: float, rng: random.Random) -> int:
    """The score an archetype has `week` weeks after enrolment (give or take one point)."""
    noise = rng.choice((-1, 0, 0, 1))
    if kind in ("responder", "stepped_down", "completed"):
        value = baseline * max(0.18, 1 - week / 13)
    elif kind in ("partial", "safety"):
        # a partial response, then the consultant's medication change works from about week 14
        value = baseline * (1 - 0.38 * min(1.0, week / 12)) if week < 14 else baseline * max(0.3, 0.62 - (week - 14) / 20)
    elif kind == "relapse":
        value = baseline * max(0.2, 1 - week / 12) if week < 18 else baseline * min(0.85, 0.2 + (week - 18) / 8)
    else:  # non_responder, transferred, disengaged, new
        value = baseline * (1 - 0.1 * min(1.0, week / 10))
    return max(0, int(round(value)) + noise)
