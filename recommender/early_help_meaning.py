"""What an early-help indicator means, in numbers from the last evaluation and in plain words.

A band ("high") alone invites being read as a fact about a family. What a caseworker should
be told instead is how often children with that band went on to have an early-help outcome
in the last evaluation, how uncertain the probability is, and how often the model is right
and wrong at the team's capacity. All of it is computed once, at training time, on the
evaluation snapshot (which no model choice looked at), and travels with the registered model
(:attr:`recommender.early_help.EarlyHelpScorer.meaning` and the run's
``indicator_meaning.json``), so what the screen says is exactly what the model card says.

Intervals are 95% Wilson score intervals (``scipy.stats.binomtest``). They treat children as
independent; siblings share outcomes, so the true uncertainty is somewhat wider.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest

from recommender.early_help_metrics import top_n

LEVEL = 0.95


def wilson(successes: int, trials: int, level: float = LEVEL) -> tuple[float, float]:
    """The Wilson score interval of ``successes / trials`` (nan, nan when there are no trials)."""
    if trials <= 0:
        return float("nan"), float("nan")
    interval = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=level, method="wilson")
    return float(interval.low), float(interval.high)


def one_in(rate: float) -> int | None:
    """``rate`` as "about 1 in N" (N ≥ 1), None when the rate is 0 or unknown."""
    if not np.isfinite(rate) or rate <= 0:
        return None
    return max(1, round(1 / rate))


def _percent(value: float) -> str:
    if not np.isfinite(value):
        return "unknown"
    return f"{value * 100:.0f}%" if value >= 0.01 else f"{value * 100:.1f}%"


@dataclass(frozen=True)
class BandMeaning:
    """How children of one band fared in the last evaluation."""

    band: str
    probability_from: float  # the band's calibrated-probability range [from, to)
    probability_to: float
    children: int
    outcomes: int
    outcome_rate: float
    outcome_rate_low: float
    outcome_rate_high: float
    mean_probability: float

    @property
    def one_in(self) -> int | None:
        return one_in(self.outcome_rate)

    def sentence(self, label_months: int = 6) -> str:
        """The band in plain words, never as a fact about the family."""
        if self.children == 0:
            return "In the last evaluation no child had this band, so what it means has not been measured."
        interval = f"95% interval {_percent(self.outcome_rate_low)} to {_percent(self.outcome_rate_high)}"
        within = f"had an early-help outcome within {_months(label_months)}"
        if self.outcomes == 0:
            return f"In the last evaluation, none of the {self.children:,} children with this band {within} ({interval})."
        n = self.one_in
        share = f"about 1 in {n} children" if n and n > 1 else f"nearly all of the {self.children:,} children"
        return (f"In the last evaluation, {share} with this band {within} "
                f"({self.outcomes:,} of {self.children:,}; {interval}).")


@dataclass(frozen=True)
class CalibrationBin:
    """A bin of calibrated probabilities and the outcome rate observed in it."""

    probability_from: float
    probability_to: float
    children: int
    outcome_rate: float
    outcome_rate_low: float
    outcome_rate_high: float


@dataclass(frozen=True)
class ProbabilityRange:
    """A calibrated probability with the interval the last evaluation supports around it."""

    probability: float
    low: float  # 95% interval of the outcome rate among children with similar probabilities
    high: float
    similar_from: float = float("nan")  # the probabilities counted as similar
    similar_to: float = float("nan")
    outcome_rate: float = float("nan")

    def sentence(self) -> str:
        return (f"Calibrated probability {_percent(self.probability)}. In the last evaluation, children with "
                f"probabilities from {_percent(self.similar_from)} to {_percent(self.similar_to)} had an "
                f"early-help outcome at a rate of {_percent(self.outcome_rate)} (95% interval "
                f"{_percent(self.low)} to {_percent(self.high)}).")


@dataclass(frozen=True)
class IndicatorMeaning:
    """Everything a caseworker should be told about the indicator, from the last evaluation.

    Attributes
    ----------
    evaluated_on : str
        The evaluation snapshot (ISO date); outcomes are those of the following ``label_months``.
    label_months : int
    children, outcomes : int
        Children in the evaluation and those with an outcome.
    bands : tuple of BandMeaning
        In band order (low, medium, high).
    calibration : tuple of CalibrationBin
        Bins of the calibrated probability (:func:`calibration_bins`), for :meth:`probability_range`.
    capacity : int
        Children the team can review in the label window.
    precision_at_capacity, recall_at_capacity : float
        Of the ``capacity`` highest-probability children, the share with an outcome; of the
        children with an outcome, the share among them. Each with ``_low``/``_high``.
    """

    evaluated_on: str
    label_months: int
    children: int
    outcomes: int
    bands: tuple[BandMeaning, ...]
    calibration: tuple[CalibrationBin, ...]
    capacity: int
    precision_at_capacity: float
    precision_at_capacity_low: float
    precision_at_capacity_high: float
    recall_at_capacity: float
    recall_at_capacity_low: float
    recall_at_capacity_high: float

    def band(self, name: str) -> BandMeaning:
        """The meaning of one band (``KeyError`` naming the bands when unknown)."""
        for meaning in self.bands:
            if meaning.band == name:
                return meaning
        raise KeyError(f"no band {name!r}: the bands are {', '.join(b.band for b in self.bands)}")

    def probability_range(self, probability: float) -> ProbabilityRange:
        """The outcome rate and its interval in the calibration bin holding ``probability``."""
        if not self.calibration:
            return ProbabilityRange(float(probability), float("nan"), float("nan"))
        tops = np.array([b.probability_to for b in self.calibration])
        index = min(int(np.searchsorted(tops, probability, side="left")), len(self.calibration) - 1)
        chosen = self.calibration[index]
        return ProbabilityRange(float(probability), chosen.outcome_rate_low, chosen.outcome_rate_high,
                                chosen.probability_from, chosen.probability_to, chosen.outcome_rate)

    def capacity_sentence(self) -> str:
        """Precision and recall at capacity in plain words."""
        flagged = _percent(self.precision_at_capacity)
        missed = _percent(1 - self.recall_at_capacity)
        return (
            f"In the last evaluation, of the {self.capacity:,} children the team could review (those with the "
            f"highest probabilities), {flagged} had an early-help outcome within {_months(self.label_months)} "
            f"(95% interval {_percent(self.precision_at_capacity_low)} to "
            f"{_percent(self.precision_at_capacity_high)}); the rest did not. They included "
            f"{_percent(self.recall_at_capacity)} of all children who had an outcome, so {missed} of those "
            "children were not among them."
        )

    def explain(self, probability: float, band: str) -> dict[str, Any]:
        """What to show next to one child's indicator: band meaning, range, capacity figures."""
        meaning = self.band(band)
        interval = self.probability_range(probability)
        return {
            "band": band,
            "band_meaning": meaning.sentence(self.label_months),
            "probability": float(probability),
            "probability_low": interval.low,
            "probability_high": interval.high,
            "probability_sentence": interval.sentence(),
            "precision_at_capacity": self.precision_at_capacity,
            "recall_at_capacity": self.recall_at_capacity,
            "capacity": self.capacity,
            "capacity_sentence": self.capacity_sentence(),
            "evaluated_on": self.evaluated_on,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndicatorMeaning:
        """Read back :meth:`as_dict` (e.g. the run's ``indicator_meaning.json``)."""
        fields = dict(data)
        fields["bands"] = tuple(BandMeaning(**b) for b in data["bands"])
        fields["calibration"] = tuple(CalibrationBin(**b) for b in data["calibration"])
        return cls(**fields)


def _months(months: int) -> str:
    words = {6: "six months", 12: "twelve months", 3: "three months"}
    return words.get(months, f"{months} months")


def calibration_bins(probability: np.ndarray, *, min_expected: float = 15.0, min_children: int = 30
                     ) -> list[np.ndarray]:
    """Indices of consecutive probability bins, each expecting at least ``min_expected`` outcomes.

    Equal-mass bins put a few percent of children — everyone above the 90th percentile,
    from 10% to 80% — into one top bin, so a child at 64% would be told the rate of children
    at 20%. Bins formed from the top down until their probabilities add up to
    ``min_expected`` outcomes (and hold ``min_children``) stay narrow where probabilities are
    high and the interval can still be measured. Bins depend on the probabilities only, never
    on the outcomes, so each bin's Wilson interval stays valid.
    """
    probability = np.asarray(probability, dtype=float)
    order = np.argsort(-probability, kind="stable")
    bins: list[np.ndarray] = []
    start, expected = 0, 0.0
    for position, index in enumerate(order):
        expected += probability[index]
        if expected >= min_expected and position + 1 - start >= min_children:
            bins.append(order[start:position + 1])
            start, expected = position + 1, 0.0
    if start < len(order):
        if bins:  # a remainder too small to measure joins the bin above it
            bins[-1] = np.concatenate([bins[-1], order[start:]])
        else:
            bins.append(order[start:])
    return [b[::-1] for b in reversed(bins)]  # lowest probabilities first


def indicator_meaning(
    y: np.ndarray,
    probability: np.ndarray,
    bands: np.ndarray,
    *,
    thresholds: tuple[float, float],
    band_names: tuple[str, ...],
    capacity: int,
    evaluated_on: str,
    label_months: int = 6,
    min_expected: float = 15.0,
    min_children: int = 30,
) -> IndicatorMeaning:
    """Compute the indicator's meaning from an evaluation snapshot.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Observed outcomes (0/1) in the ``label_months`` after the snapshot.
    probability : ndarray of shape (n,)
        Calibrated probabilities.
    bands : ndarray of shape (n,), str
        Each child's band.
    thresholds : (float, float)
        The band cut points (the band ranges shown).
    band_names : tuple of str
        In order, e.g. ``("low", "medium", "high")``.
    capacity : int
    evaluated_on : str
    label_months : int
    min_expected, min_children : float, int
        How the calibration bins behind :meth:`IndicatorMeaning.probability_range` are cut
        (:func:`calibration_bins`).
    """
    y = np.asarray(y).astype(int)
    probability = np.asarray(probability, dtype=float)
    bands = np.asarray(bands, dtype=object)
    edges = (0.0, *thresholds, 1.0)
    band_meanings = []
    for i, name in enumerate(band_names):
        inside = bands == name
        n, k = int(inside.sum()), int(y[inside].sum())
        low, high = wilson(k, n)
        band_meanings.append(BandMeaning(
            band=name, probability_from=float(edges[i]), probability_to=float(edges[i + 1]), children=n,
            outcomes=k, outcome_rate=k / n if n else float("nan"), outcome_rate_low=low, outcome_rate_high=high,
            mean_probability=float(probability[inside].mean()) if n else float("nan"),
        ))
    calibration = []
    for chunk in calibration_bins(probability, min_expected=min_expected, min_children=min_children):
        n, k = len(chunk), int(y[chunk].sum())
        low, high = wilson(k, n)
        calibration.append(CalibrationBin(float(probability[chunk].min()), float(probability[chunk].max()), n,
                                          k / n, low, high))
    flagged = top_n(probability, capacity) if len(probability) else np.zeros(0, dtype=bool)
    hits, n_flagged, positives = int(y[flagged].sum()), int(flagged.sum()), int(y.sum())
    precision_low, precision_high = wilson(hits, n_flagged)
    recall_low, recall_high = wilson(hits, positives)
    return IndicatorMeaning(
        evaluated_on=evaluated_on, label_months=label_months, children=len(y), outcomes=positives,
        bands=tuple(band_meanings), calibration=tuple(calibration), capacity=int(capacity),
        precision_at_capacity=hits / n_flagged if n_flagged else float("nan"),
        precision_at_capacity_low=precision_low, precision_at_capacity_high=precision_high,
        recall_at_capacity=hits / positives if positives else float("nan"),
        recall_at_capacity_low=recall_low, recall_at_capacity_high=recall_high,
    )
