"""Intervention suggestions: interventions only, eligible, not in use, matched to the reasons."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from recommender.early_help import Factor
from recommender.early_help_interventions import intervention_suggestions, theme_match
from recommender.signposting import Signposter


def pseudonym(i: int) -> str:
    return hashlib.sha256(f"person-{i}".encode()).hexdigest()


SERVICES = [
    # service_id, name, category, min_age, max_age, districts, intervention, active
    ("LIB", "Library", "leisure", None, None, ["*"], False, True),
    ("ATT", "School attendance support", "learning", 5, 15, ["*"], True, True),
    ("DA", "Domestic abuse family support", "safety", None, None, ["*"], True, True),
    ("YOUTH", "Youth club", "leisure", 11, 17, ["*"], True, True),
    ("TOTS", "Childcare for two-year-olds", "family", 0, 4, ["*"], True, True),
    ("PAR", "Parenting programme", "family", 18, 59, ["*"], True, True),
    ("DEBT", "Family debt advice", "money", None, None, ["PO9"], True, True),
    ("OLD", "Closed family scheme", "family", None, None, ["*"], True, False),
]
BANDS = {"11-15": (11, 15), "35-49": (35, 49), "0-4": (0, 4)}


@pytest.fixture(scope="module")
def signposter() -> Signposter:
    rng = np.random.default_rng(0)
    people = 300
    band = rng.choice(list(BANDS), people)
    band[0], band[1] = "11-15", "35-49"  # person 0 is the child, person 1 their parent
    district = np.where(np.arange(people) % 2 == 0, "SO23", "PO9")
    district[:2] = "SO23"
    citizens = pd.DataFrame({
        "pseudonym": [pseudonym(i) for i in range(people)],
        "row": np.arange(people),
        "age_band": band,
        "age_min": [BANDS[b][0] for b in band],
        "age_max": [BANDS[b][1] for b in band],
        "postcode_district": district,
        "local_authority": np.where(district == "SO23", "Winchester", "Havant"),
        "consent_personalisation": True,
    })
    services = pd.DataFrame(SERVICES, columns=["service_id", "name", "category", "min_age", "max_age",
                                               "districts", "intervention", "active"])
    services["col"] = np.arange(len(services))
    services["means_tested"] = services["service_id"] == "DEBT"
    services["min_age"] = services["min_age"].astype("Int64")
    services["max_age"] = services["max_age"].astype("Int64")
    # attendance support and the youth club are used together; the youth club is popular
    usage = np.zeros((people, len(services)), dtype=np.float32)
    teen = band == "11-15"
    usage[teen, 3] = rng.random(teen.sum()) < 0.6
    usage[teen, 1] = usage[teen, 3] * (rng.random(teen.sum()) < 0.5)
    usage[:, 0] = rng.random(people) < 0.5
    return Signposter.from_processed_tables(citizens, services, sparse.csr_matrix(usage))


ABSENCE = Factor("f_svc_persistent_absence", "4 persistent absence (schools) for the child", 0.9, "raises")
POLICE = Factor("f_hh_police_events", "2 events recorded by police for adults in the household", 0.4, "raises")


def ids(suggestions) -> list[str]:
    return [s.service_id for s in suggestions]


def test_only_active_eligible_interventions_not_in_use(signposter) -> None:
    suggestions = intervention_suggestions(signposter, pseudonym(0), [ABSENCE, POLICE], k=10)
    got = ids(suggestions)
    assert "LIB" not in got  # not an intervention
    assert "OLD" not in got  # inactive
    assert "TOTS" not in got and "PAR" not in got  # wrong age for the child, no adult given
    assert "DEBT" not in got  # not offered in the child's district
    assert [s.rank for s in suggestions] == list(range(1, len(got) + 1))
    with_parent = ids(intervention_suggestions(signposter, pseudonym(0), [ABSENCE], k=10,
                                               household_pseudonyms=[pseudonym(1)]))
    assert "PAR" in with_parent  # the parent is eligible for the parenting programme
    in_use = ids(intervention_suggestions(signposter, pseudonym(0), [ABSENCE], in_use=["ATT"], k=10))
    assert "ATT" not in in_use


def test_ranked_by_the_reasons_flagged_with_the_reason_given(signposter) -> None:
    [first, *_] = intervention_suggestions(signposter, pseudonym(0), [ABSENCE, POLICE])
    assert first.service_id == "ATT"
    assert first.reason.startswith("Addresses a reason flagged: 4 persistent absence")
    [first, *_] = intervention_suggestions(
        signposter, pseudonym(0),
        [Factor("f_svc_encompass", "3 Operation Encompass domestic-abuse notifications", 1.2, "raises")])
    assert first.service_id == "DA"


def test_uptake_and_co_use_break_ties_when_no_reason_matches(signposter) -> None:
    suggestions = intervention_suggestions(signposter, pseudonym(0), [], k=3)
    assert suggestions[0].service_id == "YOUTH"  # most taken up by children of this age
    assert suggestions[0].reason == "Often taken up by children of this age in the area"
    alongside = intervention_suggestions(signposter, pseudonym(0), [], in_use=["YOUTH"], k=1)
    assert alongside[0].service_id == "ATT"
    assert "alongside Youth club, which the family uses" in alongside[0].reason


def test_reasons_never_name_other_people(signposter) -> None:
    for s in intervention_suggestions(signposter, pseudonym(0), [ABSENCE, POLICE], k=10):
        assert not any(pseudonym(i) in s.reason for i in range(300))


def test_theme_match_uses_only_raising_factors() -> None:
    categories = np.array(["learning", "safety"])
    texts = np.array(["school attendance support", "domestic abuse support"])
    lowers = Factor("f_svc_persistent_absence", "no persistent absence", -2.0, "lowers")
    match, best = theme_match([lowers, POLICE], categories, texts)
    assert match.tolist() == [0.0, 1.0]
    assert best[1] == POLICE.text
    dict_factor = {"feature": ABSENCE.feature, "text": ABSENCE.text, "contribution": 0.5}
    match, _ = theme_match([dict_factor], categories, texts)
    assert match[0] == pytest.approx(1.0)
