"""One contract, every model: the checks each Recommender must pass (cf. sklearn's test_common)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError

from recommender.base import Ranking, Recommender
from recommender.blend import Blend
from recommender.candidates import CANDIDATES, make
from recommender.ease import EASE, HouseholdEASE
from recommender.factorisation import ALS, BPR
from recommender.popularity import DemographicPopularity

#: Small, fast settings per model; every entry of CANDIDATES must appear here.
FAST = {
    "popularity": {},
    "demographic": {"prior_strength": 5.0},
    "itemknn": {"neighbours": 10},
    "als": {"factors": 8, "iterations": 3},
    "bpr": {"factors": 8, "iterations": 10},
    "ease": {"l2": 50.0},
    "ease_recent": {"l2": 50.0, "recency_power": 3.0},
    "ease_household": {"l2": 50.0, "household_weight": 0.5},
    "blend": {"components": (EASE(l2=50.0), DemographicPopularity()), "weights": (1.0, 0.5)},
}


def test_every_candidate_is_covered() -> None:
    assert set(FAST) == set(CANDIDATES)


@pytest.fixture(params=sorted(FAST), scope="module")
def fitted(request, tiny) -> Recommender:
    return make(request.param, **FAST[request.param]).fit(tiny.train, segments=tiny.segments, households=tiny.households)


@pytest.mark.parametrize("name", sorted(FAST))
def test_fit_returns_self_and_init_only_stores_params(name, tiny) -> None:
    model = make(name, **FAST[name])
    assert model.get_params() == {**model.get_params(), **FAST[name]}
    assert not [a for a in vars(model) if a.endswith("_")], "learned state before fit"
    assert model.fit(tiny.train, segments=tiny.segments, households=tiny.households) is model
    assert model.n_services_ == tiny.train.shape[1]


@pytest.mark.parametrize("name", sorted(FAST))
def test_clone_is_an_unfitted_twin_with_the_same_parameters(name, tiny) -> None:
    model = make(name, **FAST[name]).fit(tiny.train, segments=tiny.segments, households=tiny.households)
    assert isinstance(model, BaseEstimator)
    twin = clone(model)
    assert type(twin) is type(model) and repr(twin) == repr(model)
    assert not [a for a in vars(twin) if a.endswith("_")], "clone carried learned state"
    with pytest.raises(NotFittedError):
        twin.recommend(tiny.train[:2], k=3)
    with pytest.raises(ValueError, match="no_such_parameter"):
        twin.set_params(no_such_parameter=1)


@pytest.mark.parametrize("name", sorted(FAST))
def test_unfitted_model_refuses(name, tiny) -> None:
    with pytest.raises(NotFittedError):
        make(name, **FAST[name]).recommend(tiny.train[:2], k=3)


def test_recommendations_respect_eligibility_and_history(fitted, tiny) -> None:
    ranking = fitted.recommend(tiny.train, k=8, allowed=tiny.allowed, segments=tiny.segments)
    assert isinstance(ranking, Ranking) and ranking.service_idx.shape == (tiny.train.shape[0], 8)
    seen = tiny.train.toarray() > 0
    for i in range(ranking.n_citizens):
        suggested = ranking.service_idx[i][ranking.service_idx[i] >= 0]
        assert tiny.allowed[i, suggested].all(), f"row {i}: ineligible suggestion"
        assert not seen[i, suggested].any(), f"row {i}: already-used suggestion"
        assert len(set(suggested)) == len(suggested)


def test_rankings_sorted_and_padded(fitted, tiny) -> None:
    ranking = fitted.recommend(tiny.train, k=tiny.train.shape[1] + 5, allowed=tiny.allowed, segments=tiny.segments)
    for i in range(ranking.n_citizens):
        idx, scores = ranking.service_idx[i], ranking.scores[i]
        real = idx >= 0
        # padding only at the end, nan exactly where padded
        assert not real[np.argmin(real):].any() or real.all()
        assert np.array_equal(np.isnan(scores), ~real)
        assert np.all(np.diff(scores[real]) <= 0)
        # as many suggestions as allowed, unused services
        expected = int((tiny.allowed[i] & ~(tiny.train[i].toarray()[0] > 0)).sum())
        assert real.sum() == expected


def test_deterministic_and_batch_independent(fitted, tiny) -> None:
    a = fitted.recommend(tiny.train, k=5, allowed=tiny.allowed, segments=tiny.segments)
    b = fitted.recommend(tiny.train, k=5, allowed=tiny.allowed, segments=tiny.segments, batch_rows=7)
    np.testing.assert_array_equal(a.service_idx, b.service_idx)
    single = fitted.recommend(tiny.train[3:4], k=5, allowed=tiny.allowed[3:4], segments=tiny.segments[3:4])
    np.testing.assert_array_equal(single.service_idx[0], a.service_idx[3])


@pytest.mark.parametrize("name", sorted(FAST))
def test_refit_is_reproducible(name, tiny) -> None:
    a = make(name, **FAST[name]).fit(tiny.train, segments=tiny.segments, households=tiny.households)
    b = make(name, **FAST[name]).fit(tiny.train, segments=tiny.segments, households=tiny.households)
    ra = a.recommend(tiny.train, k=5, allowed=tiny.allowed, segments=tiny.segments)
    rb = b.recommend(tiny.train, k=5, allowed=tiny.allowed, segments=tiny.segments)
    np.testing.assert_array_equal(ra.service_idx, rb.service_idx)


def test_save_load_round_trip(fitted, tiny, tmp_path) -> None:
    path = fitted.save(tmp_path / "model.pkl")
    loaded = type(fitted).load(path)
    a = fitted.recommend(tiny.train, k=6, allowed=tiny.allowed, segments=tiny.segments)
    b = loaded.recommend(tiny.train, k=6, allowed=tiny.allowed, segments=tiny.segments)
    np.testing.assert_array_equal(a.service_idx, b.service_idx)
    np.testing.assert_allclose(a.scores, b.scores)


def test_load_refuses_another_class(fitted, tmp_path) -> None:
    path = fitted.save(tmp_path / "model.pkl")
    other = EASE if not isinstance(fitted, EASE) else ALS
    with pytest.raises(TypeError):
        other.load(path)


def test_similar_services_excludes_itself(fitted, tiny) -> None:
    for service in range(tiny.train.shape[1]):
        ranking = fitted.similar_services(service, k=4)
        assert ranking.service_idx.shape == (1, 4)
        assert service not in ranking.service_idx[0]


def test_explain_names_only_own_services(fitted, tiny) -> None:
    ranking = fitted.recommend(tiny.train, k=3, allowed=tiny.allowed, segments=tiny.segments)
    for i in range(60):
        own = set(tiny.train[i].indices)
        for service in ranking.service_idx[i][ranking.service_idx[i] >= 0]:
            contributions = fitted.explain(tiny.train[i], int(service), top=3)
            assert len(contributions) <= 3
            assert {s for s, _ in contributions} <= own
            values = [v for _, v in contributions]
            assert values == sorted(values, reverse=True)


def test_history_folds_in_without_refit(fitted, tiny) -> None:
    """New events change a personalised model's ranking and are then never suggested."""
    if not fitted.personalised:
        pytest.skip("popularity ignores history by design")
    row = tiny.train[0:1].toarray()
    newly_used = int(np.argmax(~(row[0] > 0) & tiny.allowed[0]))
    row[0, newly_used] = 3.0
    ranking = fitted.recommend(sparse.csr_matrix(row), k=10, allowed=tiny.allowed[:1], segments=tiny.segments[:1])
    assert newly_used not in ranking.service_idx[0]


def test_wrong_width_history_is_refused(fitted) -> None:
    with pytest.raises(ValueError, match="service columns"):
        fitted.recommend(sparse.csr_matrix((2, fitted.n_services_ + 1)), k=3)


def test_blend_weights_must_match_components(tiny) -> None:
    with pytest.raises(ValueError, match="weights"):
        Blend(components=(EASE(),), weights=(1.0, 2.0)).fit(tiny.train)


def test_bpr_folds_in_cold_citizen_as_bias(tiny) -> None:
    model = BPR(factors=8, iterations=10).fit(tiny.train)
    scores = model.score(sparse.csr_matrix((1, tiny.train.shape[1]), dtype=np.float32))
    np.testing.assert_allclose(scores[0], model.service_bias_, rtol=1e-5)


def test_household_model_needs_households(tiny) -> None:
    """Fitting without households would silently be plain EASE; it is refused instead."""
    with pytest.raises(ValueError, match="households="):
        HouseholdEASE().fit(tiny.train)
    with pytest.raises(ValueError, match="household_weight"):
        HouseholdEASE(household_weight=1.5).fit(tiny.train, households=tiny.households)
