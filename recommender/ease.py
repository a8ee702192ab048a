"""EASE: a closed-form linear service-service model (Steck, 2019).

``B = I − P / diag(P)`` with ``P = (XᵀX + λI)⁻¹`` and a zero diagonal, so a service is
predicted only from the *other* services a citizen uses. Simple, fast to fit for catalogues of
hundreds of services, and often the strongest baseline.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_is_fitted

from recommender.base import Recommender, own_service_contributions
from recommender.neighbours import explain_one


class EASE(Recommender):
    """Embarrassingly shallow autoencoder.

    Parameters
    ----------
    l2 : float, default 200.0
        Ridge regularisation λ added to the Gram matrix's diagonal.
    binary : bool, default True
        Fit on 0/1 use rather than event weights (weights still rank at scoring time if False).
    """

    def __init__(self, l2: float = 200.0, binary: bool = True) -> None:
        self.l2 = l2
        self.binary = binary

    def _prepare(self, matrix: sparse.csr_matrix) -> sparse.csr_matrix:
        if not self.binary:
            return matrix
        matrix = matrix.copy()
        matrix.data = (matrix.data > 0).astype(np.float32)
        return matrix

    def fit(self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None) -> Self:
        interactions = self._validate_fit_input(interactions)
        if self.l2 <= 0:
            raise ValueError(f"l2 must be positive, got {self.l2}")
        x = self._prepare(interactions).astype(np.float64)
        gram = np.asarray((x.T @ x).todense(), dtype=np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        precision = np.linalg.inv(gram)
        weights = precision / (-np.diag(precision))[None, :]
        np.fill_diagonal(weights, 0.0)
        self.weights_ = weights.astype(np.float32)  # (from service, to service)
        return self

    def score(self, history: sparse.csr_matrix, *, segments: np.ndarray | None = None) -> np.ndarray:
        check_is_fitted(self)
        # sparse rows × dense B: for one citizen, a sum of the few rows of B they use
        return np.asarray(self._prepare(history) @ self.weights_, dtype=np.float32)

    def service_similarity(self, service_idx: int) -> np.ndarray:
        check_is_fitted(self)
        return self.weights_[service_idx].copy()

    def explain(self, history_row: sparse.csr_matrix, service_idx: int, *, top: int = 3) -> list[tuple[int, float]]:
        check_is_fitted(self)
        return explain_one(history_row, self.weights_, service_idx, top, binary=self.binary)

    def explain_batch(
        self, history: sparse.csr_matrix, service_idx: np.ndarray, *, top: int = 3
    ) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self)
        return own_service_contributions(history, self.weights_, service_idx, top, binary=self.binary)
