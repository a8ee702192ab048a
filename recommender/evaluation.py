"""Honest offline evaluation: what counts as relevant, ranking as served.

The task is *signposting*: suggesting services a citizen does not use yet. So the relevant
services of a hold-out are the ones the citizen used in the hold-out window and had not used
before it; already-used services are never suggested and would be unattainable.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from recommender.base import Ranking, Recommender


def new_services(history: sparse.csr_matrix, holdout: sparse.csr_matrix) -> sparse.csr_matrix:
    """Hold-out entries for services not already in the citizen's history, as 0/1.

    Parameters
    ----------
    history : csr_matrix of shape (n, n_services)
        What the model sees (the training matrix).
    holdout : csr_matrix of shape (n, n_services)

    Returns
    -------
    csr_matrix of shape (n, n_services), float32, binary.
    """
    seen = sparse.csr_matrix(history, dtype=np.float32, copy=True)
    seen.data[:] = 1.0
    fresh = sparse.csr_matrix(holdout, dtype=np.float32, copy=True)
    fresh.eliminate_zeros()
    fresh.data[:] = 1.0
    out = (fresh - fresh.multiply(seen)).tocsr()
    out.eliminate_zeros()
    return out


def rank_as_served(
    model: Recommender,
    history: sparse.csr_matrix,
    *,
    k: int,
    allowed: np.ndarray | None = None,
    segments: np.ndarray | None = None,
    fallback: Recommender | None = None,
    rows: np.ndarray | None = None,
) -> Ranking:
    """Rank the way serving does: the model for citizens with history, ``fallback`` otherwise.

    Parameters
    ----------
    model : fitted Recommender
    history : csr_matrix of shape (n, n_services)
    k : int
    allowed : ndarray of shape (n, n_services), bool, optional
    segments : ndarray of shape (n,), int, optional
    fallback : fitted Recommender, optional
        Used for citizens with an empty history (the served cold start); None = model for all.
    rows : ndarray of int, optional
        Only rank these rows (e.g. citizens with hold-out events); the result has len(rows) rows.

    Returns
    -------
    Ranking of shape (len(rows) or n, k)
    """
    history = sparse.csr_matrix(history, dtype=np.float32)
    if rows is not None:
        history = history[rows]
        allowed = None if allowed is None else allowed[rows]
        segments = None if segments is None else segments[rows]
    ranking = model.recommend(history, k=k, allowed=allowed, segments=segments)
    if fallback is None or not model.personalised:
        return ranking
    cold = np.flatnonzero(np.diff(history.indptr) == 0)
    if len(cold) == 0:
        return ranking
    cold_ranking = fallback.recommend(
        history[cold],
        k=k,
        allowed=None if allowed is None else allowed[cold],
        segments=None if segments is None else segments[cold],
    )
    service_idx = ranking.service_idx.copy()
    scores = ranking.scores.copy()
    service_idx[cold] = cold_ranking.service_idx
    scores[cold] = cold_ranking.scores
    return Ranking(service_idx=service_idx, scores=scores)
