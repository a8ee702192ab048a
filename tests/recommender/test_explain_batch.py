"""Batch explanations (one array operation for every suggestion) agree with the one-by-one ones."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.blend import Blend
from recommender.ease import EASE, HouseholdEASE, RecentEASE
from recommender.neighbours import ItemKNN
from recommender.popularity import DemographicPopularity

MODELS = {
    "ease": lambda: EASE(l2=50.0),
    "ease_weighted": lambda: EASE(l2=50.0, binary=False),
    "ease_recent": lambda: RecentEASE(l2=50.0, recency_power=3.0),
    "ease_household": lambda: HouseholdEASE(l2=50.0, household_weight=0.5),
    "itemknn": lambda: ItemKNN(neighbours=10, num_threads=1),
    "blend": lambda: Blend(components=(EASE(l2=50.0), DemographicPopularity()), weights=(1.0, 0.5)),
}


def _reference(history_row, weights, service, top, binary):
    """Contribution of each used service j, history[j] × weights[j, service], by brute force."""
    used = history_row.indices.tolist()
    values = [1.0 if binary else float(v) for v in history_row.data]
    terms = [(j, np.float32(v) * weights[j, service]) for j, v in zip(used, values, strict=True)]
    terms = sorted((t for t in terms if t[1] > 0), key=lambda t: (-t[1], t[0]))
    return [j for j, _ in terms[:top]]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_explain_batch_matches_explain(name, tiny) -> None:
    model = MODELS[name]().fit(tiny.train, segments=tiny.segments, households=tiny.households)
    history = tiny.train[:80]
    ranking = model.recommend(history, k=6, allowed=tiny.allowed[:80], segments=tiny.segments[:80])
    own_idx, contributions = model.explain_batch(history, ranking.service_idx, top=2)
    assert own_idx.shape == contributions.shape == (80, 6, 2)
    explained = 0
    for i in range(80):
        for j, service in enumerate(ranking.service_idx[i]):
            if service < 0:
                assert (own_idx[i, j] == -1).all()
                continue
            one = model.explain(history[i], int(service), top=2)
            assert [s for s, _ in one] == [s for s in own_idx[i, j] if s >= 0]
            assert np.allclose([v for _, v in one], contributions[i, j][own_idx[i, j] >= 0])
            explained += bool(one)
    assert explained > 50


def test_ease_contributions_are_the_terms_of_its_score(tiny) -> None:
    model = EASE(l2=50.0, binary=False).fit(tiny.train)
    history = tiny.train[:80]
    ranking = model.recommend(history, k=5, allowed=tiny.allowed[:80])
    own_idx, _ = model.explain_batch(history, ranking.service_idx, top=3)
    for i in range(80):
        for j, service in enumerate(ranking.service_idx[i]):
            if service >= 0:
                expected = _reference(history[i], model.weights_, int(service), 3, binary=False)
                assert [s for s in own_idx[i, j] if s >= 0] == expected
