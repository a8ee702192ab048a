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

    def fit(
        self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None,
        households: np.ndarray | None = None,
    ) -> Self:
        interactions = self._validate_fit_input(interactions)
        return self._fit_gram(gram_matrix(self._prepare(interactions)))

    def _fit_gram(self, gram: np.ndarray) -> Self:
        """The closed form on a services × services Gram matrix (float64, modified in place)."""
        if self.l2 <= 0:
            raise ValueError(f"l2 must be positive, got {self.l2}")
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

    def fit(
        self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None,
        households: np.ndarray | None = None,
    ) -> Self:
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


class HouseholdEASE(EASE):
    """EASE whose service-service weights also learn which services households use together.

    Fit: the Gram matrix is a blend of the citizen-level one (who uses what alongside what) and
    one over households, each household's row the sum of its members' histories, so that a
    parent's use of a family hub and a child's school place count as used together:
    ``G = (1 − w) XᵀX + w HᵀH`` with ``w = household_weight``, then EASE's closed form. People
    without a household count as a household of one; ``w = 0``, or a county where everyone lives
    alone, gives plain :class:`EASE` exactly.

    Score: the person's *own* history times the learned weights, exactly as :class:`EASE`
    (``score``, ``explain`` and ``explain_batch`` are EASE's), so serving, the pyfunc, batch
    scoring and the reasons need no household lookup, and no member's history ever reaches
    another member's list or reasons (issue 16: a reason names only the person's own services).
    Learned household relations are aggregate service-service weights, like EASE's, not anyone's
    history.

    Consent: a member's history counts only through their own row of the interaction matrix.
    ``signpost features`` fills that row only for a person whose own ``personalisation``
    consent allows it as of the build's ``as_of`` date (opt-in: no record means no), and only
    with events from sources the data-sharing policy allows for personalisation; everyone
    else's row is empty. Rows are summed, never averaged, so an empty row adds nothing: a
    member who does not allow personalisation leaves the weights exactly as if they were not
    in the household at all. Other members' consent neither adds nor removes anyone.

    Parameters
    ----------
    l2 : float, default 200.0
    binary : bool, default True
        As :class:`EASE`; a household's row is then 1 where any member used the service.
    household_weight : float, default 0.5
        ``w`` in [0, 1]: the household Gram's share of the blend.
    """

    def __init__(self, l2: float = 200.0, binary: bool = True, household_weight: float = 0.5) -> None:
        self.l2 = l2
        self.binary = binary
        self.household_weight = household_weight

    def fit(
        self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None,
        households: np.ndarray | None = None,
    ) -> Self:
        interactions = self._validate_fit_input(interactions)
        if not 0.0 <= self.household_weight <= 1.0:
            raise ValueError(f"household_weight must be between 0 and 1, got {self.household_weight}")
        if households is None:
            raise ValueError(
                "HouseholdEASE needs households= (a household code per citizen, -1 for none); "
                "training passes the processed citizens' household pseudonyms as codes"
            )
        weight = float(self.household_weight)
        gram = gram_matrix(self._prepare(interactions))
        gram *= 1.0 - weight
        if weight > 0:
            gram += weight * gram_matrix(self._prepare(household_histories(interactions, households)))
        return self._fit_gram(gram)


def gram_matrix(x: sparse.csr_matrix) -> np.ndarray:
    """Dense ``XᵀX`` in float64, shape (n_services, n_services)."""
    x = x.astype(np.float64)
    return np.asarray((x.T @ x).todense(), dtype=np.float64)


def household_histories(interactions: sparse.csr_matrix, households: np.ndarray) -> sparse.csr_matrix:
    """One row per household: the sum of its members' rows; ``-1`` members are households of one.

    Parameters
    ----------
    interactions : csr_matrix of shape (n_citizens, n_services)
    households : ndarray of shape (n_citizens,), int
        Household code per citizen, ``-1`` for none. Codes need not be contiguous.

    Returns
    -------
    csr_matrix of shape (n_households, n_services), float32
        Households in ascending code order, then the people alone in row order.
    """
    codes = np.asarray(households)
    n = interactions.shape[0]
    if codes.shape != (n,):
        raise ValueError(f"households has shape {codes.shape}, expected ({n},)")
    codes = codes.astype(np.int64)
    alone = codes < 0
    _, shared = np.unique(codes[~alone], return_inverse=True)
    n_shared = int(shared.max()) + 1 if shared.size else 0
    row = np.empty(n, dtype=np.int64)
    row[~alone] = shared
    row[alone] = n_shared + np.arange(int(alone.sum()))
    membership = sparse.csr_matrix(
        (np.ones(n, dtype=np.float32), (row, np.arange(n))), shape=(n_shared + int(alone.sum()), n)
    )
    return sparse.csr_matrix(membership @ interactions, dtype=np.float32)
