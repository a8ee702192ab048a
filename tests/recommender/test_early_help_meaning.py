"""What a band means: counted from the evaluation, said in plain words, round-tripped as data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.early_help import BAND_NAMES, band
from recommender.early_help_meaning import IndicatorMeaning, indicator_meaning, one_in, wilson

THRESHOLDS = (0.05, 0.20)


def meaning_of(y, p, capacity=3) -> IndicatorMeaning:
    return indicator_meaning(np.asarray(y), np.asarray(p), band(np.asarray(p), THRESHOLDS), thresholds=THRESHOLDS,
                             band_names=BAND_NAMES, capacity=capacity, evaluated_on="2026-03-31")


def test_bands_are_counted_and_said_in_plain_words() -> None:
    p = [0.01] * 10 + [0.1] * 8 + [0.3] * 8
    y = [0] * 10 + [1, 1] + [0] * 6 + [1, 1] + [0] * 6
    meaning = meaning_of(y, p)
    high = meaning.band("high")
    assert (high.children, high.outcomes, high.outcome_rate) == (8, 2, 0.25)
    assert (high.probability_from, high.probability_to) == (0.20, 1.0)
    assert high.sentence() == ("In the last evaluation, about 1 in 4 children with this band had an early-help "
                               "outcome within six months (2 of 8; 95% interval 7% to 59%).")
    assert meaning.band("low").sentence().startswith("In the last evaluation, none of the 10 children")
    with pytest.raises(KeyError, match="low, medium, high"):
        meaning.band("red")


def test_precision_and_recall_at_capacity_with_intervals() -> None:
    p = np.linspace(0.01, 0.5, 20)
    y = np.zeros(20, dtype=int)
    y[[19, 18, 5]] = 1
    meaning = meaning_of(y, p, capacity=4)
    assert meaning.precision_at_capacity == pytest.approx(2 / 4)
    assert meaning.recall_at_capacity == pytest.approx(2 / 3)
    assert meaning.precision_at_capacity_low < 0.5 < meaning.precision_at_capacity_high
    assert "of the 4 children the team could review" in meaning.capacity_sentence()
    assert "50% had an early-help outcome" in meaning.capacity_sentence()


def test_round_trips_through_json() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(200) * 0.4
    y = (rng.random(200) < p).astype(int)
    meaning = meaning_of(y, p, capacity=20)
    assert IndicatorMeaning.from_dict(json.loads(json.dumps(meaning.as_dict()))) == meaning
    shown = meaning.explain(0.3, "high")
    assert shown["band_meaning"] == meaning.band("high").sentence()
    assert shown["probability_low"] <= shown["probability_high"]


def test_small_helpers() -> None:
    assert one_in(0.25) == 4 and one_in(0.0) is None and one_in(float("nan")) is None and one_in(0.9) == 1
    low, high = wilson(0, 10)
    assert low == 0 and 0 < high < 0.35
    assert all(np.isnan(wilson(0, 0)))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=200), st.integers(1, 50))
def test_every_child_counted_once_and_intervals_hold_their_rate(rows, capacity) -> None:
    p = np.array([r[0] for r in rows])
    y = np.array([int(r[1]) for r in rows])
    meaning = meaning_of(y, p, capacity)
    assert sum(b.children for b in meaning.bands) == len(rows) == sum(c.children for c in meaning.calibration)
    assert sum(b.outcomes for b in meaning.bands) == y.sum()
    for b in meaning.bands:
        if b.children:
            assert b.outcome_rate_low - 1e-9 <= b.outcome_rate <= b.outcome_rate_high + 1e-9
    for value in p:
        interval = meaning.probability_range(float(value))
        assert interval.low <= interval.high


def test_a_high_probability_is_compared_with_children_of_high_probabilities() -> None:
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.random(4000) * 0.08, 0.2 + rng.random(300) * 0.6])
    y = (rng.random(len(p)) < p).astype(int)
    meaning = meaning_of(y, p, capacity=300)
    similar = meaning.probability_range(0.7)
    assert similar.similar_from > 0.4 and similar.low > 0.3  # not lumped in with the 10% children
    assert "Calibrated probability 70%" in similar.sentence()
    expected = [p[(p >= c.probability_from) & (p <= c.probability_to)].sum() for c in meaning.calibration]
    assert min(expected) >= 15 - 1e-9
