"""Non-personalised baselines: what most citizens use, overall and in their own segment.

They are the bar every personalised model must clear, and the honest answer for citizens with
no history or without personalisation consent ("popular with people of your age in Havant").
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_is_fitted

from recommender.base import Recommender, cosine_cooccurrence


def _citizens_per_service(interactions: sparse.csr_matrix) -> np.ndarray:
    """How many citizens used each service (weights ignored: one citizen, one vote)."""
    return np.bincount(interactions.indices, minlength=interactions.shape[1]).astype(np.float64)


class Popularity(Recommender):
    """Ranks services by the share of citizens with history who used them.

    Parameters
    ----------
    None. (Scores are citizen shares, so they read as "used by 12% of residents".)
    """

    personalised: ClassVar[bool] = False

    def __init__(self) -> None:
        pass

    def fit(
        self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None,
        households: np.ndarray | None = None,
    ) -> Self:
        interactions = self._validate_fit_input(interactions)
        active = max(1, int(np.count_nonzero(np.diff(interactions.indptr))))
        self.service_share_ = (_citizens_per_service(interactions) / active).astype(np.float32)
        self._cooccurrence_ = cosine_cooccurrence(interactions)
        return self

    def score(self, history: sparse.csr_matrix, *, segments: np.ndarray | None = None) -> np.ndarray:
        check_is_fitted(self)
        return np.broadcast_to(self.service_share_, (history.shape[0], self.n_services_)).copy()


class DemographicPopularity(Recommender):
    """Popularity within the citizen's segment (age band × district), shrunk towards overall.

    A segment's share of citizens using a service is smoothed with ``prior_strength``
    pseudo-citizens who behave like the whole county, so small segments lean on the county
    figure; below ``min_segment_citizens`` (or for an unseen segment) the overall share is used
    outright.

    Parameters
    ----------
    prior_strength : float, default 20.0
        Pseudo-citizens of the county-wide prior added to every segment.
    min_segment_citizens : int, default 5
        Segments with fewer citizens with history back off to overall popularity.
    """

    personalised: ClassVar[bool] = False

    def __init__(self, prior_strength: float = 20.0, min_segment_citizens: int = 5) -> None:
        self.prior_strength = prior_strength
        self.min_segment_citizens = min_segment_citizens

    def fit(
        self, interactions: sparse.csr_matrix, *, segments: np.ndarray | None = None,
        households: np.ndarray | None = None,
    ) -> Self:
        interactions = self._validate_fit_input(interactions)
        if self.prior_strength < 0 or self.min_segment_citizens < 0:
            raise ValueError("prior_strength and min_segment_citizens must be non-negative")
        n = interactions.shape[0]
        segments = np.zeros(n, dtype=np.int64) if segments is None else np.asarray(segments, dtype=np.int64)
        if segments.shape != (n,):
            raise ValueError(f"segments has shape {segments.shape}, expected ({n},)")
        has_history = np.diff(interactions.indptr) > 0
        overall = _citizens_per_service(interactions) / max(1, int(has_history.sum()))
        known = segments >= 0
        n_segments = int(segments[known].max()) + 1 if known.any() else 0
        # citizens × services binary, summed per segment through a segment-indicator matrix
        binary = interactions.copy()
        binary.data[:] = 1.0
        rows = np.flatnonzero(known)
        indicator = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (segments[rows], rows)), shape=(n_segments, n)
        )
        users_in_segment = np.asarray(indicator @ has_history.astype(np.float32)).ravel()
        counts = np.asarray((indicator @ binary).todense(), dtype=np.float64)
        share = (counts + self.prior_strength * overall[None, :]) / (
            users_in_segment[:, None] + self.prior_strength
        ).clip(min=1e-12)
        small = users_in_segment < self.min_segment_citizens
        share[small] = overall[None, :]
        self.overall_share_ = overall.astype(np.float32)
        self.segment_share_ = share.astype(np.float32)  # (n_segments, n_services)
        self.segment_citizens_ = users_in_segment.astype(np.int64)
        self._cooccurrence_ = cosine_cooccurrence(interactions)
        return self

    def score(self, history: sparse.csr_matrix, *, segments: np.ndarray | None = None) -> np.ndarray:
        check_is_fitted(self)
        n = history.shape[0]
        if segments is None:
            return np.broadcast_to(self.overall_share_, (n, self.n_services_)).copy()
        segments = np.asarray(segments, dtype=np.int64)
        known = (segments >= 0) & (segments < self.segment_share_.shape[0])
        scores = np.empty((n, self.n_services_), dtype=np.float32)
        scores[known] = self.segment_share_[segments[known]]
        scores[~known] = self.overall_share_
        return scores

    def backs_off(self, segments: np.ndarray) -> np.ndarray:
        """True where a citizen's segment is unseen or too small, so overall popularity is used.

        Parameters
        ----------
        segments : ndarray of shape (n,), int

        Returns
        -------
        ndarray of shape (n,), bool
        """
        check_is_fitted(self)
        segments = np.asarray(segments, dtype=np.int64)
        known = (segments >= 0) & (segments < len(self.segment_citizens_))
        out = np.ones(len(segments), dtype=bool)
        out[known] = self.segment_citizens_[segments[known]] < self.min_segment_citizens
        return out
