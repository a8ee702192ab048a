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


class RecentEASE(EASE):
    """EASE that reads a citizen's history with recent use counting more (time-aware).

    The processed matrices hold, per citizen and service, Σ event weight × 0.5^(age / half-life)
    (features/matrices.py), not event times. Dividing a row by its largest entry and raising it
    to ``recency_power`` p turns a single-event cell's 0.5^(age / h) into 0.5^(age·p / h): the
    same history re-decayed with a half-life p times shorter, relative to the citizen's most
    recent, strongest use. So what a person started lately (a move, a birth, a job loss) steers
    their suggestions more than what they used years ago. The service-service weights are
    fitted on 0/1 use as in :class:`EASE` (co-use is timeless); only the reading of the
    history at scoring time changes.

    Parameters
    ----------
    l2 : float, default 200.0
    recency_power : float, default 2.0
        p ≥ 0; 0 reads every used service as 1 (plain binary EASE), larger favours recent use.
    """

    def __init__(self, l2: float = 200.0, recency_power: float = 2.0) -> None:
        self.l2 = l2
        self.recency_power = recency_power

    def fit(self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None) -> Self:
        if self.recency_power < 0:
            raise ValueError(f"recency_power must be non-negative, got {self.recency_power}")
        interactions = self._validate_fit_input(interactions)
        used = interactions.copy()
        used.data = (used.data > 0).astype(np.float32)
        return super().fit(used, segments=segments)

    def _prepare(self, matrix: sparse.csr_matrix) -> sparse.csr_matrix:
        matrix = sparse.csr_matrix(matrix, dtype=np.float32, copy=True)
        matrix.data = np.maximum(matrix.data, 0)
        matrix.eliminate_zeros()
        counts = np.diff(matrix.indptr)
        if matrix.nnz == 0:
            return matrix
        starts = matrix.indptr[:-1][counts > 0]
        row_max = np.repeat(np.maximum.reduceat(matrix.data, starts), counts[counts > 0])
        row_max[row_max == 0] = 1.0
        matrix.data = np.power(matrix.data / row_max, np.float32(self.recency_power)).astype(np.float32)
        return matrix

    def explain(self, history_row: sparse.csr_matrix, service_idx: int, *, top: int = 3) -> list[tuple[int, float]]:
        check_is_fitted(self)
        return explain_one(self._prepare(history_row), self.weights_, service_idx, top, binary=False)

    def explain_batch(
        self, history: sparse.csr_matrix, service_idx: np.ndarray, *, top: int = 3
    ) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self)
        return own_service_contributions(self._prepare(history), self.weights_, service_idx, top, binary=False)
