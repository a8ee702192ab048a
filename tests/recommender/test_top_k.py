"""`top_k` returns what a plain sort would, whichever of its two paths a batch takes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from recommender.base import SMALL_SORT, top_k


def reference(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best first, equal scores by lower index, only finite scores, padded with -1 / nan."""
    n, _ = scores.shape
    service_idx = np.full((n, k), -1, dtype=np.int64)
    values = np.full((n, k), np.nan, dtype=np.float32)
    for i, row in enumerate(scores):
        ranked = sorted((j for j in range(len(row)) if np.isfinite(row[j])), key=lambda j: (-row[j], j))[:k]
        service_idx[i, : len(ranked)] = ranked
        values[i, : len(ranked)] = row[ranked]
    return service_idx, values


# few distinct values, so ties are common; -inf marks what must never be returned
cells = st.sampled_from([-np.inf, 0.0, 0.5, 1.0, 2.0, 3.5])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), k=st.integers(1, 12), m=st.integers(8, 40), large=st.booleans())
def test_top_k_matches_a_plain_sort(data, k, m, large):
    """Small batches sort whole rows; large ones partition first: same answer either way."""
    n = SMALL_SORT // m + data.draw(st.integers(1, 5)) if large else data.draw(st.integers(1, 6))
    assert (n * m > SMALL_SORT) == large
    scores = data.draw(hnp.arrays(np.float32, (n, m), elements=cells))
    got_idx, got_values = top_k(scores, k)
    want_idx, want_values = reference(scores, k)
    np.testing.assert_array_equal(got_idx, want_idx)
    np.testing.assert_array_equal(got_values, want_values)

