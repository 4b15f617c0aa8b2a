"""Scores against hand-computed cases, exactly as the instruments' manuals say."""

from __future__ import annotations

import pytest

from tests.flows.helpers import Driver, shipped_library

LIB = shipped_library()


def run_through(flow_id: str, answers: list[str]) -> Driver:
    d = Driver(LIB)
    d.start(flow_id)
    for a in answers:
        d.say(a)
    assert d.state.run is None, "the flow should have finished"
    return d


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        (["2"] * 10, 20, "entry_criterion"),  # reversed items 4,5,7,8: 2 -> 2
        (["0"] * 10, 16, "below_entry_criterion"),  # four reversed items score 4 each
        (["4"] * 10, 24, "entry_criterion"),  # six items 4, four reversed items 0
        (["1"] + ["0"] * 9, 17, "entry_criterion"),  # the entry criterion is >= 17
        (["4", "4", "4", "0", "0", "4", "0", "0", "4", "4"], 40, "entry_criterion"),  # the maximum
        (["0", "0", "0", "4", "4", "0", "4", "4", "0", "0"], 0, "below_entry_criterion"),  # the minimum
    ],
)
def test_pss10_total_reverses_items_4_5_7_8(answers: list[str], total: int, band: str) -> None:
    score = run_through("pss10", answers).scores()["total"]
    assert (score.value, score.band_id) == (total, band)


@pytest.mark.parametrize(
    ("answers", "raw", "percent", "band"),
    [
        (["3"] * 5, 15, 60, "normal"),
        (["5"] * 5, 25, 100, "normal"),
        (["0"] * 5, 0, 0, "possible_depression"),
        (["2", "2", "1", "1", "1"], 7, 28, "possible_depression"),  # <= 28 is the depression band's edge
        (["2", "2", "2", "1", "1"], 8, 32, "reduced_wellbeing"),
        (["3", "3", "3", "2", "2"], 13, 52, "normal"),
        (["3", "3", "2", "2", "2"], 12, 48, "reduced_wellbeing"),
    ],
)
def test_who5_raw_times_four_with_bands(answers: list[str], raw: int, percent: int, band: str) -> None:
    scores = run_through("who5", answers).scores()
    assert scores["raw"].value == raw
    assert (scores["percent"].value, scores["percent"].band_id) == (percent, band)


@pytest.mark.parametrize("answer", ["0", "7", "10"])
def test_life_satisfaction_is_the_answer(answer: str) -> None:
    assert run_through("life_satisfaction", [answer]).scores()["satisfaction"].value == int(answer)


def test_labels_score_like_numbers() -> None:
    by_label = run_through("pss10", ["Ret ofte"] * 10).scores()["total"].value
    by_number = run_through("pss10", ["3"] * 10).scores()["total"].value
    assert by_label == by_number == 3 * 6 + 1 * 4
