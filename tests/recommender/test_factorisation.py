"""Folding a citizen's history into a factor (ALS, BPR): the system it solves, and what it gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from scipy import sparse
from scipy.stats import spearmanr
from threadpoolctl import threadpool_limits

from recommender.factorisation import ALS, BPR

BPR_PARAMS = {"factors": 16, "learning_rate": 0.05, "regularization": 0.01, "iterations": 50}


@pytest.fixture(scope="module")
def bpr(tiny) -> BPR:
    return BPR(**BPR_PARAMS, fold_in_l2=0.5).fit(tiny.train)


def normal_equations_solution(history: np.ndarray, factors: np.ndarray, l2: float) -> np.ndarray:
    """The documented system, one dense solve per citizen (the reference for the fold-in)."""
    factors = factors.astype(np.float64)
    gram = factors.T @ factors + l2 * np.eye(factors.shape[1])
    out = []
    for row in history:
        used = np.flatnonzero(row)
        y = factors[used]
        weight = row[used].astype(np.float64)
        system = gram + (y * weight[:, None]).T @ y
        out.append(np.linalg.solve(system, ((1.0 + weight)[:, None] * y).sum(axis=0)))
    return np.array(out)


def test_bpr_fold_in_solves_the_documented_least_squares(bpr, tiny) -> None:
    history = tiny.all[:80].toarray()
    expected = normal_equations_solution(history, bpr.service_factors_, 0.5)
    np.testing.assert_allclose(bpr.citizen_factors(sparse.csr_matrix(history)), expected, rtol=1e-3, atol=1e-4)


def test_bpr_fold_in_ranks_services_like_the_trained_citizen_factors(tiny) -> None:
    """A citizen whose history is a trained citizen's ranks services much as BPR learned for them.

    Not equal: BPR trains citizen factors on a ranking loss, the fold-in is a least-squares
    projection; on this county the rank correlation is about 0.74 on average.
    """
    model = BPR(**BPR_PARAMS).fit(tiny.train)
    engine = BayesianPersonalizedRanking(**BPR_PARAMS, num_threads=1, random_state=0)
    engine.fit(tiny.train, show_progress=False)
    trained = np.asarray(engine.user_factors)[:, :-1]  # the last column is the constant bias term
    folded = model.citizen_factors(tiny.train)
    services = model.service_factors_
    used = np.flatnonzero(np.diff(tiny.train.indptr) > 0)
    agreement = [spearmanr(trained[i] @ services.T, folded[i] @ services.T)[0] for i in used]
    assert np.mean(agreement) > 0.6
    assert np.median(agreement) > 0.6


def test_als_fold_in_of_a_trained_citizen_is_close_to_their_trained_factor(tiny) -> None:
    params = {"factors": 8, "regularization": 10.0, "alpha": 5.0, "iterations": 15, "random_state": 0}
    model = ALS(**params, num_threads=1).fit(tiny.train)
    with threadpool_limits(1, "blas"):
        engine = AlternatingLeastSquares(**params, num_threads=1)
        engine.fit(tiny.train, show_progress=False)
    used = np.diff(tiny.train.indptr) > 0
    folded = model.citizen_factors(tiny.train)[used]
    trained = np.asarray(engine.user_factors)[used]
    relative = np.linalg.norm(folded - trained, axis=1) / np.linalg.norm(trained, axis=1)
    assert np.median(relative) < 0.05
    assert relative.max() < 0.15


def test_bpr_fold_in_needs_a_positive_ridge(tiny) -> None:
    with pytest.raises(ValueError, match="fold_in_l2"):
        BPR(factors=4, iterations=2, fold_in_l2=0.0).fit(tiny.train)


@st.composite
def histories(draw, n_services: int):
    n = draw(st.integers(1, 6))
    rows = draw(st.lists(
        st.dictionaries(st.integers(0, n_services - 1), st.floats(0.0, 50.0), max_size=n_services),
        min_size=n, max_size=n,
    ))
    allowed = np.array(draw(st.lists(st.booleans(), min_size=n * n_services, max_size=n * n_services)))
    dense = np.zeros((n, n_services), dtype=np.float32)
    stored = np.zeros((n, n_services), dtype=bool)
    for i, row in enumerate(rows):
        for j, weight in row.items():
            dense[i, j], stored[i, j] = weight, True
    r, c = np.nonzero(stored)  # explicit zeros kept: a stored 0 still counts as used
    history = sparse.csr_matrix((dense[r, c], (r, c)), shape=dense.shape)
    return history, stored, allowed.reshape(n, n_services)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_bpr_scores_are_finite_and_rankings_respect_allowed_for_any_history(bpr, tiny, data) -> None:
    history, stored, allowed = data.draw(histories(tiny.train.shape[1]))
    assert np.isfinite(bpr.score(history)).all()
    ranking = bpr.recommend(history, k=5, allowed=allowed)
    for i in range(history.shape[0]):
        suggested = ranking.service_idx[i][ranking.service_idx[i] >= 0]
        assert allowed[i, suggested].all()
        assert not stored[i, suggested].any()
        assert len(suggested) == min(5, int((allowed[i] & ~stored[i]).sum()))
