"""Item-based nearest neighbours with BM25 weighting (implicit's ``BM25Recommender``).

A citizen's score for a service is the sum, over the services they already use, of how similar
the two services are — so every suggestion is explained by the citizen's own services.
"""

from __future__ import annotations

import warnings
from typing import Self

import numpy as np
from implicit.nearest_neighbours import BM25Recommender
from implicit.utils import ParameterWarning
from scipy import sparse
from sklearn.utils.validation import check_is_fitted

from recommender.base import Recommender, own_service_contributions


class ItemKNN(Recommender):
    """Service-service kNN on BM25-weighted citizen columns.

    Parameters
    ----------
    neighbours : int, default 50
        Similar services kept per service (implicit's ``K``).
    k1, b : float, default 1.2, 0.75
        BM25 saturation and length normalisation (implicit's ``K1``, ``B``).
    num_threads : int, default 2
    """

    def __init__(self, neighbours: int = 50, k1: float = 1.2, b: float = 0.75, num_threads: int = 2) -> None:
        self.neighbours = neighbours
        self.k1 = k1
        self.b = b
        self.num_threads = num_threads

    def fit(
        self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None,
        households: np.ndarray | None = None,
    ) -> Self:
        interactions = self._validate_fit_input(interactions)
        # implicit names: user_items in, item × item similarity out
        engine = BM25Recommender(K=self.neighbours, K1=self.k1, B=self.b, num_threads=self.num_threads)
        with warnings.catch_warnings():
            # implicit converts its own BM25 output from COO and warns about it
            warnings.simplefilter("ignore", ParameterWarning)
            engine.fit(interactions, show_progress=False)
        similarity = sparse.csr_matrix(engine.similarity, dtype=np.float32)
        similarity.setdiag(0.0)  # a service never recommends itself
        similarity.eliminate_zeros()
        # dense: catalogues are a few hundred services, and dense rows make scoring one citizen
        # a sum of a handful of rows
        self.similarity_ = np.nan_to_num(np.asarray(similarity.todense(), dtype=np.float32))  # (from, to)
        return self

    def score(self, history: sparse.csr_matrix, *, segments: np.ndarray | None = None) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray(history @ self.similarity_, dtype=np.float32)

    def service_similarity(self, service_idx: int) -> np.ndarray:
        check_is_fitted(self)
        return self.similarity_[service_idx].copy()

    def explain(self, history_row: sparse.csr_matrix, service_idx: int, *, top: int = 3) -> list[tuple[int, float]]:
        check_is_fitted(self)
        return explain_one(history_row, self.similarity_, service_idx, top)

    def explain_batch(
        self, history: sparse.csr_matrix, service_idx: np.ndarray, *, top: int = 3
    ) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self)
        return own_service_contributions(history, self.similarity_, service_idx, top)



def explain_one(
    history_row: sparse.csr_matrix, weights: np.ndarray, service_idx: int, top: int, *, binary: bool = False
) -> list[tuple[int, float]]:
    """:func:`recommender.base.own_service_contributions` for one suggestion, as a list."""
    row = sparse.csr_matrix(history_row, dtype=np.float32)
    own_idx, contributions = own_service_contributions(row, weights, np.array([[service_idx]]), top, binary=binary)
    return [(int(s), float(v)) for s, v in zip(own_idx[0, 0], contributions[0, 0], strict=True) if s >= 0]
