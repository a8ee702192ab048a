"""Property: over random citizens, catalogues and histories, no model ever suggests a service
the citizen is not eligible for or already uses."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from recommender.candidates import make
from recommender.eligibility import eligible

MODELS = {
    "popularity": {},
    "demographic": {"prior_strength": 2.0, "min_segment_citizens": 2},
    "itemknn": {"neighbours": 5},
    "als": {"factors": 4, "iterations": 2},
    "bpr": {"factors": 4, "iterations": 3},
    "ease": {"l2": 10.0},
    "ease_recent": {"l2": 10.0, "recency_power": 2.0},
    "ease_household": {"l2": 10.0, "household_weight": 0.5},
    "blend": {},
}
DISTRICTS = ["SO23", "PO9", "GU14"]


@st.composite
def worlds(draw):
    n = draw(st.integers(2, 30))
    m = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    age_min = rng.choice([0, 5, 16, 18, 35, 75], n).astype(float)
    age_max = np.where(age_min == 75, 120, age_min + rng.integers(0, 15, n))
    age_min[rng.random(n) < 0.1] = np.nan  # unknown age
    district = [None if rng.random() < 0.1 else str(rng.choice(DISTRICTS)) for _ in range(n)]
    min_age = np.where(rng.random(m) < 0.5, np.nan, rng.integers(0, 70, m))
    max_age = np.where(rng.random(m) < 0.5, np.nan, rng.integers(10, 121, m))
    districts = [["*"] if rng.random() < 0.5 else list(rng.choice(DISTRICTS, 1)) for _ in range(m)]
    active = rng.random(m) < 0.85
    allowed = eligible(age_min, age_max, district, min_age, max_age, districts, active)
    density = draw(st.floats(0.0, 0.9))
    train = sparse.random(n, m, density=density, format="csr", random_state=rng, dtype=np.float32)
    train.data = np.ceil(train.data * 3)
    history = sparse.random(n, m, density=density, format="csr", random_state=rng, dtype=np.float32)
    segments = rng.integers(-1, 4, n)
    households = rng.integers(-1, max(1, n // 2), n)
    k = draw(st.integers(1, m + 2))
    name = draw(st.sampled_from(sorted(MODELS)))
    return name, train, history, allowed, segments, households, k


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_no_ineligible_and_no_already_used_suggestion(world) -> None:
    name, train, history, allowed, segments, households, k = world
    model = make(name, **MODELS[name]).fit(train, segments=np.maximum(segments, 0), households=households)
    ranking = model.recommend(history, k=k, allowed=allowed, segments=segments)
    stored = np.zeros(history.shape, dtype=bool)
    stored[np.repeat(np.arange(history.shape[0]), np.diff(history.indptr)), history.indices] = True
    for i in range(history.shape[0]):
        suggested = ranking.service_idx[i][ranking.service_idx[i] >= 0]
        assert allowed[i, suggested].all()
        assert not stored[i, suggested].any()
        assert len(suggested) == min(k, int((allowed[i] & ~stored[i]).sum()))


@st.composite
def requests(draw, n_citizens: int, service_ids: list[str]):
    rows = draw(st.lists(st.integers(0, n_citizens - 1), min_size=1, max_size=8))
    consent = draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    extra = draw(st.lists(st.lists(st.tuples(st.sampled_from(service_ids), st.floats(0.1, 5.0)), max_size=3),
                          min_size=len(rows), max_size=len(rows)))
    k = draw(st.integers(1, 40))
    return rows, consent, extra, k


def test_signposter_never_suggests_ineligible_used_or_intervention_services(tiny) -> None:
    from recommender.ease import EASE
    from recommender.signposting import Signposter

    signposter = Signposter.from_processed_tables(tiny.citizens, tiny.services, tiny.all, model=EASE().fit(tiny.all))
    ids = tiny.services["service_id"].tolist()
    col = {s: i for i, s in enumerate(ids)}
    intervention = tiny.services["intervention"].to_numpy()
    used = tiny.all.toarray() > 0

    @settings(max_examples=100, deadline=None)
    @given(requests(len(tiny.citizens), ids))
    def check(request) -> None:
        rows, consent, extra, k = request
        pseudonyms = tiny.citizens["pseudonym"].to_numpy()[rows].tolist()
        result = signposter.suggest(pseudonyms, k=k, personalisation=consent, extra_events=extra)
        for row, given_consent, events, suggestions in zip(rows, consent, extra, result, strict=True):
            cols = [col[s.service_id] for s in suggestions]
            assert len(cols) == len(set(cols)) <= k
            assert tiny.allowed[row, cols].all() and not intervention[cols].any()
            if given_consent:  # with consent, history (stored and new) is never re-suggested
                assert not used[row, cols].any()
                assert not set(cols) & {col[s] for s, _ in events}
            assert all(s.personalised == (given_consent and (used[row].any() or bool(events))) for s in suggestions)

    check()
