"""The served object: rules enforced per request, reasons, fallbacks, erasure, persistence."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

from recommender.ease import EASE
from recommender.explanations import ACROSS_THE_COUNTY
from recommender.factorisation import ALS
from recommender.popularity import DemographicPopularity
from recommender.signposting import Signposter, UnknownCitizenError

from .conftest import pseudonym


@pytest.fixture(scope="module")
def signposter(tiny) -> Signposter:
    return Signposter.from_processed_tables(
        tiny.citizens, tiny.services, tiny.all, model=EASE(l2=50.0).fit(tiny.all), model_name="ease"
    )


def row_of(tiny, predicate) -> int:
    return int(np.flatnonzero(predicate)[0])


def test_suggestions_are_eligible_unused_and_not_interventions(signposter, tiny) -> None:
    pseudonyms = tiny.citizens["pseudonym"].tolist()
    result = signposter.suggest(pseudonyms, k=10)
    ids = tiny.services["service_id"].tolist()
    intervention = tiny.services["intervention"].to_numpy()
    used = tiny.all.toarray() > 0
    for i, suggestions in enumerate(result):
        cols = [ids.index(s.service_id) for s in suggestions]
        assert tiny.allowed[i, cols].all()
        assert not used[i, cols].any()
        assert not intervention[cols].any()
        assert [s.rank for s in suggestions] == list(range(1, len(suggestions) + 1))
        scores = [s.score for s in suggestions]
        assert scores == sorted(scores, reverse=True)


def test_personalised_reason_names_only_own_services(signposter, tiny) -> None:
    consented_with_history = tiny.citizens["consent_personalisation"].to_numpy() & (np.diff(tiny.all.indptr) >= 2)
    i = row_of(tiny, consented_with_history)
    own = {f"Service {j}" for j in tiny.all[i].indices}
    suggestions = signposter.suggest([pseudonym(i)], k=5)[0]
    assert suggestions and all(s.personalised for s in suggestions)
    for s in suggestions:
        assert s.full_reason.startswith(("Because you use", "Popular with", "Open to"))
        named = s.full_reason.removeprefix("Because you use ").replace(" and ", ", ").split(", ")
        if s.full_reason.startswith("Because"):
            assert set(named) <= own


def test_without_consent_popularity_and_history_not_read(signposter, tiny) -> None:
    i = row_of(tiny, (np.diff(tiny.all.indptr) >= 2) & tiny.citizens["consent_personalisation"].to_numpy())
    withdrawn = signposter.suggest([pseudonym(i)], k=30, personalisation=[False])[0]
    assert withdrawn and not any(s.personalised for s in withdrawn)
    place = tiny.citizens.loc[i, "local_authority"]
    assert {s.reason for s in withdrawn} <= {f"Popular with people of your age in {place}", ACROSS_THE_COUNTY}
    # history is not read: the same list as a citizen of the same segment with no history
    same_segment = np.flatnonzero((tiny.segments == tiny.segments[i]) & (np.diff(tiny.all.indptr) == 0))
    if len(same_segment):
        other = signposter.suggest([pseudonym(int(same_segment[0]))], k=30)[0]
        assert [s.service_id for s in withdrawn] == [s.service_id for s in other]


def test_unknown_pseudonyms(signposter) -> None:
    with pytest.raises(UnknownCitizenError) as caught:
        signposter.suggest(["f" * 64, pseudonym(0)])
    assert caught.value.pseudonyms == ["f" * 64]
    popular = signposter.suggest(["f" * 64], k=5, unknown="popular")[0]
    assert popular and all(not s.personalised and s.reason == ACROSS_THE_COUNTY for s in popular)
    catalogue = {r["service_id"]: r for r in signposter.services()}
    for s in popular:  # open to every age and district
        record = catalogue[s.service_id]
        assert record["min_age"] is None and record["max_age"] is None and record["districts"] == ["*"]


def test_new_events_fold_in_and_exclusions_hold(signposter, tiny) -> None:
    i = row_of(tiny, tiny.citizens["consent_personalisation"].to_numpy() & (np.diff(tiny.all.indptr) >= 1))
    before = signposter.suggest([pseudonym(i)], k=5)[0]
    top = before[0].service_id
    after = signposter.suggest([pseudonym(i)], k=5, extra_events=[[(top, 2.0)]])[0]
    assert top not in [s.service_id for s in after]
    excluded = signposter.suggest([pseudonym(i)], k=5, exclude=[[before[1].service_id]])[0]
    assert before[1].service_id not in [s.service_id for s in excluded]
    with pytest.raises(KeyError, match="NOPE"):
        signposter.suggest([pseudonym(i)], extra_events=[[("NOPE", 1.0)]])


def test_cold_citizen_with_consent_gets_labelled_popularity(signposter, tiny) -> None:
    i = row_of(tiny, tiny.citizens["consent_personalisation"].to_numpy() & (np.diff(tiny.all.indptr) == 0))
    suggestions = signposter.suggest([pseudonym(i)], k=5)[0]
    assert suggestions and not any(s.personalised for s in suggestions)


def test_similar_services(signposter, tiny) -> None:
    similar = signposter.similar_services("SVC-001", k=4)
    assert "SVC-001" not in [s.service_id for s in similar]
    assert all(s.reason == "Often used alongside Service 1" for s in similar)
    with pytest.raises(KeyError):
        signposter.similar_services("NOPE")


def test_forget_then_unknown(tiny) -> None:
    signposter = Signposter.from_processed_tables(tiny.citizens, tiny.services, tiny.all, model=EASE().fit(tiny.all))
    i = row_of(tiny, np.diff(tiny.all.indptr) >= 1)
    assert signposter.knows(pseudonym(i))
    signposter.forget([pseudonym(i)])
    assert not signposter.knows(pseudonym(i))
    assert signposter.history[i].nnz == 0
    with pytest.raises(UnknownCitizenError):
        signposter.suggest([pseudonym(i)])


def test_popularity_only_signposter_is_never_personalised(tiny) -> None:
    signposter = Signposter.from_processed_tables(tiny.citizens, tiny.services, tiny.all)
    result = signposter.suggest(tiny.citizens["pseudonym"].tolist()[:50], k=5)
    assert all(not s.personalised for row in result for s in row)


def test_als_explanations_and_pickle_round_trip(tiny, tmp_path) -> None:
    signposter = Signposter.from_processed_tables(
        tiny.citizens, tiny.services, tiny.all, model=ALS(factors=8, iterations=3).fit(tiny.all),
        fallback=DemographicPopularity().fit(tiny.all, segments=tiny.segments),
    )
    pseudonyms = tiny.citizens["pseudonym"].tolist()[:40]
    a = signposter.suggest(pseudonyms, k=5)
    b = Signposter.load(signposter.save(tmp_path / "s.pkl")).suggest(pseudonyms, k=5)
    assert a == b
    assert pickle.loads(pickle.dumps(signposter)).suggest(pseudonyms, k=5) == a
    assert any(s.reason.startswith("Because you use") for row in a for s in row)


def test_single_citizen_is_fast_enough_to_serve(signposter, tiny) -> None:
    """Not a timing assertion (benchmarks do that): just prints the figure for the log."""
    p = pseudonym(row_of(tiny, np.diff(tiny.all.indptr) >= 1))
    signposter.suggest([p], k=10)
    start = time.perf_counter()
    for _ in range(100):
        signposter.suggest([p], k=10)
    print(f"suggest one citizen: {(time.perf_counter() - start) * 10:.3f} ms")
