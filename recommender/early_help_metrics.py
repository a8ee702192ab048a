"""Early-help evaluation: discrimination with bootstrap intervals, calibration, capacity.

Pure numpy / scikit-learn. Conventions:

- ``y`` is (n,) 0/1 observed outcomes, ``p`` is (n,) predicted probabilities.
- **ECE** uses ``n_bins`` equal-mass bins (sorted predictions cut into bins of equal count):
  ``sum_b (n_b / n) * |mean(p_b) - mean(y_b)|``. Equal-width bins would put nearly every
  child into the first bin at a base rate of a few percent and hide miscalibration where
  the flags are. Note the floor: even perfectly calibrated probabilities have an expected
  ECE of roughly ``sqrt(2 / pi) * sqrt(p (1 - p) * n_bins / n)`` from sampling noise alone
  (:func:`ece_noise_floor`).
- **Capacity**: caseworkers can review ``N`` children; precision and recall "at capacity"
  use the ``N`` highest-scored children (ties broken by row order).
- **Bootstrap** intervals resample households (clusters) when ``groups`` are given —
  siblings share most features and outcomes, so resampling children would overstate
  certainty — implemented as integer weights, so one resample costs one weighted metric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]


def _cumulative_at_thresholds(y: np.ndarray, p: np.ndarray,
                              weight: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted true and false positives flagged at each distinct score, highest score first.

    The one sort is skipped when ``p`` is already non-increasing: :func:`bootstrap` sorts the
    rows once, so each of its resamples costs two weighted sums instead of a sort.
    """
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(p) > 1 and not np.all(p[1:] <= p[:-1]):
        order = np.argsort(-p, kind="stable")
        p, y = p[order], y[order]
        weight = None if weight is None else np.asarray(weight, dtype=float)[order]
    w = np.ones(len(p)) if weight is None else np.asarray(weight, dtype=float)
    threshold = np.concatenate([[0], np.cumsum(p[1:] != p[:-1])]) if len(p) else np.zeros(0, dtype=int)
    tp = np.bincount(threshold, weights=w * y)
    fp = np.bincount(threshold, weights=w * (1.0 - y))
    kept = (tp + fp) > 0  # thresholds whose rows all weigh nothing do not exist (as in scikit-learn)
    return np.cumsum(tp[kept]), np.cumsum(fp[kept])


