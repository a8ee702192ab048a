"""The household co-use candidate (`ease_household`): what it learns, and what it never reads.

Properties over random counties (hypothesis):
- a person's scores and list depend only on their own history and the fitted weights:
  changing another household member's history at request time never changes them;
- a member who does not allow personalisation contributes nothing to the fit: their row is
  empty (features writes none), and fitting with or without them gives identical weights;
- with no shared household, or ``household_weight = 0``, it is plain EASE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.base import clone

from recommender.ease import EASE, HouseholdEASE, household_histories


@st.composite
def counties(draw):
    """A random county: usage (citizens × services), a household code per citizen, consent."""
    n = draw(st.integers(2, 40))
    m = draw(st.integers(2, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    usage = sparse.random(n, m, density=draw(st.floats(0.05, 0.8)), format="csr", random_state=rng,
                          dtype=np.float32)
    usage.data = np.ceil(usage.data * 3)
    households = rng.integers(-1, max(1, n // 2), n)  # -1: no household recorded
    consent = rng.random(n) < draw(st.floats(0.0, 1.0))
    model = HouseholdEASE(l2=5.0, binary=draw(st.booleans()), household_weight=draw(st.sampled_from([0.25, 0.5, 1.0])))
    return usage, households, consent, model


def as_built(usage: sparse.csr_matrix, consent: np.ndarray) -> sparse.csr_matrix:
    """What `signpost features` writes: no entry for anyone without personalisation consent."""
    kept = sparse.diags(consent.astype(np.float32)) @ usage
    kept = sparse.csr_matrix(kept, dtype=np.float32)
    kept.eliminate_zeros()
    return kept


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counties(), st.data())
def test_another_members_history_never_changes_a_persons_list(county, data) -> None:
    usage, households, consent, model = county
    model.fit(as_built(usage, consent), households=households)
    n, m = usage.shape
    person = data.draw(st.integers(0, n - 1))
    others = np.flatnonzero((households == households[person]) & (households >= 0))
    others = others[others != person]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    history = usage.toarray()
    changed = history.copy()
    changed[others] = np.ceil(rng.random((len(others), m)) * 3) * (rng.random((len(others), m)) < 0.5)
    before = model.recommend(sparse.csr_matrix(history), k=m)
    after = model.recommend(sparse.csr_matrix(changed), k=m)
    np.testing.assert_array_equal(before.service_idx[person], after.service_idx[person])
    np.testing.assert_array_equal(before.scores[person], after.scores[person])
    # and the scores are the person's own row times the fitted weights, nothing else
    own = sparse.csr_matrix(history[person : person + 1])
    np.testing.assert_allclose(model.score(own)[0], ((own.toarray() > 0 if model.binary else own.toarray()) @ model.weights_)[0], rtol=1e-5, atol=1e-6)
    # the evidence behind each suggestion is the person's own services only
    own_idx, _ = model.explain_batch(sparse.csr_matrix(changed), after.service_idx, top=3)
    assert set(own_idx[person].ravel()) - {-1} <= set(np.flatnonzero(history[person] > 0))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counties())
def test_a_member_without_personalisation_consent_contributes_nothing(county) -> None:
    usage, households, consent, model = county
    built = as_built(usage, consent)
    everyone = clone(model).fit(built, households=households)
    consenting = clone(model).fit(built[consent], households=households[consent])
    np.testing.assert_array_equal(everyone.weights_, consenting.weights_)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counties())
def test_plain_ease_when_no_one_shares_a_household_or_the_weight_is_zero(county) -> None:
    usage, households, _, model = county
    ease = EASE(l2=5.0, binary=model.binary).fit(usage).weights_
    alone = np.full(usage.shape[0], -1)
    np.testing.assert_allclose(clone(model).fit(usage, households=alone).weights_, ease, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        clone(model).set_params(household_weight=0.0).fit(usage, households=households).weights_, ease
    )


def test_household_rows_are_sums_of_members_rows() -> None:
    usage = sparse.csr_matrix(np.array([[1, 0, 2], [0, 3, 0], [4, 0, 0], [0, 0, 5]], dtype=np.float32))
    rows = household_histories(usage, np.array([7, -1, 7, 2])).toarray()
    # households in code order (2, 7), then the person alone
    np.testing.assert_array_equal(rows, [[0, 0, 5], [5, 0, 2], [0, 3, 0]])
    with pytest.raises(ValueError, match="households has shape"):
        household_histories(usage, np.array([1, 2]))


def test_it_learns_what_households_use_together() -> None:
    """Parents use a family hub, their children a holiday club, never the same person both.

    Person-level EASE sees no link (or a negative one) from the hub to the club; the household
    model learns it, and suggests the club to a new parent from the parent's *own* history.
    """
    rng = np.random.default_rng(0)
    families = 200
    hub, club, library, leisure = 0, 1, 2, 3
    rows, households = [], []
    for f in range(families):
        parent = np.zeros(4, dtype=np.float32)
        child = np.zeros(4, dtype=np.float32)
        parent[hub] = 1
        child[club] = 1
        parent[library] = child[library] = rng.random() < 0.5
        rows += [parent, child]
        households += [f, f]
    for _ in range(200):  # people living alone use the library and leisure centre
        alone = np.zeros(4, dtype=np.float32)
        alone[[library, leisure]] = rng.random(2) < 0.5
        rows.append(alone)
        households.append(-1)
    usage = sparse.csr_matrix(np.array(rows))
    ease = EASE(l2=10.0).fit(usage)
    household = HouseholdEASE(l2=10.0, household_weight=1.0).fit(usage, households=np.array(households))
    assert ease.weights_[hub, club] <= 0 < household.weights_[hub, club]
    new_parent = sparse.csr_matrix(np.array([[1, 0, 0, 0]], dtype=np.float32))
    assert household.recommend(new_parent, k=1).service_idx[0, 0] == club
    assert ease.recommend(new_parent, k=1).service_idx[0, 0] != club


def test_on_the_real_pipeline_only_opted_in_members_count(small_county) -> None:
    """Over the generated county as `signpost features` built it (tests/conftest.py): nobody
    without personalisation consent has a row to add, and leaving them out of their households
    altogether gives the same weights."""
    processed = small_county.processed
    citizens = pd.read_parquet(processed / "citizens.parquet").sort_values("row").reset_index(drop=True)
    history = sparse.load_npz(processed / "interactions_all.npz").tocsr()
    households = pd.factorize(citizens["household"])[0]
    opted_in = citizens["consent_personalisation"].fillna(False).to_numpy(dtype=bool)
    shared = pd.Series(households[households >= 0]).value_counts()
    mixed = {h for h in shared[shared > 1].index
             if opted_in[households == h].any() and not opted_in[households == h].all()}
    assert len(mixed) > 50, "the county should have households where only some members opted in"
    assert not np.diff(history.indptr)[~opted_in].any()
    everyone = HouseholdEASE(l2=50.0, household_weight=1.0).fit(history, households=households)
    consenting = HouseholdEASE(l2=50.0, household_weight=1.0).fit(history[opted_in], households=households[opted_in])
    np.testing.assert_array_equal(everyone.weights_, consenting.weights_)
