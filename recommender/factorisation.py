"""Matrix factorisation: ALS and BPR from implicit, wrapped to follow our contract.

implicit calls citizens *users* and services *items*; the words stop at this module's edge.
Both models score a batch from the citizens' own history (new events fold in without
retraining): ALS solves each citizen's factor exactly as its training step would, through
implicit's public ``recalculate_user``; BPR, which has no closed-form user step (implicit's BPR
offers no fold-in), folds the citizen in with that same confidence-weighted least squares over
its learned service factors and adds the learned service bias.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from scipy import sparse
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from recommender.base import Recommender


def _cosine_rows(factors: np.ndarray, service_idx: int) -> np.ndarray:
    norms = np.linalg.norm(factors, axis=1)
    norms[norms == 0] = 1.0
    return (factors @ factors[service_idx]) / (norms * norms[service_idx])


class ALS(Recommender):
    """Implicit-feedback ALS (Hu, Koren & Volinsky, 2008) via ``implicit.cpu``.

    Parameters
    ----------
    factors : int, default 16
    regularization : float, default 10.0
    alpha : float, default 5.0
        Confidence scaling: confidence = 1 + alpha × weight (implicit's ``alpha``).
    iterations : int, default 15
    num_threads : int, default 2
    random_state : int, default 0
    """

    def __init__(
        self,
        factors: int = 16,
        regularization: float = 10.0,
        alpha: float = 5.0,
        iterations: int = 15,
        num_threads: int = 2,
        random_state: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.num_threads = num_threads
        self.random_state = random_state

    def fit(
        self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None,
        households: np.ndarray | None = None,
    ) -> Self:
        interactions = self._validate_fit_input(interactions)
        # implicit's own threads do the work; a second BLAS pool inside them only thrashes
        with threadpool_limits(1, "blas"):
            engine = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                num_threads=self.num_threads,
                random_state=self.random_state,
            )
            engine.fit(interactions, show_progress=False)
        engine.user_factors = None  # training citizens' factors are recomputed from history
        self.engine_ = engine
        self.service_factors_ = np.asarray(engine.item_factors, dtype=np.float32)
        return self

    def citizen_factors(self, history: sparse.csr_matrix) -> np.ndarray:
        """Each batch citizen's factor solved from their history, shape (n, factors)."""
        check_is_fitted(self)
        history = sparse.csr_matrix(history, dtype=np.float32)
        with threadpool_limits(1, "blas"):
            return np.asarray(
                self.engine_.recalculate_user(np.arange(history.shape[0]), history), dtype=np.float32
            )

    def score(self, history: sparse.csr_matrix, *, segments: np.ndarray | None = None) -> np.ndarray:
        return self.citizen_factors(history) @ self.service_factors_.T

    def service_similarity(self, service_idx: int) -> np.ndarray:
        check_is_fitted(self)
        return _cosine_rows(self.service_factors_, service_idx).astype(np.float32)

    def explain(self, history_row: sparse.csr_matrix, service_idx: int, *, top: int = 3) -> list[tuple[int, float]]:
        """implicit's ALS ``explain``: the own services whose weighted factors add most."""
        check_is_fitted(self)
        row = sparse.csr_matrix(history_row, dtype=np.float32)
        if row.nnz == 0:
            return []
        with threadpool_limits(1, "blas"):
            _, contributions, _ = self.engine_.explain(0, row, service_idx, N=top)
        return [(int(s), float(v)) for s, v in contributions if v > 0][:top]


class BPR(Recommender):
    """Bayesian personalised ranking (Rendle et al., 2009) via ``implicit.cpu``.

    Parameters
    ----------
    factors : int, default 64
    learning_rate : float, default 0.05
    regularization : float, default 0.01
    iterations : int, default 100
    fold_in_l2 : float, default 1.0
        Ridge term of the least-squares step that folds a citizen's history into a factor;
        must be positive. See :meth:`citizen_factors`.
    num_threads : int, default 1
        implicit's BPR updates factors lock-free across threads, so only one thread makes a
        fit reproducible for a given ``random_state``.
    random_state : int, default 0
    """

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        fold_in_l2: float = 1.0,
        num_threads: int = 1,
        random_state: int = 0,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.fold_in_l2 = fold_in_l2
        self.num_threads = num_threads
        self.random_state = random_state

    def fit(
        self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None,
        households: np.ndarray | None = None,
    ) -> Self:
        interactions = self._validate_fit_input(interactions)
        if not self.fold_in_l2 > 0:
            raise ValueError(f"fold_in_l2 must be positive, got {self.fold_in_l2}")
        engine = BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            num_threads=self.num_threads,
            random_state=self.random_state,
        )
        engine.fit(interactions, show_progress=False)
        item_factors = np.asarray(engine.item_factors, dtype=np.float32)
        # implicit keeps the service bias as the last factor (citizens carry a constant 1 there)
        self.service_factors_ = np.ascontiguousarray(item_factors[:, :-1])
        self.service_bias_ = item_factors[:, -1].copy()
        # the fold-in is implicit-ALS's user step against these service factors, so an ALS
        # engine holding them (and never fitted) solves it through its public recalculate_user
        with threadpool_limits(1, "blas"):  # implicit warns at construction under a threaded BLAS
            fold_in = AlternatingLeastSquares(
                factors=self.service_factors_.shape[1],
                regularization=float(self.fold_in_l2),
                alpha=1.0,
                num_threads=self.num_threads,
            )
        fold_in.item_factors = self.service_factors_
        self.fold_in_ = fold_in
        return self

    def citizen_factors(self, history: sparse.csr_matrix) -> np.ndarray:
        """Each batch citizen's factor folded in from their history, shape (n, factors).

        The ALS user step (Hu, Koren & Volinsky, 2008) against BPR's service factors ``Y``:
        a used service is preference 1 with confidence ``1 + weight``, every other service
        preference 0 with confidence 1, so each citizen's factor solves
        ``(YᵀY + fold_in_l2·I + Σ_used weight·y yᵀ) x = Σ_used (1 + weight)·y``.
        BPR's own trained citizen factors come from a ranking loss instead; this projection is
        the closed-form stand-in that lets new events count without retraining. A citizen with
        no history gets the zero vector, so only the service bias ranks for them.
        """
        check_is_fitted(self)
        confidence = sparse.csr_matrix(history, dtype=np.float32, copy=True)
        confidence.data += 1.0
        citizens = np.arange(confidence.shape[0])
        return np.asarray(self.fold_in_.recalculate_user(citizens, confidence), dtype=np.float32)

    def score(self, history: sparse.csr_matrix, *, segments: np.ndarray | None = None) -> np.ndarray:
        scores = self.citizen_factors(history) @ self.service_factors_.T + self.service_bias_[None, :]
        # a citizen with no history has no preference to speak of: bias only ranks by popularity
        return np.asarray(scores, dtype=np.float32)

    def service_similarity(self, service_idx: int) -> np.ndarray:
        check_is_fitted(self)
        return _cosine_rows(self.service_factors_, service_idx).astype(np.float32)
