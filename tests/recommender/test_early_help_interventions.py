"""Intervention suggestions: matched by needs, eligible for the child they are shown under."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from features.contract import NEEDS
from recommender.early_help import Factor
from recommender.early_help_interventions import (
    NEED_WORDS,
    household_suggestions,
    intervention_suggestions,
    need_match,
)
from recommender.signposting import Signposter


def pseudonym(i: int) -> str:
    return hashlib.sha256(f"person-{i}".encode()).hexdigest()


SERVICES = [
    # service_id, name, category, min_age, max_age, districts, intervention, active, needs
    ("LIB", "Library", "leisure", None, None, ["*"], False, True, []),
    ("ATT", "School attendance support", "learning", 5, 15, ["*"], True, True, ["school_attendance"]),
    ("DA", "Domestic abuse outreach", "safety", 16, None, ["*"], True, True, ["domestic_abuse"]),
    ("YOUTH", "Youth club", "leisure", 11, 17, ["*"], True, True, ["youth_safety"]),
    ("TOTS", "Childcare for two-year-olds", "family", 0, 4, ["*"], True, True, ["learning"]),
    ("PAR", "Parenting programme", "family", 18, 59, ["*"], True, True, ["family_support"]),
    ("FIRE", "Firesetter intervention", "safety", 5, 17, ["PO9"], True, True, ["youth_safety"]),
    ("OLD", "Closed family scheme", "family", None, None, ["*"], True, False, ["family_support"]),
    ("ANY", "Family hub", "family", None, None, ["*"], True, True, ["family_support", "school_attendance"]),
]
BANDS = {"11-15": (11, 15), "35-49": (35, 49), "0-4": (0, 4)}


def make_signposter(band, district, usage=None) -> Signposter:
    people = len(band)
    citizens = pd.DataFrame({
        "pseudonym": [pseudonym(i) for i in range(people)],
        "row": np.arange(people),
        "age_band": band,
        "age_min": [BANDS[b][0] for b in band],
        "age_max": [BANDS[b][1] for b in band],
        "postcode_district": district,
        "local_authority": np.where(np.asarray(district) == "SO23", "Winchester", "Havant"),
        "consent_personalisation": True,
    })
    services = pd.DataFrame(SERVICES, columns=["service_id", "name", "category", "min_age", "max_age",
                                               "districts", "intervention", "active", "needs"])
    services["col"] = np.arange(len(services))
    services["means_tested"] = False
    services["min_age"] = services["min_age"].astype("Int64")
    services["max_age"] = services["max_age"].astype("Int64")
    if usage is None:
        usage = np.zeros((people, len(services)), dtype=np.float32)
    return Signposter.from_processed_tables(citizens, services, sparse.csr_matrix(usage))


@pytest.fixture(scope="module")
def signposter() -> Signposter:
    rng = np.random.default_rng(0)
    people = 300
    band = rng.choice(list(BANDS), people)
    band[0], band[1], band[2] = "11-15", "35-49", "0-4"  # a child, their parent, a toddler sibling
    district = np.where(np.arange(people) % 2 == 0, "SO23", "PO9")
    district[:3] = "SO23"
    usage = np.zeros((people, len(SERVICES)), dtype=np.float32)
    teen = band == "11-15"
    usage[teen, 3] = rng.random(teen.sum()) < 0.6
    usage[teen, 1] = usage[teen, 3] * (rng.random(teen.sum()) < 0.5)
    usage[:, 0] = rng.random(people) < 0.5
    return make_signposter(band, district, usage)


ABSENCE = Factor("f_svc_persistent_absence", "4 school records about the child (Persistent absence record, "
                 "last 12 months)", 0.9, "raises", ("school_attendance",))
ENCOMPASS = Factor("f_svc_operation_encompass", "1 police notification about the child (Operation Encompass "
                   "notification, last 12 months)", 1.2, "raises", ("domestic_abuse", "family_support"))
ASB = Factor("f_svc_youth_asb", "2 police notifications about the child (Youth anti-social behaviour warning, "
             "last 12 months)", 0.5, "raises", ("youth_safety",))
OLDER = Factor("f_age", "aged 14", 0.3, "raises")


def ids(suggestions) -> list[str]:
    return [s.service_id for s in suggestions]


def test_need_words_cover_the_contract_vocabulary() -> None:
    assert set(NEED_WORDS) == set(NEEDS)


def test_only_active_eligible_interventions_that_answer_a_need(signposter) -> None:
    got = ids(intervention_suggestions(signposter, pseudonym(0), [ABSENCE, ASB], k=10))
    assert got[0] == "ATT"
    assert set(got) == {"ATT", "YOUTH", "ANY"}
    # not an intervention, inactive, wrong age, wrong district, or no matching need
    assert not {"LIB", "OLD", "TOTS", "PAR", "FIRE", "DA"} & set(got)
    in_use = ids(intervention_suggestions(signposter, pseudonym(0), [ABSENCE], in_use=["ATT"], k=10))
    assert "ATT" not in in_use


def test_a_factor_without_needs_suggests_nothing(signposter) -> None:
    assert intervention_suggestions(signposter, pseudonym(0), [OLDER], k=10) == []
    assert intervention_suggestions(signposter, pseudonym(0), [], k=10) == []


def test_toddler_gets_nothing_meant_for_older_children(signposter) -> None:
    """The issue's case: a firesetter course or young carers' support under a child aged 0-4."""
    got = ids(intervention_suggestions(signposter, pseudonym(2), [ABSENCE, ASB, ENCOMPASS], k=10))
    assert not {"ATT", "YOUTH", "FIRE", "DA"} & set(got)
    assert got == ["ANY"]


def test_household_support_says_whom_it_is_for(signposter) -> None:
    [da] = [s for s in household_suggestions(signposter, pseudonym(0), [ENCOMPASS], k=10,
                                             household_pseudonyms=[pseudonym(1), pseudonym(2)])
            if s.service_id == "DA"]
    assert da.for_whom == "an adult aged 35-49 in the household"
    assert "domestic abuse" in da.reason and ENCOMPASS.text in da.reason
    both = ids(household_suggestions(signposter, pseudonym(0), [ENCOMPASS], k=10,
                                     household_pseudonyms=[pseudonym(1)]))
    assert set(both) == {"DA", "PAR"}  # ANY is open to the child, so it is under the child
    assert "ANY" in ids(intervention_suggestions(signposter, pseudonym(0), [ENCOMPASS], k=10))
    assert household_suggestions(signposter, pseudonym(0), [ENCOMPASS], k=10) == []  # nobody else


def test_reason_names_the_factor_and_the_need(signposter) -> None:
    [first, *_] = intervention_suggestions(signposter, pseudonym(0), [ABSENCE, ASB])
    assert first.reason == f"Addresses school attendance, behind: {ABSENCE.text}"
    assert first.needs == ("school_attendance",) and first.factor == ABSENCE.text


def test_co_use_is_named_when_it_ranks_a_suggestion(signposter) -> None:
    [first] = intervention_suggestions(signposter, pseudonym(0), [ABSENCE], in_use=["YOUTH"], k=1)
    assert first.service_id == "ATT"
    assert "alongside Youth club, which the family uses" in first.reason


def test_reasons_never_name_other_people(signposter) -> None:
    for s in household_suggestions(signposter, pseudonym(0), [ENCOMPASS, ABSENCE], k=10,
                                   household_pseudonyms=[pseudonym(1)]):
        assert not any(pseudonym(i) in s.reason + s.for_whom for i in range(300))


def test_need_match_uses_only_raising_factors_with_needs() -> None:
    needs = [frozenset({"school_attendance"}), frozenset({"domestic_abuse"})]
    lowers = Factor("f_svc_absence", "no school records", -2.0, "lowers", ("school_attendance",))
    match, best, shared = need_match([lowers, ENCOMPASS], needs)
    assert match.tolist() == [0.0, 1.0]
    assert best[1] is ENCOMPASS and shared[1] == {"domestic_abuse"}
    as_dict = {"text": ABSENCE.text, "contribution": 0.5, "needs": ["school_attendance"]}
    match, _, _ = need_match([as_dict], needs)
    assert match[0] == pytest.approx(1.0)


# ------------------------------------------------------------------ properties -------------

factor_strategy = st.builds(
    lambda i, c, needs: Factor(f"f_{i}", f"factor <{i}>", c, "raises" if c > 0 else "lowers", tuple(needs)),
    st.integers(0, 20), st.floats(-2, 2).filter(lambda c: abs(c) > 1e-6),
    st.lists(st.sampled_from(NEEDS), max_size=3, unique=True),
)


@st.composite
def counties(draw):
    people = draw(st.integers(3, 25))
    band = draw(st.lists(st.sampled_from(list(BANDS)), min_size=people, max_size=people))
    district = draw(st.lists(st.sampled_from(["SO23", "PO9"]), min_size=people, max_size=people))
    usage = np.array(draw(st.lists(st.lists(st.booleans(), min_size=len(SERVICES), max_size=len(SERVICES)),
                                   min_size=people, max_size=people)), dtype=np.float32)
    child = draw(st.integers(0, people - 1))
    household = draw(st.lists(st.integers(0, people - 1), max_size=4, unique=True))
    factors = draw(st.lists(factor_strategy, max_size=5))
    return make_signposter(np.array(band), np.array(district), usage), band, district, child, household, factors


def _eligible(service, band: str, district: str) -> bool:
    _, _, _, low, high, districts, intervention, active, _ = service
    b_low, b_high = BANDS[band]
    return (intervention and active and (low is None or b_low >= low) and (high is None or b_high <= high)
            and ("*" in districts or district in districts))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(county=counties())
def test_never_an_intervention_outside_the_childs_eligibility(county) -> None:
    signposter, band, district, child, household, factors = county
    members = [pseudonym(i) for i in household if i != child]
    by_id = {s[0]: s for s in SERVICES}
    for s in intervention_suggestions(signposter, pseudonym(child), factors, household_pseudonyms=members, k=10):
        assert _eligible(by_id[s.service_id], band[child], district[child])
    for s in household_suggestions(signposter, pseudonym(child), factors, household_pseudonyms=members, k=10):
        assert not _eligible(by_id[s.service_id], band[child], district[child])
        assert any(_eligible(by_id[s.service_id], band[i], district[i]) for i in household if i != child)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(county=counties())
def test_every_reason_names_a_raising_factor_whose_need_it_addresses(county) -> None:
    signposter, _, _, child, household, factors = county
    members = [pseudonym(i) for i in household if i != child]
    needs_of = {s[0]: set(s[8]) for s in SERVICES}
    suggested = [*intervention_suggestions(signposter, pseudonym(child), factors, household_pseudonyms=members, k=10),
                 *household_suggestions(signposter, pseudonym(child), factors, household_pseudonyms=members, k=10)]
    for s in suggested:
        assert any(f.contribution > 0 and f.text in s.reason and set(f.needs) & needs_of[s.service_id]
                   for f in factors), s.reason
