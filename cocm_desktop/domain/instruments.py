"""PHQ-9 and GAD-7: item wording, scoring, severity bands, export codes.

Item-level answers are what the app stores; totals are always computed here, never typed, so a
measure with a missing or out-of-range item is refused with a message that names the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PHQ9 = "PHQ-9"
GAD7 = "GAD-7"
INSTRUMENTS: tuple[str, ...] = (PHQ9, GAD7)

ITEM_MIN = 0
ITEM_MAX = 3

#: Printed on every packet that reproduces the questionnaires.
COPYRIGHT_NOTICE = (
    "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, "
    "with an educational grant from Pfizer Inc. No permission required to reproduce, translate, "
    "display or distribute."
)

STEMS: dict[str, str] = {
    PHQ9: "Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    GAD7: "Over the last 2 weeks, how often have you been bothered by the following problems?",
}

#: Answer options shared by every item of both instruments; the index is the item score.
ANSWER_OPTIONS: tuple[str, ...] = ("Not at all", "Several days", "More than half the days", "Nearly every day")

ITEM_TEXTS: dict[str, tuple[str, ...]] = {
    PHQ9: (
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself \u2014 or that you are a failure or have let yourself or your "
        "family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite \u2014 "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    GAD7: (
        "Feeling nervous, anxious or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid as if something awful might happen",
    ),
}

#: Short clinician-facing labels (lower case so they read inside a sentence).
ITEM_LABELS: dict[str, tuple[str, ...]] = {
    PHQ9: (
        "little interest or pleasure in doing things",
        "feeling down, depressed or hopeless",
        "trouble sleeping or sleeping too much",
        "feeling tired or having little energy",
        "poor appetite or overeating",
        "feeling bad about yourself",
        "trouble concentrating",
        "moving or speaking slowly, or being restless",
        "thoughts of self-harm",
    ),
    GAD7: (
        "feeling nervous, anxious or on edge",
        "not able to stop or control worrying",
        "worrying too much about different things",
        "trouble relaxing",
        "so restless it is hard to sit still",
        "easily annoyed or irritable",
        "afraid something awful might happen",
    ),
}

#: PHQ-9 optional functional question: stored with the measure, never added to the total.
DIFFICULTY_QUESTION = (
    "If you checked off any problems, how difficult have these problems made it for you to do your "
    "work, take care of things at home, or get along with other people?"
)
DIFFICULTY_OPTIONS: tuple[str, ...] = (
    "Not difficult at all",
    "Somewhat difficult",
    "Very difficult",
    "Extremely difficult",
)

#: LOINC codes for the totals (used by exports).
LOINC_TOTAL: dict[str, str] = {PHQ9: "44261-6", GAD7: "70274-6"}

#: 1-based number of the PHQ-9 item that opens the risk workflow when answered above 0.
SAFETY_ITEM = 9

_BANDS: dict[str, tuple[tuple[str, int, int], ...]] = {
    PHQ9: (
        ("minimal", 0, 4),
        ("mild", 5, 9),
        ("moderate", 10, 14),
        ("moderately severe", 15, 19),
        ("severe", 20, 27),
    ),
    GAD7: (
        ("minimal", 0, 4),
        ("mild", 5, 9),
        ("moderate", 10, 14),
        ("severe", 15, 21),
    ),
}

ITEM_COUNT: dict[str, int] = {name: len(texts) for name, texts in ITEM_TEXTS.items()}
MAX_TOTAL: dict[str, int] = {name: count * ITEM_MAX for name, count in ITEM_COUNT.items()}


@dataclass(frozen=True, slots=True)
class Score:
    instrument: str
    items: tuple[int, ...]
    total: int
    band: str
    safety: bool

    @property
    def loinc(self) -> str:
        return LOINC_TOTAL[self.instrument]


def _check_instrument(instrument: str) -> str:
    if instrument not in ITEM_TEXTS:
        known = ", ".join(INSTRUMENTS)
        raise ValueError(f"Unknown instrument {instrument!r}; this app scores {known}.")
    return instrument


def item_count(instrument: str) -> int:
    return ITEM_COUNT[_check_instrument(instrument)]


def max_total(instrument: str) -> int:
    return MAX_TOTAL[_check_instrument(instrument)]


def item_texts(instrument: str) -> tuple[str, ...]:
    return ITEM_TEXTS[_check_instrument(instrument)]


def item_labels(instrument: str) -> tuple[str, ...]:
    return ITEM_LABELS[_check_instrument(instrument)]


def bands(instrument: str) -> list[tuple[str, int, int]]:
    """Severity bands as (name, lowest total, highest total), inclusive, lowest band first."""
    return list(_BANDS[_check_instrument(instrument)])


def band_for(instrument: str, total: int) -> str:
    """Severity band name of a total; refuses totals outside 0..max."""
    for name, low, high in _BANDS[_check_instrument(instrument)]:
        if low <= total <= high:
            return name
    raise ValueError(f"{instrument} total must be 0\u2013{MAX_TOTAL[instrument]}, got {total}")


def _item_name(instrument: str, index: int) -> str:
    return f"{instrument} item {index + 1} ({ITEM_LABELS[instrument][index]})"


def score(instrument: str, items: Sequence[int]) -> Score:
    """Validate item answers and compute total, band and the item-9 safety signal.

    Only real ints 0..3 are accepted: bools, floats (even 2.0) and strings are refused so that a
    form bug can never silently turn into a score.
    """
    _check_instrument(instrument)
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ValueError(f"{instrument} answers must be a list of item scores")
    count = ITEM_COUNT[instrument]
    for index in range(min(len(items), count)):
        value = items[index]
        if value is None:
            raise ValueError(f"{_item_name(instrument, index)} is missing")
        if type(value) is not int:  # bool is an int subclass: refuse it explicitly
            raise ValueError(
                f"{_item_name(instrument, index)} must be a whole number {ITEM_MIN}\u2013{ITEM_MAX}, "
                f"got {value!r}"
            )
        if not ITEM_MIN <= value <= ITEM_MAX:
            raise ValueError(f"{_item_name(instrument, index)} must be {ITEM_MIN}\u2013{ITEM_MAX}, got {value}")
    if len(items) < count:
        raise ValueError(f"{_item_name(instrument, len(items))} is missing")
    if len(items) > count:
        raise ValueError(f"{instrument} has {count} items; got {len(items)} answers (too many)")
    values = tuple(items)
    total = sum(values)
    safety = instrument == PHQ9 and values[SAFETY_ITEM - 1] > 0
    return Score(instrument=instrument, items=values, total=total, band=band_for(instrument, total), safety=safety)


def check_difficulty(instrument: str, answer: int | None) -> int | None:
    """Validate the optional PHQ-9 difficulty answer (index into DIFFICULTY_OPTIONS, or None)."""
    _check_instrument(instrument)
    if answer is None:
        return None
    if instrument != PHQ9:
        raise ValueError(f"{instrument} has no difficulty question")
    if type(answer) is not int or not 0 <= answer < len(DIFFICULTY_OPTIONS):
        raise ValueError(
            f"PHQ-9 difficulty answer must be 0\u2013{len(DIFFICULTY_OPTIONS) - 1} "
            f"({', '.join(DIFFICULTY_OPTIONS)}), got {answer!r}"
        )
    return answer
