"""Model choice without chasing noise: bootstrap intervals, the simpler-model rule, the search sample."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from recommender.ease import EASE, RecentEASE
from recommender.selection import (
    SIMPLICITY_ORDER,
    bootstrap_mean,
    choose_simplest,
    relative_gain,
    stratified_sample,
)

per_citizen_values = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=2, max_size=200)


@settings(max_examples=60, deadline=None)
@given(values=per_citizen_values, seed=st.integers(0, 2**16))
def test_interval_contains_the_point_estimate(values, seed) -> None:
    interval = bootstrap_mean(np.array(values), seed=seed, resamples=200)
    assert interval.low <= interval.estimate <= interval.high
    assert interval.estimate == pytest.approx(np.mean(values))


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=20, max_size=100).filter(lambda v: np.ptp(v) > 0.1),
       seed=st.integers(0, 2**16))
def test_interval_narrows_as_citizens_grow(values, seed) -> None:
    """The same spread of NDCGs over 16× the citizens gives an interval about 4× narrower."""
    few = bootstrap_mean(np.array(values), seed=seed, resamples=400)
    many = bootstrap_mean(np.tile(values, 16), seed=seed, resamples=400)
    assert many.high - many.low < few.high - few.low
    assert many.estimate == pytest.approx(few.estimate)


def test_degenerate_intervals() -> None:
    assert bootstrap_mean(np.array([0.5])).low == bootstrap_mean(np.array([0.5])).high == 0.5
    constant = bootstrap_mean(np.full(50, 0.25))
    assert (constant.low, constant.estimate, constant.high) == (0.25, 0.25, 0.25)
    assert np.isnan(bootstrap_mean(np.array([])).estimate)


def test_a_win_inside_the_noise_is_a_tie_and_the_simpler_model_is_kept() -> None:
    rng = np.random.default_rng(0)
    ease = rng.random(300)
    blend = np.clip(ease + rng.normal(0.004, 0.05, 300), 0, 1)  # a hair better, far inside the noise
    choice = choose_simplest({"blend": blend, "ease": ease, "itemknn": ease * 0.5})
    assert choice.best == "blend" and choice.chosen == "ease"
    assert "tie" in choice.reason and not choice.differences["ease"].excludes_zero
    assert choice.differences["itemknn"].excludes_zero


def test_a_clear_win_keeps_the_better_model() -> None:
    rng = np.random.default_rng(1)
    ease = rng.random(2000) * 0.5
    blend = ease + 0.1
    choice = choose_simplest({"popularity": ease * 0.2, "ease": ease, "blend": blend})
    assert choice.chosen == choice.best == "blend"
    gain, difference = relative_gain(blend, ease)
    assert gain == pytest.approx(0.1 / ease.mean()) and difference.low > 0


def test_a_real_but_small_win_is_a_tie_under_the_minimum_gain() -> None:
    rng = np.random.default_rng(2)
    ease = rng.random(5000) * 0.5 + 0.25
    blend = ease * 1.02  # +2%, far beyond the noise at this size
    assert choose_simplest({"ease": ease, "blend": blend}).chosen == "blend"
    choice = choose_simplest({"ease": ease, "blend": blend}, min_gain=0.05)
    assert choice.best == "blend" and choice.chosen == "ease" and "5% minimum gain" in choice.reason
    assert choose_simplest({"ease": ease, "blend": ease * 1.08}, min_gain=0.05).chosen == "blend"


def test_simplicity_breaks_exact_ties_and_needs_paired_scores() -> None:
    same = np.linspace(0, 1, 50)
    choice = choose_simplest({"bpr": same, "demographic": same, "ease": same})
    assert choice.chosen == choice.best == "demographic"
    assert list(SIMPLICITY_ORDER[:3]) == ["popularity", "demographic", "ease"]
    with pytest.raises(ValueError, match="same citizens"):
        choose_simplest({"ease": same, "blend": same[:10]})


@settings(max_examples=50, deadline=None)
@given(sizes=st.lists(st.integers(1, 60), min_size=1, max_size=8), share=st.floats(0.05, 0.95), seed=st.integers(0, 99))
def test_stratified_sample_keeps_each_strata_share(sizes, share, seed) -> None:
    strata = np.repeat(np.arange(len(sizes)), sizes)
    np.random.default_rng(seed).shuffle(strata)
    size = max(1, int(len(strata) * share))
    rows = stratified_sample(strata, size, seed=seed)
    assert len(rows) == size and len(np.unique(rows)) == size and (np.diff(rows) > 0).all()
    for stratum, count in enumerate(sizes):
        assert abs((strata[rows] == stratum).sum() - count * size / len(strata)) <= 1.0 + 1e-9
    assert (stratified_sample(strata, len(strata) + 5) == np.arange(len(strata))).all()


def test_recent_ease_favours_what_a_citizen_started_lately() -> None:
    """Two services co-used with different partners: the recent one's partner wins under recency."""
    rng = np.random.default_rng(0)
    n = 400
    rows, cols = [], []
    for i in range(n):  # services 0↔2 and 1↔3 go together; 4 is noise
        pair = (0, 2) if i % 2 else (1, 3)
        rows += [i, i]
        cols += list(pair)
        if rng.random() < 0.3:
            rows.append(i)
            cols.append(4)
    train = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, 5))
    # a citizen who used service 0 long ago (weight 0.1) and service 1 recently (weight 1.0)
    history = sparse.csr_matrix(np.array([[0.1, 1.0, 0, 0, 0]], dtype=np.float32))
    plain = EASE(l2=10.0).fit(train).score(history)[0]
    recent = RecentEASE(l2=10.0, recency_power=4.0).fit(train).score(history)[0]
    assert plain[2] == pytest.approx(plain[3], rel=0.2)  # binary EASE cannot tell which is recent
    assert recent[3] > 10 * recent[2]
    # power 0 reads every used service as 1: plain binary EASE
    assert np.allclose(RecentEASE(l2=10.0, recency_power=0.0).fit(train).score(history), EASE(l2=10.0).fit(train).score(history))
