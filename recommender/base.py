"""The one interface every signposting model implements, and the ranking they all share.

Every model is a scikit-learn ``BaseEstimator`` (parameters, ``repr`` and
``sklearn.base.clone`` come from there) shaped like implicit's ``RecommenderBase``: ``__init__``
only stores keyword parameters, ``fit`` validates and returns ``self``, learned state ends in
``_``, and ``sklearn.utils.validation.check_is_fitted`` guards use.
Models differ only in :meth:`Recommender.score` (and, where they can, in ``explain`` and
``service_similarity``); masking (eligibility, already-used services) and top-k selection are
written once here so that no model can forget them.

Vocabulary: rows are citizens, columns are services. Wrappers around implicit translate its
user/item words at the boundary.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from recommender import pickles

#: Rows scored at once by :meth:`Recommender.recommend`; bounds memory at n_services floats each.
DEFAULT_BATCH_ROWS = 8192


@dataclass(frozen=True)
class Ranking:
    """Top-k services per citizen in a batch, best first.

    Attributes
    ----------
    service_idx : ndarray of shape (n_citizens, k), int64
        Service column indices, best first; ``-1`` where fewer than ``k`` services were allowed.
    scores : ndarray of shape (n_citizens, k), float32
        The model's score for each suggestion; ``nan`` where padded. Scores are only comparable
        within one model.
    """

    service_idx: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        if self.service_idx.shape != self.scores.shape or self.service_idx.ndim != 2:
            raise ValueError(
                f"Ranking needs two (n, k) arrays of one shape, got {self.service_idx.shape} "
                f"and {self.scores.shape}"
            )

    @property
    def n_citizens(self) -> int:
        return int(self.service_idx.shape[0])

    @property
    def k(self) -> int:
        return int(self.service_idx.shape[1])

    def row(self, i: int) -> list[tuple[int, float]]:
        """The unpadded suggestions of batch row ``i`` as ``(service_idx, score)`` pairs."""
        keep = self.service_idx[i] >= 0
        return [
            (int(s), float(v))
            for s, v in zip(self.service_idx[i][keep], self.scores[i][keep], strict=True)
        ]

    def __len__(self) -> int:
        return self.n_citizens


class Recommender(BaseEstimator, ABC):
    """A model that ranks services for citizens from implicit feedback.

    Subclasses implement ``fit`` and ``score``; ``recommend`` (masking + top-k) is shared.
    Subclasses that can say which of a citizen's own services drove a suggestion implement
    ``explain``; those with a service-service notion of similarity implement
    ``service_similarity``.
    """

    #: False for models whose suggestions do not depend on the citizen's own history
    #: (popularity): serving labels their output "not personalised".
    personalised: ClassVar[bool] = True

    def __sklearn_is_fitted__(self) -> bool:
        # one attribute every fit sets, so `check_is_fitted` stays cheap on the request path
        return hasattr(self, "n_services_")

    # ------------------------------------------------------------------ the contract --

    @abstractmethod
    def fit(
        self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None,
        households: np.ndarray | None = None,
    ) -> Self:
        """Learn from a citizens × services implicit-feedback matrix.

        Parameters
        ----------
        interactions : csr_matrix of shape (n_citizens, n_services)
            Non-negative weights; rows of citizens without consent are empty.
        segments : ndarray of shape (n_citizens,), int, optional
            Segment code per citizen (age band × district); used by demographic models, ignored
            by the others.
        households : ndarray of shape (n_citizens,), int, optional
            Household code per citizen, ``-1`` for someone without a household (a household of
            one); used by household models at fit time only, ignored by the others. No model
            reads it when scoring, so a person's list never depends on another member's history.

        Returns
        -------
        self
        """

    @abstractmethod
    def score(self, history: sparse.csr_matrix, *, segments: np.ndarray | None = None) -> np.ndarray:
        """Raw scores for every service, higher is better; masking is not done here.

        Parameters
        ----------
        history : csr_matrix of shape (n_batch, n_services)
            Each batch citizen's own interactions (new events fold in without retraining).
        segments : ndarray of shape (n_batch,), int, optional

        Returns
        -------
        ndarray of shape (n_batch, n_services), float32
        """

    def recommend(
        self,
        history: sparse.csr_matrix,
        *,
        k: int,
        allowed: np.ndarray | None = None,
        segments: np.ndarray | None = None,
        exclude_seen: bool = True,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> Ranking:
        """Top-``k`` allowed services per batch citizen, best first.

        Parameters
        ----------
        history : csr_matrix of shape (n_batch, n_services)
        k : int
            Suggestions per citizen; rows with fewer allowed services are padded with -1/nan.
        allowed : ndarray of shape (n_batch, n_services), bool, optional
            Eligibility mask from :mod:`recommender.eligibility`; False is never suggested.
        segments : ndarray of shape (n_batch,), int, optional
        exclude_seen : bool, default True
            Leave out services already in the citizen's history (any stored entry, even 0).
        batch_rows : int
            Rows scored at once, bounding memory to ``batch_rows × n_services`` floats.

        Returns
        -------
        Ranking
            Ties are broken towards the lower service index.
        """
        check_is_fitted(self)
        history = _as_csr(history, n_services=self.n_services_)
        n = history.shape[0]
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=bool)
            if allowed.shape != history.shape:
                raise ValueError(f"allowed has shape {allowed.shape}, expected {history.shape}")
        if segments is not None:
            segments = np.asarray(segments)
            if segments.shape != (n,):
                raise ValueError(f"segments has shape {segments.shape}, expected ({n},)")
        service_idx = np.full((n, k), -1, dtype=np.int64)
        scores = np.full((n, k), np.nan, dtype=np.float32)
        for start in range(0, n, max(1, batch_rows)):
            stop = min(n, start + batch_rows)
            rows = history if stop - start == n else history[start:stop]  # one block: no copy
            block = self.score(rows, segments=None if segments is None else segments[start:stop])
            block = np.array(block, dtype=np.float32, copy=True)
            mask_scores(
                block,
                rows if exclude_seen else None,
                None if allowed is None else allowed[start:stop],
            )
            idx, top = top_k(block, k)
            service_idx[start:stop] = idx
            scores[start:stop] = top
        return Ranking(service_idx=service_idx, scores=scores)

    def service_similarity(self, service_idx: int) -> np.ndarray:
        """Similarity of one service to every service, shape (n_services,); higher is closer.

        The default is cosine similarity of the services' citizen columns in the training
        matrix, which every model can offer; models with a learned notion override it.
        """
        check_is_fitted(self)
        cooccurrence = getattr(self, "_cooccurrence_", None)
        if cooccurrence is None:
            raise NotImplementedError(f"{type(self).__name__} has no service similarity")
        return np.asarray(cooccurrence[service_idx], dtype=np.float32).ravel()

    def similar_services(self, service_idx: int, *, k: int, allowed: np.ndarray | None = None) -> Ranking:
        """The ``k`` services most similar to ``service_idx``, never itself.

        Parameters
        ----------
        service_idx : int
        k : int
        allowed : ndarray of shape (n_services,), bool, optional

        Returns
        -------
        Ranking with one row.
        """
        check_is_fitted(self)
        if not 0 <= service_idx < self.n_services_:
            raise IndexError(f"service_idx {service_idx} is outside 0..{self.n_services_ - 1}")
        similarity = np.array(self.service_similarity(service_idx), dtype=np.float32)[None, :]
        similarity[0, service_idx] = -np.inf
        if allowed is not None:
            similarity[0, ~np.asarray(allowed, dtype=bool)] = -np.inf
        idx, top = top_k(similarity, k)
        return Ranking(service_idx=idx, scores=top)

    def explain(
        self, history_row: sparse.csr_matrix, service_idx: int, *, top: int = 3
    ) -> list[tuple[int, float]]:
        """Which of the citizen's own services contributed most to ``service_idx``'s score.

        Parameters
        ----------
        history_row : csr_matrix of shape (1, n_services)
        service_idx : int
        top : int

        Returns
        -------
        list of (own service_idx, contribution), largest first; empty for models whose scores
        do not come from the citizen's own services (popularity).
        """
        return []

    def explain_batch(
        self, history: sparse.csr_matrix, service_idx: np.ndarray, *, top: int = 3
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`explain` for every suggestion of a batch at once.

        The default asks :meth:`explain` once per suggestion; models whose scores are a sum
        over own services (EASE, ItemKNN) override it with one array operation.

        Parameters
        ----------
        history : csr_matrix of shape (n_batch, n_services)
        service_idx : ndarray of shape (n_batch, k), int
            Suggested services, ``-1`` where padded (as in :class:`Ranking`).
        top : int

        Returns
        -------
        own_idx : ndarray of shape (n_batch, k, top), int64
            Contributing own services, largest first; ``-1`` where there are fewer.
        contributions : ndarray of shape (n_batch, k, top), float32
            Their (positive) contributions; 0 where padded.
        """
        n, k = service_idx.shape
        own_idx = np.full((n, k, top), -1, dtype=np.int64)
        contributions = np.zeros((n, k, top), dtype=np.float32)
        for i, j in zip(*np.nonzero(service_idx >= 0), strict=True):
            explained = self.explain(history[i], int(service_idx[i, j]), top=top)[:top]
            for t, (own, value) in enumerate(explained):
                own_idx[i, j, t], contributions[i, j, t] = own, value
        return own_idx, contributions

    # ------------------------------------------------------------------- persistence --

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` (see :mod:`recommender.pickles`)."""
        check_is_fitted(self)
        return pickles.save(self, path)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model written by :meth:`save`; refuses files of another class or format."""
        return pickles.load(path, cls)

    # ------------------------------------------------------------------------ guards --

    def _validate_fit_input(self, interactions: sparse.spmatrix) -> sparse.csr_matrix:
        """Check the training matrix and record its shape (sets ``n_services_``)."""
        interactions = _as_csr(interactions)
        if interactions.nnz and interactions.data.min() < 0:
            raise ValueError("interactions must be non-negative implicit feedback")
        self.n_citizens_, self.n_services_ = (int(d) for d in interactions.shape)
        return interactions


# ------------------------------------------------------------------ shared kernels -----


def _as_csr(matrix: sparse.spmatrix, *, n_services: int | None = None) -> sparse.csr_matrix:
    if not sparse.issparse(matrix):
        raise TypeError(f"expected a scipy sparse matrix, got {type(matrix).__name__}")
    if not (sparse.isspmatrix_csr(matrix) and matrix.dtype == np.float32):
        matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    if n_services is not None and matrix.shape[1] != n_services:
        raise ValueError(
            f"history has {matrix.shape[1]} service columns but the model was fitted on "
            f"{n_services}; rebuild the matrices with the same catalogue or retrain"
        )
    return matrix


def mask_scores(
    scores: np.ndarray, seen: sparse.csr_matrix | None, allowed: np.ndarray | None
) -> np.ndarray:
    """Set to ``-inf``, in place, every score that must never be suggested.

    Parameters
    ----------
    scores : ndarray of shape (n, n_services), float32
    seen : csr_matrix of shape (n, n_services), optional
        Any stored entry marks a service as already used.
    allowed : ndarray of shape (n, n_services), bool, optional

    Returns
    -------
    scores (the same array).
    """
    scores[~np.isfinite(scores)] = -np.inf
    if seen is not None and seen.nnz:
        rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
        scores[rows, seen.indices] = -np.inf
    if allowed is not None:
        scores[~allowed] = -np.inf
    return scores


SMALL_SORT = 4096  # scores per batch below which top_k sorts whole rows (measured faster)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest finite scores per row, best first.

    Parameters
    ----------
    scores : ndarray of shape (n, m)
        ``-inf`` marks entries that must not be returned.
    k : int

    Returns
    -------
    service_idx : ndarray of shape (n, k), int64, ``-1`` where padded
    values : ndarray of shape (n, k), float32, ``nan`` where padded
    """
    n, m = scores.shape
    take = min(k, m)
    if n * m <= SMALL_SORT:
        # small batches (a request or a few): one stable sort is several numpy calls cheaper,
        # and stability puts equal scores in service-index order, as below
        candidates = np.argsort(-scores, axis=1, kind="stable")[:, :take]
        candidate_scores = np.take_along_axis(scores, candidates, axis=1)
    else:
        if take < m:
            # the take-th largest score per row; everything above it is in, and of the entries
            # equal to it only the lowest service indices, so ties never depend on argpartition
            threshold = -np.partition(-scores, take - 1, axis=1)[:, take - 1 : take]
            above = scores > threshold
            tied = scores == threshold
            room = take - above.sum(axis=1, keepdims=True)
            selected = above | (tied & (np.cumsum(tied, axis=1) <= room))
            candidates = np.nonzero(selected)[1].reshape(n, take)
        else:
            candidates = np.broadcast_to(np.arange(m), (n, m)).copy()
        candidate_scores = np.take_along_axis(scores, candidates, axis=1)
        # best first; equal scores towards the lower service index, so rankings are reproducible
        order = np.lexsort((candidates, -candidate_scores), axis=1)
        candidates = np.take_along_axis(candidates, order, axis=1)
        candidate_scores = np.take_along_axis(candidate_scores, order, axis=1)
    service_idx = np.full((n, k), -1, dtype=np.int64)
    values = np.full((n, k), np.nan, dtype=np.float32)
    finite = np.isfinite(candidate_scores)
    service_idx[:, :take] = np.where(finite, candidates, -1)
    values[:, :take] = np.where(finite, candidate_scores, np.nan)
    return service_idx, values


def own_service_contributions(
    history: sparse.csr_matrix, weights: np.ndarray, service_idx: np.ndarray, top: int, *, binary: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Top contributions of own services to suggested services, for a whole batch at once.

    For models whose score is ``Σ_j history[j] × weights[j, target]`` (EASE, item kNN), the
    contribution of used service ``j`` is that term. Largest first; equal contributions
    towards the lower service index; only positive ones are kept.

    Parameters
    ----------
    history : csr_matrix of shape (n, n_services)
    weights : ndarray of shape (n_services, n_services)
        From service (row) to suggested service (column).
    service_idx : ndarray of shape (n, k), int
        Suggested services, ``-1`` where padded.
    top : int
    binary : bool
        Count each used service as 1 (for models fitted on 0/1 use).

    Returns
    -------
    own_idx : ndarray of shape (n, k, top), int64, ``-1`` where there are fewer
    contributions : ndarray of shape (n, k, top), float32, 0 where padded
    """
    n = service_idx.shape[0]
    counts = np.diff(history.indptr)
    width = max(int(counts.max(initial=0)), top)
    # each citizen's used services as one padded row, so all (citizen, suggestion) pairs are
    # scored in one gather from `weights`; padding has value 0 and so never contributes
    present = np.arange(width)[None, :] < counts[:, None]
    used = np.zeros((n, width), dtype=np.int64)
    value = np.zeros((n, width), dtype=np.float32)
    stored = slice(history.indptr[0], history.indptr[-1])
    used[present] = history.indices[stored]
    value[present] = (history.data[stored] > 0) if binary else history.data[stored]
    targets = np.maximum(service_idx, 0)
    contributions = value[:, None, :] * weights[used[:, None, :], targets[:, :, None]]  # (n, k, width)
    used = np.broadcast_to(used[:, None, :], contributions.shape)
    order = np.lexsort((used, -contributions), axis=-1)[:, :, :top]
    own_idx = np.take_along_axis(used, order, axis=-1)
    contributions = np.take_along_axis(contributions, order, axis=-1)
    keep = (contributions > 0) & (service_idx >= 0)[:, :, None]
    return np.where(keep, own_idx, -1), np.where(keep, contributions, np.float32(0))


def cosine_cooccurrence(interactions: sparse.csr_matrix) -> np.ndarray:
    """Dense service × service cosine similarity of binarised citizen columns, zero diagonal.

    Parameters
    ----------
    interactions : csr_matrix of shape (n_citizens, n_services)

    Returns
    -------
    ndarray of shape (n_services, n_services), float32
    """
    binary = interactions.copy().astype(np.float32)
    binary.data[:] = 1.0
    gram = np.asarray((binary.T @ binary).todense(), dtype=np.float32)
    norms = np.sqrt(np.diag(gram)).copy()
    norms[norms == 0] = 1.0
    similarity = gram / norms[:, None] / norms[None, :]
    np.fill_diagonal(similarity, 0.0)
    return similarity
