"""Honest offline evaluation: what counts as relevant, validation splits, ranking as served.

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


def validation_split(
    interactions: sparse.csr_matrix, *, fraction: float = 0.2, min_services: int = 2, seed: int = 0
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Carve a validation set out of a training matrix, for model selection.

    From every citizen with at least ``min_services`` services, ``fraction`` of their entries
    (at least one, never all) move to the validation matrix. The processed matrices carry no
    event times, so the hold-out is random within citizen; the temporal test matrix is never
    touched, so selection cannot peek at it.

    Parameters
    ----------
    interactions : csr_matrix of shape (n, n_services)
    fraction : float in (0, 1)
    min_services : int
    seed : int

    Returns
    -------
    fit_part, validation : csr_matrix of shape (n, n_services) each; they partition the entries.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    interactions = sparse.csr_matrix(interactions, dtype=np.float32)
    interactions.eliminate_zeros()
    rng = np.random.default_rng(seed)
    counts = np.diff(interactions.indptr)
    held = np.zeros(interactions.nnz, dtype=bool)
    # random priority per entry; within each eligible row, hold out the lowest-priority ones
    priority = rng.random(interactions.nnz)
    rows = np.repeat(np.arange(interactions.shape[0]), counts)
    order = np.lexsort((priority, rows))
    rank_in_row = np.empty(interactions.nnz, dtype=np.int64)
    rank_in_row[order] = np.arange(interactions.nnz) - np.repeat(interactions.indptr[:-1], counts)
    take = np.where(counts >= min_services, np.clip(np.round(counts * fraction), 1, counts - 1), 0)
    held = rank_in_row < take[rows]
    coo = interactions.tocoo()
    fit_part = sparse.csr_matrix((coo.data[~held], (coo.row[~held], coo.col[~held])), shape=interactions.shape)
    validation = sparse.csr_matrix((coo.data[held], (coo.row[held], coo.col[held])), shape=interactions.shape)
    return fit_part, validation


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
