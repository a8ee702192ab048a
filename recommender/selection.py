"""Choosing a model without chasing noise: samples, bootstrap intervals, the simpler-model rule.

Model choice is made on the temporal split (fit on events before ``split_date``, score the
services citizens started in the hold-out window), the split promotion compares on. A
difference between two models is only a win when the paired bootstrap interval of the
per-citizen difference excludes zero; otherwise it is a tie, and a tie goes to the *simpler*
model, by :data:`SIMPLICITY_ORDER`: fewer moving parts, cheaper to fit and to explain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Simplest first. Popularity and the demographic prior are counts; EASE is one closed-form
#: ridge regression; its recency variant adds one parameter; its household variant adds one
#: parameter and needs households at fit time; item-kNN has a neighbourhood and a weighting;
#: ALS and BPR are iterative and seeded; a blend stacks several of the above.
SIMPLICITY_ORDER: tuple[str, ...] = (
    "popularity", "demographic", "ease", "ease_recent", "ease_household", "itemknn", "als", "bpr", "blend",
)

#: Resamples per interval; enough for stable 95% percentile bounds, cheap at 10⁶ citizens.
BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE_LEVEL = 0.95


def simplicity_rank(name: str) -> int:
    """Position in :data:`SIMPLICITY_ORDER`; unknown names count as the most complex."""
    return SIMPLICITY_ORDER.index(name) if name in SIMPLICITY_ORDER else len(SIMPLICITY_ORDER)


def stratified_sample(strata: np.ndarray, size: int, *, seed: int = 0) -> np.ndarray:
    """Row indices of a proportional stratified sample, sorted.

    Rows are shuffled within their stratum and strata laid end to end; taking every
    ``n / size``-th row of that order gives each stratum its share of the sample to within one
    row (systematic sampling), so small strata (a rare age band in a small district) are not
    lost to chance.

    Parameters
    ----------
    strata : ndarray of shape (n,)
        Stratum code per row (e.g. the age band × district segment).
    size : int
        Rows wanted; ``size >= n`` returns every row.
    seed : int

    Returns
    -------
    ndarray of shape (min(size, n),), int64, ascending.
    """
    strata = np.asarray(strata)
    n = len(strata)
    if size >= n:
        return np.arange(n, dtype=np.int64)
    if size <= 0:
        return np.zeros(0, dtype=np.int64)
    priority = np.random.default_rng(seed).random(n)
    order = np.lexsort((priority, strata))
    picks = np.floor((np.arange(size) + 0.5) * (n / size)).astype(np.int64)
    return np.sort(order[picks])


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap confidence interval."""

    estimate: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.estimate:.4f} (95% CI {self.low:.4f}–{self.high:.4f})"


def bootstrap_mean(values: np.ndarray, *, seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES) -> Interval:
    """Mean of per-citizen values with a percentile bootstrap interval over citizens.

    Citizens are the unit that varies (each contributes one NDCG), so they are what is
    resampled. Fewer than two values, or all equal, give a zero-width interval: there is no
    spread to resample.

    Parameters
    ----------
    values : ndarray of shape (n,)
    seed : int
    resamples : int

    Returns
    -------
    Interval
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    estimate = float(values.mean())
    if len(values) < 2 or np.ptp(values) == 0:
        return Interval(estimate, estimate, estimate)
    result = stats.bootstrap(
        (values,), np.mean, n_resamples=resamples, confidence_level=CONFIDENCE_LEVEL,
        method="percentile", vectorized=True, batch=max(1, 20_000_000 // len(values)),
        random_state=np.random.default_rng(seed),
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    # the percentile interval of a mean brackets the mean except in freak resamples of tiny n
    return Interval(estimate, min(low, estimate), max(high, estimate))


@dataclass(frozen=True)
class Choice:
    """The chosen model, the best by point estimate, and why they differ (if they do)."""

    chosen: str
    best: str
    reason: str
    differences: dict[str, Interval]  # best − model, per model, paired over citizens


def choose_simplest(per_citizen: Mapping[str, np.ndarray], *, min_gain: float = 0.0, seed: int = 0) -> Choice:
    """The simplest model that the best one does not clearly beat.

    The best model (highest mean) *beats* another only when the paired interval of their
    difference excludes zero **and** its lead is at least ``min_gain`` of the other's NDCG
    (relative). Anything less is a tie, and of the tied models the simplest is chosen: extra
    complexity has to buy a gain that is both real and worth having.

    Parameters
    ----------
    per_citizen : mapping of model name → ndarray of shape (n,)
        Each model's per-citizen metric on the *same* citizens, in the same order, so
        differences are paired (one bootstrap of the per-citizen difference).
    min_gain : float, default 0.0
        Smallest relative lead that counts as a win (0.05 = 5%).
    seed : int

    Returns
    -------
    Choice
    """
    if not per_citizen:
        raise ValueError("no model to choose from")
    lengths = {len(v) for v in per_citizen.values()}
    if len(lengths) != 1:
        raise ValueError("every model must be scored on the same citizens")
    means = {name: float(np.mean(v)) if len(v) else float("-inf") for name, v in per_citizen.items()}
    best = max(means, key=lambda name: (means[name], -simplicity_rank(name)))
    differences = {
        name: bootstrap_mean(np.asarray(per_citizen[best], float) - np.asarray(values, float), seed=seed)
        for name, values in per_citizen.items()
    }

    def beaten(name: str) -> bool:
        difference = differences[name]
        return difference.low > 0 and difference.estimate >= min_gain * max(means[name], 0.0)

    chosen = min((name for name in per_citizen if not beaten(name)), key=simplicity_rank)
    if chosen == best:
        reason = f"{best} has the best NDCG@10 and beats every simpler model"
    else:
        lead = differences[chosen]
        relative = lead.estimate / means[chosen] if means[chosen] > 0 else float("nan")
        why = "an interval that includes zero" if not lead.low > 0 else f"under the {min_gain:.0%} minimum gain"
        reason = (f"tie: {best} leads {chosen} by {lead} ({relative:+.1%}), {why}, "
                  f"so the simpler {chosen} is kept")
    return Choice(chosen=chosen, best=best, reason=reason, differences=differences)


def relative_gain(chosen: np.ndarray, baseline: np.ndarray, *, seed: int = 0) -> tuple[float, Interval]:
    """Relative NDCG gain of ``chosen`` over ``baseline`` and the paired interval of the difference."""
    chosen, baseline = np.asarray(chosen, float), np.asarray(baseline, float)
    base = float(baseline.mean()) if len(baseline) else float("nan")
    difference = bootstrap_mean(chosen - baseline, seed=seed)
    return (difference.estimate / base if base else float("nan")), difference


def names_in_order(names: Sequence[str]) -> list[str]:
    """``names`` simplest first."""
    return sorted(names, key=simplicity_rank)