def roc_auc(y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Area under the ROC curve (nan when only one class is present).

    The trapezoidal area over the curve's points at each distinct score, as
    ``sklearn.metrics.roc_auc_score`` computes it (tested equal), in O(n) on sorted scores.
    """
    tps, fps = _cumulative_at_thresholds(y, p, weight)
    if not len(tps) or tps[-1] <= 0 or fps[-1] <= 0:
        return float("nan")
    tpr = np.concatenate([[0.0], tps / tps[-1]])
    fpr = np.concatenate([[0.0], fps / fps[-1]])
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def pr_auc(y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Average precision (area under the precision-recall curve): ``sum_k (R_k - R_k-1) P_k``.

    Over the distinct scores, as ``sklearn.metrics.average_precision_score`` (tested equal).
    """
    tps, fps = _cumulative_at_thresholds(y, p, weight)
    if not len(tps) or tps[-1] <= 0:
        return float("nan")
    recall = np.concatenate([[0.0], tps / tps[-1]])
    precision = tps / (tps + fps)
    return float(np.sum(np.diff(recall) * precision))


def brier(y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Mean squared error of the probabilities."""
    return float(np.average((np.asarray(p, float) - y) ** 2, weights=weight))


def reliability(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Equal-mass reliability bins.

    Returns
    -------
    dict with ``predicted`` (mean p per bin), ``observed`` (outcome rate per bin) and ``count``,
    each of shape (n_bins,) (fewer if n < n_bins).
    """
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    bins = [b for b in np.array_split(np.argsort(p, kind="stable"), min(n_bins, len(p))) if len(b)]
    return {
        "predicted": np.array([p[b].mean() for b in bins]),
        "observed": np.array([y[b].mean() for b in bins]),
        "count": np.array([len(b) for b in bins]),
    }


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE over ``n_bins`` equal-mass bins (see the module docstring)."""
    if len(p) == 0:
        return float("nan")
    bins = reliability(y, p, n_bins)
    return float(np.sum(bins["count"] * np.abs(bins["predicted"] - bins["observed"])) / len(p))


def ece_noise_floor(p: np.ndarray, n_bins: int = 10) -> float:
    """Expected ECE of *perfectly calibrated* probabilities ``p`` from sampling noise alone.

    Each bin's observed rate has standard deviation ``sqrt(sum p(1-p)) / n_b``; the expected
    absolute deviation of a normal is ``sqrt(2/pi)`` times that. Use it to judge whether an
    ECE target is measurable at a given sample size.
    """
    p = np.asarray(p, dtype=float)
    bins = [b for b in np.array_split(np.argsort(p, kind="stable"), min(n_bins, len(p))) if len(b)]
    return float(sum(np.sqrt(2 / np.pi) * np.sqrt(np.sum(p[b] * (1 - p[b]))) for b in bins) / len(p))


def capacity_for_window(per_month: int, months: int = 6) -> int:
    """Children caseworkers can review over the label window (``per_month × months``)."""
    if per_month < 1 or months < 1:
        raise ValueError(f"capacity needs positive figures, got {per_month}/month × {months} months")
    return per_month * months


def top_n(score: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask (len(score),) of the ``n`` highest scores (ties by row order)."""
    flagged = np.zeros(len(score), dtype=bool)
    flagged[np.argsort(-np.asarray(score, float), kind="stable")[: min(n, len(score))]] = True
    return flagged


def precision_recall_at(y: np.ndarray, score: np.ndarray, n: int) -> tuple[float, float]:
    """Precision and recall when the ``n`` highest-scored children are reviewed."""
    flagged = top_n(score, n)
    hits = float(np.sum(y[flagged]))
    positives = float(np.sum(y))
    return (
        hits / flagged.sum() if flagged.any() else float("nan"),
        hits / positives if positives else float("nan"),
    )


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a percentile bootstrap interval."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap(
    metric: Metric,
    y: np.ndarray,
    p: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    n_resamples: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Percentile bootstrap interval of ``metric(y, p, weight)``.

    Parameters
    ----------
    metric : callable (y, p, weight) -> float
        One of :func:`roc_auc`, :func:`pr_auc`, :func:`brier` or compatible.
    y, p : ndarray of shape (n,)
    groups : ndarray of shape (n,) or None
        Cluster labels (household codes); whole clusters are resampled.
    n_resamples : int
    level : float
        Coverage of the interval.
    seed : int
    """
    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    rng = np.random.default_rng(seed)
    if groups is None:
        codes, n_clusters = np.arange(len(y)), len(y)
    else:
        _, codes = np.unique(groups, return_inverse=True)
        n_clusters = int(codes.max()) + 1 if len(codes) else 0
    # every metric here ignores row order: sort once, highest score first, so ranking metrics
    # need no sort per resample (one resample was a sort of every child: minutes at 1.4M)
    order = np.argsort(-p, kind="stable")
    y, p, codes = y[order], p[order], np.asarray(codes)[order]
    values = np.empty(n_resamples)
    for i in range(n_resamples):
        cluster_weight = np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)
        values[i] = metric(y, p, cluster_weight[codes].astype(float))
    alpha = (1 - level) / 2
    low, high = np.nanquantile(values, [alpha, 1 - alpha]) if np.isfinite(values).any() else (np.nan, np.nan)
    return Estimate(metric(y, p, None), float(low), float(high))


def summary(
    y: np.ndarray,
    p: np.ndarray,
    *,
    capacity: int,
    groups: np.ndarray | None = None,
    n_bins: int = 10,
    n_resamples: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """Every headline figure as a flat dict (what the training run logs as metrics).

    Keys: ``roc_auc``, ``roc_auc_low``, ``roc_auc_high``, ``pr_auc`` (+ ``_low``/``_high``),
    ``brier`` (+ interval), ``ece``, ``ece_noise_floor``, ``precision_at_capacity``,
    ``recall_at_capacity``, ``capacity``, ``base_rate``, ``n``, ``positives``.
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    out: dict[str, float] = {}
    for name, metric in (("roc_auc", roc_auc), ("pr_auc", pr_auc), ("brier", brier)):
        est = bootstrap(metric, y, p, groups=groups, n_resamples=n_resamples, seed=seed)
        out[name], out[f"{name}_low"], out[f"{name}_high"] = est.value, est.low, est.high
    precision, recall = precision_recall_at(y, p, capacity)
    out.update(
        ece=expected_calibration_error(y, p, n_bins),
        ece_noise_floor=ece_noise_floor(p, n_bins),
        precision_at_capacity=precision,
        recall_at_capacity=recall,
        capacity=float(capacity),
        base_rate=float(y.mean()) if len(y) else float("nan"),
        n=float(len(y)),
        positives=float(y.sum()),
    )
    return out
