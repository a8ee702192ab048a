"""Metrics against cases worked by hand, and against implicit.evaluation where they agree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from implicit.evaluation import ranking_metrics_at_k
from scipy import sparse

from recommender.evaluation import new_services, rank_as_served
from recommender.metrics import coverage, per_citizen, ranking_metrics, recall_by_group


def relevant_matrix(rows: list[list[int]], m: int = 6) -> sparse.csr_matrix:
    dense = np.zeros((len(rows), m), dtype=np.float32)
    for i, cols in enumerate(rows):
        dense[i, cols] = 1.0
    return sparse.csr_matrix(dense)


def test_hand_computed_citizen() -> None:
    # suggested [2, 0, 5, -1], relevant {0, 3, 5}: hits at ranks 2 and 3
    idx = np.array([[2, 0, 5, -1]])
    rel = relevant_matrix([[0, 3, 5]])
    v = per_citizen(idx, rel, k=4)
    assert v["precision"][0] == pytest.approx(2 / 4)
    assert v["recall"][0] == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert v["ndcg"][0] == pytest.approx(dcg / idcg)
    assert v["map"][0] == pytest.approx((1 / 2 + 2 / 3) / 3)
    assert v["hit_rate"][0] == 1.0


def test_only_citizens_with_holdout_events_count() -> None:
    idx = np.array([[0, 1], [0, 1], [2, 3]])
    rel = relevant_matrix([[0], [], [4]])  # the middle citizen has nothing to find
    metrics = ranking_metrics(idx, rel, ks=(2,))
    assert metrics["citizens"] == 2
    assert metrics["recall@2"] == pytest.approx(0.5)
    assert metrics["hit_rate@2"] == pytest.approx(0.5)
    assert metrics["precision@2"] == pytest.approx(0.25)
    # coverage over the counted citizens' lists only: services {0,1,2,3} of 6
    assert metrics["coverage@2"] == pytest.approx(4 / 6)


def test_padding_is_never_a_hit_and_k_cuts() -> None:
    idx = np.array([[-1, -1, 0]])
    rel = relevant_matrix([[0]])
    assert per_citizen(idx, rel, k=2)["recall"][0] == 0.0
    assert per_citizen(idx, rel, k=3)["recall"][0] == 1.0
    with pytest.raises(ValueError):
        per_citizen(idx, rel, k=4)


def test_perfect_ranking_scores_one() -> None:
    idx = np.array([[3, 1, 0, 2]])
    rel = relevant_matrix([[1, 3]])
    v = per_citizen(idx, rel, k=4)
    assert v["ndcg"][0] == pytest.approx(1.0) and v["map"][0] == pytest.approx(1.0)


def test_coverage() -> None:
    assert coverage(np.array([[0, 1], [1, -1]]), 4) == 0.5


def test_recall_by_group_suppresses_small_groups() -> None:
    idx = np.array([[0], [0], [0], [1]])
    rel = relevant_matrix([[0], [1], [0], [1]])
    groups = ["a", "a", "b", None]
    out = recall_by_group(idx, rel, groups, k=1, min_citizens=1)
    assert out == {"a": (0.5, 2), "b": (1.0, 1), "unknown": (1.0, 1)}
    assert recall_by_group(idx, rel, groups, k=1, min_citizens=2) == {"a": (0.5, 2)}


class _FixedRanking:
    """Hands implicit's evaluator our ranking (implicit says users/items)."""

    def __init__(self, service_idx: np.ndarray) -> None:
        self.service_idx = service_idx

    def recommend(self, userid, user_items, N=10, **_):
        ids = self.service_idx[np.asarray(userid)][:, :N]
        return ids.astype(np.int32), np.linspace(1, 0, N, dtype=np.float32)[None, :].repeat(len(ids), 0)


def test_ndcg_and_map_agree_with_implicit() -> None:
    rng = np.random.default_rng(3)
    n, m, k = 200, 25, 10
    idx = np.stack([rng.permutation(m)[:k] for _ in range(n)])
    rel = sparse.random(n, m, density=0.1, format="csr", random_state=rng, dtype=np.float32)
    rel.data[:] = 1.0
    train = sparse.csr_matrix((n, m), dtype=np.float32)
    theirs = ranking_metrics_at_k(_FixedRanking(idx), train, rel, K=k, show_progress=False, num_threads=1)
    ours = ranking_metrics(idx, rel, ks=(k,))
    assert ours["ndcg@10"] == pytest.approx(theirs["ndcg"], rel=1e-6)
    assert ours["map@10"] == pytest.approx(theirs["map"], rel=1e-6)


def test_new_services_drops_repeats() -> None:
    history = relevant_matrix([[0, 1], []])
    holdout = relevant_matrix([[1, 2], [0]]) * 3
    out = new_services(history, holdout).toarray()
    np.testing.assert_array_equal(out, relevant_matrix([[2], [0]]).toarray())


def test_rank_as_served_uses_fallback_for_cold_citizens(tiny) -> None:
    from recommender.ease import EASE
    from recommender.popularity import DemographicPopularity

    model = EASE().fit(tiny.train)
    fallback = DemographicPopularity().fit(tiny.train, segments=tiny.segments)
    cold = np.flatnonzero(np.diff(tiny.train.indptr) == 0)
    ranking = rank_as_served(model, tiny.train, k=5, allowed=tiny.allowed, segments=tiny.segments, fallback=fallback)
    expected = fallback.recommend(tiny.train[cold], k=5, allowed=tiny.allowed[cold], segments=tiny.segments[cold])
    np.testing.assert_array_equal(ranking.service_idx[cold], expected.service_idx)
