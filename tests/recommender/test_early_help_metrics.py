"""Early-help metrics: ECE binning, capacity, bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from recommender.early_help_metrics import (
    bootstrap,
    brier,
    capacity_for_window,
    ece_noise_floor,
    expected_calibration_error,
    pr_auc,
    precision_recall_at,
    reliability,
    roc_auc,
    summary,
    top_n,
)


def test_ece_is_zero_when_each_bin_matches_its_rate() -> None:
    p = np.repeat([0.1, 0.5], 10)
    y = np.array([1] + [0] * 9 + [1] * 5 + [0] * 5)
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.0)


def test_ece_sees_a_shifted_model() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, 50_000)
    y = (rng.random(p.size) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, p + 0.05) == pytest.approx(0.05, abs=0.01)


def test_ece_noise_floor_predicts_the_ece_of_perfect_probabilities() -> None:
    rng = np.random.default_rng(1)
    p = rng.beta(0.6, 12, 4000)
    eces = [
        expected_calibration_error((rng.random(p.size) < p).astype(int), p) for _ in range(200)
    ]
    assert np.mean(eces) == pytest.approx(ece_noise_floor(p), rel=0.25)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=80), st.integers(1, 15))
def test_reliability_bins_cover_every_child_once(probabilities, n_bins) -> None:
    p = np.asarray(probabilities)
    y = (p > 0.5).astype(int)
    bins = reliability(y, p, n_bins)
    assert bins["count"].sum() == len(p)
    assert bins["count"].max() - bins["count"].min() <= 1  # equal mass
    assert np.all(np.diff(bins["predicted"]) >= -1e-12)
    assert 0 <= expected_calibration_error(y, p, n_bins) <= 1


def test_capacity_and_precision_at_capacity() -> None:
    assert capacity_for_window(50, 6) == 300
    with pytest.raises(ValueError):
        capacity_for_window(0)
    y = np.array([1, 0, 1, 0, 0, 1])
    score = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.05])
    assert top_n(score, 2).tolist() == [True, True, False, False, False, False]
    assert precision_recall_at(y, score, 3) == pytest.approx((2 / 3, 2 / 3))
    assert precision_recall_at(y, score, 100) == pytest.approx((0.5, 1.0))


def test_bootstrap_interval_brackets_the_estimate_and_shrinks_with_data() -> None:
    rng = np.random.default_rng(2)

    def sample(n):
        p = rng.uniform(0, 0.3, n)
        return (rng.random(n) < p).astype(int), p

    small = bootstrap(roc_auc, *sample(800), n_resamples=200)
    large = bootstrap(roc_auc, *sample(20_000), n_resamples=200)
    assert small.low <= small.value <= small.high
    assert large.high - large.low < small.high - small.low
    y, p = sample(500)
    assert bootstrap(roc_auc, y, p, n_resamples=5).value == pytest.approx(roc_auc_score(y, p))


def test_household_bootstrap_is_wider_when_siblings_share_outcomes() -> None:
    rng = np.random.default_rng(3)
    household = np.repeat(np.arange(1000), 4)  # four siblings each
    p = np.repeat(rng.uniform(0, 0.4, 1000), 4)
    y = np.repeat((rng.random(1000) < p[::4]).astype(int), 4)  # identical sibling outcomes
    by_child = bootstrap(brier, y, p, n_resamples=300)
    by_household = bootstrap(brier, y, p, groups=household, n_resamples=300)
    assert (by_household.high - by_household.low) > 1.5 * (by_child.high - by_child.low)


def test_summary_has_every_headline_figure() -> None:
    rng = np.random.default_rng(4)
    p = rng.uniform(0, 0.3, 2000)
    y = (rng.random(p.size) < p).astype(int)
    out = summary(y, p, capacity=100, n_resamples=50)
    for key in ("roc_auc", "roc_auc_low", "pr_auc_high", "brier", "ece", "precision_at_capacity",
                "recall_at_capacity", "base_rate", "ece_noise_floor"):
        assert np.isfinite(out[key]), key
    assert out["roc_auc_low"] <= out["roc_auc"] <= out["roc_auc_high"]


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9]), st.integers(0, 3)),
                  min_size=1, max_size=60),
    weighted=st.booleans(),
)
def test_ranking_metrics_equal_scikit_learns(rows, weighted) -> None:
    """The O(n) ranking metrics the bootstrap uses equal scikit-learn's, ties and zero weights included."""
    y = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    w = np.array([r[2] for r in rows], dtype=float) if weighted else None
    present = y[w > 0] if weighted else y
    if np.unique(present).size == 2:
        assert roc_auc(y, p, w) == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    else:
        assert np.isnan(roc_auc(y, p, w))
    if present.any():
        assert pr_auc(y, p, w) == pytest.approx(average_precision_score(y, p, sample_weight=w), abs=1e-12)
    else:
        assert np.isnan(pr_auc(y, p, w))


def test_the_bootstrap_gives_the_same_interval_in_any_row_order() -> None:
    rng = np.random.default_rng(4)
    p = rng.uniform(0, 0.3, 3_000)
    y = (rng.random(p.size) < p).astype(int)
    household = rng.integers(0, 1_500, p.size)
    shuffled = rng.permutation(p.size)
    for metric in (roc_auc, pr_auc, brier):
        a = bootstrap(metric, y, p, groups=household, n_resamples=50)
        b = bootstrap(metric, y[shuffled], p[shuffled], groups=household[shuffled], n_resamples=50)
        assert a.value == pytest.approx(b.value) and a.low == pytest.approx(b.low) and a.high == pytest.approx(b.high)
