"""A weighted blend of candidate models, e.g. EASE plus a demographic prior.

Scores of different models live on different scales, so each component's scores are
standardised per citizen (zero mean, unit spread over the catalogue) before the weighted sum.
A citizen with no history gets all-zero personalised scores, so the demographic component
decides for them — the blend degrades gracefully to "popular near you".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from recommender.base import Recommender
from recommender.ease import EASE
from recommender.popularity import DemographicPopularity


def standardise_rows(scores: np.ndarray) -> np.ndarray:
    """Per-row z-scores; a constant row becomes zeros.

    Parameters
    ----------
    scores : ndarray of shape (n, n_services)

    Returns
    -------
    ndarray of shape (n, n_services), float32
    """
    scores = np.asarray(scores, dtype=np.float32)
    mean = scores.mean(axis=1, keepdims=True)
    spread = scores.std(axis=1, keepdims=True)
    spread[spread == 0] = 1.0
    return (scores - mean) / spread


class Blend(Recommender):
    """Weighted sum of standardised component scores.

    Parameters
    ----------
    components : sequence of Recommender, optional
        Unfitted models (cloned at fit). Default: ``(EASE(), DemographicPopularity())``.
    weights : sequence of float, optional
        One weight per component. Default: ``(1.0, 0.3)``. Tuned on the temporal split for a
        sample of citizens (training/recommender.py).
    """

    def __init__(
        self,
        components: Sequence[Recommender] | None = None,
        weights: Sequence[float] | None = None,
    ) -> None:
        self.components = components
        self.weights = weights

    def _resolved(self) -> tuple[list[Recommender], np.ndarray]:
        components = list(self.components) if self.components is not None else [EASE(), DemographicPopularity()]
        weights = np.asarray(self.weights if self.weights is not None else (1.0, 0.3)[: len(components)], dtype=np.float64)
        if len(weights) != len(components):
            raise ValueError(f"Blend has {len(components)} components but {len(weights)} weights")
        return components, weights

    def fit(
        self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None,
        households: np.ndarray | None = None,
    ) -> Self:
        interactions = self._validate_fit_input(interactions)
        components, weights = self._resolved()
        self.components_ = [
            clone(c).fit(interactions, segments=segments, households=households) for c in components
        ]
        self.weights_ = weights
        return self

    def score(self, history: sparse.csr_matrix, *, segments: np.ndarray | None = None) -> np.ndarray:
        check_is_fitted(self)
        total = np.zeros((history.shape[0], self.n_services_), dtype=np.float32)
        for weight, component in zip(self.weights_, self.components_, strict=True):
            if weight != 0:
                total += np.float32(weight) * standardise_rows(component.score(history, segments=segments))
        return total

    def service_similarity(self, service_idx: int) -> np.ndarray:
        return self._lead().service_similarity(service_idx)

    def explain(self, history_row: sparse.csr_matrix, service_idx: int, *, top: int = 3) -> list[tuple[int, float]]:
        return self._lead().explain(history_row, service_idx, top=top)

    def explain_batch(
        self, history: sparse.csr_matrix, service_idx: np.ndarray, *, top: int = 3
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._lead().explain_batch(history, service_idx, top=top)

    def _lead(self) -> Recommender:
        """The personalised component with the largest weight (it speaks for the blend)."""
        check_is_fitted(self)
        ranked = sorted(
            zip(self.weights_, range(len(self.components_)), self.components_),
            key=lambda t: (not t[2].personalised, -t[0], t[1]),
        )
        return ranked[0][2]
