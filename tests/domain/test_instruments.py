from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocm_desktop.domain import instruments as ins
from cocm_desktop.domain.instruments import score

PHQ9_OK = [1, 2, 3, 0, 1, 2, 0, 0, 0]


@pytest.mark.parametrize(
    ("instrument", "items", "total", "band", "safety"),
    [
        ("PHQ-9", [0] * 9, 0, "minimal", False),
        ("PHQ-9", [1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal", False),
        ("PHQ-9", [1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild", False),
        ("PHQ-9", [1] * 9, 9, "mild", True),
        ("PHQ-9", [2, 2, 2, 2, 2, 0, 0, 0, 0], 10, "moderate", False),
        ("PHQ-9", [2, 2, 2, 2, 2, 2, 2, 0, 0], 14, "moderate", False),
        ("PHQ-9", [3, 3, 3, 3, 3, 0, 0, 0, 0], 15, "moderately severe", False),
        ("PHQ-9", [3, 3, 3, 3, 3, 3, 1, 0, 0], 19, "moderately severe", False),
        ("PHQ-9", [3, 3, 3, 3, 3, 3, 2, 0, 0], 20, "severe", False),
        ("PHQ-9", [3] * 9, 27, "severe", True),
        ("PHQ-9", [0, 0, 0, 0, 0, 0, 0, 0, 1], 1, "minimal", True),  # item 9 whatever the total
        ("GAD-7", [0] * 7, 0, "minimal", False),
        ("GAD-7", [1, 1, 1, 1, 0, 0, 0], 4, "minimal", False),
        ("GAD-7", [1, 1, 1, 1, 1, 0, 0], 5, "mild", False),
        ("GAD-7", [2, 2, 2, 2, 1, 0, 0], 9, "mild", False),
        ("GAD-7", [2, 2, 2, 2, 2, 0, 0], 10, "moderate", False),
        ("GAD-7", [2, 2, 2, 2, 2, 2, 2], 14, "moderate", False),
        ("GAD-7", [3, 3, 3, 3, 3, 0, 0], 15, "severe", False),
        ("GAD-7", [3] * 7, 21, "severe", False),  # GAD-7 never raises the safety signal
    ],
)
def test_score_totals_bands_and_safety(instrument, items, total, band, safety):
    s = score(instrument, items)
    assert (s.instrument, s.items, s.total, s.band, s.safety) == (instrument, tuple(items), total, band, safety)


@pytest.mark.parametrize(
    ("instrument", "items", "message"),
    [
        ("PHQ-9", [1, 2, 3], "PHQ-9 item 4 (feeling tired or having little energy) is missing"),
        ("PHQ-9", [], "PHQ-9 item 1 (little interest or pleasure in doing things) is missing"),
        ("PHQ-9", [0, 0, 0, 5, 0, 0, 0, 0, 0], "PHQ-9 item 4 (feeling tired or having little energy) must be 0–3, got 5"),
        ("PHQ-9", [0, 0, 0, 0, 0, 0, 0, 0, -1], "PHQ-9 item 9 (thoughts of self-harm) must be 0–3, got -1"),
        ("PHQ-9", [0, 0, 0, None, 0, 0, 0, 0, 0], "PHQ-9 item 4 (feeling tired or having little energy) is missing"),
        ("GAD-7", [0, 0, 0, 0, 0, 0], "GAD-7 item 7 (afraid something awful might happen) is missing"),
        ("GAD-7", [0, 4, 0, 0, 0, 0, 0], "GAD-7 item 2 (not able to stop or control worrying) must be 0–3, got 4"),
    ],
)
def test_bad_items_are_refused_naming_the_item(instrument, items, message):
    with pytest.raises(ValueError) as exc:
        score(instrument, items)
    assert str(exc.value) == message


@pytest.mark.parametrize("bad", [True, False, 2.0, 1.5, "2", b"2", [1]])
def test_non_int_items_are_refused_naming_the_item(bad):
    items = [0, 0, bad, 0, 0, 0, 0, 0, 0]
    with pytest.raises(ValueError, match=r"^PHQ-9 item 3 \(trouble sleeping or sleeping too much\) must be a whole number"):
        score("PHQ-9", items)


def test_too_many_items():
    with pytest.raises(ValueError, match="too many"):
        score("PHQ-9", [0] * 10)
    with pytest.raises(ValueError, match="GAD-7 has 7 items; got 9"):
        score("GAD-7", [0] * 9)


def test_bad_item_before_missing_item_is_named_first():
    with pytest.raises(ValueError, match="item 2 .* got 7"):
        score("PHQ-9", [0, 7])


@pytest.mark.parametrize("name", ["PHQ9", "phq-9", "PHQ-2", "", "GAD7"])
def test_unknown_instrument(name):
    with pytest.raises(ValueError, match="Unknown instrument"):
        score(name, [0] * 9)


def test_string_is_not_a_list_of_items():
    with pytest.raises(ValueError, match="list of item scores"):
        score("PHQ-9", "000000000")


def test_tuple_input_and_frozen_result():
    s = score("GAD-7", (1, 1, 1, 1, 1, 1, 1))
    assert s.total == 7 and s.loinc == "70274-6"
    with pytest.raises(AttributeError):
        s.total = 3  # type: ignore[misc]


def test_reference_data():
    assert ins.INSTRUMENTS == ("PHQ-9", "GAD-7")
    assert ins.LOINC_TOTAL == {"PHQ-9": "44261-6", "GAD-7": "70274-6"}
    assert ins.max_total("PHQ-9") == 27 and ins.max_total("GAD-7") == 21
    assert len(ins.item_texts("PHQ-9")) == len(ins.item_labels("PHQ-9")) == 9
    assert len(ins.item_texts("GAD-7")) == len(ins.item_labels("GAD-7")) == 7
    assert ins.item_texts("PHQ-9")[8].startswith("Thoughts that you would be better off dead")
    assert ins.item_texts("GAD-7")[0] == "Feeling nervous, anxious or on edge"
    assert len(ins.DIFFICULTY_OPTIONS) == 4 and ins.DIFFICULTY_OPTIONS[0] == "Not difficult at all"
    assert "Pfizer" in ins.COPYRIGHT_NOTICE and "No permission required" in ins.COPYRIGHT_NOTICE
    assert ins.ANSWER_OPTIONS[3] == "Nearly every day"


@pytest.mark.parametrize("instrument", ["PHQ-9", "GAD-7"])
def test_bands_cover_every_total_exactly_once(instrument):
    bands = ins.bands(instrument)
    assert bands[0][1] == 0 and bands[-1][2] == ins.max_total(instrument)
    for (_, _, high), (_, low, _) in zip(bands, bands[1:], strict=False):
        assert low == high + 1
    for total in range(ins.max_total(instrument) + 1):
        assert sum(low <= total <= high for _, low, high in bands) == 1
        assert ins.band_for(instrument, total) in {name for name, _, _ in bands}


def test_bands_as_data():
    assert ins.bands("GAD-7") == [("minimal", 0, 4), ("mild", 5, 9), ("moderate", 10, 14), ("severe", 15, 21)]
    assert [b[0] for b in ins.bands("PHQ-9")] == ["minimal", "mild", "moderate", "moderately severe", "severe"]
    with pytest.raises(ValueError):
        ins.band_for("PHQ-9", 28)


@pytest.mark.parametrize(("instrument", "answer", "ok"), [
    ("PHQ-9", None, True), ("PHQ-9", 0, True), ("PHQ-9", 3, True), ("PHQ-9", 4, False),
    ("PHQ-9", True, False), ("GAD-7", 1, False), ("GAD-7", None, True),
])
def test_difficulty_question_is_validated_not_scored(instrument, answer, ok):
    if ok:
        assert ins.check_difficulty(instrument, answer) == answer
    else:
        with pytest.raises(ValueError):
            ins.check_difficulty(instrument, answer)


@given(st.sampled_from(["PHQ-9", "GAD-7"]).flatmap(
    lambda name: st.tuples(st.just(name), st.lists(st.integers(0, 3), min_size=ins.ITEM_COUNT[name],
                                                   max_size=ins.ITEM_COUNT[name]))))
def test_property_valid_items_always_total_correctly(case):
    name, items = case
    s = score(name, items)
    assert s.total == sum(items)
    assert 0 <= s.total <= ins.max_total(name)
    assert s.band == ins.band_for(name, s.total)
    assert s.safety == (name == "PHQ-9" and items[8] > 0)


@given(
    st.sampled_from(["PHQ-9", "GAD-7"]),
    st.data(),
    st.one_of(st.integers(max_value=-1), st.integers(min_value=4)),
)
def test_property_out_of_range_item_is_never_accepted(name, data, bad):
    n = ins.ITEM_COUNT[name]
    items = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    position = data.draw(st.integers(0, n - 1))
    items[position] = bad
    with pytest.raises(ValueError, match=rf"item {position + 1} \("):
        score(name, items)
