"""Sensitive services and honest reasons in the Signposter (issue 16), on the tiny county.

- a sensitive service is never suggested unprompted; with the person's opt-in (and consent)
  only when co-use links it to a sensitive service of their own;
- the shareable reason never names a sensitive service; the full one names only own services;
- a named service's co-use with the suggestion is above the thresholds, else the reason is a
  general one.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from recommender import explanations
from recommender.ease import EASE
from recommender.explanations import CoUse
from recommender.signposting import Signposter

from .conftest import make_county


@pytest.fixture(scope="module")
def county():
    # denser than the shared tiny county, so co-use clears the thresholds often; and two
    # sensitive services (10 and 17, open to all adults) that go together, as a mental health
    # service and a substance use service might: half of those who use one use the other
    county = make_county(n_citizens=1500, n_services=24, seed=3)
    rng = np.random.default_rng(4)
    used = county.all.toarray()
    consent = county.citizens["consent_personalisation"].to_numpy()
    for a, b in ((10, 17), (17, 10)):
        pairs = (used[:, a] > 0) & consent & (rng.random(len(used)) < 0.5) & county.allowed[:, b]
        used[pairs, b] = np.maximum(used[pairs, b], 1.0)
    return dataclasses.replace(county, all=sparse.csr_matrix(used))


@pytest.fixture(scope="module")
def signposter(county) -> Signposter:
    return Signposter.from_processed_tables(
        county.citizens, county.services, county.all, model=EASE(l2=20.0).fit(county.all),
        reason_min_lift=1.3, reason_min_co_users=5,
    )


def names_in(reason: str, names: list[str]) -> set[str]:
    """Which of ``names`` a "Because you use A, B and C" sentence names (the tiny county's
    names, "Service 7", hold no comma and no " and ")."""
    if not reason.startswith("Because you use "):
        return set()
    return set(re.split(r", | and ", reason.removeprefix("Because you use "))) & set(names)


# ------------------------------------------------------------------ co-use by hand --


def test_co_use_counts_and_lift_by_hand() -> None:
    # 6 people: A used by 0-3, B by 0-2, C by 4; D by nobody; person 5 uses only A
    used = np.zeros((7, 4), dtype=np.float32)
    used[[0, 1, 2, 3, 5], 0] = 1
    used[[0, 1, 2], 1] = 2.5  # weights do not matter, use does
    used[4, 2] = 1
    co_use = CoUse.fit(sparse.csr_matrix(used), min_lift=1.1, min_co_users=3)
    assert co_use.co_users[0, 1] == co_use.co_users[1, 0] == 3
    assert np.diag(co_use.co_users).tolist() == [5, 3, 1, 0]
    # 6 people with any use; P(B | A) = 3/5, P(B) = 3/6 → lift 1.2; P(A | B) = 1, P(A) = 5/6 → 1.2
    assert co_use.lift[0, 1] == pytest.approx(1.2) and co_use.lift[1, 0] == pytest.approx(1.2)
    assert co_use.lift[0, 3] == 0 and co_use.lift[3, 0] == 0  # nobody used D
    assert co_use.supported[0, 1] and co_use.supported[1, 0]
    assert not co_use.supported[0, 2] and not co_use.supported.diagonal().any()
    stricter = CoUse.fit(sparse.csr_matrix(used), min_lift=1.3, min_co_users=3)
    assert not stricter.supported.any()
    fewer = CoUse.fit(sparse.csr_matrix(used), min_lift=1.1, min_co_users=4)
    assert not fewer.supported.any()


def test_shareable_wording_never_names_sensitive_services() -> None:
    names, sensitive = ["Library loans", "Sexual health clinic"], [False, True]
    assert explanations.because_you_use(names) == "Because you use Library loans and Sexual health clinic"
    assert explanations.shareable_because_you_use(names, sensitive) == "Because you use Library loans"
    assert explanations.shareable_because_you_use(names[1:], sensitive[1:]) == explanations.BASED_ON_YOUR_SERVICES
    assert explanations.open_to_you("25-34") == "Open to people of your age where you live"


# ---------------------------------------------------------------- the Signposter --


def test_no_sensitive_service_is_suggested_unprompted(signposter, county) -> None:
    sensitive = county.services["sensitive"].to_numpy()
    ids = county.services["service_id"].tolist()
    result = signposter.suggest(county.citizens["pseudonym"].tolist(), k=20)
    suggested = [ids.index(s.service_id) for row in result for s in row]
    assert suggested and not sensitive[suggested].any()
    assert not any(s.sensitive for row in result for s in row)


def test_opted_in_sensitive_suggestions_are_related_to_own_sensitive_use(signposter, county) -> None:
    sensitive = county.services["sensitive"].to_numpy()
    ids = county.services["service_id"].tolist()
    pseudonyms = county.citizens["pseudonym"].tolist()
    consent = county.citizens["consent_personalisation"].to_numpy()
    result = signposter.suggest(pseudonyms, k=20, sensitive_opt_in=np.ones(len(pseudonyms), dtype=bool))
    seen_any = False
    for i, row in enumerate(result):
        own = set(county.all[i].indices.tolist())
        for s in row:
            col = ids.index(s.service_id)
            if not sensitive[col]:
                continue
            seen_any = True
            assert s.sensitive and consent[i]
            own_sensitive = [j for j in own if sensitive[j]]
            assert signposter.co_use.supported[own_sensitive, col].any()
    assert seen_any, "the fixture should let some opted-in person see a related sensitive service"
    # opting in without personalisation consent changes nothing: history is not read
    without = signposter.suggest(pseudonyms[:200], k=20, personalisation=np.zeros(200, dtype=bool),
                                 sensitive_opt_in=np.ones(200, dtype=bool))
    assert not any(s.sensitive for row in without for s in row)
    with pytest.raises(ValueError, match="sensitive_opt_in"):
        signposter.suggest(pseudonyms[:2], sensitive_opt_in=[True])


def test_reasons_forms_and_evidence(signposter, county) -> None:
    sensitive = county.services["sensitive"].to_numpy()
    names = county.services["name"].tolist()
    ids = county.services["service_id"].tolist()
    sensitive_names = [n for n, s in zip(names, sensitive, strict=True) if s]
    result = signposter.suggest(county.citizens["pseudonym"].tolist(), k=10,
                                sensitive_opt_in=np.ones(len(county.citizens), dtype=bool))
    forms = {"named sensitive": 0, "named": 0, "general": 0}
    for i, row in enumerate(result):
        own = {ids[j] for j in county.all[i].indices}
        for s in row:
            assert not names_in(s.reason, sensitive_names), s.reason
            assert s.reason_for(own_page=False, show_why=True) == s.reason
            assert s.reason_for(own_page=True, show_why=False) == s.reason
            assert s.reason_for(own_page=True, show_why=True) == s.full_reason
            if s.named:
                assert s.personalised and set(s.named) <= own
                assert s.full_reason == explanations.because_you_use([names[ids.index(o)] for o in s.named])
                cols = [ids.index(o) for o in s.named]
                assert signposter.co_use.supported[cols, ids.index(s.service_id)].all()
                forms["named sensitive" if sensitive[cols].any() else "named"] += 1
            else:
                assert s.full_reason == s.reason and not s.reason.startswith("Because you use")
                forms["general"] += 1
    assert all(forms.values()), forms


def test_weak_co_use_falls_back_to_a_general_reason(county) -> None:
    strict = Signposter.from_processed_tables(
        county.citizens, county.services, county.all, model=EASE(l2=20.0).fit(county.all),
        reason_min_lift=1000.0, reason_min_co_users=5,
    )
    result = strict.suggest(county.citizens["pseudonym"].tolist()[:300], k=10)
    reasons = {s.reason for row in result for s in row}
    assert reasons and not any(r.startswith("Because you use") for r in reasons)
    assert not any(s.named for row in result for s in row)
    assert any(r.startswith("Open to") for r in reasons) or any(r.startswith("Popular with") for r in reasons)


def test_old_artifacts_without_co_use_load_and_explain(signposter, county) -> None:
    state = signposter.__getstate__()
    state.pop("co_use")
    restored = Signposter.__new__(Signposter)
    restored.__setstate__(state)
    assert restored.co_use.supported.shape == (len(ids := county.services), len(ids))
    assert restored.knows_sensitivity


@st.composite
def requests(draw, n_citizens: int):
    rows = draw(st.lists(st.integers(0, n_citizens - 1), min_size=1, max_size=6))
    consent = draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    opt_in = draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    return rows, consent, opt_in, draw(st.integers(1, 24))


def test_property_sensitive_rules_hold_for_any_request(signposter, county) -> None:
    sensitive = county.services["sensitive"].to_numpy()
    names = county.services["name"].tolist()
    ids = county.services["service_id"].tolist()
    sensitive_names = [n for n, s in zip(names, sensitive, strict=True) if s]

    @settings(max_examples=80, deadline=None)
    @given(requests(len(county.citizens)))
    def check(request) -> None:
        rows, consent, opt_in, k = request
        pseudonyms = county.citizens["pseudonym"].to_numpy()[rows].tolist()
        result = signposter.suggest(pseudonyms, k=k, personalisation=consent, sensitive_opt_in=opt_in)
        for row, given_consent, opted, suggestions in zip(rows, consent, opt_in, result, strict=True):
            own = set(county.all[row].indices.tolist()) if given_consent else set()
            for s in suggestions:
                col = ids.index(s.service_id)
                if sensitive[col]:
                    assert opted and given_consent
                    assert signposter.co_use.supported[[j for j in own if sensitive[j]], col].any()
                assert not names_in(s.reason, sensitive_names)
                assert {ids.index(o) for o in s.named} <= own
                assert all(signposter.co_use.supported[ids.index(o), col] for o in s.named)

    check()


def test_eligible_services_for_search_include_sensitive_ones(signposter, county) -> None:
    pseudonyms = county.citizens["pseudonym"].tolist()[:100]
    mask = signposter.eligible_services(pseudonyms)
    assert np.array_equal(mask, county.allowed[:100])
    assert mask[:, county.services["sensitive"].to_numpy()].any()
    unknown = signposter.eligible_services(["f" * 64])[0]
    records = signposter.services()
    assert all(records[j]["districts"] == ["*"] and records[j]["min_age"] is None and records[j]["max_age"] is None
               for j in np.flatnonzero(unknown))


def test_configured_thresholds_default_to_the_recommender_defaults() -> None:
    from signpost.settings import Settings

    config = Settings()
    assert config.reason_min_co_use_lift == explanations.DEFAULT_MIN_LIFT
    assert config.reason_min_co_users == explanations.DEFAULT_MIN_CO_USERS


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), min_lift=st.floats(1.0, 3.0), min_co_users=st.integers(1, 8),
       opt_in=st.booleans())
def test_property_over_generated_counties(seed, min_lift, min_co_users, opt_in) -> None:
    """Every citizen of a freshly generated tiny county, under random thresholds."""
    county = make_county(n_citizens=300, n_services=20, seed=seed)
    signposter = Signposter.from_processed_tables(
        county.citizens, county.services, county.all, model=EASE(l2=10.0).fit(county.all),
        reason_min_lift=min_lift, reason_min_co_users=min_co_users,
    )
    sensitive = county.services["sensitive"].to_numpy()
    names = county.services["name"].tolist()
    col = {sid: j for j, sid in enumerate(county.services["service_id"])}
    sensitive_names = [n for n, s in zip(names, sensitive, strict=True) if s]
    used = county.all.toarray() > 0
    users = used.sum(axis=0)
    people = int(used.any(axis=1).sum())
    result = signposter.suggest(county.citizens["pseudonym"].tolist(), k=8,
                                sensitive_opt_in=np.full(len(county.citizens), opt_in))
    for i, suggestions in enumerate(result):
        for s in suggestions:
            target = col[s.service_id]
            if sensitive[target]:  # only on opt-in, and related to an own sensitive service
                assert opt_in and any(signposter.co_use.supported[j, target] for j in np.flatnonzero(used[i] & sensitive))
            assert not names_in(s.reason, sensitive_names)
            for own in s.named:  # own use, and co-use recounted here above both thresholds
                j = col[own]
                assert used[i, j]
                both = int((used[:, j] & used[:, target]).sum())
                assert both >= min_co_users
                assert both * people >= min_lift * users[j] * users[target] * (1 - 1e-9)
